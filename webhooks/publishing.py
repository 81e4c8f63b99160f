"""The App's outputs: the sticky PR comment, the check run and re-runs, each idempotent, audited, by policy.

Results of one commit arriving close together (matrix jobs) are merged into one write: a result asks for a
publish request (`request`), which the reaper enqueues after `publish_delay_s`; the request then renders
every recorded result of that commit. Each output is found-or-created under a lock shared by all processes
(`Store.lock`) and written only when its body changed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from actions.audit import AuditLog
from actions.github_api import Client, GitHubApi
from actions.github_checks import ensure_check_run
from actions.github_comment import FailedJob, body_hash, ensure_sticky_comment, render_comment
from actions.github_identity import resolve_login
from actions.policy import Policy
from agent.jobs import FAILED_CONCLUSIONS
from agent.models import Diagnosis
from webhooks import metrics
from webhooks.fix_outputs import fix_links, publish_fix_prs, publish_suggestions
from webhooks.github import PublishRequest
from webhooks.queue import Queue
from webhooks.store import Claimed, JobResult, Store
from webhooks.ticketing import ticket_links

PUBLISH_PRIORITY = 10


@dataclass(frozen=True)
class PublishTarget:
    """Which commit's outputs to refresh, for which pull requests, as the App."""

    installation_id: int | None
    repo: str
    default_branch: str | None
    head_sha: str


def failed_jobs(results: Sequence[JobResult], policy: Policy) -> list[FailedJob]:
    """Per job name: its latest attempt if that failed, else an earlier failure judged flaky."""
    latest: dict[str, JobResult] = {}
    flaky: dict[str, JobResult] = {}
    for r in sorted(results, key=lambda r: (r.run_id, r.run_attempt, r.updated_at)):
        latest[r.job_name] = r
        if r.verdict == "flaky" and r.diagnosis is not None:
            flaky[r.job_name] = r
    out = []
    for name, r in latest.items():
        if policy.ignores_job(name):
            continue
        shown: JobResult | None = r
        if r.conclusion not in FAILED_CONCLUSIONS or r.diagnosis is None:
            shown = flaky.get(name)
        if shown is None or shown.diagnosis is None:
            continue
        out.append(
            FailedJob(
                shown.job_name,
                shown.html_url,
                Diagnosis.model_validate_json(shown.diagnosis),
                shown.completed_at,
            )
        )
    return out


class Publisher:
    def __init__(
        self,
        *,
        store: Store,
        queue: Queue,
        api: GitHubApi,
        audit: AuditLog,
        delay_s: float,
        lock_ttl_s: float,
    ) -> None:
        self.store = store
        self.queue = queue
        self.api = api
        self.audit = audit
        self.delay_s = delay_s
        self.lock_ttl_s = lock_ttl_s
        self._login: str | None = None

    def request(self, target: PublishTarget, prs: list[int], *, check_run: bool) -> None:
        """Queue (or join the queued) update of this commit's outputs."""
        request = PublishRequest(
            delivery_id=f"publish:{target.repo}@{target.head_sha}:{','.join(map(str, sorted(prs)))}"
            f":{int(check_run)}",
            installation_id=target.installation_id,
            repo=target.repo,
            default_branch=target.default_branch,
            head_sha=target.head_sha,
            pull_requests=sorted(prs),
            check_run=check_run,
        )
        # Debounce: GitHub asks for at least a second between writes, so writes are the budget.
        payload = request.model_dump_json()
        if self.delay_s > 0:
            self.store.admit(
                request.delivery_id, request.kind, payload, rearm=True, not_before=time.time() + self.delay_s
            )
            return  # the reaper enqueues it when due (with publish priority)
        if self.store.admit(request.delivery_id, request.kind, payload, rearm=True) != "duplicate":
            self.queue.enqueue(request.delivery_id, priority=PUBLISH_PRIORITY)

    def _login_name(self, gh: Client) -> str | None:
        """Who our comments are written as (looked up once per process, as the Action does per run)."""
        if self._login is None:
            self._login = resolve_login(gh, app=self.api)
        return self._login

    def comment(
        self,
        gh: Client,
        repo: str,
        number: int,
        head_sha: str,
        policy: Policy,
        claimed: Claimed,
        *,
        default_branch: str | None = None,
        asked_by: str | None = None,
    ) -> None:
        """The sticky comment, with the fix outputs (draft fix PRs first, so the comment links them; then
        review suggestions). `asked_by`: who asked for a fix PR with `/cimedic fix`. A fix PR is an output of
        its own: it does not wait for the comment to be enabled, nor for a failure (asking where nothing
        failed is answered too)."""
        if not (policy.outputs.comment or policy.fixes.pull_request or asked_by):
            return
        target = f"comment:{repo}#{number}"
        login = self._login_name(gh)
        with self.store.lock(target, ttl_s=self.lock_ttl_s):
            results = [r for r in self.store.results_for_pr(repo, number) if r.head_sha == head_sha]
            jobs = failed_jobs(results, policy)
            publish_fix_prs(
                self.store,
                self.audit,
                gh,
                repo,
                number,
                head_sha,
                jobs,
                policy=policy,
                claimed=claimed,
                default_branch=default_branch,
                asked_by=asked_by,
            )
            if not policy.outputs.comment:
                return
            note = "Dry run: this comment was not posted." if policy.dry_run else None
            if policy.error:
                note = policy.error
            known_id, known_hash, _ = self.store.published(target)
            if not jobs and known_id is None:
                return  # nothing failed and we never commented: stay quiet
            links = fix_links(self.store, repo, jobs)
            body = render_comment(
                jobs,
                head_sha=head_sha,
                passing=not jobs,
                fix_prs=links,
                tickets=ticket_links(self.store, repo, jobs),
            )
            outcome, comment_id = ensure_sticky_comment(
                gh,
                repo,
                number,
                body,
                login=login,
                known_id=known_id,
                known_hash=known_hash,
                dry_run=policy.dry_run,
            )
            if outcome == "dry-run":
                self.store.set_published(f"dry:{target}", None, body_hash(body))
            elif outcome != "unchanged" or known_id is None:
                self.store.set_published(target, comment_id, body_hash(body))
            if outcome != "unchanged":
                metrics.WRITES.labels(action="comment", outcome=outcome).inc()
                metrics.DELIVERY_TO_OUTPUT.observe(max(0.0, time.time() - claimed.received_at))
                self.audit.record(
                    repo=repo,
                    action=f"comment.{outcome}",
                    target=f"pr#{number}",
                    outcome="dry-run" if outcome == "dry-run" else "done",
                    remote_id=comment_id,
                    delivery_id=claimed.delivery_id,
                    detail={"sha": head_sha, "jobs": len(jobs), "chars": len(body), "note": note},
                )
            publish_suggestions(
                self.store,
                self.audit,
                gh,
                repo,
                number,
                head_sha,
                jobs,
                login=login,
                policy=policy,
                claimed=claimed,
            )

    def check_run(self, gh: Client, repo: str, head_sha: str, policy: Policy, claimed: Claimed) -> None:
        if not policy.outputs.check_run:
            return
        target = f"check:{repo}@{head_sha}"
        with self.store.lock(target, ttl_s=self.lock_ttl_s):
            jobs = failed_jobs(self.store.results_for_sha(repo, head_sha), policy)
            known_id, known_hash, state = self.store.published(target)
            # No record at all: no attempt of ours can have created this commit's check run, so it is created
            # without searching first (one call less). The intent is written before the create, so a process
            # that dies after creating it leaves a record that makes the next attempt search.
            attempted = known_id is not None or state is not None
            # An invalid policy file falls back to dry-run, yet its owners must learn why CI Medic is quiet:
            # the check run, the least intrusive output, is still written and names the error.
            dry_run = policy.dry_run and policy.error is None
            if not attempted and not dry_run:
                self.store.set_published(target, None, None, [])
            outcome, check_id, digest, sent, requests = ensure_check_run(
                gh,
                repo,
                head_sha,
                jobs,
                known_id=known_id,
                known_hash=known_hash,
                sent_keys=set(state or []),
                ignore_path=policy.ignores_path,
                note=policy.error,
                dry_run=dry_run,
                search=attempted,
            )
            if outcome in ("created", "updated"):
                self.store.set_published(target, check_id, digest, sorted(sent))
            if outcome != "unchanged":
                metrics.WRITES.labels(action="check_run", outcome=outcome).inc()
                self.audit.record(
                    repo=repo,
                    action=f"check_run.{outcome}",
                    target=f"sha:{head_sha}",
                    outcome="dry-run" if outcome == "dry-run" else "done",
                    remote_id=check_id,
                    delivery_id=claimed.delivery_id,
                    detail={"jobs": len(jobs), "requests": requests},
                )

    def rerun(
        self,
        gh: Client,
        repo: str,
        run_id: int,
        run_attempt: int,
        job_id: int,
        policy: Policy,
        claimed: Claimed,
    ) -> None:
        # At most once per run attempt: a re-run creates attempt n+1, which may be re-run once more only if
        # it fails with a flaky verdict again, and then the count of attempts shows it.
        if not self.store.claim_rerun(repo, run_id, run_attempt, job_id):
            return
        if policy.dry_run:
            outcome = "dry-run"
        else:
            gh.rerun_job(repo, job_id)
            outcome = "done"
        metrics.WRITES.labels(action="rerun", outcome=outcome).inc()
        self.audit.record(
            repo=repo,
            action="job.rerun",
            target=f"job:{job_id}",
            outcome=outcome,
            delivery_id=claimed.delivery_id,
            detail={"run": run_id, "attempt": run_attempt},
        )
