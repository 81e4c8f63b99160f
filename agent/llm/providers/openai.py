"""OpenAI, and any server that speaks its Chat Completions API (llama.cpp server, vLLM, LM Studio, ...).

`openai:MODEL` uses `OPENAI_API_KEY` (and `OPENAI_BASE_URL` when set, as the OpenAI SDK does).
`openai-compatible:URL#MODEL` talks to the server at URL (the `/v1` base), with
`CIMEDIC_OPENAI_COMPATIBLE_API_KEY` if the server wants a key; `OPENAI_API_KEY` is never sent there, so an
OpenAI key does not leak to another host.
"""

from __future__ import annotations

import os

import httpx2
from pydantic_ai.models import Model

from agent.config import ConfigError
from agent.llm.registry import ProviderPlugin, register

COMPATIBLE_KEY_ENV = "CIMEDIC_OPENAI_COMPATIBLE_API_KEY"


def split_compatible(target: str) -> tuple[str, str]:
    """`http://host:port/v1#model` -> (base URL, model)."""
    url, sep, model = target.rpartition("#")
    if not sep or not url or not model:
        raise ConfigError(f"CIMEDIC_LLM: 'openai-compatible:{target}' must be 'openai-compatible:URL#model'")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"CIMEDIC_LLM: {url!r} is not an http(s) URL")
    return url.rstrip("/"), model


def _build_openai(target: str, http_client: httpx2.AsyncClient) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel  # imported on use (see providers/anthropic.py)
    from pydantic_ai.providers.openai import OpenAIProvider

    return OpenAIChatModel(target, provider=OpenAIProvider(http_client=http_client))


def _build_compatible(target: str, http_client: httpx2.AsyncClient) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai_compatible import OpenAICompatibleProvider

    url, model = split_compatible(target)
    provider = OpenAICompatibleProvider(
        "openai-compatible", base_url=url, api_key=os.environ.get(COMPATIBLE_KEY_ENV), http_client=http_client
    )
    return OpenAIChatModel(model, provider=provider)


register(
    ProviderPlugin(
        name="openai",
        build=_build_openai,
        sdk_extra="llm-openai",
        needs=("OPENAI_API_KEY",),
        doc="OpenAI API; OPENAI_BASE_URL for a transparent proxy",
    )
)
register(
    ProviderPlugin(
        name="openai-compatible",
        aliases=("openai_compatible", "compatible"),
        build=_build_compatible,
        sdk_extra="llm-openai",
        endpoint=lambda target: split_compatible(target)[0],
        needs=(COMPATIBLE_KEY_ENV,),
        local=True,
        doc="any OpenAI-compatible server: openai-compatible:http://127.0.0.1:8080/v1#model",
    )
)
