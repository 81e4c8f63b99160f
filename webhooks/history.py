"""What our own record of other runs says about a failure: the service's `RunHistory`.

Every `workflow_job` delivery is recorded (webhooks/store.py, `job_results`), so the worker knows which jobs
passed on a re-run of the same commit, which failures the base branch shows, and where the job last passed.
"""

from __future__ import annotations

import hashlib

from agent.jobs import FAILED_CONCLUSIONS, Baseline, JobRef
from agent.models import Diagnosis
from agent.verdict import Evidence
from webhooks.store import NAME_LEN, Store, bounded


def signature(d: Diagnosis) -> str:
    """A second identity of a failure (rule, category, title), used next to the engine's fingerprint."""
    return hashlib.sha256(f"{d.rule}\x1f{d.category.value}\x1f{d.title}".encode()).hexdigest()


class StoreHistory:
    def __init__(self, store: Store) -> None:
        self.store = store

    def known_green(self, job: JobRef, base_ref: str) -> tuple[int, str | None] | None:
        """The latest success of this job (same workflow) on `base_ref`, as (job id, page URL)."""
        green = next(
            (
                r
                for r in self.store.branch_history(job.repo, base_ref, job.job_name)
                if r.conclusion == "success" and r.workflow_name == bounded(job.workflow_name, NAME_LEN)
            ),
            None,
        )
        return (green.job_id, green.html_url) if green is not None else None

    def evidence(
        self, job: JobRef, diagnosis: Diagnosis, base_ref: str | None, baseline: Baseline | None
    ) -> Evidence:
        passed = [
            r
            for r in self.store.same_sha_job(job.repo, job.head_sha, job.job_name)
            if r.conclusion == "success"
            and (r.run_id, r.run_attempt) != (job.run_id, job.run_attempt)
            and (r.run_id != job.run_id or r.run_attempt > job.run_attempt)
        ]
        history = self.store.fingerprint_history(job.repo, diagnosis.fingerprint, signature(diagnosis))
        known_flaky = any(r.verdict == "flaky" and r.job_id != job.job_id for r in history)
        base_failure = None
        base_passed = baseline is not None
        if base_ref:
            for r in history:
                if r.head_branch != base_ref or r.conclusion not in FAILED_CONCLUSIONS:
                    continue
                latest = self.store.branch_history(job.repo, base_ref, r.job_name, limit=1)
                if latest and latest[0].job_id == r.job_id:
                    base_failure = r.html_url or f"https://github.com/{job.repo}/actions/runs/{r.run_id}"
                    break
            if not base_passed:
                base_passed = any(
                    r.conclusion == "success"
                    for r in self.store.branch_history(job.repo, base_ref, job.job_name, limit=5)
                )
        return Evidence(
            base_branch=base_ref,
            baseline_passed=base_passed,
            baseline_url=baseline.url if baseline else None,
            base_failure_url=base_failure,
            passed_on_rerun=bool(passed),
            rerun_url=passed[0].html_url if passed else None,
            known_flaky=known_flaky,
        )
