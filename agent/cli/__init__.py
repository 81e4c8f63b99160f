"""`cimedic`: the command-line entry and the composition root that wires the parts together."""

from __future__ import annotations

import typer

from agent.cli.analyze_cmd import analyze_command
from agent.cli.kb_cmd import kb_app
from agent.cli.llm_cmd import llm_app
from agent.cli.rules_cmd import rules_app
from agent.cli.service_cmd import (
    action_command,
    audit_command,
    github_app,
    gitlab_ci_command,
    serve_command,
    worker_command,
)

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
# --- end sub-commands ---


def main() -> None:
    app()
