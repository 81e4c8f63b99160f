"""GitHub as a `Forge`: a job's log, its pull requests and its baseline, through one installation's client.

Used by the App's worker (with our own record of green jobs, which saves calls) and by the Action (without).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.github_api import Client, GitHubError
from agent.jobs import FAILED_CONCLUSIONS, BaseBranch, BaseFailure, Baseline, JobRef, LogLimits, PullRef
from webhooks.lookups import Lookups

KnownGreen = Callable[[JobRef, str], "tuple[int, str | None] | None"]
"""(job id, page URL) of this job's latest success on a base branch, from our own record, if we have one."""

# Events whose runs belong to a pull request (docs.github.com/en/actions/reference/events-that-trigger-
# workflows); runs of other events (push, schedule...) are not commented on a PR.
PULL_EVENTS = ("pull_request", "pull_request_target", None)
BASE_RUNS = 5  # newest completed runs of the workflow on the base branch, one page
BASE_JOB_LOOKUPS = 3  # of those, how many runs' jobs may be read looking for this job's last success


def _pull(p: dict[str, Any]) -> PullRef:
    return PullRef(int(p["number"]), (p.get("base") or {}).get("ref"))


class GitHubForge:
    def __init__(
        self,
        gh: Client,
        lookups: Lookups,
        *,
        limits: LogLimits | None = None,
        known_green: KnownGreen | None = None,
    ) -> None:
        self.gh = gh
        self.lookups = lookups
        self.limits = limits or LogLimits()
        self.known_green = known_green

    def run(self, job: JobRef) -> dict[str, Any]:
        return self.lookups.run(self.gh, job.repo, job.run_id, job.run_attempt)

    def job_log(self, job: JobRef) -> bytes:
        lim = self.limits
        return self.gh.job_log(job.repo, job.job_id, max_bytes=lim.max_bytes, head_bytes=lim.head_bytes).text

    def pull_requests(self, job: JobRef) -> list[PullRef]:
        """The run's pull requests (asked once for all the jobs of a run)."""
        key = (job.repo, job.run_id, job.run_attempt)
        return self.lookups.cached(self.lookups.pulls, key, lambda: self._pull_requests(job))  # type: ignore[no-any-return]

    def _pull_requests(self, job: JobRef) -> list[PullRef]:
        run = self.run(job)
        prs = [_pull(p) for p in run.get("pull_requests") or []]
        if prs or run.get("event") not in PULL_EVENTS:
            return prs
        # Fork PRs are not listed on the run (docs: rest/actions/workflow-runs, `pull_requests`): ask by
        # commit, and keep the open ones whose head is this very commit.
        return [
            _pull(p)
            for p in self.gh.pulls_for_commit(job.repo, job.head_sha)
            if p.get("state", "open") == "open" and (p.get("head") or {}).get("sha") == job.head_sha
        ]

    def base_branch(self, job: JobRef, base_ref: str) -> BaseBranch:
        """The job on the base branch, from the newest completed runs of the same workflow there.

        One call lists the newest runs (any conclusion, `BASE_RUNS` a page); their jobs are read newest
        first, at most `BASE_JOB_LOOKUPS` runs, until one where this job passed (the baseline). A newer run
        where it failed is kept as the base branch's failure, whose log is fetched only if the use case needs
        it. Against asking for the last green run alone this costs at most two calls more, and only when the
        base branch is red; it tells a broken trunk even when we never received that run's events.
        """
        workflow_id = job.workflow_id or self.run(job).get("workflow_id")
        if not workflow_id:
            return BaseBranch()
        key = (job.repo, workflow_id, base_ref, job.job_name)
        found = self.lookups.cached(
            self.lookups.baselines, key, lambda: self._base_branch(job, base_ref, int(workflow_id))
        )
        baseline, failure = found
        if failure is None:
            return BaseBranch(baseline)
        failed_id, failed_url = failure
        return BaseBranch(baseline, BaseFailure(failed_url, lambda: self._baseline_log(job.repo, failed_id)))

    def _base_branch(
        self, job: JobRef, base_ref: str, workflow_id: int
    ) -> tuple[Baseline | None, tuple[int, str | None] | None]:
        """(baseline, (job id, URL) of a newer failure): plain data, cached across deliveries."""
        known = self._known_baseline(job, base_ref)
        if known is not None:
            return known, None
        runs = self.lookups.cached(
            self.lookups.baselines,
            ("runs", job.repo, workflow_id, base_ref),
            lambda: self._recent_runs(job.repo, workflow_id, base_ref),
        )
        failure: tuple[int, str | None] | None = None
        for run in runs[:BASE_JOB_LOOKUPS]:
            jobs = self.lookups.jobs_of_run(self.gh, job.repo, int(run["id"]))
            mine = next((j for j in jobs if j.get("name") == job.job_name), None)
            if mine is None:
                continue
            if mine.get("conclusion") == "success":
                return Baseline(self._baseline_log(job.repo, int(mine["id"])), mine.get("html_url")), failure
            if mine.get("conclusion") in FAILED_CONCLUSIONS and failure is None:
                failure = (int(mine["id"]), mine.get("html_url"))
        return None, failure

    def _recent_runs(self, repo: str, workflow_id: int, branch: str) -> list[dict[str, Any]]:
        """The newest completed runs of a workflow on a branch (docs: rest/actions/workflow-runs,
        "List workflow runs for a workflow": `status` takes `completed`; newest first)."""
        data = self.gh.get_json(
            "GET",
            f"/repos/{repo}/actions/workflows/{workflow_id}/runs",
            route="workflows/{id}/runs",
            params={"branch": branch, "status": "completed", "per_page": BASE_RUNS},
        )
        return [dict(r) for r in (data or {}).get("workflow_runs") or []]

    def _known_baseline(self, job: JobRef, base_ref: str) -> Baseline | None:
        """The baseline from our own record: one call instead of three (last green run, its jobs, the log).

        None sends the caller to the API: nothing recorded, or the log is gone (GitHub keeps logs for a
        limited time: docs.github.com/en/organizations/managing-organization-settings/configuring-the-
        retention-period-for-github-actions-artifacts-and-logs-in-your-organization).
        """
        green = self.known_green(job, base_ref) if self.known_green is not None else None
        if green is None:
            return None
        job_id, url = green
        try:
            return Baseline(self._baseline_log(job.repo, job_id), url)
        except GitHubError as exc:
            if exc.status in (404, 410):
                return None
            raise

    def _baseline_log(self, repo: str, job_id: int) -> bytes:
        max_b = self.limits.baseline_max_bytes
        return self.gh.job_log(repo, job_id, max_bytes=max_b, head_bytes=min(max_b // 4, 256 * 1024)).text
