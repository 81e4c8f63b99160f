"""What the worker does for each kind of GitHub event, registered in a `Router` by `GitHubHandlers.route`.

A failed job goes through the one use case (`agent.failed_job.diagnose_failed_job`) with GitHub as the
forge and our store as the run history; its result is recorded and a publish request queued. Passing jobs
and runs only update the record (and the outputs they clear); publish requests write the outputs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from actions.audit import AuditLog
from actions.github_api import GitHubApi, LogExpired
from actions.patch_policy import patch_policy
from actions.policy import Policy
from agent.failed_job import Analyzer, FailedJobReport, diagnose_failed_job, log_unavailable
from agent.jobs import FAILED_CONCLUSIONS, JobRef, LogLimits
from agent.models import Diagnosis
from agent.ports import Explainer, KnowledgeLookup
from agent.verdict import Evidence, decide
from webhooks import metrics
from webhooks.fix_outputs import fix_command_refusal
from webhooks.fix_reader import GitHubFiles
from webhooks.github import (
    FixCommand,
    InstallationChanged,
    PublishRequest,
    WorkflowJobCompleted,
    WorkflowRunCompleted,
)
from webhooks.github_forge import GitHubForge
from webhooks.history import StoreHistory, signature
from webhooks.lookups import Lookups
from webhooks.publishing import Publisher, PublishTarget
from webhooks.router import Router
from webhooks.store import Claimed, InstallationStatus, JobResult, Store
from webhooks.ticketing import Ticketing

log = logging.getLogger("cimedic.worker")

# Actions: docs.github.com/en/webhooks/webhook-events-and-payloads#installation (created, deleted, suspend,
# unsuspend, new_permissions_accepted) and #installation_repositories (added, removed).
INSTALLATION_STATUS: dict[str, InstallationStatus] = {
    "created": "active",
    "unsuspend": "active",
    "new_permissions_accepted": "active",
    "suspend": "suspended",
    "deleted": "deleted",
}


def job_ref(ev: WorkflowJobCompleted) -> JobRef:
    return JobRef(
        repo=ev.repo,
        job_id=ev.job_id,
        job_name=ev.job_name,
        run_id=ev.run_id,
        run_attempt=ev.run_attempt,
        head_sha=ev.head_sha,
        head_branch=ev.head_branch,
        conclusion=ev.conclusion,
        workflow_name=ev.workflow_name,
        url=ev.html_url or f"https://github.com/{ev.repo}/actions/runs/{ev.run_id}/job/{ev.job_id}",
        completed_at=ev.completed_at,
    )


def _target(ev: WorkflowJobCompleted | WorkflowRunCompleted | PublishRequest) -> PublishTarget:
    return PublishTarget(ev.installation_id, ev.repo, ev.default_branch, ev.head_sha)


class GitHubHandlers:
    def __init__(
        self,
        *,
        store: Store,
        api: GitHubApi,
        audit: AuditLog,
        publisher: Publisher,
        lookups: Lookups,
        limits: LogLimits,
        analyzer: Analyzer | None = None,
        kb: KnowledgeLookup | None = None,
        kb_for: Callable[[str], KnowledgeLookup] | None = None,
        explainer: Explainer | None = None,
        ticketing: Ticketing | None = None,
    ) -> None:
        self.store = store
        self.api = api
        self.audit = audit
        self.publisher = publisher
        self.lookups = lookups
        self.limits = limits
        self.history = StoreHistory(store)
        self.analyzer = analyzer
        self.kb = kb
        self.kb_for = kb_for  # a knowledge base scoped to one repository, when given
        self.explainer = explainer
        self.ticketing = ticketing

    def route(self, router: Router) -> None:
        router.add("installation", self.installation)
        router.add("workflow_job", self.workflow_job)
        router.add("workflow_run", self.workflow_run)
        router.add("publish", self.publish)
        router.add("fix_command", self.fix_command)

    def _allowed(self, ev: WorkflowJobCompleted | WorkflowRunCompleted | PublishRequest | FixCommand) -> bool:
        if self.store.installation_allows(ev.installation_id, ev.repo):
            return True
        # Uninstalled, suspended, or the repository was taken out of the installation: GitHub would refuse
        # our token anyway, and the owner asked us to stop.
        log.info("skipped: the installation no longer covers this repository", extra={"repo": ev.repo})
        return False

    def _kb(self, repo: str) -> KnowledgeLookup | None:
        return self.kb_for(repo) if self.kb_for is not None else self.kb

    def _policy(self, ev: WorkflowJobCompleted) -> Policy:
        with self.api.client(ev.installation_id) as gh:
            return self.lookups.policy(gh, ev.repo, ev.default_branch)

    # --- installation -------------------------------------------------------------------------------

    def installation(self, ev: InstallationChanged, claimed: Claimed) -> None:
        """Bookkeeping of `installation` / `installation_repositories`: what we may still work for."""
        ids = {"delivery": claimed.delivery_id, "repo": ev.repo}
        if ev.installation_id is None:
            log.warning("installation event without an installation id", extra=ids)
            return
        status = INSTALLATION_STATUS.get(ev.action)
        self.store.record_installation(
            ev.installation_id,
            account=ev.account,
            status=status,
            added=ev.repos_added,
            removed=ev.repos_removed,
        )
        log.info(
            "installation %s: %s",
            ev.action,
            status or "repositories changed",
            extra=ids | {"installation": ev.installation_id},
        )

    # --- jobs ---------------------------------------------------------------------------------------

    def workflow_job(self, ev: WorkflowJobCompleted, claimed: Claimed) -> None:
        if not self._allowed(ev):
            return
        log.info(
            "workflow_job",
            extra={"delivery": claimed.delivery_id, "repo": ev.repo, "run": ev.run_id, "job": ev.job_id},
        )
        if ev.failed:
            self._failed_job(ev, claimed)
        else:
            self._finished_job(ev)

    def _failed_job(self, ev: WorkflowJobCompleted, claimed: Claimed) -> None:
        with self.api.client(ev.installation_id) as gh:
            policy = self.lookups.policy(gh, ev.repo, ev.default_branch)
            if policy.ignores_job(ev.job_name):
                self.audit.record(
                    repo=ev.repo,
                    action="job.ignore",
                    target=f"job:{ev.job_id}",
                    outcome="skipped",
                    delivery_id=claimed.delivery_id,
                    detail={"job": ev.job_name},
                )
                return
            forge = GitHubForge(gh, self.lookups, limits=self.limits, known_green=self.history.known_green)
            job = job_ref(ev)
            try:
                report = diagnose_failed_job(
                    job,
                    forge=forge,
                    analyzer=self.analyzer,
                    history=self.history,
                    kb=self._kb(ev.repo),
                    explainer=self.explainer,
                    reader=GitHubFiles(gh, ev.repo, ev.head_sha),
                    patch_policy=patch_policy(policy),
                )
            except LogExpired as exc:
                # Permanent: retrying cannot bring the log back, but the PR should hear why nothing follows.
                pulls = forge.pull_requests(job)
                report = FailedJobReport(log_unavailable(job, str(exc)), pulls, 0.0)
            diagnosis = report.diagnosis
            metrics.ANALYSIS_SECONDS.observe(report.analysis_seconds)
            if diagnosis.llm is not None:
                metrics.LLM_TOKENS.labels(kind="prompt").inc(diagnosis.llm.prompt_tokens)
                metrics.LLM_TOKENS.labels(kind="completion").inc(diagnosis.llm.completion_tokens)
                metrics.LLM_COST.inc(diagnosis.llm.cost_usd)
            assert diagnosis.verdict is not None
            metrics.VERDICTS.labels(kind=diagnosis.verdict.kind).inc()
            prs = [p.number for p in report.pulls]
            self.store.save_result(_result(ev, diagnosis, prs))
            self.publisher.request(_target(ev), prs, check_run=True)
            if diagnosis.verdict.kind in policy.rerun:
                self.publisher.rerun(gh, ev.repo, ev.run_id, ev.run_attempt, ev.job_id, policy, claimed)
        if self.ticketing is not None:  # after the publish request: a tracker outage cannot delay the comment
            self.ticketing.after_failure(
                policy,
                diagnosis,
                job,
                ci_system="github",
                default_branch=ev.default_branch,
                refresh=lambda: self.publisher.request(_target(ev), prs, check_run=False),
            )

    def _finished_job(self, ev: WorkflowJobCompleted) -> None:
        """A job passed (or was cancelled): bookkeeping, no API call unless it clears an earlier failure."""
        earlier = [
            r
            for r in self.store.same_sha_job(ev.repo, ev.head_sha, ev.job_name)
            if r.conclusion in FAILED_CONCLUSIONS and r.diagnosis
        ]
        previous = (
            self.store.branch_history(ev.repo, ev.head_branch or "", ev.job_name, limit=1)
            if ev.head_branch
            else []
        )
        prs = sorted({n for r in earlier for n in r.pull_requests})
        self.store.save_result(_result(ev, None, prs))
        if ev.conclusion != "success":
            return
        if self.ticketing is not None:
            self.ticketing.after_success(
                job_ref(ev),
                ci_system="github",
                default_branch=ev.default_branch,
                policy=lambda: self._policy(ev),
            )
        if (
            previous
            and previous[0].conclusion in FAILED_CONCLUSIONS
            and previous[0].fingerprint
            and previous[0].head_sha != ev.head_sha
        ):
            self._record_resolution(ev, previous[0])
        if not earlier:
            return
        # Same commit, failed before, passes now: flaky. Mark it and refresh what we published.
        for r in earlier:
            if r.diagnosis is None:
                continue
            d = Diagnosis.model_validate_json(r.diagnosis)
            verdict = decide(d, Evidence(passed_on_rerun=True, rerun_url=ev.html_url))
            d = d.model_copy(update={"verdict": verdict})
            self.store.set_verdict(ev.repo, r.job_id, "flaky", json.dumps(d.to_json_dict()))
        self.publisher.request(_target(ev), prs, check_run=True)

    def _record_resolution(self, ev: WorkflowJobCompleted, failed: JobResult) -> None:
        """The job failed on this branch and now passes: the commits in between fixed that failure."""
        kb: Any = self._kb(ev.repo)
        resolve = getattr(getattr(kb, "kb", kb), "resolve", None)  # the full KB behind a scoped one
        if not callable(resolve):
            return
        fix = f"https://github.com/{ev.repo}/compare/{failed.head_sha}...{ev.head_sha}"
        try:
            resolve(failed.fingerprint, fix, repo=ev.repo)
        except Exception:
            log.warning("resolution not recorded", exc_info=True)

    def workflow_run(self, ev: WorkflowRunCompleted, claimed: Claimed) -> None:
        """A run finished: when it passed, PRs we commented on learn that their jobs pass again."""
        if not self._allowed(ev):
            return
        log.info("workflow_run", extra={"delivery": claimed.delivery_id, "repo": ev.repo, "run": ev.run_id})
        if ev.conclusion != "success" or not ev.pull_requests:
            return
        targets = [
            p.number
            for p in ev.pull_requests
            if self.store.published(f"comment:{ev.repo}#{p.number}")[0] is not None
        ]
        if targets:
            self.publisher.request(_target(ev), targets, check_run=False)

    # --- outputs ------------------------------------------------------------------------------------

    def publish(self, ev: PublishRequest, claimed: Claimed) -> None:
        if not self._allowed(ev):
            return
        with self.api.client(ev.installation_id) as gh:
            policy = self.lookups.policy(gh, ev.repo, ev.default_branch)
            for n in ev.pull_requests:
                self.publisher.comment(
                    gh, ev.repo, n, ev.head_sha, policy, claimed, default_branch=ev.default_branch
                )
            if ev.check_run:
                self.publisher.check_run(gh, ev.repo, ev.head_sha, policy, claimed)

    def fix_command(self, ev: FixCommand, claimed: Claimed) -> None:
        """`/cimedic fix` on a PR: its head commit's checked fixes become draft fix PRs (docs/fixes.md)."""
        if not self._allowed(ev):
            return
        with self.api.client(ev.installation_id) as gh:
            refusal = fix_command_refusal(gh, ev.repo, ev.author, ev.author_type)
            if refusal is not None:
                self.audit.record(
                    repo=ev.repo,
                    action="fix_pr.refused",
                    target=f"pr#{ev.pull_number}",
                    outcome="skipped",
                    delivery_id=claimed.delivery_id,
                    detail={"asked_by": ev.author, "reason": refusal},
                )
                return
            head_sha = str(gh.get_pull(ev.repo, ev.pull_number)["head"]["sha"])
            policy = self.lookups.policy(gh, ev.repo, ev.default_branch)
            self.publisher.comment(
                gh,
                ev.repo,
                ev.pull_number,
                head_sha,
                policy,
                claimed,
                default_branch=ev.default_branch,
                asked_by=ev.author,
            )


def _result(ev: WorkflowJobCompleted, diagnosis: Diagnosis | None, prs: list[int]) -> JobResult:
    return JobResult(
        repo=ev.repo,
        job_id=ev.job_id,
        run_id=ev.run_id,
        run_attempt=ev.run_attempt,
        head_sha=ev.head_sha,
        head_branch=ev.head_branch,
        job_name=ev.job_name,
        workflow_name=ev.workflow_name,
        conclusion=ev.conclusion,
        fingerprint=diagnosis.fingerprint if diagnosis else None,
        signature=signature(diagnosis) if diagnosis else None,
        verdict=diagnosis.verdict.kind if diagnosis and diagnosis.verdict else None,
        diagnosis=json.dumps(diagnosis.to_json_dict()) if diagnosis else None,
        html_url=ev.html_url,
        pull_requests=prs,
        completed_at=ev.completed_at,
        updated_at=time.time(),
    )
