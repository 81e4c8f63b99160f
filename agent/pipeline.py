"""The pipeline around the engine: knowledge-base lookup, optional LLM, then recording.

Pure composition: the knowledge base and the explainer are injected (see `agent.ports`), so the same code
serves the CLI, the Action and the worker.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.fixes import PatchPolicy, Reader, suggest
from agent.models import Diagnosis, JobContext
from agent.ports import ChangeContext, Explainer, KnowledgeLookup


def enrich(
    diagnosis: Diagnosis,
    *,
    job: JobContext,
    log_lines: Sequence[str] | None = None,
    kb: KnowledgeLookup | None = None,
    explainer: Explainer | None = None,
    change: ChangeContext | None = None,
    record: bool = True,
    k: int = 3,
    reader: Reader | None = None,
    patch_policy: PatchPolicy | None = None,
) -> Diagnosis:
    """Add similar past failures, an LLM explanation and a validated fix to `diagnosis`, then remember it.

    `reader` gives the files at the failing commit (docs/fixes.md). Without it no patch can be checked, so
    none is kept: a model's patch is dropped with a note."""
    result = diagnosis
    if kb is not None:
        result = result.model_copy(update={"similar": kb.similar(result, k)})
    if explainer is not None and log_lines is not None:
        explanation = explainer.explain(result, log_lines, change=change)
        if explanation is not None:
            result = result.model_copy(update={"llm": explanation})
    if reader is not None or (result.llm is not None and result.llm.patch is not None):
        result = suggest(result, log_lines or (), reader, patch_policy)
    if kb is not None and record:
        kb.record(result, job)
    return result
