"""Anthropic: `anthropic:MODEL`, key from `ANTHROPIC_API_KEY` (read by the Anthropic SDK)."""

from __future__ import annotations

import httpx2
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.providers.anthropic import AnthropicProvider

from agent.llm.registry import ProviderPlugin, register


def _build(target: str, http_client: httpx2.AsyncClient) -> Model:
    return AnthropicModel(target, provider=AnthropicProvider(http_client=http_client))


register(
    ProviderPlugin(
        name="anthropic", aliases=("claude",), build=_build, needs=("ANTHROPIC_API_KEY",), doc="Anthropic API"
    )
)
