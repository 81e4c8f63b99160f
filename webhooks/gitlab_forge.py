"""GitLab as a `Forge` (python-gitlab): a job's trace, its merge requests and its baseline.

Used by the service's worker and by `cimedic gitlab-ci`. The trace is GitLab's raw job log with its
`section_start:<unix>:<name>` / `section_end` markers, which the engine reads as step boundaries
(`agent/logtext.py`), so it is passed on as it is, capped as on GitHub.

API pages relied on (docs.gitlab.com/api/): jobs.md ("Get a log file": GET /projects/:id/jobs/:job_id/trace;
"Retry a job"; "List pipeline jobs"), pipelines.md ("List project pipelines": `ref`, `scope=finished`,
`order_by=id`, `sort=desc`), commits.md ("List merge requests associated with a commit"),
merge_requests.md ("Get single MR": `target_branch`).
"""

from __future__ import annotations

from typing import Any

import gitlab
from gitlab.v4.objects import Project

from actions.github_api import Client as GitHubClient
from agent.jobs import BaseBranch, BaseFailure, Baseline, JobRef, LogLimits, PullRef
from webhooks.gitlab import MergeRequestRef, merge_request_iid
from webhooks.lookups import Lookups

BASE_PIPELINES = 5  # newest finished pipelines of the target branch, one page
BASE_JOB_LOOKUPS = 3  # of those, how many pipelines' jobs may be read looking for this job's last success


def connect(url: str, token: str, *, timeout_s: float = 30.0) -> gitlab.Gitlab:
    """A python-gitlab client for the bot's token. `retry_transient_errors` retries 5xx and connection
    errors with backoff; 429 is always retried after its `Retry-After` (python-gitlab's `obey_rate_limit`)."""
    return gitlab.Gitlab(
        url, private_token=token, timeout=timeout_s, retry_transient_errors=True, per_page=100
    )


def capped_trace(project: Project, job_id: int, *, max_bytes: int, head_bytes: int) -> bytes:
    """The job's trace, streamed: its first `head_bytes` and last `max_bytes - head_bytes`, as on GitHub."""
    chunks = project.jobs.get(job_id, lazy=True).trace(iterator=True, chunk_size=64 * 1024)
    return GitHubClient._capped(iter(chunks), max_bytes=max_bytes, head_bytes=head_bytes).text


class GitLabForge:
    """One project's jobs. `merge_requests` keeps what the MR lookup found, with the project each MR lives
    in (a fork's merge request lives in its target project, where the note is written)."""

    def __init__(
        self,
        gl: gitlab.Gitlab,
        project_id: int,
        lookups: Lookups,
        *,
        limits: LogLimits | None = None,
        known: list[MergeRequestRef] | None = None,
    ) -> None:
        self.gl = gl
        self.project_id = project_id
        self.project = gl.projects.get(project_id, lazy=True)
        self.lookups = lookups
        self.limits = limits or LogLimits()
        self.merge_requests: list[MergeRequestRef] = list(known or [])

    def job_log(self, job: JobRef) -> bytes:
        lim = self.limits
        return capped_trace(self.project, job.job_id, max_bytes=lim.max_bytes, head_bytes=lim.head_bytes)

    def pull_requests(self, job: JobRef) -> list[PullRef]:
        """The job's merge requests: its pipeline's, else the open ones whose head is this commit."""
        if not self.merge_requests:
            key = (self.project_id, job.run_id)
            self.merge_requests = self.lookups.cached(
                self.lookups.pulls, key, lambda: self._merge_requests(job)
            )
        return [PullRef(mr.iid, mr.target_branch) for mr in self.merge_requests]

    def _merge_requests(self, job: JobRef) -> list[MergeRequestRef]:
        iid = merge_request_iid(job.head_branch)
        if iid is not None:  # a merge request pipeline: its ref names the MR
            mr = self.project.mergerequests.get(iid)
            return [
                MergeRequestRef(project_id=int(mr.target_project_id), iid=iid, target_branch=mr.target_branch)
            ]
        # A branch pipeline: the MRs of the commit, kept when open and headed by this very commit. A fork's
        # MR is listed here too; it lives in (and is noted in) its target project.
        found: Any = self.project.commits.get(job.head_sha, lazy=True).merge_requests(get_all=False)
        return [
            MergeRequestRef(
                project_id=int(m.get("target_project_id") or self.project_id),
                iid=int(m["iid"]),
                target_branch=m.get("target_branch"),
            )
            for m in found
            if m.get("state", "opened") == "opened" and m.get("sha", job.head_sha) == job.head_sha
        ]

    def base_branch(self, job: JobRef, base_ref: str) -> BaseBranch:
        """The same job name in the newest finished pipelines of the target branch (as on GitHub: one page
        of pipelines, their jobs newest first until the job passed; a newer failure is kept)."""
        key = (self.project_id, base_ref, job.job_name)
        baseline, failure = self.lookups.cached(
            self.lookups.baselines, key, lambda: self._base_branch(job, base_ref)
        )
        if failure is None:
            return BaseBranch(baseline)
        failed_id, failed_url = failure
        return BaseBranch(baseline, BaseFailure(failed_url, lambda: self._baseline_log(failed_id)))

    def _base_branch(
        self, job: JobRef, base_ref: str
    ) -> tuple[Baseline | None, tuple[int, str | None] | None]:
        pipelines = self.lookups.cached(
            self.lookups.baselines,
            ("pipelines", self.project_id, base_ref),
            lambda: [
                int(p.id)
                for p in self.project.pipelines.list(
                    ref=base_ref,
                    scope="finished",
                    order_by="id",
                    sort="desc",
                    per_page=BASE_PIPELINES,
                    get_all=False,
                )
            ],
        )
        failure: tuple[int, str | None] | None = None
        for pipeline_id in pipelines[:BASE_JOB_LOOKUPS]:
            jobs = self._jobs_of(pipeline_id)
            mine = next((j for j in jobs if j.get("name") == job.job_name), None)
            if mine is None:
                continue
            if mine.get("status") == "success":
                return Baseline(self._baseline_log(int(mine["id"])), mine.get("web_url")), failure
            if mine.get("status") == "failed" and failure is None:
                failure = (int(mine["id"]), mine.get("web_url"))
        return None, failure

    def _jobs_of(self, pipeline_id: int) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            listed = self.project.pipelines.get(pipeline_id, lazy=True).jobs.list(per_page=100, get_all=False)
            return [dict(j.attributes) for j in listed]

        return self.lookups.cached(self.lookups.run_jobs, (self.project_id, pipeline_id), load)  # type: ignore[no-any-return]

    def _baseline_log(self, job_id: int) -> bytes:
        max_b = self.limits.baseline_max_bytes
        return capped_trace(self.project, job_id, max_bytes=max_b, head_bytes=min(max_b // 4, 256 * 1024))
