"""`cimedic llm ...`: which configured models answer, which providers exist, what was spent today."""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer

from agent.cli.messages import error
from agent.config import load_settings

llm_app = typer.Typer(help="The optional LLM layer (CIMEDIC_LLM).", no_args_is_help=True)


def _hint(prefix: str, detail: str) -> str:
    """Name the variable to set when a provider fails for want of configuration (simonw/llm's habit)."""
    from agent.llm import registry

    try:
        plugin = registry.get(prefix)
    except KeyError:
        return ""
    unset = [name for name in plugin.needs if not os.environ.get(name)]
    lowered = detail.lower()
    if lowered.endswith("not set"):  # already says which variable (explainer.setup_problem)
        return ""
    if unset and any(w in lowered for w in ("api key", "api_key", "401", "403", "auth", "base_url")):
        return f" (set {', '.join(unset)})"
    if "connect" in lowered:
        return " (is the server running and reachable from here?)"
    return ""


@llm_app.command("check")
def check_command(
    timeout: Annotated[float, typer.Option(help="seconds to wait for each model")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Ask each model of CIMEDIC_LLM for a one-word reply; exit 0 when at least one answers."""
    from agent.llm import LlmExplainer, make_explainer

    explainer = make_explainer(load_settings())  # a bad CIMEDIC_LLM: one line, exit 2 (agent/cli)
    if explainer is None:
        error("CIMEDIC_LLM is not set, so no LLM is used (e.g. CIMEDIC_LLM=openai:gpt-4.1-mini)")
        raise typer.Exit(2)
    assert isinstance(explainer, LlmExplainer)
    with explainer:
        results = explainer.check(timeout=timeout)
        prefixes = {e.name: e.spec.prefix for e in explainer.chain}
    rows = [
        {
            "model": r.model,
            "ok": r.ok,
            "latency_s": round(r.latency, 3),
            "detail": r.detail + ("" if r.ok else _hint(prefixes.get(r.model, ""), r.detail)),
        }
        for r in results
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            mark = "ok  " if row["ok"] else "FAIL"
            typer.echo(f"{mark} {row['model']}  {row['latency_s']:.2f}s  {row['detail']}")
    raise typer.Exit(0 if any(r.ok for r in results) else 1)


@llm_app.command("providers")
def providers_command() -> None:
    """List the registered providers (prefixes usable in CIMEDIC_LLM)."""
    from agent.llm import registry

    seen: set[str] = set()
    for prefix in registry.prefixes():
        plugin = registry.get(prefix)
        if plugin.name in seen:
            continue
        seen.add(plugin.name)
        aliases = f" (also: {', '.join(plugin.aliases)})" if plugin.aliases else ""
        typer.echo(f"{plugin.name}{aliases}: {plugin.doc}")


@llm_app.command("usage")
def usage_command(
    repo: Annotated[str | None, typer.Option(help="one repository (owner/name); all when omitted")] = None,
) -> None:
    """Today's LLM calls, tokens and estimated cost (UTC day), from the ledger under CIMEDIC_HOME."""
    from agent.llm import STORE_FILE
    from agent.llm.store import LlmStore

    path = load_settings().home / STORE_FILE
    if not path.exists():
        typer.echo("no LLM calls recorded yet")
        return
    store = LlmStore(path)
    try:
        spent = store.spent(repo=repo)
    finally:
        store.close()
    typer.echo(
        f"calls {spent.calls}  prompt tokens {spent.prompt_tokens}"
        f"  completion tokens {spent.completion_tokens}  cost ${spent.cost_usd:.4f}"
    )
