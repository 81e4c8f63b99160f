"""The pipeline around the engine: knowledge-base lookup, optional LLM, then recording.

Pure composition: the knowledge base and the explainer are injected (see `agent.ports`), so the same code
serves the CLI, the Action and the worker. Each of these steps is optional: when one fails, the diagnosis
says so in `notes` and the others still run (a knowledge base that is down must not cost the user the
diagnosis; docs/ARCHITECTURE.md, "optional steps degrade").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from agent.fixes import PatchPolicy, Reader, suggest
from agent.jobs import StepNotes
from agent.logtext import clean_line
from agent.models import Diagnosis, JobContext
from agent.ports import ChangeContext, Explainer, KnowledgeLookup
from agent.scan import iter_text_lines

log = logging.getLogger("cimedic.pipeline")

MAX_LLM_LINES = 200_000
"""Lines handed to the explainer for evidence checks; beyond that only the excerpt's lines are kept."""


def prompt_lines(chunks: Iterable[bytes], diagnosis: Diagnosis) -> list[str]:
    """The log as the explainer sees it: numbered exactly as the excerpt (the contract's line breaks only).

    The excerpt's redacted texts replace the raw lines, so the LLM never sees what the diagnosis hid.
    """
    lines: list[str] = []
    for raw in iter_text_lines(chunks):
        lines.append(clean_line(raw).display if len(lines) < MAX_LLM_LINES else "")
    for item in diagnosis.excerpt:
        if item.line <= len(lines):
            lines[item.line - 1] = item.text
    return lines


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
    notes = StepNotes(list(diagnosis.notes))
    result = diagnosis
    if kb is not None:
        try:
            result = result.model_copy(update={"similar": kb.similar(result, k)})
        except Exception as exc:
            log.warning("knowledge base lookup failed", exc_info=True)
            notes.add("knowledge base lookup", exc)
    if explainer is not None and log_lines is not None:
        try:
            explanation = explainer.explain(result, log_lines, change=change)
        except Exception as exc:
            log.warning("LLM explanation failed", exc_info=True)
            notes.add("LLM explanation", exc)
        else:
            if explanation is not None:
                result = result.model_copy(update={"llm": explanation})
    if reader is not None or (result.llm is not None and result.llm.patch is not None):
        try:
            result = suggest(result, log_lines or (), reader, patch_policy)
        except Exception as exc:
            # A remote reader (the forge's contents API) can fail like any call: no fix, a note, rest kept.
            log.warning("suggested fix failed", exc_info=True)
            notes.add("suggested fix", exc)
            if result.llm is not None and result.llm.patch is not None:
                result = result.model_copy(update={"llm": result.llm.model_copy(update={"patch": None})})
    if kb is not None and record:
        try:
            kb.record(result, job)
        except Exception as exc:
            log.warning("knowledge base record failed", exc_info=True)
            notes.add("knowledge base record", exc)
    if notes.items != diagnosis.notes:
        result = result.model_copy(update={"notes": notes.items})
    return result
