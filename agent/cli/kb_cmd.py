"""`cimedic kb ...`: look into, feed and prune the knowledge base (docs/knowledge-base.md)."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from agent.cli.messages import error
from agent.config import load_settings
from agent.models import Diagnosis, JobContext, SimilarFailure

if TYPE_CHECKING:
    from rich.progress import Progress

    from knowledge.base import KnowledgeBase

kb_app = typer.Typer(
    name="kb",
    help="The knowledge base: past failures, how often they recur, and what fixed them.",
    no_args_is_help=True,
)

Format = Literal["text", "json"]
_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_age(value: str) -> timedelta:
    """'90d', '12h', '4w' -> a timedelta."""
    match = _AGE.match(value)
    if not match:
        raise typer.BadParameter(f"{value!r}: use a number and a unit h, d or w, e.g. 90d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _kb() -> KnowledgeBase:
    from agent.cli.wiring import open_knowledge_base

    # A malformed setting, a missing `kb` extra or an unreachable database: one line, exit 2 (agent/cli).
    return open_knowledge_base(load_settings())


@contextlib.contextmanager
def _interruptible(what: Callable[[], str]) -> Iterator[None]:
    """Ctrl-C ends the command cleanly: each batch is written whole or not at all (see knowledge/base.py)."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted: {what()}; the knowledge base is consistent", err=True)
        raise typer.Exit(130) from None


def _progress(total: int | None, label: str) -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal or (total is not None and total < 2),
    )


def _similar_text(results: list[SimilarFailure]) -> str:
    if not results:
        return "no similar past failures"
    lines = []
    for r in results:
        kind = "same failure" if r.exact else f"similar {r.similarity:.2f}"
        where = " ".join(x for x in (r.repo, r.job, r.source) if x)
        lines.append(f"{r.fingerprint[:12]}  {kind}  x{r.occurrences}  last {r.last_seen or '?'}  {r.title}")
        if where:
            lines.append(f"    seen in {where}")
        if r.resolution:
            lines.append(f"    fixed by {r.resolution}")
    return "\n".join(lines)


@kb_app.command("add")
def add_command(
    logs: Annotated[list[Path], typer.Argument(help="log files to analyze and record", exists=False)],
    repo: Annotated[str | None, typer.Option(help="owner/name the logs belong to")] = None,
    branch: Annotated[str | None, typer.Option()] = None,
    workflow: Annotated[str | None, typer.Option()] = None,
    job: Annotated[str | None, typer.Option(help="CI job name")] = None,
) -> None:
    """Analyze LOG files and record them, printing nothing but a summary."""
    from agent.engine import analyze_file

    kb = _kb()
    context = JobContext(ci_system="local", repo=repo, branch=branch, workflow=workflow, job=job)
    failed: list[str] = []
    analyzed = 0

    with _interruptible(lambda: f"{analyzed} logs analyzed"), _progress(len(logs), "recording") as progress:
        task = progress.add_task("recording", total=len(logs))

        def items() -> Iterator[tuple[Diagnosis, JobContext]]:
            nonlocal analyzed
            for path in logs:
                try:
                    diagnosis = analyze_file(path, context=context)
                except Exception as exc:  # one unreadable log must not stop a bulk import
                    failed.append(f"{path}: {exc}")
                    progress.advance(task)
                    continue
                analyzed += 1
                progress.advance(task)
                yield diagnosis, context

        added = kb.record_many(items())
    typer.echo(f"recorded {analyzed} logs: {added} new occurrences, {analyzed - added} already known")
    for message in failed:
        typer.echo(f"skipped {message}", err=True)
    if failed:
        raise typer.Exit(1)


@kb_app.command("search")
def search_command(
    text: Annotated[str | None, typer.Argument(help="error text to look for")] = None,
    log: Annotated[Path | None, typer.Option(help="analyze this log and look for its failure")] = None,
    k: Annotated[int, typer.Option("-k", help="how many results")] = 5,
    repo: Annotated[
        str | None, typer.Option(help="limit to this repo (and its org, per CIMEDIC_KB_SCOPE)")
    ] = None,
    format: Annotated[Format, typer.Option("--format", "-f")] = "text",
) -> None:
    """Find past failures like TEXT, or like the failure in --log FILE."""
    if (text is None) == (log is None):
        raise typer.BadParameter("give either TEXT or --log FILE")
    kb = _kb()
    if log is not None:
        from agent.engine import analyze_file

        results = kb.similar(analyze_file(log), k, repo=repo)
    else:
        results = kb.search_text(text or "", k, repo=repo)
    if format == "json":
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
        return
    if results or log is not None:
        typer.echo(_similar_text(results))
        return
    # Nothing passed the cut-off: say so, and show what came closest with its score, so that a user can
    # tell "nothing like it" from "something like it, below the line" (issue 15).
    closest = kb.search_text(text or "", min(k, 3), repo=repo, threshold=0.0)
    cut = kb.settings.search_threshold
    if not closest:
        typer.echo("no past failures recorded" + (f" in {repo}" if repo else "") + " to compare with")
        return
    typer.echo(f"no past failure scores {cut:.2f} or more (CIMEDIC_KB_SEARCH_THRESHOLD); the closest:")
    typer.echo(_similar_text(closest))


@kb_app.command("stats")
def stats_command(
    top: Annotated[int, typer.Option(help="how many recurring failures to list")] = 10,
    format: Annotated[Format, typer.Option("--format", "-f")] = "text",
) -> None:
    """Counts, the most recurring failures, and categories."""
    stats = _kb().stats(top=top)
    if format == "json":
        typer.echo(json.dumps(stats, indent=2))
        return
    typer.echo(
        f"{stats['failures']} failures, {stats['occurrences']} occurrences, {stats['repos']} repos, "
        f"{stats['resolutions']} resolutions, {stats['feedback']} feedback"
    )
    if stats["categories"]:
        typer.echo("categories:")
        for name, counts in stats["categories"].items():
            typer.echo(
                f"  {name:<15} {counts['failures']:>7} failures {counts['occurrences']:>8} occurrences"
            )
    if stats["top"]:
        typer.echo("most recurring:")
        for item in stats["top"]:
            fixed = f"  fixed by {item['resolution']}" if item["resolution"] else ""
            typer.echo(f"  x{item['occurrences']:<6} {item['fingerprint'][:12]}  {item['title']}{fixed}")


@kb_app.command("export")
def export_command(
    output: Annotated[str, typer.Argument(help="JSONL file to write, or - for stdout")] = "-",
) -> None:
    """Write the knowledge base as JSONL (backup, or moving to another machine)."""
    kb = _kb()
    if output == "-":
        n = kb.export(sys.stdout)
    else:
        with open(output, "w", encoding="utf-8") as out:
            n = kb.export(out)
    typer.echo(f"exported {n} lines", err=True)


@kb_app.command("import")
def import_command(
    input: Annotated[str, typer.Argument(help="JSONL file from `kb export`, or - for stdin")],
) -> None:
    """Load a `kb export` file; importing the same file twice changes nothing."""
    kb = _kb()
    handle = sys.stdin if input == "-" else open(input, encoding="utf-8")  # noqa: SIM115
    try:
        total = None if input == "-" else sum(1 for _ in open(input, encoding="utf-8"))  # noqa: SIM115
        with (
            _interruptible(lambda: "import stopped between batches"),
            _progress(total, "importing") as progress,
        ):
            task = progress.add_task("importing", total=total)
            result = kb.import_(handle, progress=lambda n: progress.advance(task, n))
    finally:
        if handle is not sys.stdin:
            handle.close()
    typer.echo(
        f"imported {result.failures} failures ({result.occurrences} new occurrences), "
        f"{result.resolutions} new resolutions, {result.feedback} new feedback"
    )


@kb_app.command("resolve")
def resolve_command(
    fingerprint: Annotated[str, typer.Argument(help="fingerprint, or a unique prefix of one")],
    fix: Annotated[str, typer.Option("--fix", help="commit SHA, range a..b, PR/MR URL, or a URL")],
    repo: Annotated[str | None, typer.Option(help="the repo this fix applies to")] = None,
    file: Annotated[
        list[str] | None, typer.Option("--file", help="a file the fix changed (repeatable)")
    ] = None,
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Record the fix for a failure; `similar` will show it next time."""
    kb = _kb()
    full = _one_fingerprint(kb, fingerprint)
    new = kb.resolve(full, fix, repo=repo, changed_files=file or (), note=note)
    typer.echo(f"{full}: {'recorded' if new else 'already had'} fix {fix}")


@kb_app.command("feedback")
def feedback_command(
    fingerprint: Annotated[str, typer.Argument(help="fingerprint, or a unique prefix of one")],
    helpful: Annotated[bool, typer.Option("--helpful/--wrong", help="was the diagnosis right?")],
    note: Annotated[str | None, typer.Option(help="what was wrong, or what helped")] = None,
    repo: Annotated[str | None, typer.Option(help="the repo the judged diagnosis was for")] = None,
    source: Annotated[
        str | None,
        typer.Option(help="the log (path or URL) whose diagnosis is judged; default: where it was last seen"),
    ] = None,
    author: Annotated[
        str, typer.Option(help="who judges; the latest judgement per author and log wins")
    ] = "",
) -> None:
    """Say whether a diagnosis was helpful or wrong (`kb stats` counts the feedback, `kb export` keeps it)."""
    kb = _kb()
    full = _one_fingerprint(kb, fingerprint)
    source = source or kb.last_source(full, repo=repo)
    if source is None:
        where = f" in {repo}" if repo else ""
        error(f"no log of {full} is recorded{where}; give --source")
        raise typer.Exit(1)
    kb.feedback(full, helpful, source=source, repo=repo, author=author, note=note)
    typer.echo(f"{full}: recorded {'helpful' if helpful else 'wrong'} for {source}")


def _one_fingerprint(kb: KnowledgeBase, prefix: str) -> str:
    """The one fingerprint `prefix` names; exits with status 1 when it names none or several."""
    matches = kb.find_fingerprints(prefix)
    if prefix in matches:
        return prefix
    if len(matches) != 1:
        problem = "is unknown" if not matches else f"is ambiguous ({', '.join(m[:16] for m in matches)})"
        error(f"fingerprint {prefix!r} {problem}")
        raise typer.Exit(1)
    return matches[0]


@kb_app.command("forget")
def forget_command(
    repo: Annotated[str | None, typer.Option(help="forget everything recorded for this repo")] = None,
    older_than: Annotated[
        str | None, typer.Option(help="forget occurrences older than this, e.g. 90d")
    ] = None,
    fingerprint: Annotated[str | None, typer.Option(help="forget one failure")] = None,
) -> None:
    """Retention: delete by repo, age or fingerprint, from both stores."""
    age = parse_age(older_than) if older_than else None
    if repo is None and age is None and fingerprint is None:
        raise typer.BadParameter("give --repo, --older-than or --fingerprint")
    with _interruptible(lambda: "forget stopped; deletions are committed whole or not at all"):
        result = _kb().forget(repo=repo, older_than=age, fingerprint=fingerprint)
    typer.echo(
        f"forgot {result.occurrences} occurrences, {result.failures} failures, "
        f"{result.resolutions} resolutions, {result.feedback} feedback"
    )


@kb_app.command("repair")
def repair_command() -> None:
    """Reconcile the two stores after a crash: drop orphan vectors, re-embed missing ones."""
    removed, embedded = _kb().repair()
    typer.echo(f"removed {removed} orphan vectors, re-embedded {embedded} failures")
