"""`cimedic rules ...`: list and show the failure rules, and generate docs/error-catalog.md."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from agent.catalog import Rule, default_catalog
from agent.cli.messages import error

rules_app = typer.Typer(help="The ordered catalog of known failure rules.", no_args_is_help=True)


class Format(StrEnum):
    text = "text"
    json = "json"


def rule_dict(rule: Rule, *, full: bool = False) -> dict[str, object]:
    data: dict[str, object] = {
        "id": rule.id,
        "category": rule.category.value,
        "specificity": rule.specificity,
        "title": rule.title,
        "source": rule.source,
    }
    if full:
        data |= {
            "patterns": [p.pattern for p in rule.patterns],
            "explanation": rule.explanation,
            "remediation": {
                "steps": list(rule.remediation_steps),
                "commands": list(rule.remediation_commands),
            },
            "docs": list(rule.docs),
            "examples": list(rule.examples),
        }
    return data


@rules_app.command("list")
def list_command(
    fmt: Annotated[Format, typer.Option("--format", help="text or json")] = Format.text,
) -> None:
    """List the rules in catalog order (the first rule matching a line wins)."""
    rules = default_catalog().rules
    if fmt is Format.json:
        typer.echo(json.dumps([rule_dict(r) for r in rules], indent=2))
        return
    width = max(len(r.id) for r in rules)
    for rule in rules:
        typer.echo(f"{rule.id:<{width}}  {rule.category.value:<14} {rule.specificity:.2f}  {rule.source}")


@rules_app.command("show")
def show_command(
    rule_id: Annotated[str, typer.Argument(metavar="ID", help="rule id, e.g. python.module-not-found")],
    fmt: Annotated[Format, typer.Option("--format", help="text or json")] = Format.text,
) -> None:
    """Show one rule: patterns, explanation, remediation, docs and examples."""
    rule = default_catalog().get(rule_id)
    if rule is None:
        error(f"no rule {rule_id!r} (see `cimedic rules list`)")
        raise typer.Exit(2)
    data = rule_dict(rule, full=True)
    if fmt is Format.json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{rule.id}  [{rule.category.value}, specificity {rule.specificity:.2f}, {rule.source}]")
    if rule.title:
        typer.echo(f"title: {rule.title}")
    typer.echo(rule.explanation)
    typer.echo("patterns:")
    for p in rule.patterns:
        typer.echo(f"  {p.pattern}")
    for label, items in (
        ("steps", rule.remediation_steps),
        ("commands (shown, never run)", rule.remediation_commands),
        ("docs", rule.docs),
        ("examples", rule.examples),
    ):
        if items:
            typer.echo(f"{label}:")
            for item in items:
                typer.echo(f"  {item}")


@rules_app.command("docs")
def docs_command() -> None:
    """Print docs/error-catalog.md (Markdown) generated from the rules."""
    from agent.catalog_docs import render_markdown

    typer.echo(render_markdown(), nl=False)
