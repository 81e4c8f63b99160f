"""Ollama through its OpenAI-compatible endpoint: `ollama:MODEL` (model names keep their `:tag`).

The server is `OLLAMA_BASE_URL` (with `/v1`), default `http://127.0.0.1:11434/v1`
(https://github.com/ollama/ollama/blob/main/docs/openai.md).
"""

from __future__ import annotations

import os

import httpx2
from pydantic_ai.models import Model

from agent.llm.registry import ProviderPlugin, register

DEFAULT_URL = "http://127.0.0.1:11434/v1"


def base_url() -> str:
    return os.environ.get("OLLAMA_BASE_URL") or DEFAULT_URL


def _build(target: str, http_client: httpx2.AsyncClient) -> Model:
    from pydantic_ai.models.openai import OpenAIChatModel  # imported on use (see providers/anthropic.py)
    from pydantic_ai.providers.ollama import OllamaProvider

    return OpenAIChatModel(target, provider=OllamaProvider(base_url=base_url(), http_client=http_client))


register(
    ProviderPlugin(
        name="ollama",
        build=_build,
        sdk_extra="llm-openai",
        endpoint=lambda _target: base_url(),
        needs=("OLLAMA_BASE_URL",),
        local=True,
        doc="Ollama server (OLLAMA_BASE_URL, default http://127.0.0.1:11434/v1)",
    )
)
