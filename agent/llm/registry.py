"""Model providers behind one small plugin interface: a registry keyed by the prefix of a chain entry.

Modelled on simonw/llm's `register_models` hook (llm/hookspecs.py): a provider is one module that builds a
`ProviderPlugin` and calls `register()`; nothing else in the code names providers. Built-in providers live in
`agent.llm.providers`; third-party packages can add one through the `cimedic.llm_providers` entry-point group
(each entry point loads a `ProviderPlugin`), see https://packaging.python.org/en/latest/specifications/entry-points/.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2
from pydantic_ai.models import Model

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "cimedic.llm_providers"


@dataclass(frozen=True)
class ProviderPlugin:
    """How to turn `prefix:target` into a pydantic-ai `Model`.

    `build(target, http_client)` must send every request through `http_client`, the one client the
    explainer keeps per endpoint (connection reuse, timeouts, and tests' `MockTransport`).
    `endpoint(target)` names the service a circuit breaker and an HTTP client are shared by: the provider
    name for hosted APIs, the base URL for self-hosted servers.
    `needs` lists environment variables the provider reads, for `cimedic llm check` to name when it fails.
    `local` says whether data stays on a machine the user runs (cost is then zero unless priced).
    `sdk_extra` is CI Medic's extra that installs the SDK `build` imports (pyproject.toml, `llm-*`): a chain
    naming a provider whose SDK is missing skips that model and says which extra to install.
    """

    name: str
    build: Callable[[str, httpx2.AsyncClient], Model]
    aliases: tuple[str, ...] = ()
    endpoint: Callable[[str], str] | None = None
    needs: tuple[str, ...] = ()
    local: bool = False
    doc: str = ""
    sdk_extra: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def endpoint_of(self, target: str) -> str:
        return self.endpoint(target) if self.endpoint is not None else self.name


_lock = threading.Lock()
_plugins: dict[str, ProviderPlugin] = {}
_loaded = False


def register(plugin: ProviderPlugin) -> ProviderPlugin:
    """Make `plugin` answer to its name and aliases (a later registration of a prefix wins)."""
    with _lock:
        for prefix in (plugin.name, *plugin.aliases):
            _plugins[prefix.lower()] = plugin
    return plugin


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import agent.llm.providers  # noqa: F401  (registers the built-in providers on import)

    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the built-ins down
            log.warning("LLM provider plugin %s failed to load: %s", ep.name, exc)
            continue
        if isinstance(plugin, ProviderPlugin):
            register(plugin)
        else:
            log.warning("LLM provider plugin %s is not a ProviderPlugin", ep.name)


def get(prefix: str) -> ProviderPlugin:
    _load()
    try:
        return _plugins[prefix.lower()]
    except KeyError:
        raise KeyError(f"no LLM provider {prefix!r} (known: {', '.join(prefixes())})") from None


def prefixes() -> tuple[str, ...]:
    _load()
    return tuple(sorted(_plugins))
