"""The structure a model must return, before verification and sanitizing turn it into `LlmExplanation`.

It is deliberately flat and small: every field is required (OpenAI's strict structured outputs require every
property to be listed in `required`, https://platform.openai.com/docs/guides/structured-outputs#all-fields-must-be-required)
and small local models fill a short schema far more reliably than a nested one. Optional values are
expressed as empty strings or empty lists. Range checks (`line >= 1`) are part of the schema so a model that
answers out of range gets one corrective retry from pydantic-ai and is then treated as a failed answer.

Lengths are bounded in the JSON schema only (`maxLength`, `maxItems`), not validated: servers that compile
the schema into a grammar (llama.cpp's json-schema-to-grammar, vLLM, Ollama) then cannot ramble past them,
which small models otherwise do until the token limit cuts the JSON short; others treat them as hints
(pydantic-ai moves keywords OpenAI's strict mode rejects into the description). Over-long text from a model
that ignores them is cut by `agent.llm.sanitize`, not rejected. All bounds together (~4,800 characters,
about 1,300 tokens) fit the default `CIMEDIC_LLM_MAX_OUTPUT_TOKENS` of 1500, so a model that fills every
field to its limit still returns complete JSON.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.models import Category

Confidence = Literal["low", "medium", "high"]
Blame = Literal["yes", "no", "unknown"]


Command = Annotated[str, Field(json_schema_extra={"maxLength": 120})]


class Citation(BaseModel):
    """One log line the model relies on: its number and, ideally, a verbatim fragment of it."""

    model_config = ConfigDict(extra="forbid")

    line: int = Field(ge=1, description="line number as shown before the '|' in the log block")
    quote: str = Field(
        description="a short fragment copied verbatim from that line, or empty",
        json_schema_extra={"maxLength": 120},
    )


class LlmAnswer(BaseModel):
    """Root cause of a failed CI job, citing the log lines that show it."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(
        description="one sentence: what failed and why", json_schema_extra={"maxLength": 200}
    )
    root_cause: str = Field(
        description="the underlying cause, a few sentences", json_schema_extra={"maxLength": 600}
    )
    category: Category
    confidence: Confidence
    evidence: list[Citation] = Field(
        description="1 to 5 log lines that show the error", json_schema_extra={"maxItems": 5}
    )
    caused_by_change: Blame = Field(description="did the change under test cause it")
    caused_by_change_reason: str = Field(description="why, or empty", json_schema_extra={"maxLength": 200})
    fix: str = Field(description="what to change, in words", json_schema_extra={"maxLength": 600})
    patch: str = Field(description="optional unified diff, or empty", json_schema_extra={"maxLength": 1500})
    commands: list[Command] = Field(
        description="commands to reproduce or verify, possibly empty", json_schema_extra={"maxItems": 5}
    )
