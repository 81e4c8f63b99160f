"""The structure a model must return, before verification and sanitizing turn it into `LlmExplanation`.

It is deliberately flat and small: every field is required (OpenAI's strict structured outputs require every
property to be listed in `required`, https://platform.openai.com/docs/guides/structured-outputs#all-fields-must-be-required)
and small local models fill a short schema far more reliably than a nested one. Optional values are
expressed as empty strings or empty lists. Range checks (`line >= 1`) are part of the schema so a model that
answers out of range gets one corrective retry from pydantic-ai and is then treated as a failed answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.models import Category

Confidence = Literal["low", "medium", "high"]
Blame = Literal["yes", "no", "unknown"]


class Citation(BaseModel):
    """One log line the model relies on: its number and, ideally, a verbatim fragment of it."""

    model_config = ConfigDict(extra="forbid")

    line: int = Field(ge=1, description="line number as shown before the '|' in the log block")
    quote: str = Field(description="a short fragment copied verbatim from that line, or empty")


class LlmAnswer(BaseModel):
    """Root cause of a failed CI job, citing the log lines that show it."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(description="one sentence: what failed and why")
    root_cause: str = Field(description="the underlying cause, a few sentences")
    category: Category
    confidence: Confidence
    evidence: list[Citation] = Field(description="1 to 5 log lines that show the error")
    caused_by_change: Blame = Field(description="did the change under test cause it")
    caused_by_change_reason: str = Field(description="why, or empty")
    fix: str = Field(description="what to change, in words")
    patch: str = Field(description="optional unified diff, or empty")
    commands: list[str] = Field(description="commands to reproduce or verify, possibly empty")
