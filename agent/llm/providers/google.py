"""Google Gemini API: `google:MODEL` or `gemini:MODEL`, key from `GOOGLE_API_KEY` (or `GEMINI_API_KEY`)."""

from __future__ import annotations

import os

import httpx2
from pydantic_ai.models import Model

from agent.llm.registry import ProviderPlugin, register


def _build(target: str, http_client: httpx2.AsyncClient) -> Model:
    from pydantic_ai.models.google import GoogleModel  # imported on use (see providers/anthropic.py)
    from pydantic_ai.providers.google import GoogleProvider

    key = os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY")
    return GoogleModel(target, provider=GoogleProvider(api_key=key, http_client=http_client))


register(
    ProviderPlugin(
        name="google",
        aliases=("gemini", "google-gla"),
        build=_build,
        sdk_extra="llm-google",
        needs=("GOOGLE_API_KEY",),
        doc="Google Gemini API",
    )
)
