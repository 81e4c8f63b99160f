"""From a diagnosis to its suggested fix: harvest, validate, keep what checks out, note what did not."""

from __future__ import annotations

from collections.abc import Sequence

from agent.fixes.harvest import harvest
from agent.fixes.patch import Patch
from agent.fixes.policy import PatchPolicy
from agent.fixes.validate import Reader, Rejected, Validated, validate
from agent.models import Category, Diagnosis, Fix
from agent.redact import DEFAULT_REDACTOR, Redactor

NO_SOURCE = "LLM patch dropped: no source checkout to validate it against (give --source DIR)"


def _as_fix(result: Validated, title: str, rules: Sequence[str]) -> Fix:
    return Fix(
        patch=result.diff,
        source=result.patch.source,
        files=list(result.files),
        title=title,
        rules=list(rules),
    )


def _note(rejected: Rejected) -> str:
    patch = rejected.patch
    where = f" (log line {patch.log_line})" if patch.log_line else ""
    name = patch.rule or patch.source
    return f"{patch.source} patch {name}{where} dropped: {rejected.reason}"


def rule_fix(
    patches: Sequence[Patch], reader: Reader, policy: PatchPolicy
) -> tuple[Validated | None, list[Patch], list[str]]:
    """The fix-its that validate, merged into one patch (each one is checked alone first, so a bad
    fix-it is dropped with its own reason instead of sinking the others), the patches it holds, and notes."""
    notes: list[str] = []
    good: list[Patch] = []
    for patch in patches:
        result = validate(patch, reader, policy)
        if isinstance(result, Rejected):
            notes.append(_note(result))
        else:
            good.append(result.patch)
    while good:
        merged = Patch(
            "rule",
            good[0].title,
            ",".join(dict.fromkeys(p.rule or "" for p in good)),
            tuple(e for p in good for e in p.edits),
            lockfile_fix=all(p.lockfile_fix for p in good),
        )
        result = validate(merged, reader, policy)
        if isinstance(result, Validated):
            return result, good, notes
        dropped = good.pop()  # the last fix-it clashes with the others; the earlier ones are kept
        notes.append(_note(Rejected(dropped, f"conflicts with earlier fix-its: {result.reason}")))
    return None, good, notes


def _secret_free(fix: Fix | None, redactor: Redactor, notes: list[str]) -> Fix | None:
    """Redaction runs before anything leaves the process, but a redacted patch no longer applies: a patch
    whose lines (its context comes from the files) hold something that looks like a secret is dropped."""
    if fix is None:
        return None
    kinds = sorted({f.kind for f in redactor.findings(fix.patch)})
    if not kinds:
        return fix
    notes.append(f"{fix.source} patch dropped: it holds text that looks like a secret ({', '.join(kinds)})")
    return None


def suggest(
    diagnosis: Diagnosis,
    log_lines: Sequence[str],
    reader: Reader | None,
    policy: PatchPolicy | None = None,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> Diagnosis:
    """`diagnosis` with `fix` set to a validated patch (tool fix-its first, else the LLM's) and `fix_notes`
    saying what was dropped. Without a reader nothing can be validated, so nothing is shown."""
    policy = policy or PatchPolicy()
    llm = diagnosis.llm
    if reader is None:
        if llm is None or llm.patch is None:
            return diagnosis
        return diagnosis.model_copy(
            update={
                "llm": llm.model_copy(update={"patch": None}),
                "fix_notes": [*diagnosis.fix_notes, NO_SOURCE],
            }
        )
    fix: Fix | None = None
    result, used, notes = rule_fix(harvest(diagnosis, log_lines), reader, policy)
    if result is not None:
        more = len(used) - 1
        title = used[0].title + (f" (and {more} more fix-it{'s' * (more > 1)})" if more else "")
        fix = _secret_free(
            _as_fix(result, title, list(dict.fromkeys(p.rule or "" for p in used))), redactor, notes
        )
    if llm is not None and llm.patch is not None:
        lockfile = diagnosis.category is Category.DEPENDENCY
        checked = validate(
            Patch("llm", llm.summary, llm.model, diff=llm.patch, lockfile_fix=lockfile), reader, policy
        )
        candidate = None
        if isinstance(checked, Rejected):
            notes.append(_note(checked))
        else:
            candidate = _secret_free(_as_fix(checked, llm.fix or llm.summary, [llm.model]), redactor, notes)
        if candidate is None:
            llm = llm.model_copy(update={"patch": None})
        elif fix is None:
            fix = candidate
    update: dict[str, object] = {"fix": fix, "fix_notes": [*diagnosis.fix_notes, *notes]}
    if llm is not diagnosis.llm:
        update["llm"] = llm
    return diagnosis.model_copy(update=update)
