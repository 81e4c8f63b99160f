"""`cimedic ticket open` and `cimedic ticket list`: file CI failures in Jira or Linear, one per fingerprint.

Composition root for the ticket life cycle (`actions.tickets`); `actions` and `knowledge` are imported inside
the commands, so `import agent.cli` stays light (docs ARCHITECTURE.md, "Imports follow the flow").
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from agent.config import ConfigError, load_settings
from agent.engine import InputError, analyze_file
from agent.models import JobContext
from agent.pipeline import enrich

ticket_app = typer.Typer(help="Tickets in Jira or Linear, one per failure fingerprint.", no_args_is_help=True)


class TrackerName(StrEnum):
    JIRA = "jira"
    LINEAR = "linear"


def _fail(message: str, code: int = 2) -> typer.Exit:
    print(f"cimedic: {message}", file=sys.stderr)
    return typer.Exit(code)


@ticket_app.command("open")
def open_command(
    logs: Annotated[list[Path], typer.Argument(help="log files", show_default=False)],
    tracker: Annotated[
        TrackerName | None, typer.Option(help="where to file [default: the policy's tracker, else jira]")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="write nothing; record in the audit log what would be written")
    ] = False,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="do not ask an LLM even when CIMEDIC_LLM is set")
    ] = False,
    repo: Annotated[str | None, typer.Option(help="repository the logs belong to (owner/name)")] = None,
    job: Annotated[
        str | None, typer.Option(help="job name (a later green run of it is matched on it)")
    ] = None,
    job_url: Annotated[str | None, typer.Option(help="web URL of the job, linked from the ticket")] = None,
    branch: Annotated[str | None, typer.Option(help="branch the job ran on")] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option("--policy", help="a repo policy file (.github/cimedic.yml): its tickets: and dry_run"),
    ] = None,
) -> None:
    """Analyze each log and file, or update, one ticket per failure fingerprint; print its key and URL."""
    from actions.audit import AuditLog
    from actions.policy import parse_policy
    from actions.tickets import TicketRecord, TrackerError, ensure_ticket
    from actions.tickets.trackers import make_tracker
    from knowledge.sqlstore import SqlStore

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    explainer = None
    if not no_llm:
        from agent.llm import make_explainer

        try:
            explainer = make_explainer(settings)
        except ConfigError as exc:
            raise _fail(str(exc)) from None
        if explainer is not None:
            explainer = explainer.bind(repo)
    try:
        policy = parse_policy(policy_file.read_text(encoding="utf-8") if policy_file else None)
    except OSError as exc:
        raise _fail(f"{policy_file}: {exc.strerror or exc}") from None
    if policy.error:  # an invalid file means dry-run, as in the service; say why
        print(f"cimedic: warning: {policy.error}; dry-run", file=sys.stderr)
    dry_run = dry_run or policy.dry_run
    name = tracker.value if tracker else policy.tickets.tracker or "jira"
    try:
        chosen = make_tracker(name)
    except TrackerError as exc:
        raise _fail(str(exc)) from None
    store = SqlStore(settings.effective_database_url)
    store.migrate()
    record, audit = TicketRecord(store), AuditLog(store.engine)
    context = JobContext(ci_system="local", repo=repo, branch=branch, job=job, url=job_url)
    failed = False
    try:
        for path in logs:
            try:
                diagnosis = analyze_file(path, source=str(path))
                lines = None
                if explainer is not None:  # the log as the explainer sees it, as `cimedic analyze` builds it
                    from agent.cli.analyze_cmd import _blocks
                    from agent.pipeline import prompt_lines

                    lines = prompt_lines(_blocks(path), diagnosis)
                # No knowledge base: a ticket needs the diagnosis, not its neighbours.
                diagnosis = enrich(diagnosis, job=context, log_lines=lines, kb=None, explainer=explainer)
            except InputError as exc:
                print(f"cimedic: error: {exc}", file=sys.stderr)
                failed = True
                continue
            outcome = ensure_ticket(
                chosen, diagnosis, context, record, policy.tickets, audit, dry_run=dry_run
            )
            where = " ".join(part for part in (outcome.key, outcome.url) if part)
            prefix = "dry-run: would be " if outcome.dry_run else ""
            line = f"{path}: {prefix}{outcome.action} {where}".rstrip()
            typer.echo(line + (f" ({outcome.message})" if outcome.message else ""))
            failed = failed or outcome.action == "error"
    finally:
        if explainer is not None:
            explainer.close()
        store.close()
    if failed:
        raise typer.Exit(1)


@ticket_app.command("list")
def list_command(
    repo: Annotated[str | None, typer.Option(help="only this owner/name")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """The tickets CI Medic filed, from its own record (newest first)."""
    from actions.tickets import TicketRecord
    from knowledge.sqlstore import SqlStore

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    store = SqlStore(settings.effective_database_url)
    store.migrate()
    try:
        rows = TicketRecord(store).list(repo=repo, limit=limit)
    finally:
        store.close()
    for r in rows:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "tracker": r.tracker,
                        "key": r.key or None,
                        "url": r.url,
                        "state": r.state,
                        "repo": r.repo or None,
                        "fingerprint": r.fingerprint,
                        "occurrences": r.occurrences,
                        "title": r.title,
                        "updated_at": r.updated_at.isoformat() + "Z",
                    }
                )
            )
        else:
            key = r.key or "(pending)"
            where = f"{r.repo or '-'}  {r.title}  {r.url or ''}".rstrip()
            typer.echo(f"{r.tracker:6} {key:12} {r.state:7} {r.occurrences:>4}x  {where}")
