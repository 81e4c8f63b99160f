"""What the worker does for each kind of GitLab event, registered in the `Router` by `GitLabHandlers.route`.

A failed job goes through the one use case (`agent.failed_job.diagnose_failed_job`) with GitLab as the forge
and our store as the run history, exactly as on GitHub (`webhooks/github_handlers.py`); its result is recorded
and a publish request queued, which writes the sticky MR note and the `cimedic` commit status for the commit.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import gitlab

from actions.audit import AuditLog
from actions.github_comment import body_hash, render_comment
from actions.gitlab_note import ensure_mr_note
from actions.gitlab_status import ensure_commit_status
from actions.patch_policy import patch_policy
from actions.policy import Policy
from agent.failed_job import Analyzer, diagnose_failed_job
from agent.jobs import FAILED_CONCLUSIONS, JobRef, LogLimits
from agent.models import Diagnosis
from agent.ports import Explainer, KnowledgeLookup
from agent.verdict import Evidence, decide
from webhooks import metrics
from webhooks.fix_outputs import fix_links
from webhooks.gitlab import GitLabFixCommand, GitLabJob, GitLabPipeline, GitLabPublish, MergeRequestRef
from webhooks.gitlab_files import GitLabFiles, read_policy
from webhooks.gitlab_fix_outputs import fix_command_refusal, publish_fix_mrs, publish_mr_suggestions
from webhooks.gitlab_forge import GitLabForge
from webhooks.history import StoreHistory, signature
from webhooks.lookups import Lookups
from webhooks.publishing import PUBLISH_PRIORITY, failed_jobs
from webhooks.queue import Queue
from webhooks.router import Router
from webhooks.store import Claimed, JobResult, Store
from webhooks.ticketing import Ticketing, ticket_links

log = logging.getLogger("cimedic.worker.gitlab")


def job_ref(ev: GitLabJob, merge_requests: list[MergeRequestRef] | None = None) -> JobRef:
    """GitLab's job onto the forge-neutral shape: pipeline -> run, `retries_count + 1` -> attempt, the ref
    (a branch, or `refs/merge-requests/<iid>/head`) -> head branch, `failed` -> `failure`."""
    return JobRef(
        repo=ev.repo,
        job_id=ev.job_id,
        job_name=ev.job_name,
        run_id=ev.pipeline_id,
        head_sha=ev.sha,
        conclusion=ev.conclusion,
        run_attempt=ev.retries_count + 1,
        head_branch=None if ev.tag else ev.ref,
        workflow_name=ev.stage,
        url=ev.url,
        completed_at=ev.finished_at,
    )


class GitLabHandlers:
    def __init__(
        self,
        *,
        store: Store,
        queue: Queue,
        gl: gitlab.Gitlab,
        audit: AuditLog,
        lookups: Lookups,
        limits: LogLimits,
        publish_delay_s: float,
        lock_ttl_s: float,
        analyzer: Analyzer | None = None,
        kb: KnowledgeLookup | None = None,
        kb_for: Callable[[str], KnowledgeLookup] | None = None,
        explainer: Explainer | None = None,
        ticketing: Ticketing | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.gl = gl
        self.audit = audit
        self.lookups = lookups
        self.limits = limits
        self.publish_delay_s = publish_delay_s
        self.lock_ttl_s = lock_ttl_s
        self.history = StoreHistory(store)
        self.analyzer = analyzer
        self.kb = kb
        self.kb_for = kb_for
        self.explainer = explainer
        self.ticketing = ticketing
        self._username: str | None = None

    def route(self, router: Router) -> None:
        router.add("gitlab_job", self.job)
        router.add("gitlab_pipeline", self.pipeline)
        router.add("gitlab_publish", self.publish)
        router.add("gitlab_fix_command", self.fix_command)

    def policy(self, project_id: int, default_branch: str | None) -> Policy:
        return self.lookups.cached(  # type: ignore[no-any-return]
            self.lookups.policies,
            ("gitlab", project_id),
            lambda: read_policy(self.gl, project_id, default_branch),
        )

    def username(self) -> str | None:
        """Who our notes are written as (GET /user, once per process)."""
        if self._username is None:
            self.gl.auth()
            self._username = self.gl.user.username if self.gl.user is not None else None
        return self._username

    def _kb(self, repo: str) -> KnowledgeLookup | None:
        return self.kb_for(repo) if self.kb_for is not None else self.kb

    # --- jobs ---------------------------------------------------------------------------------------

    def job(self, ev: GitLabJob, claimed: Claimed) -> None:
        log.info("gitlab job", extra={"delivery": claimed.delivery_id, "repo": ev.repo, "job": ev.job_id})
        # A job allowed to fail does not fail its pipeline: nobody has to act on it.
        if ev.conclusion in FAILED_CONCLUSIONS and not ev.allow_failure:
            self._failed_job(ev, claimed)
        else:
            self._finished_job(ev)

    def _failed_job(self, ev: GitLabJob, claimed: Claimed) -> None:
        policy = self.policy(ev.project_id, ev.default_branch)
        if policy.ignores_job(ev.job_name):
            self.audit.record(
                repo=ev.repo,
                action="job.ignore",
                target=f"job:{ev.job_id}",
                outcome="skipped",
                delivery_id=claimed.delivery_id,
                detail={"job": ev.job_name, "forge": "gitlab"},
            )
            return
        forge = GitLabForge(self.gl, ev.project_id, self.lookups, limits=self.limits)
        report = diagnose_failed_job(
            job_ref(ev),
            forge=forge,
            ci_system="gitlab",
            analyzer=self.analyzer,
            history=self.history,
            kb=self._kb(ev.repo),
            explainer=self.explainer,
            reader=GitLabFiles(self.gl, ev.project_id, ev.sha),
            patch_policy=patch_policy(policy),
        )
        diagnosis = report.diagnosis
        metrics.ANALYSIS_SECONDS.observe(report.analysis_seconds)
        assert diagnosis.verdict is not None
        metrics.VERDICTS.labels(kind=diagnosis.verdict.kind).inc()
        mrs = forge.merge_requests
        self.store.save_result(_result(ev, diagnosis, [m.iid for m in mrs]))
        self.request_publish(ev, mrs, commit_status=True)
        if diagnosis.verdict.kind in policy.rerun:
            self._retry(ev, policy, claimed)
        if self.ticketing is not None:  # after the publish request: a tracker outage cannot delay the note
            self.ticketing.after_failure(
                policy,
                diagnosis,
                job_ref(ev),
                ci_system="gitlab",
                default_branch=ev.default_branch,
                refresh=lambda: self.request_publish(ev, mrs, commit_status=False),
            )

    def _retry(self, ev: GitLabJob, policy: Policy, claimed: Claimed) -> None:
        # At most once per job: a retried job is a new job with `retries_count` one higher, not retried again.
        if ev.retries_count > 0 or not self.store.claim_rerun(ev.repo, ev.pipeline_id, 1, ev.job_id):
            return
        if policy.dry_run:
            outcome = "dry-run"
        else:
            # Not retried blind on a 5xx: a retry that GitLab carried out would be run twice.
            job = self.gl.projects.get(ev.project_id, lazy=True).jobs.get(ev.job_id, lazy=True)
            job.retry(retry_transient_errors=False)
            outcome = "done"
        metrics.WRITES.labels(action="rerun", outcome=outcome).inc()
        self.audit.record(
            repo=ev.repo,
            action="job.retry",
            target=f"job:{ev.job_id}",
            outcome=outcome,
            delivery_id=claimed.delivery_id,
            detail={"pipeline": ev.pipeline_id, "forge": "gitlab"},
        )

    def _finished_job(self, ev: GitLabJob) -> None:
        """A job passed (or was cancelled): bookkeeping; a pass after a failure of its commit is flaky."""
        earlier = [
            r
            for r in self.store.same_sha_job(ev.repo, ev.sha, ev.job_name)
            if r.conclusion in FAILED_CONCLUSIONS and r.diagnosis and r.job_id != ev.job_id
        ]
        prs = sorted({n for r in earlier for n in r.pull_requests})
        self.store.save_result(_result(ev, None, prs))
        if ev.conclusion == "success" and self.ticketing is not None:
            self.ticketing.after_success(
                job_ref(ev),
                ci_system="gitlab",
                default_branch=ev.default_branch,
                policy=lambda: self.policy(ev.project_id, ev.default_branch),
            )
        if ev.conclusion != "success" or not earlier:
            return
        for r in earlier:
            if r.diagnosis is None:
                continue
            d = Diagnosis.model_validate_json(r.diagnosis)
            d = d.model_copy(update={"verdict": decide(d, Evidence(passed_on_rerun=True, rerun_url=ev.url))})
            self.store.set_verdict(ev.repo, r.job_id, "flaky", json.dumps(d.to_json_dict()))
        known = self.lookups.pulls.get((ev.project_id, ev.pipeline_id)) or [
            MergeRequestRef(project_id=ev.project_id, iid=n) for n in prs
        ]
        self.request_publish(ev, known, commit_status=True)

    def pipeline(self, ev: GitLabPipeline, claimed: Claimed) -> None:
        """A pipeline passed: an MR we noted on learns that its jobs pass again."""
        log.info("gitlab pipeline", extra={"delivery": claimed.delivery_id, "repo": ev.repo})
        mr = ev.merge_request
        if ev.status != "success" or mr is None:
            return
        if self.store.published(_note_target(mr))[0] is not None:
            self.request_publish(ev, [mr], commit_status=False)

    # --- outputs ------------------------------------------------------------------------------------

    def request_publish(
        self, ev: GitLabJob | GitLabPipeline, mrs: list[MergeRequestRef], *, commit_status: bool
    ) -> None:
        """Queue (or join the queued) update of this commit's outputs, as `Publisher.request` does."""
        keys = ",".join(f"{m.project_id}!{m.iid}" for m in sorted(mrs, key=lambda m: (m.project_id, m.iid)))
        request = GitLabPublish(
            delivery_id=f"publish:gitlab:{ev.project_id}@{ev.sha}:{keys}:{int(commit_status)}",
            project_id=ev.project_id,
            repo=ev.repo,
            default_branch=ev.default_branch,
            web_url=ev.web_url,
            sha=ev.sha,
            merge_requests=mrs,
            commit_status=commit_status,
        )
        payload = request.model_dump_json()
        if self.publish_delay_s > 0:
            self.store.admit(
                request.delivery_id,
                request.kind,
                payload,
                rearm=True,
                not_before=time.time() + self.publish_delay_s,
            )
            return
        if self.store.admit(request.delivery_id, request.kind, payload, rearm=True) != "duplicate":
            self.queue.enqueue(request.delivery_id, priority=PUBLISH_PRIORITY)

    def publish(self, ev: GitLabPublish, claimed: Claimed) -> None:
        policy = self.policy(ev.project_id, ev.default_branch)
        for mr in ev.merge_requests:
            self._note(ev, mr, policy, claimed)
        if ev.commit_status:
            self._status(ev, policy, claimed)

    def fix_command(self, ev: GitLabFixCommand, claimed: Claimed) -> None:
        """`/cimedic fix` on an MR: its head commit's checked fixes become draft fix MRs (docs/fixes.md)."""
        mr = ev.merge_request
        refusal = fix_command_refusal(self.gl, mr.project_id, ev.author, ev.author_id, self.username())
        outcome = "refused"
        if refusal is None and ev.source_project_id not in (None, mr.project_id):
            # Its jobs ran in the fork and its branch is there: we can neither read its record nor push.
            refusal, outcome = "the merge request's branch is in a fork we cannot push to", "fork"
        if refusal is not None:
            self.audit.record(
                repo=ev.repo,
                action=f"fix_mr.{outcome}",
                target=f"mr:{mr.project_id}!{mr.iid}",
                outcome="skipped",
                delivery_id=claimed.delivery_id,
                detail={"asked_by": ev.author, "reason": refusal},
            )
            return
        sha = str(self.gl.projects.get(mr.project_id, lazy=True).mergerequests.get(mr.iid).sha)
        publish = GitLabPublish(
            delivery_id=claimed.delivery_id,
            project_id=ev.project_id,
            repo=ev.repo,
            default_branch=ev.default_branch,
            web_url=ev.web_url,
            sha=sha,
            merge_requests=[mr],
            commit_status=False,
        )
        policy = self.policy(ev.project_id, ev.default_branch)
        self._note(publish, mr, policy, claimed, asked_by=ev.author)

    def _note(
        self,
        ev: GitLabPublish,
        mr: MergeRequestRef,
        policy: Policy,
        claimed: Claimed,
        *,
        asked_by: str | None = None,
    ) -> None:
        """The sticky note, with the fix outputs (draft fix MRs first, so the note links them; then the
        suggestions). A fix MR does not wait for the note to be enabled, as on GitHub
        (webhooks/publishing.py)."""
        if not (policy.outputs.comment or policy.fixes.pull_request or asked_by):
            return
        target = _note_target(mr)
        username = self.username()
        with self.store.lock(target, ttl_s=self.lock_ttl_s):
            results = [r for r in self.store.results_for_pr(ev.repo, mr.iid) if r.head_sha == ev.sha]
            jobs = failed_jobs(results, policy)
            publish_fix_mrs(
                self.store,
                self.audit,
                self.gl,
                ev.repo,
                mr,
                ev.sha,
                jobs,
                policy=policy,
                claimed=claimed,
                default_branch=ev.default_branch,
                asked_by=asked_by,
            )
            if not policy.outputs.comment:
                return
            known_id, known_hash, _ = self.store.published(target)
            if not jobs and known_id is None:
                return  # nothing failed and we never wrote: stay quiet
            body = render_comment(
                jobs,
                head_sha=ev.sha,
                passing=not jobs,
                fix_prs=fix_links(self.store, ev.repo, jobs),
                fix_label="Draft fix MR",
                tickets=ticket_links(self.store, ev.repo, jobs),
            )
            outcome, note_id = ensure_mr_note(
                self.gl,
                mr.project_id,
                mr.iid,
                body,
                username=username,
                known_id=known_id,
                known_hash=known_hash,
                dry_run=policy.dry_run,
            )
            if outcome == "dry-run":
                self.store.set_published(f"dry:{target}", None, body_hash(body))
            elif outcome != "unchanged" or known_id is None:
                self.store.set_published(target, note_id, body_hash(body))
            if outcome != "unchanged":
                metrics.WRITES.labels(action="comment", outcome=outcome).inc()
                self.audit.record(
                    repo=ev.repo,
                    action=f"note.{outcome}",
                    target=f"mr:{mr.project_id}!{mr.iid}",
                    outcome="dry-run" if outcome == "dry-run" else "done",
                    remote_id=note_id,
                    delivery_id=claimed.delivery_id,
                    detail={"sha": ev.sha, "jobs": len(jobs), "chars": len(body), "note": policy.error},
                )
            publish_mr_suggestions(
                self.store,
                self.audit,
                self.gl,
                ev.repo,
                mr,
                ev.sha,
                jobs,
                username=username,
                policy=policy,
                claimed=claimed,
            )

    def _status(self, ev: GitLabPublish, policy: Policy, claimed: Claimed) -> None:
        if not policy.outputs.check_run:
            return
        target = f"gitlab-status:{ev.project_id}@{ev.sha}"
        with self.store.lock(target, ttl_s=self.lock_ttl_s):
            results = self.store.results_for_sha(ev.repo, ev.sha)
            jobs = failed_jobs(results, policy)
            _, known_hash, _ = self.store.published(target)
            # As for the check run: an invalid policy still gets the status naming the error.
            dry_run = policy.dry_run and policy.error is None
            newest = max(results, key=lambda r: (r.run_id, r.updated_at), default=None)
            outcome, digest = ensure_commit_status(
                self.gl,
                ev.project_id,
                ev.sha,
                jobs,
                target_url=jobs[0].url if jobs else (newest.html_url if newest else None),
                known_hash=known_hash,
                note=policy.error,
                dry_run=dry_run,
            )
            if outcome == "created":
                self.store.set_published(target, None, digest)
            if outcome != "unchanged":
                metrics.WRITES.labels(action="commit_status", outcome=outcome).inc()
                self.audit.record(
                    repo=ev.repo,
                    action=f"commit_status.{outcome}",
                    target=f"sha:{ev.sha}",
                    outcome="dry-run" if outcome == "dry-run" else "done",
                    delivery_id=claimed.delivery_id,
                    detail={"jobs": len(jobs), "forge": "gitlab"},
                )


def _note_target(mr: MergeRequestRef) -> str:
    return f"gitlab-note:{mr.project_id}!{mr.iid}"


def _result(ev: GitLabJob, diagnosis: Diagnosis | None, mrs: list[int]) -> JobResult:
    return JobResult(
        repo=ev.repo,
        job_id=ev.job_id,
        run_id=ev.pipeline_id,
        run_attempt=ev.retries_count + 1,
        head_sha=ev.sha,
        head_branch=None if ev.tag else ev.ref,
        job_name=ev.job_name,
        workflow_name=ev.stage,
        conclusion=ev.conclusion,
        fingerprint=diagnosis.fingerprint if diagnosis else None,
        signature=signature(diagnosis) if diagnosis else None,
        verdict=diagnosis.verdict.kind if diagnosis and diagnosis.verdict else None,
        diagnosis=json.dumps(diagnosis.to_json_dict()) if diagnosis else None,
        html_url=ev.url,
        pull_requests=mrs,
        completed_at=ev.finished_at,
        updated_at=time.time(),
    )
