"""Is this change to blame? The verdict from the diagnosis and what other runs say, as a pure function.

Wrong blame is the worst mistake a tool like this can make, so each verdict needs positive evidence, and
anything short of it is `unsure`:
- `flaky`: the same job passed on a re-run of the same commit, or this fingerprint has done so before.
- `infrastructure`: the engine classified the failure as a runner/infrastructure problem with confidence.
- `broken-trunk`: the same fingerprint failed on the base branch and has not passed there since.
- `new`: the same job passed on the base branch (we have its baseline log) and the base branch does not show
  this failure, and the engine is reasonably confident about what failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.models import Category, Diagnosis, Verdict

MIN_CONFIDENCE_NEW = 0.5
MIN_CONFIDENCE_INFRA = 0.6


@dataclass(frozen=True)
class Evidence:
    """What the worker found out about other runs (all from our own records and the baseline lookup)."""

    base_branch: str | None = None
    baseline_passed: bool = False
    baseline_url: str | None = None
    base_failure_url: str | None = None
    """URL of a base-branch job that failed with the same fingerprint, newer than its last success there."""
    passed_on_rerun: bool = False
    rerun_url: str | None = None
    known_flaky: bool = False


def decide(diagnosis: Diagnosis, ev: Evidence) -> Verdict:
    if ev.passed_on_rerun:
        return Verdict(
            kind="flaky", reason="The same job passed when re-run on the same commit.", link=ev.rerun_url
        )
    if ev.known_flaky:
        return Verdict(
            kind="flaky",
            reason="This failure has passed on a re-run of the same commit before in this repository.",
        )
    if diagnosis.category == Category.INFRASTRUCTURE and diagnosis.confidence >= MIN_CONFIDENCE_INFRA:
        return Verdict(
            kind="infrastructure",
            reason="The log shows a runner or infrastructure problem, not a problem in the code under test.",
        )
    if ev.base_failure_url is not None and ev.base_branch:
        return Verdict(
            kind="broken-trunk",
            reason=f"The same failure happens on `{ev.base_branch}`, so this change did not cause it.",
            link=ev.base_failure_url,
        )
    if (
        ev.base_branch
        and ev.baseline_passed
        and diagnosis.category != Category.UNKNOWN
        and diagnosis.confidence >= MIN_CONFIDENCE_NEW
    ):
        return Verdict(
            kind="new",
            reason=f"The same job passes on `{ev.base_branch}` and this failure is not seen there.",
            link=ev.baseline_url,
        )
    if not ev.base_branch:
        why = "No pull request or base branch to compare with."
    elif not ev.baseline_passed:
        why = f"No successful run of this job on `{ev.base_branch}` to compare with."
    else:
        why = "The log does not say clearly enough what failed."
    return Verdict(kind="unsure", reason=why)
