"""`cimedic analyze`: diagnose CI logs from files or standard input, in one process."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agent.cli.fix_cmd import checkout_policy, checkout_reader
from agent.config import ConfigError, load_settings
from agent.engine import InputError, analyze_file
from agent.models import Diagnosis, JobContext
from agent.pipeline import enrich, prompt_lines
from agent.ports import Explainer, KnowledgeLookup
from agent.render import render_markdown, render_text, to_json

if TYPE_CHECKING:
    from agent.llm.explainer import LlmExplainer


class Format(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"
    JSONL = "jsonl"


def _fail(message: str) -> None:
    print(f"cimedic: {message}", file=sys.stderr)


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
    try:
        settings = load_settings()
    except ConfigError as exc:
        _fail(str(exc))
        raise typer.Exit(2) from None
    kb: KnowledgeLookup | None = None
    if not no_kb:
        try:
            from agent.cli.wiring import make_knowledge_base

            kb = make_knowledge_base(settings, repo=repo)
        except Exception as exc:  # the diagnosis still stands without its memory; say so
            _fail(f"warning: knowledge base unavailable ({exc}); continuing without it (--no-kb to silence)")
    explainer: LlmExplainer | None = None
    if not no_llm:
        try:
            from agent.llm import make_explainer

            explainer = make_explainer(settings, secrets=secrets)
        except ConfigError as exc:
            _fail(str(exc))
            raise typer.Exit(2) from None
    if explainer is not None:
        explainer = explainer.bind(repo)  # the per-repository daily budget is charged
    try:
        _analyze_all(logs, output_format, baseline, secrets, log_url, repo, kb, explainer, source)
    finally:
        if explainer is not None:
            explainer.close()


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
) -> None:
    console = Console(highlight=False, soft_wrap=True)
    reader = None if source is None else checkout_reader(source)
    policy = None if source is None else checkout_policy(source)
    results: list[Diagnosis] = []
    failed = False
    for name in logs:
        path = _spool_stdin() if name == "-" else Path(name)
        try:
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
            _fail(f"error: {exc}")
            failed = True
            continue
        finally:
            if name == "-":
                path.unlink(missing_ok=True)
        if output_format is Format.TEXT:
            render_text(diagnosis, console)
        elif output_format is Format.MARKDOWN:
            sys.stdout.write(render_markdown(diagnosis, log_url=log_url))
        elif output_format is Format.JSONL:
            sys.stdout.write(to_json([diagnosis], lines=True))
            sys.stdout.flush()
        else:
            results.append(diagnosis)
    if output_format is Format.JSON and results:
        sys.stdout.write(to_json(results, lines=False))
    if failed:
        raise typer.Exit(2)
