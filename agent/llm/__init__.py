"""The optional LLM layer: a root-cause explanation from any provider, verified against the log.

`make_explainer(settings)` is what the composition root (the CLI, the worker) calls; it returns None when no
model is configured, so callers need no LLM-specific logic. See docs/llm.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import httpx2
from pydantic_ai.models import Model

from agent.config import Settings
from agent.llm import registry
from agent.llm.answer import Citation, LlmAnswer
from agent.llm.cost import PriceTable
from agent.llm.explainer import ChainEntry, CheckResult, LlmExplainer, Outcome
from agent.llm.options import LlmOptions, ModelSpec, load_options, parse_chain
from agent.llm.prompt import PROMPT_VERSION
from agent.llm.registry import ProviderPlugin, register
from agent.llm.store import LlmStore
from agent.redact import Redactor

__all__ = [
    "PROMPT_VERSION",
    "STORE_FILE",
    "ChainEntry",
    "CheckResult",
    "Citation",
    "LlmAnswer",
    "LlmExplainer",
    "LlmOptions",
    "ModelSpec",
    "Outcome",
    "ProviderPlugin",
    "build_chain",
    "make_explainer",
    "register",
]

STORE_FILE = "llm.sqlite"


def _display(spec: ModelSpec) -> str:
    """The name shown in comments: a self-hosted server's URL (an internal host name) is left out."""
    if "#" in spec.target:
        return f"{spec.prefix}:{spec.target.rpartition('#')[2]}"
    return spec.label


def build_chain(text: str) -> list[ChainEntry]:
    """`CIMEDIC_LLM` -> chain entries via the provider registry. Raises ConfigError naming the variable."""
    entries: list[ChainEntry] = []
    for spec in parse_chain(text, registry.prefixes()):
        plugin = registry.get(spec.prefix)
        spec = ModelSpec(plugin.name, spec.target)
        endpoint = plugin.endpoint_of(spec.target)  # validates the target (e.g. URL#model) now, loudly

        def build(http: httpx2.AsyncClient, plugin: ProviderPlugin = plugin, spec: ModelSpec = spec) -> Model:
            return plugin.build(spec.target, http)

        entries.append(ChainEntry(spec, build, f"{plugin.name}@{endpoint}", _display(spec)))
    return entries


def current_repo() -> str | None:
    """The repository the budget is charged to when the caller does not say (`bind(repo)`)."""
    return os.environ.get("GITHUB_REPOSITORY") or os.environ.get("CI_PROJECT_PATH") or None


def make_explainer(
    settings: Settings, *, secrets: Sequence[str] = (), options: LlmOptions | None = None
) -> LlmExplainer | None:
    """The configured explainer, or None when `CIMEDIC_LLM` is unset. Raises ConfigError on a bad setting."""
    if not settings.llm or not settings.llm.strip():
        return None
    opts = options or load_options()
    chain = build_chain(settings.llm)
    return LlmExplainer(
        chain,
        options=opts,
        store=LlmStore(settings.home / STORE_FILE),
        prices=PriceTable(opts.prices),
        redactor=Redactor(secrets),
        repo=current_repo(),
    )
