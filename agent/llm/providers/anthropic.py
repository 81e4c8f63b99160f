"""Anthropic: `anthropic:MODEL`, key from `ANTHROPIC_API_KEY` (read by the Anthropic SDK)."""

from __future__ import annotations

import httpx2
from pydantic_ai.models import Model

from agent.llm.registry import ProviderPlugin, register


def _build(target: str, http_client: httpx2.AsyncClient) -> Model:
    # The SDK is imported when a model of this provider is built, not when the provider registers: a chain
    # naming one provider must not pay for every SDK (issue 15).
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    return AnthropicModel(target, provider=AnthropicProvider(http_client=http_client))


register(
    ProviderPlugin(
        name="anthropic",
        aliases=("claude",),
        build=_build,
        sdk_extra="llm-anthropic",
        needs=("ANTHROPIC_API_KEY",),
        doc="Anthropic API",
    )
)
