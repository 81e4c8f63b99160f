"""`cimedic action`: run inside GitHub Actions, diagnose the failed jobs of a run, report them.

The third entry point of the one use case (`agent.failed_job`): the run's failed jobs go through
`diagnose_failed_job` with GitHub as the forge, exactly as the App's worker sends them, minus our own record
of other runs (the Action sees one run, so no broken-trunk or flaky evidence).

Reads the runner's environment (docs.github.com/en/actions/reference/variables-reference):
`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`, `GITHUB_RUN_ATTEMPT`,
`GITHUB_API_URL`, `GITHUB_STEP_SUMMARY`, and a token (`CIMEDIC_GITHUB_TOKEN` or `GITHUB_TOKEN`). Under
`workflow_run` it analyses the triggering run; otherwise the current run (use it in a last job with
`if: failure()`). `CIMEDIC_LLM` (the action's `llm` input) adds a root-cause explanation, with the provider's
key from the environment (`OPENAI_API_KEY`, ...: action.yml passes its inputs as env); a model that cannot
work (no key) is a `::warning::` and the diagnosis goes on without it.

Outputs: the job summary (GitHub caps it at 1 MiB per step: docs .../workflow-commands#adding-a-job-summary)
and the same sticky PR comment the App writes, found under the identity the token writes as
(`actions.github_identity`). Text from logs printed to our own log is wrapped in `::stop-commands::` so a
log line cannot smuggle a workflow command
(docs .../workflow-commands#stopping-and-starting-workflow-commands).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from actions.github_api import GitHubApi, GitHubError
from actions.github_comment import MARKER, FailedJob, ensure_sticky_comment, render_comment
from actions.github_identity import resolve_login
from agent.failed_job import diagnose_failed_job
from agent.jobs import JobRef, PullRef
from agent.models import Diagnosis
from agent.ports import Explainer
from webhooks.fix_reader import GitHubFiles
from webhooks.github_forge import GitHubForge
from webhooks.lookups import Lookups

if TYPE_CHECKING:
    from agent.llm import LlmExplainer

SUMMARY_LIMIT = 1024 * 1024


def print_untrusted(text: str, out: TextIO) -> None:
    """Print log-derived text with workflow commands switched off around it."""
    token = secrets.token_hex(16)
    out.write(f"::stop-commands::{token}\n{text}\n::{token}::\n")


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    if path and Path(path).is_file():
        return dict(json.loads(Path(path).read_text()))
    return {}


def _target_run(
    env: Mapping[str, str],
) -> tuple[int, int, dict[str, Any] | None, tuple[PullRef, ...] | None]:
    """(run id, attempt, the run when the event carries it, pull requests the event names).

    Under `workflow_run` the event is the triggering run itself, with its pull requests; a last job with
    `if: failure()` in a `pull_request` workflow has the PR in its own event. Otherwise the forge is asked.
    """
    event = _event(env)
    if env.get("GITHUB_EVENT_NAME") == "workflow_run" and "workflow_run" in event:
        run = dict(event["workflow_run"])
        prs = tuple(
            PullRef(int(p["number"]), (p.get("base") or {}).get("ref"))
            for p in run.get("pull_requests") or []
        )
        return int(run["id"]), int(run.get("run_attempt") or 1), run, prs or None
    run_id, attempt = int(env["GITHUB_RUN_ID"]), int(env.get("GITHUB_RUN_ATTEMPT") or 1)
    if "pull_request" in event:
        pr = event["pull_request"]
        return run_id, attempt, None, (PullRef(int(pr["number"]), (pr.get("base") or {}).get("ref")),)
    return run_id, attempt, None, None


def _app(env: Mapping[str, str], base_url: str) -> GitHubApi | None:
    """App credentials, when the workflow passes them: the App's JWT tells the slug it writes as."""
    app_id, key = env.get("CIMEDIC_GITHUB_APP_ID"), env.get("CIMEDIC_GITHUB_PRIVATE_KEY")
    if not app_id or not key:
        return None
    return GitHubApi(base_url=base_url, app_id=int(app_id), private_key=key.replace("\\n", "\n"))


def _is_runner_token(env: Mapping[str, str], token: str) -> bool:
    """The run's own `GITHUB_TOKEN` (action.yml passes it as CIMEDIC_RUNNER_TOKEN to compare with)."""
    runner = env.get("CIMEDIC_RUNNER_TOKEN")
    if runner:
        return token == runner
    return not env.get("CIMEDIC_GITHUB_TOKEN") and token == env.get("GITHUB_TOKEN")


def _explainer(repo: str, token: str, out: TextIO) -> tuple[LlmExplainer | None, list[str]]:
    """The LLM of `CIMEDIC_LLM`, bound to `repo`, or None (unset, or no model of the chain can work), and a
    note for each model skipped (a missing key or SDK), said once in the log and in each diagnosis.

    The token is one of the secrets redacted from what the LLM is sent. The LLM layer is imported only when
    a chain is configured (importing it costs seconds).
    """
    from agent.config import load_settings

    settings = load_settings()
    if not settings.llm or not settings.llm.strip():
        return None, []
    from agent.llm import make_explainer

    explainer = make_explainer(settings, secrets=(token,))
    if explainer is None:
        return None, []
    notes = [f"LLM {model} skipped: {reason}" for model, reason in explainer.unusable().items()]
    for note in notes:
        out.write(f"::warning::cimedic: {note}\n")
    if len(notes) == len(explainer.chain):
        explainer.close()
        return None, notes
    return explainer.bind(repo), notes


def run_action(
    *,
    comment: bool = True,
    summary: bool = True,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    analyzer: Callable[..., Diagnosis] | None = None,
) -> int:
    env = env if env is not None else os.environ
    out = out or sys.stdout
    token = env.get("CIMEDIC_GITHUB_TOKEN") or env.get("GITHUB_TOKEN") or env.get("INPUT_GITHUB_TOKEN")
    repo = env.get("GITHUB_REPOSITORY")
    if not token or not repo or not env.get("GITHUB_RUN_ID"):
        out.write(
            "::error::cimedic action needs GITHUB_REPOSITORY, GITHUB_RUN_ID and a token "
            "(with: github-token, or CIMEDIC_GITHUB_TOKEN)\n"
        )
        return 2
    explainer, llm_notes = _explainer(repo, token, out)
    try:
        return _run(env, out, token, repo, comment, summary, analyzer, explainer, llm_notes)
    finally:
        if explainer is not None:
            explainer.close()


def _run(
    env: Mapping[str, str],
    out: TextIO,
    token: str,
    repo: str,
    comment: bool,
    summary: bool,
    analyzer: Callable[..., Diagnosis] | None,
    explainer: Explainer | None,
    llm_notes: list[str],
) -> int:
    run_id, attempt, known_run, prs = _target_run(env)
    base_url = env.get("GITHUB_API_URL", "https://api.github.com")
    api = GitHubApi(base_url=base_url, token=token)
    lookups = Lookups()
    jobs_out: list[FailedJob] = []
    with api.client(None) as gh:
        forge = GitHubForge(gh, lookups)
        if known_run is not None:
            lookups.runs.put((repo, run_id, attempt), known_run)
        run = lookups.run(gh, repo, run_id, attempt)
        sha = str(run.get("head_sha") or env.get("GITHUB_SHA", ""))
        pulls: list[PullRef] = list(prs or [])
        for job in gh.run_jobs(repo, run_id):
            ref = JobRef(
                repo=repo,
                job_id=int(job["id"]),
                job_name=str(job.get("name")),
                run_id=run_id,
                run_attempt=attempt,
                head_sha=sha,
                head_branch=run.get("head_branch"),
                conclusion=str(job.get("conclusion")),
                workflow_name=run.get("name"),
                workflow_id=run.get("workflow_id"),
                url=job.get("html_url"),
                completed_at=job.get("completed_at"),
                pull_requests=prs,
            )
            if not ref.failed:
                continue
            # The files at the job's commit through the contents API, as in the App (docs/fixes.md): the
            # workspace may hold another commit, or nothing, when this runs in a later job or workflow.
            files = GitHubFiles(gh, repo, ref.head_sha)
            report = diagnose_failed_job(
                ref, forge=forge, analyzer=analyzer, explainer=explainer, reader=files
            )
            pulls = pulls or report.pulls
            d = report.diagnosis
            if llm_notes:
                d = d.model_copy(update={"notes": [*d.notes, *llm_notes]})
            jobs_out.append(FailedJob(ref.job_name, ref.url, d, ref.completed_at))
            print_untrusted(f"{ref.job_name}: [{d.category.value}] {d.title}", out)
        body = render_comment(jobs_out, head_sha=sha or "unknown")
        if summary and env.get("GITHUB_STEP_SUMMARY"):
            _write_summary(Path(env["GITHUB_STEP_SUMMARY"]), body)
        if comment and jobs_out and pulls:
            login = env.get("CIMEDIC_COMMENT_LOGIN") or resolve_login(
                gh, app=_app(env, base_url), runner_token=_is_runner_token(env, token)
            )
            for pull in pulls:
                try:
                    outcome, cid = ensure_sticky_comment(gh, repo, pull.number, body, login=login)
                    out.write(f"cimedic: comment {outcome} on #{pull.number} ({cid})\n")
                except GitHubError as exc:
                    # A token without pull-requests: write (e.g. fork PRs) must not fail the job.
                    out.write(f"::warning::cimedic could not write the PR comment: {exc}\n")
    out.write(f"cimedic: {len(jobs_out)} failed job(s) analysed in run {run_id}\n")
    return 0


def _write_summary(path: Path, body: str) -> None:
    md = body.replace(MARKER, "").strip() + "\n"
    encoded = md.encode()
    if len(encoded) > SUMMARY_LIMIT:
        md = encoded[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore") + "\n\n_(summary truncated)_\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(md)
