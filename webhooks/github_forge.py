"""GitHub as a `Forge`: a job's log, its pull requests and its baseline, through one installation's client.

Used by the App's worker (with our own record of green jobs, which saves calls) and by the Action (without).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actions.github_api import Client, GitHubError
from agent.jobs import Baseline, JobRef, LogLimits, PullRef
from webhooks.lookups import Lookups

KnownGreen = Callable[[JobRef, str], "tuple[int, str | None] | None"]
"""(job id, page URL) of this job's latest success on a base branch, from our own record, if we have one."""

# Events whose runs belong to a pull request (docs.github.com/en/actions/reference/events-that-trigger-
# workflows); runs of other events (push, schedule...) are not commented on a PR.
PULL_EVENTS = ("pull_request", "pull_request_target", None)


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

    def baseline(self, job: JobRef, base_ref: str) -> Baseline | None:
        """The log of this job in the last successful run of the same workflow on the base branch."""
        workflow_id = job.workflow_id or self.run(job).get("workflow_id")
        if not workflow_id:
            return None
        key = (job.repo, workflow_id, base_ref, job.job_name)
        found = self.lookups.cached(self.lookups.baselines, key, lambda: self._find_baseline(job, base_ref))
        return found if isinstance(found, Baseline) else None

    def _find_baseline(self, job: JobRef, base_ref: str) -> Baseline | bool:
        """The baseline, or False when there is none (cached too: a miss costs the same calls every time)."""
        known = self._known_baseline(job, base_ref)
        if known is not None:
            return known
        workflow_id = int(job.workflow_id or self.run(job)["workflow_id"])
        green = self.lookups.cached(
            self.lookups.baselines,
            ("runs", job.repo, workflow_id, base_ref),
            lambda: self.gh.last_successful_run(job.repo, workflow_id, base_ref) or {},
        )
        if not green.get("id"):
            return False
        jobs = self.lookups.jobs_of_run(self.gh, job.repo, int(green["id"]))
        match = next(
            (j for j in jobs if j.get("name") == job.job_name and j.get("conclusion") == "success"), None
        )
        if match is None:
            return False
        return Baseline(self._baseline_log(job.repo, int(match["id"])), match.get("html_url"))

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
