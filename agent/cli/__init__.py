"""`cimedic`: the command-line entry and the composition root that wires the parts together.

Every failure a user can cause or meet (a malformed setting, an unreadable log, an unreachable database, a
bad option) ends as ONE line `cimedic: error: ...` on stderr and exit status 2 (agent/errors.py draws the
tree of our own exceptions); a traceback means a bug in CI Medic.
"""

from __future__ import annotations

import errno
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from agent.cli.analyze_cmd import analyze_command
from agent.cli.fix_cmd import fix_command
from agent.cli.kb_cmd import kb_app
from agent.cli.llm_cmd import llm_app
from agent.cli.messages import error
from agent.cli.rules_cmd import rules_app
from agent.cli.service_cmd import (
    action_command,
    audit_command,
    github_app,
    gitlab_ci_command,
    serve_command,
    worker_command,
)
from agent.cli.ticket_cmd import ticket_app
from agent.errors import CimedicError

app = typer.Typer(
    name="cimedic",
    help="CI Medic: find, classify and explain the failure in a CI log.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("analyze")(analyze_command)

# Sub-command groups: one line each, owned by the module that defines them.
# --- sub-commands (keep one per line) ---
app.add_typer(kb_app, name="kb")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.command("action")(action_command)
app.command("audit")(audit_command)
app.add_typer(github_app, name="github")
app.command("gitlab-ci")(gitlab_ci_command)
app.add_typer(llm_app, name="llm")
app.add_typer(rules_app, name="rules")
app.command("fix")(fix_command)
app.add_typer(ticket_app, name="ticket")
# --- end sub-commands ---


def package_version() -> str:
    try:
        return version("cimedic")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"cimedic {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """CI Medic: find, classify and explain the failure in a CI log."""


# The packages of each extra (pyproject.toml), by import name: a command run without its extra says which to
# install in one line. The light install (engine, `analyze`, the Action, the LLM layer) needs none of them;
# a missing LLM provider SDK (the `llm-*` extras) skips that model instead (llm.explainer.setup_problem).
# tests/test_install_extras.py checks this table against pyproject.toml.
EXTRAS = {
    "sqlalchemy": "store",
    "alembic": "store",
    "psycopg": "store",
    "fastapi": "service",
    "uvicorn": "service",
    "huey": "service",
    "redis": "service",
    "prometheus_client": "service",
    "jira": "jira",
    "gitlab": "gitlab",
    "chromadb": "kb",
    "numpy": "kb",
    "sentence_transformers": "transformer",
    "torch": "transformer",
}


def _library_error(exc: BaseException) -> str | None:
    """The message of a database error, without importing SQLAlchemy or psycopg to recognise one.

    The knowledge commands, `audit` and the service read `CIMEDIC_DATABASE_URL` through SQLAlchemy: a
    malformed URL raises `sqlalchemy.exc.ArgumentError`, an unreachable server an `OperationalError` (from
    SQLAlchemy, or from psycopg when a migration connects). Those are the user's setup, not our bugs.
    """
    for cls in type(exc).__mro__:
        module = cls.__module__.split(".")[0]
        if module in ("sqlalchemy", "psycopg", "alembic", "chromadb"):
            return f"{module}: {exc}"
    return None


def main() -> None:
    try:
        result = app(standalone_mode=False)
    except (
        typer.TyperException
    ) as exc:  # Typer's (vendored click's) usage errors: a bad option, a missing file
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `cimedic kb` alone: the help is the answer
            typer.echo(exc.format_message(), err=True)
            sys.exit(2)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        error(f"{exc.format_message()}{hint}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        error("interrupted")
        sys.exit(130)
    except CimedicError as exc:
        error(str(exc))
        sys.exit(2)
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        error(f"this command needs the '{extra}' extra (missing {exc.name}): pip install 'cimedic[{extra}]'")
        sys.exit(2)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # `cimedic ... | head`: the reader left, nothing to report
            # https://docs.python.org/3/library/signal.html#note-on-sigpipe: point stdout at devnull so that
            # the interpreter's final flush does not raise again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        error(str(exc))
        sys.exit(2)
    except Exception as exc:
        message = _library_error(exc)
        if message is None:
            raise
        error(message)
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)
