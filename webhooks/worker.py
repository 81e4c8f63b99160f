"""The worker: one accepted delivery in, diagnosis, verdict and GitHub outputs out.

Each delivery is claimed with a lease (`Store.claim`) that a heartbeat renews while it runs; if the process
dies, the lease expires and any worker's reaper puts it back in the queue. Writes stay single because every
output is found-or-created under a lock shared by all processes (`Store.lock`) and written only when its
body changed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actions.audit import AuditLog
from actions.github_api import Client, GitHubApi, GitHubError
from actions.github_checks import ensure_check_run
from actions.github_comment import FailedJob, body_hash, ensure_sticky_comment, render_comment
from actions.policy import POLICY_PATH, Policy, parse_policy
from actions.verdict import Evidence, decide
from agent.models import Diagnosis, JobContext
from agent.pipeline import enrich
from agent.ports import Explainer, KnowledgeLookup
from webhooks import metrics
from webhooks.github import (
    EVENT_ADAPTER,
    FAILED_CONCLUSIONS,
    InstallationChanged,
    PublishRequest,
    WorkflowJobCompleted,
    WorkflowRunCompleted,
)
from webhooks.inbox import Inbox
from webhooks.queue import Queue
from webhooks.store import Claimed, InstallationStatus, JobResult, Store

log = logging.getLogger("cimedic.worker")

Analyzer = Callable[..., Diagnosis]
PUBLISH_PRIORITY = 10


def default_analyzer(text: bytes, **kwargs: Any) -> Diagnosis:
    from agent.engine import analyze

    return analyze(text, **kwargs)


def signature(d: Diagnosis) -> str:
    """A second identity of a failure (rule, category, title), used next to the engine's fingerprint."""
    import hashlib

    return hashlib.sha256(f"{d.rule}\x1f{d.category.value}\x1f{d.title}".encode()).hexdigest()


@dataclass
class WorkerSettings:
    lease_s: float = 60.0
    max_attempts: int = 4
    retry_base_s: float = 5.0
    log_max_bytes: int = 16 * 1024 * 1024
    log_head_bytes: int = 256 * 1024
    baseline_max_bytes: int = 4 * 1024 * 1024
    policy_ttl_s: float = 300.0
    baseline_ttl_s: float = 600.0
    lock_ttl_s: float = 60.0
    publish_delay_s: float = 2.0


class _TTLCache:
    """A small thread-safe LRU with expiry, for lookups shared by the jobs of one run."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self.data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        with self.lock:
            item = self.data.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            self.data.move_to_end(key)
            return item[1]

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = (time.monotonic() + self.ttl, value)
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


@dataclass(frozen=True)
class PullInfo:
    number: int
    base_ref: str | None


class Worker:
    def __init__(
        self,
        *,
        store: Store,
        queue: Queue,
        api: GitHubApi,
        audit: AuditLog,
        inbox: Inbox | None = None,
        analyzer: Analyzer | None = None,
        kb: KnowledgeLookup | None = None,
        kb_for: Callable[[str], KnowledgeLookup] | None = None,
        explainer: Explainer | None = None,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.inbox = inbox
        self.api = api
        self.audit = audit
        self.analyzer = analyzer or default_analyzer
        self.kb = kb
        self.kb_for = kb_for  # a knowledge base scoped to one repository, when given
        self.explainer = explainer
        self.settings = settings or WorkerSettings()
        self._runs = _TTLCache(512, 120.0)
        self._run_jobs = _TTLCache(128, 600.0)
        self._policies = _TTLCache(512, self.settings.policy_ttl_s)
        self._baselines = _TTLCache(64, self.settings.baseline_ttl_s)
        self._login: str | None = None
        self._gate = threading.Lock()
        self._inflight: dict[Any, threading.Event] = {}

    # --- queue plumbing -----------------------------------------------------------------------------

    def start(self, *, threads: int = 2, reap_every_s: float | None = None) -> None:
        inbox = self.inbox
        self.queue.start(
            self.handle,
            threads=threads,
            reaper=self.reap,
            # Often: due publish requests wait on it (the query is one indexed SELECT).
            reap_every_s=reap_every_s or min(1.0, self.settings.lease_s / 3),
            pump=(lambda: inbox.pump(self.queue)) if inbox is not None else None,
        )

    def reap(self) -> int:
        """Enqueue deliveries whose lease expired, whose retry is due, or whose enqueue was lost."""
        due = self.store.due()
        for delivery_id in due:
            self.store.mark_requeued(delivery_id)
            self.queue.enqueue(
                delivery_id, priority=PUBLISH_PRIORITY if delivery_id.startswith("publish:") else 0
            )
            log.info("requeued", extra={"delivery": delivery_id})
        return len(due)

    def handle(self, delivery_id: str) -> None:
        # The owner names host and pid so an operator (and the SIGKILL test) can tell who holds a lease.
        owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        claimed = self.store.claim(delivery_id, lease_s=self.settings.lease_s, owner=owner)
        if claimed is None:
            return  # done, failed, or another worker holds it
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(claimed, stop), daemon=True)
        beat.start()
        kind = claimed.event
        try:
            event = EVENT_ADAPTER.validate_json(claimed.payload)
            self.process(event, claimed)
        except Exception as exc:
            retry_after = exc.retry_after if isinstance(exc, GitHubError) else None
            if claimed.attempts < self.settings.max_attempts:
                delay = max(retry_after or 0.0, self.settings.retry_base_s * 2 ** (claimed.attempts - 1))
                self.store.finish(claimed, ok=False, error=str(exc)[:2000], retry_in=delay)
                metrics.JOBS.labels(kind=kind, outcome="retry").inc()
            else:
                # Failed for good: GitHub shows the delivery as delivered, so `cimedic github redeliver`
                # will not pick it; a manual redelivery from GitHub (same GUID) is processed again
                # (`Store.admit`).
                self.store.finish(claimed, ok=False, error=str(exc)[:2000])
                metrics.JOBS.labels(kind=kind, outcome="failed").inc()
            log.warning(
                "delivery failed", exc_info=True, extra={"delivery": delivery_id, "attempt": claimed.attempts}
            )
        else:
            self.store.finish(claimed, ok=True)
            metrics.JOBS.labels(kind=kind, outcome="done").inc()
        finally:
            stop.set()

    def _heartbeat(self, claimed: Claimed, stop: threading.Event) -> None:
        every = self.settings.lease_s / 3
        while not stop.wait(every):
            if not self.store.renew(claimed, lease_s=self.settings.lease_s):
                return

    # --- dispatch -----------------------------------------------------------------------------------

    def process(
        self,
        event: WorkflowJobCompleted | WorkflowRunCompleted | InstallationChanged | PublishRequest,
        claimed: Claimed,
    ) -> None:
        ids: dict[str, object] = {"delivery": claimed.delivery_id, "repo": event.repo}
        if isinstance(event, InstallationChanged):
            self._installation(event, ids)
            return
        if not self.store.installation_allows(event.installation_id, event.repo):
            # Uninstalled, suspended, or the repository was taken out of the installation: GitHub would
            # refuse our token anyway, and the owner asked us to stop.
            log.info("skipped: the installation no longer covers this repository", extra=ids)
            return
        if isinstance(event, WorkflowJobCompleted):
            ids |= {"run": event.run_id, "job": event.job_id}
            log.info("workflow_job", extra=ids)
            if event.failed:
                self._failed_job(event, claimed)
            else:
                self._finished_job(event, claimed)
        elif isinstance(event, WorkflowRunCompleted):
            log.info("workflow_run", extra=ids | {"run": event.run_id})
            self._finished_run(event, claimed)
        elif isinstance(event, PublishRequest):
            with self.api.client(event.installation_id) as gh:
                policy = self._policy(gh, event)
                for n in event.pull_requests:
                    self._publish_comment(gh, event.repo, n, event.head_sha, policy, claimed)
                if event.check_run:
                    self._publish_check(gh, event.repo, event.head_sha, policy, claimed)

    def _installation(self, event: InstallationChanged, ids: dict[str, object]) -> None:
        """Bookkeeping of `installation` / `installation_repositories`: what we may still work for."""
        if event.installation_id is None:
            log.warning("installation event without an installation id", extra=ids)
            return
        # Actions: docs.github.com/en/webhooks/webhook-events-and-payloads#installation (created, deleted,
        # suspend, unsuspend, new_permissions_accepted) and #installation_repositories (added, removed).
        transitions: dict[str, InstallationStatus] = {
            "created": "active",
            "unsuspend": "active",
            "new_permissions_accepted": "active",
            "suspend": "suspended",
            "deleted": "deleted",
        }
        status = transitions.get(event.action)
        self.store.record_installation(
            event.installation_id,
            account=event.account,
            status=status,
            added=event.repos_added,
            removed=event.repos_removed,
        )
        log.info(
            "installation %s: %s",
            event.action,
            status or "repositories changed",
            extra=ids | {"installation": event.installation_id},
        )

    # --- lookups ------------------------------------------------------------------------------------

    def _policy(self, gh: Client, ev: WorkflowJobCompleted | WorkflowRunCompleted | PublishRequest) -> Policy:
        cached = self._policies.get(ev.repo)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        branch = ev.default_branch or gh.get_repo(ev.repo).get("default_branch") or "main"
        # Only the default branch: a pull request must not be able to change how it is judged.
        policy = parse_policy(gh.file_text(ev.repo, POLICY_PATH, branch))
        self._policies.put(ev.repo, policy)
        return policy

    def _run(self, gh: Client, repo: str, run_id: int, attempt: int) -> dict[str, Any]:
        key = (repo, run_id, attempt)
        run = self._once(("run", *key), lambda: self._runs.get(key))
        if run is None:
            try:
                run = gh.get_run(repo, run_id)
                self._runs.put(key, run)
            finally:
                self._done(("run", *key))
        return run  # type: ignore[no-any-return]

    def _once(self, key: Any, lookup: Callable[[], Any]) -> Any:
        """Single-flight: the first thread to miss does the call, the others wait for its cached answer."""
        while True:
            value = lookup()
            if value is not None:
                return value
            with self._gate:
                ev = self._inflight.get(key)
                if ev is None:
                    self._inflight[key] = threading.Event()
                    return None
            ev.wait(30)

    def _done(self, key: Any) -> None:
        with self._gate:
            ev = self._inflight.pop(key, None)
        if ev is not None:
            ev.set()

    def _pulls(self, gh: Client, ev: WorkflowJobCompleted, run: dict[str, Any]) -> list[PullInfo]:
        prs = [
            PullInfo(int(p["number"]), (p.get("base") or {}).get("ref"))
            for p in run.get("pull_requests") or []
        ]
        if prs:
            return prs
        if run.get("event") not in ("pull_request", "pull_request_target", None):
            return []
        # Fork PRs are not listed on the run (docs: rest/actions/workflow-runs, `pull_requests`):
        # ask by commit.
        return [
            PullInfo(int(p["number"]), (p.get("base") or {}).get("ref"))
            for p in gh.pulls_for_commit(ev.repo, ev.head_sha)
            if p.get("state", "open") == "open" and (p.get("head") or {}).get("sha") == ev.head_sha
        ]

    def _baseline(
        self, gh: Client, ev: WorkflowJobCompleted, run: dict[str, Any], base_ref: str | None
    ) -> tuple[bytes | None, str | None]:
        """The log of this job in the last successful run of the same workflow on the base branch."""
        workflow_id = run.get("workflow_id")
        if not base_ref or not workflow_id:
            return None, None
        key = (ev.repo, workflow_id, base_ref, ev.job_name)
        hit = self._baselines.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        known = self._known_green(gh, ev, base_ref)
        if known is not None:
            self._baselines.put(key, known)
            return known
        runs_key = ("runs", ev.repo, workflow_id, base_ref)
        green = self._once(runs_key, lambda: self._baselines.get(runs_key))
        if green is None:
            try:
                green = gh.last_successful_run(ev.repo, int(workflow_id), base_ref) or {}
                self._baselines.put(runs_key, green)
            finally:
                self._done(runs_key)
        if not green.get("id"):
            result: tuple[bytes | None, str | None] = (None, None)
            self._baselines.put(key, result)
            return result
        jobs_key = (ev.repo, green["id"])
        jobs = self._once(("jobs", *jobs_key), lambda: self._run_jobs.get(jobs_key))
        if jobs is None:
            try:
                jobs = gh.run_jobs(ev.repo, int(green["id"]))
                self._run_jobs.put(jobs_key, jobs)
            finally:
                self._done(("jobs", *jobs_key))
        match = next(
            (j for j in jobs if j.get("name") == ev.job_name and j.get("conclusion") == "success"), None
        )
        if match is None:
            result = (None, None)
        else:
            max_b = self.settings.baseline_max_bytes
            text = gh.job_log(
                ev.repo, int(match["id"]), max_bytes=max_b, head_bytes=min(max_b // 4, 256 * 1024)
            )
            result = (text.text, match.get("html_url"))
        self._baselines.put(key, result)
        return result

    def _known_green(
        self, gh: Client, ev: WorkflowJobCompleted, base_ref: str
    ) -> tuple[bytes | None, str | None] | None:
        """The baseline from our own records: the latest success of this job on the base branch.

        Its `workflow_job` delivery told us the job id, so the log is one call instead of three (the
        workflow's last green run, its jobs, the log). None sends the caller to the API: nothing recorded,
        or the log is gone (GitHub keeps logs for a limited time: docs.github.com/en/organizations/
        managing-organization-settings/configuring-the-retention-period-for-github-actions-artifacts-and-
        logs-in-your-organization).
        """
        green = next(
            (
                r
                for r in self.store.branch_history(ev.repo, base_ref, ev.job_name)
                if r.conclusion == "success" and r.workflow_name == ev.workflow_name
            ),
            None,
        )
        if green is None:
            return None
        max_b = self.settings.baseline_max_bytes
        try:
            text = gh.job_log(ev.repo, green.job_id, max_bytes=max_b, head_bytes=min(max_b // 4, 256 * 1024))
        except GitHubError as exc:
            if exc.status in (404, 410):
                return None
            raise
        return text.text, green.html_url

    def _evidence(
        self, ev: WorkflowJobCompleted, diagnosis: Diagnosis, base_ref: str | None, baseline_url: str | None
    ) -> Evidence:
        passed = [
            r
            for r in self.store.same_sha_job(ev.repo, ev.head_sha, ev.job_name)
            if r.conclusion == "success"
            and (r.run_id, r.run_attempt) != (ev.run_id, ev.run_attempt)
            and (r.run_id != ev.run_id or r.run_attempt > ev.run_attempt)
        ]
        history = self.store.fingerprint_history(ev.repo, diagnosis.fingerprint, signature(diagnosis))
        known_flaky = any(r.verdict == "flaky" and r.job_id != ev.job_id for r in history)
        base_failure = None
        base_passed = baseline_url is not None
        if base_ref:
            for r in history:
                if r.head_branch != base_ref or r.conclusion not in FAILED_CONCLUSIONS:
                    continue
                latest = self.store.branch_history(ev.repo, base_ref, r.job_name, limit=1)
                if latest and latest[0].job_id == r.job_id:
                    base_failure = r.html_url or f"https://github.com/{ev.repo}/actions/runs/{r.run_id}"
                    break
            if not base_passed:
                base_passed = any(
                    r.conclusion == "success"
                    for r in self.store.branch_history(ev.repo, base_ref, ev.job_name, limit=5)
                )
        return Evidence(
            base_branch=base_ref,
            baseline_passed=base_passed,
            baseline_url=baseline_url,
            base_failure_url=base_failure,
            passed_on_rerun=bool(passed),
            rerun_url=passed[0].html_url if passed else None,
            known_flaky=known_flaky,
        )

    # --- handlers -----------------------------------------------------------------------------------

    def _failed_job(self, ev: WorkflowJobCompleted, claimed: Claimed) -> None:
        with self.api.client(ev.installation_id) as gh:
            policy = self._policy(gh, ev)
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
            run = self._run(gh, ev.repo, ev.run_id, ev.run_attempt)
            prs = self._pulls(gh, ev, run)
            base_ref = next((p.base_ref for p in prs if p.base_ref), None)
            text = gh.job_log(
                ev.repo,
                ev.job_id,
                max_bytes=self.settings.log_max_bytes,
                head_bytes=self.settings.log_head_bytes,
            )
            baseline, baseline_url = self._baseline(gh, ev, run, base_ref)
            ctx = JobContext(
                ci_system="github",
                repo=ev.repo,
                branch=ev.head_branch,
                commit=ev.head_sha,
                workflow=ev.workflow_name or run.get("name"),
                job=ev.job_name,
                url=ev.html_url,
                pull_requests=[p.number for p in prs],
                run_id=ev.run_id,
                run_attempt=ev.run_attempt,
                job_id=ev.job_id,
                time=ev.completed_at,
            )
            source = ev.html_url or f"https://github.com/{ev.repo}/actions/runs/{ev.run_id}/job/{ev.job_id}"
            t0 = time.perf_counter()
            diagnosis = self.analyzer(text.text, source=source, baseline=baseline, context=ctx)
            metrics.ANALYSIS_SECONDS.observe(time.perf_counter() - t0)
            kb = self.kb_for(ev.repo) if self.kb_for is not None else self.kb
            if kb is not None or self.explainer is not None:
                lines = text.text.decode("utf-8", "replace").splitlines() if self.explainer else None
                diagnosis = enrich(diagnosis, job=ctx, log_lines=lines, kb=kb, explainer=self.explainer)
                if diagnosis.llm is not None:
                    metrics.LLM_TOKENS.labels(kind="prompt").inc(diagnosis.llm.prompt_tokens)
                    metrics.LLM_TOKENS.labels(kind="completion").inc(diagnosis.llm.completion_tokens)
                    metrics.LLM_COST.inc(diagnosis.llm.cost_usd)
            verdict = decide(diagnosis, self._evidence(ev, diagnosis, base_ref, baseline_url))
            metrics.VERDICTS.labels(kind=verdict.kind).inc()
            diagnosis = diagnosis.model_copy(update={"verdict": verdict})
            self.store.save_result(self._result(ev, diagnosis, [p.number for p in prs]))
            self._request_publish(ev, ev.head_sha, [p.number for p in prs], check_run=True)
            if verdict.kind in policy.rerun:
                self._rerun(gh, ev, policy, claimed)

    def _result(self, ev: WorkflowJobCompleted, diagnosis: Diagnosis | None, prs: list[int]) -> JobResult:
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

    def _finished_job(self, ev: WorkflowJobCompleted, claimed: Claimed) -> None:
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
        self.store.save_result(self._result(ev, None, prs))
        if ev.conclusion != "success":
            return
        if (
            previous
            and previous[0].conclusion in FAILED_CONCLUSIONS
            and previous[0].fingerprint
            and previous[0].head_sha != ev.head_sha
        ):
            # The job failed on this branch and now passes: the commits in between fixed that failure.
            kb: Any = self.kb_for(ev.repo) if self.kb_for is not None else self.kb
            resolve = getattr(getattr(kb, "kb", kb), "resolve", None)  # the full KB behind a scoped one
            if callable(resolve):
                fix = f"https://github.com/{ev.repo}/compare/{previous[0].head_sha}...{ev.head_sha}"
                try:
                    resolve(previous[0].fingerprint, fix, repo=ev.repo)
                except Exception:
                    log.warning("resolution not recorded", exc_info=True)
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
        self._request_publish(ev, ev.head_sha, prs, check_run=True)

    def _finished_run(self, ev: WorkflowRunCompleted, claimed: Claimed) -> None:
        """A run finished: when it passed, PRs we commented on learn that their jobs pass again."""
        if ev.conclusion != "success" or not ev.pull_requests:
            return
        targets = [
            p.number
            for p in ev.pull_requests
            if self.store.published(f"comment:{ev.repo}#{p.number}")[0] is not None
        ]
        if targets:
            self._request_publish(ev, ev.head_sha, targets, check_run=False)

    def _request_publish(
        self,
        ev: WorkflowJobCompleted | WorkflowRunCompleted,
        head_sha: str,
        prs: list[int],
        *,
        check_run: bool,
    ) -> None:
        """Queue (or join the queued) update of this commit's outputs."""
        request = PublishRequest(
            delivery_id=f"publish:{ev.repo}@{head_sha}:{','.join(map(str, sorted(prs)))}:{int(check_run)}",
            installation_id=ev.installation_id,
            repo=ev.repo,
            default_branch=ev.default_branch,
            head_sha=head_sha,
            pull_requests=sorted(prs),
            check_run=check_run,
        )
        # Debounce: results of the same commit arriving within the delay (matrix jobs finishing together) are
        # merged into one write; GitHub asks for at least a second between writes, so writes are the budget.
        delay = self.settings.publish_delay_s
        payload = request.model_dump_json()
        if delay > 0:
            self.store.admit(
                request.delivery_id, request.kind, payload, rearm=True, not_before=time.time() + delay
            )
            return  # the reaper enqueues it when due (with publish priority)
        if self.store.admit(request.delivery_id, request.kind, payload, rearm=True) != "duplicate":
            self.queue.enqueue(request.delivery_id, priority=PUBLISH_PRIORITY)

    # --- outputs ------------------------------------------------------------------------------------

    def _failed_jobs(self, results: list[JobResult], policy: Policy) -> list[FailedJob]:
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
            if r.conclusion not in FAILED_CONCLUSIONS or r.diagnosis is None:
                r = flaky.get(name)  # type: ignore[assignment]
                if r is None:
                    continue
            assert r.diagnosis is not None
            out.append(
                FailedJob(r.job_name, r.html_url, Diagnosis.model_validate_json(r.diagnosis), r.completed_at)
            )
        return out

    def _login_name(self) -> str | None:
        if self._login is None:
            self._login = self.api.app_login()
        return self._login

    def _publish_comment(
        self, gh: Client, repo: str, number: int, head_sha: str, policy: Policy, claimed: Claimed
    ) -> None:
        if not policy.outputs.comment:
            return
        target = f"comment:{repo}#{number}"
        login = self._login_name()
        with self.store.lock(target, ttl_s=self.settings.lock_ttl_s):
            results = [r for r in self.store.results_for_pr(repo, number) if r.head_sha == head_sha]
            jobs = self._failed_jobs(results, policy)
            note = "Dry run: this comment was not posted." if policy.dry_run else None
            if policy.error:
                note = policy.error
            body = render_comment(jobs, head_sha=head_sha, passing=not jobs)
            known_id, known_hash, _ = self.store.published(target)
            if not jobs and known_id is None:
                return  # nothing failed and we never commented: stay quiet
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

    def _publish_check(self, gh: Client, repo: str, head_sha: str, policy: Policy, claimed: Claimed) -> None:
        if not policy.outputs.check_run:
            return
        target = f"check:{repo}@{head_sha}"
        with self.store.lock(target, ttl_s=self.settings.lock_ttl_s):
            jobs = self._failed_jobs(self.store.results_for_sha(repo, head_sha), policy)
            known_id, known_hash, state = self.store.published(target)
            # No record at all: no attempt of ours can have created this commit's check run, so it is created
            # without searching first (one call less). The intent is written before the create, so a process
            # that dies after creating it leaves a record that makes the next attempt search.
            attempted = known_id is not None or state is not None
            if not attempted and not policy.dry_run:
                self.store.set_published(target, None, None, [])
            sent = set(state or [])
            outcome, check_id, digest, sent, requests = ensure_check_run(
                gh,
                repo,
                head_sha,
                jobs,
                known_id=known_id,
                known_hash=known_hash,
                sent_keys=sent,
                ignore_path=policy.ignores_path,
                note=policy.error,
                dry_run=policy.dry_run,
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

    def _rerun(self, gh: Client, ev: WorkflowJobCompleted, policy: Policy, claimed: Claimed) -> None:
        # At most once per run attempt: a re-run creates attempt n+1, which may be re-run once more only if
        # it fails with a flaky verdict again, and then the count of attempts shows it.
        if not self.store.claim_rerun(ev.repo, ev.run_id, ev.run_attempt, ev.job_id):
            return
        if policy.dry_run:
            outcome = "dry-run"
        else:
            gh.rerun_job(ev.repo, ev.job_id)
            outcome = "done"
        metrics.WRITES.labels(action="rerun", outcome=outcome).inc()
        self.audit.record(
            repo=ev.repo,
            action="job.rerun",
            target=f"job:{ev.job_id}",
            outcome=outcome,
            delivery_id=claimed.delivery_id,
            detail={"run": ev.run_id, "attempt": ev.run_attempt},
        )
