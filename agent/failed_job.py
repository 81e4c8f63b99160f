"""The one use case: diagnose a failed job, whatever the forge and whatever the entry point.

The App's worker, the GitHub Action and (next) GitLab call `diagnose_failed_job` with a `JobRef` and the
ports they have: a `Forge` to read the log, the change requests and the baseline; optionally our own
`RunHistory`, a knowledge base and an explainer. Only the log is required. Every other step is optional and
degrades with a note in the diagnosis instead of failing the job: a baseline lookup that answers 404
(workflow deleted, token without `actions: read`) must not cost the user the diagnosis of their own job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from agent.fixes import PatchPolicy, Reader
from agent.jobs import BaseBranch, BaseFailure, Baseline, JobRef, PullRef, StepNotes
from agent.models import Diagnosis, JobContext
from agent.pipeline import enrich, prompt_lines
from agent.ports import Explainer, Forge, KnowledgeLookup, RunHistory
from agent.verdict import Evidence, decide

log = logging.getLogger("cimedic.failed_job")

Analyzer = Callable[..., Diagnosis]


def default_analyzer(text: bytes, **kwargs: Any) -> Diagnosis:
    from agent.engine import analyze

    return analyze(text, **kwargs)


@dataclass(frozen=True)
class FailedJobReport:
    """The diagnosis (with its verdict and notes) and where it belongs."""

    diagnosis: Diagnosis
    pulls: list[PullRef]
    analysis_seconds: float


def diagnose_failed_job(
    job: JobRef,
    *,
    forge: Forge,
    ci_system: Literal["github", "gitlab"] = "github",
    analyzer: Analyzer | None = None,
    history: RunHistory | None = None,
    kb: KnowledgeLookup | None = None,
    explainer: Explainer | None = None,
    reader: Reader | None = None,
    patch_policy: PatchPolicy | None = None,
) -> FailedJobReport:
    """`reader` gives the files at the job's commit (the forge's contents at the head SHA): with it, the
    diagnosis gets a validated `fix` as in the CLI (docs/fixes.md); it is asked only for the files a patch
    names."""
    notes = StepNotes()
    pulls = list(job.pull_requests) if job.pull_requests is not None else None
    if pulls is None:
        try:
            pulls = forge.pull_requests(job)
        except Exception as exc:
            log.warning("pull request lookup failed", exc_info=True, extra={"repo": job.repo})
            notes.add("pull request lookup", exc)
            pulls = []
    base_ref = next((p.base_ref for p in pulls if p.base_ref), None)
    text = forge.job_log(job)
    base = BaseBranch()
    if base_ref:
        try:
            base = forge.base_branch(job, base_ref)
        except Exception as exc:
            log.warning("base branch lookup failed", exc_info=True, extra={"repo": job.repo})
            notes.add(f"comparison with `{base_ref}`", exc)
    baseline = base.baseline
    ctx = JobContext(
        ci_system=ci_system,
        repo=job.repo,
        branch=job.head_branch,
        commit=job.head_sha,
        workflow=job.workflow_name,
        job=job.job_name,
        url=job.url,
        pull_requests=[p.number for p in pulls],
        run_id=job.run_id,
        run_attempt=job.run_attempt,
        job_id=job.job_id,
        time=job.completed_at,
    )
    source = job.url or f"{job.repo} job {job.job_id}"
    t0 = time.perf_counter()
    analyze = analyzer or default_analyzer
    diagnosis = analyze(text, source=source, baseline=baseline.log if baseline else None, context=ctx)
    seconds = time.perf_counter() - t0
    if notes.items:
        diagnosis = diagnosis.model_copy(update={"notes": [*diagnosis.notes, *notes.items]})
    if kb is not None or explainer is not None or reader is not None:
        wanted = explainer is not None or reader is not None
        lines = prompt_lines([text], diagnosis) if wanted else None
        diagnosis = enrich(
            diagnosis,
            job=ctx,
            log_lines=lines,
            kb=kb,
            explainer=explainer,
            reader=reader,
            patch_policy=patch_policy,
        )
    evidence = _evidence(job, diagnosis, base_ref, baseline, history)
    if base.failure is not None and evidence.base_failure_url is None:
        late = StepNotes(list(diagnosis.notes))
        evidence = _same_failure_on_base(diagnosis, evidence, base.failure, analyze, late)
        diagnosis = diagnosis.model_copy(update={"notes": late.items})
    diagnosis = diagnosis.model_copy(update={"verdict": decide(diagnosis, evidence)})
    return FailedJobReport(diagnosis, pulls, seconds)


def _evidence(
    job: JobRef,
    diagnosis: Diagnosis,
    base_ref: str | None,
    baseline: Baseline | None,
    history: RunHistory | None,
) -> Evidence:
    if history is None:
        # Without a record of other runs there is no broken-trunk or flaky evidence: `new` needs the job's
        # green baseline on the base branch, anything else is `unsure` or `infrastructure`.
        return Evidence(
            base_branch=base_ref,
            baseline_passed=baseline is not None,
            baseline_url=baseline.url if baseline else None,
        )
    return history.evidence(job, diagnosis, base_ref, baseline)


def _same_failure_on_base(
    diagnosis: Diagnosis, evidence: Evidence, failure: BaseFailure, analyze: Analyzer, notes: StepNotes
) -> Evidence:
    """Broken trunk from the forge's own history, when our record did not see the base branch fail.

    The newest run of the job on the base branch failed after its last success there: the same
    fingerprint there means this change did not cause it.
    """
    try:
        theirs = analyze(failure.fetch_log(), source=failure.url or "base branch")
    except Exception as exc:
        log.warning("base branch failure log unavailable", exc_info=True)
        notes.add("check of the base branch's failure", exc)
        return evidence
    if theirs.fingerprint != diagnosis.fingerprint:
        return evidence
    return replace(evidence, base_failure_url=failure.url or evidence.base_branch)


def log_unavailable(job: JobRef, reason: str) -> Diagnosis:
    """What is said of a job whose log cannot be read any more (past the forge's retention): a short,
    honest diagnosis, so the pull request is told instead of left in silence."""
    from agent.models import Category, Verdict

    return Diagnosis(
        source=job.url or f"{job.repo} job {job.job_id}",
        category=Category.UNKNOWN,
        confidence=0.0,
        title="The job's log is no longer available: nothing to diagnose",
        focus=[],
        excerpt=[],
        fingerprint=f"log-unavailable-{job.job_id}",
        notes=[reason],
        verdict=Verdict(kind="unsure", reason="The log of this job has expired or was deleted."),
    )
