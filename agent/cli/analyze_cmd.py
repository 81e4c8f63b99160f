"""`cimedic analyze`: diagnose CI logs from files or standard input, in one process."""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agent.cli.fix_cmd import checkout_policy, checkout_reader
from agent.cli.messages import error, warning
from agent.config import load_settings
from agent.engine import InputError, analyze_file
from agent.errors import KnowledgeBaseError
from agent.models import Diagnosis, JobContext
from agent.pipeline import enrich, prompt_lines
from agent.ports import Explainer, KnowledgeLookup
from agent.render import LineUrl, anchor_lines, render_markdown, render_text, to_json

if TYPE_CHECKING:
    from agent.llm.explainer import LlmExplainer


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"
    JSONL = "jsonl"


# A GitHub Actions job page: GitHub anchors its lines per step (`#step:S:L`), never `#L<n>`, so every line
# links to the page itself (see actions/github_comment.job_line_url for why a step cannot be guessed).
_GITHUB_JOB_PAGE = re.compile(r"^https://github\.com/[^/]+/[^/]+/actions/runs/\d+/job/\d+/?(?:[?#].*)?$")
PROGRESS_BYTES = 4 << 20  # logs above this show a spinner on a terminal while they are analyzed


def line_links(log_url: str | None) -> LineUrl | None:
    """How line numbers link to `--log-url`: `#L<n>` anchors, except on GitHub job pages (no such anchors)."""
    if not log_url:
        return None
    if _GITHUB_JOB_PAGE.match(log_url):
        page = log_url.split("#", 1)[0]
        return lambda _n: page
    return anchor_lines(log_url)


def _spool_stdin() -> Path:
    """Standard input goes to a temporary file so that it is streamed like any other log."""
    handle = tempfile.NamedTemporaryFile(prefix="cimedic-stdin-", suffix=".log", delete=False)  # noqa: SIM115
    with handle:
        shutil.copyfileobj(sys.stdin.buffer, handle, 1 << 20)
    return Path(handle.name)


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            yield block


def analyze_command(
    logs: Annotated[list[str], typer.Argument(help="log files; - reads standard input", show_default=False)],
    output_format: Annotated[Format, typer.Option("--format", "-f", help="output format")] = Format.TEXT,
    baseline: Annotated[
        Path | None, typer.Option(help="a passing log of the same job: lines it also has are demoted")
    ] = None,
    no_kb: Annotated[
        bool, typer.Option("--no-kb", help="do not consult or update the knowledge base")
    ] = False,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="do not ask an LLM even when CIMEDIC_LLM is set")
    ] = False,
    secret: Annotated[
        list[str] | None, typer.Option(help="a value to redact wherever it appears (repeatable)")
    ] = None,
    log_url: Annotated[
        str | None, typer.Option(help="web URL of the log, for line links in markdown")
    ] = None,
    repo: Annotated[str | None, typer.Option(help="repository the log belongs to (owner/name)")] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            help="checkout at the failing commit: suggest a fix validated against it", file_okay=False
        ),
    ] = None,
) -> None:
    """Find the lines that explain a failed CI job, classify the failure and say what to do."""
    secrets = tuple(secret or ())
    settings = load_settings()  # a malformed setting is a ConfigError: one line, exit 2 (agent/cli/__init__)
    kb: KnowledgeLookup | None = None
    if not no_kb:
        try:
            from agent.cli.wiring import make_knowledge_base

            kb = make_knowledge_base(settings, repo=repo, warn=warning)
        except KnowledgeBaseError as exc:  # the diagnosis still stands without its memory; say so once
            warning(f"{exc}; continuing without it (--no-kb to silence)")
    explainer: LlmExplainer | None = None
    if not no_llm and settings.llm and settings.llm.strip():  # importing the LLM layer alone costs ~2 s
        from agent.llm import make_explainer

        explainer = make_explainer(settings, secrets=secrets)
    llm_notes: list[str] = []
    if explainer is not None:
        explainer, llm_notes = _usable(explainer)
    if explainer is not None:
        explainer = explainer.bind(repo)  # the per-repository daily budget is charged
    try:
        _analyze_all(logs, output_format, baseline, secrets, log_url, repo, kb, explainer, source, llm_notes)
    finally:
        if explainer is not None:
            explainer.close()


def _usable(explainer: LlmExplainer) -> tuple[LlmExplainer | None, list[str]]:
    """The explainer, or None when no model of `CIMEDIC_LLM` can work; says once on stderr which cannot,
    and returns the same as notes for each diagnosis."""
    notes = [f"LLM {model} skipped: {reason}" for model, reason in explainer.unusable().items()]
    for note in notes:
        warning(note)
    if len(notes) < len(explainer.chain):
        return explainer, notes
    explainer.close()
    return None, notes


def _analyze_all(
    logs: list[str],
    output_format: Format,
    baseline: Path | None,
    secrets: tuple[str, ...],
    log_url: str | None,
    repo: str | None,
    kb: KnowledgeLookup | None,
    explainer: Explainer | None,
    source: Path | None = None,
    llm_notes: Sequence[str] = (),
) -> None:
    console = Console(highlight=False, soft_wrap=True)
    reader = None if source is None else checkout_reader(source)
    policy = None if source is None else checkout_policy(source)
    status = Console(stderr=True)
    links = line_links(log_url)
    results: list[Diagnosis] = []
    failed = False
    for name in logs:
        path = _spool_stdin() if name == "-" else Path(name)
        try:
            with _spinner(status, path, name):
                diagnosis = analyze_file(path, source=name, baseline=baseline, secrets=secrets)
                job = JobContext(ci_system="local", repo=repo, url=log_url)
                wanted = explainer is not None or reader is not None
                lines = prompt_lines(_blocks(path), diagnosis) if wanted else None
                diagnosis = enrich(
                    diagnosis,
                    job=job,
                    log_lines=lines,
                    kb=kb,
                    explainer=explainer,
                    reader=reader,
                    patch_policy=policy,
                )
        except InputError as exc:
            error(str(exc))
            failed = True
            continue
        finally:
            if name == "-":
                path.unlink(missing_ok=True)
        if llm_notes:
            diagnosis = diagnosis.model_copy(update={"notes": [*diagnosis.notes, *llm_notes]})
        if output_format is Format.TEXT:
            render_text(diagnosis, console)
        elif output_format is Format.MARKDOWN:
            sys.stdout.write(render_markdown(diagnosis, line_url=links))
        elif output_format is Format.JSONL:
            sys.stdout.write(to_json([diagnosis], lines=True))
            sys.stdout.flush()
        else:
            results.append(diagnosis)
    if output_format is Format.JSON and results:
        sys.stdout.write(to_json(results, lines=False))
    if failed:
        raise typer.Exit(2)


def _spinner(console: Console, path: Path, name: str) -> contextlib.AbstractContextManager[object]:
    """A transient spinner on stderr while a big log is analyzed, on a terminal only (never in a pipe)."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if size < PROGRESS_BYTES or not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(f"analyzing {name} ({size / (1 << 20):.0f} MB)", spinner="dots")
