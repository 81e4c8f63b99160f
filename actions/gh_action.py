"""`cimedic action`: run inside GitHub Actions, diagnose the failed jobs of a run, report them.

Reads the runner's environment (docs.github.com/en/actions/reference/variables-reference):
`GITHUB_EVENT_NAME`, `GITHUB_EVENT_PATH`, `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`, `GITHUB_API_URL`,
`GITHUB_STEP_SUMMARY`, and a token
(`CIMEDIC_GITHUB_TOKEN` or `GITHUB_TOKEN`). Under `workflow_run` it analyses the triggering run; otherwise the
current run (use it in a last job with `if: failure()`).

Outputs: the job summary (GitHub caps it at 1 MiB per step: docs .../workflow-commands#adding-a-job-summary)
and the same sticky PR comment the App writes. Text from logs printed to our own log is wrapped in
`::stop-commands::` so a log line cannot smuggle a workflow command (docs .../workflow-commands
#stopping-and-starting-workflow-commands).
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from actions.github_api import Client, GitHubApi, GitHubError
from actions.github_comment import MARKER, FailedJob, ensure_sticky_comment, render_comment
from actions.verdict import Evidence, decide
from agent.models import Diagnosis, JobContext, Verdict

SUMMARY_LIMIT = 1024 * 1024
FAILED = ("failure", "timed_out")


def _analyze(text: bytes, **kwargs: Any) -> Diagnosis:
    from agent.engine import analyze

    return analyze(text, **kwargs)


def print_untrusted(text: str, out: TextIO) -> None:
    """Print log-derived text with workflow commands switched off around it."""
    token = secrets.token_hex(16)
    out.write(f"::stop-commands::{token}\n{text}\n::{token}::\n")


def _target(env: Mapping[str, str]) -> tuple[int, str, list[tuple[int, str | None]], int | None, str | None]:
    """(run id, head sha, [(PR number, base ref)], workflow id, head branch) of the run to analyse."""
    event: dict[str, Any] = {}
    if env.get("GITHUB_EVENT_PATH") and Path(env["GITHUB_EVENT_PATH"]).is_file():
        event = json.loads(Path(env["GITHUB_EVENT_PATH"]).read_text())
    if env.get("GITHUB_EVENT_NAME") == "workflow_run" and "workflow_run" in event:
        run = event["workflow_run"]
        prs = [(int(p["number"]), (p.get("base") or {}).get("ref")) for p in run.get("pull_requests") or []]
        return int(run["id"]), str(run["head_sha"]), prs, run.get("workflow_id"), run.get("head_branch")
    prs = []
    if "pull_request" in event:
        pr = event["pull_request"]
        prs = [(int(pr["number"]), (pr.get("base") or {}).get("ref"))]
        sha = str((pr.get("head") or {}).get("sha") or env.get("GITHUB_SHA", ""))
    else:
        sha = env.get("GITHUB_SHA", "")
    return int(env["GITHUB_RUN_ID"]), sha, prs, None, env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME")


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
    analyze = analyzer or _analyze
    token = env.get("CIMEDIC_GITHUB_TOKEN") or env.get("GITHUB_TOKEN") or env.get("INPUT_GITHUB_TOKEN")
    repo = env.get("GITHUB_REPOSITORY")
    if not token or not repo or not env.get("GITHUB_RUN_ID"):
        out.write(
            "::error::cimedic action needs GITHUB_REPOSITORY, GITHUB_RUN_ID and a token "
            "(with: github-token, or CIMEDIC_GITHUB_TOKEN)\n"
        )
        return 2
    run_id, sha, prs, workflow_id, _branch = _target(env)
    # GITHUB_TOKEN writes as github-actions[bot]; the sticky comment is found under that login.
    login = env.get("CIMEDIC_COMMENT_LOGIN", "github-actions[bot]")
    api = GitHubApi(base_url=env.get("GITHUB_API_URL", "https://api.github.com"), token=token)
    jobs_out: list[FailedJob] = []
    with api.client(None) as gh:
        jobs = gh.run_jobs(repo, run_id)
        failed = [j for j in jobs if j.get("conclusion") in FAILED]
        if not prs and sha:
            prs = [
                (int(p["number"]), (p.get("base") or {}).get("ref"))
                for p in gh.pulls_for_commit(repo, sha)
                if (p.get("head") or {}).get("sha") == sha
            ]
        if workflow_id is None:
            workflow_id = gh.get_run(repo, run_id).get("workflow_id")
        base_ref = next((b for _n, b in prs if b), None)
        for job in failed:
            text = gh.job_log(repo, int(job["id"]), max_bytes=16 * 1024 * 1024, head_bytes=256 * 1024)
            baseline, baseline_url = _baseline(gh, repo, workflow_id, base_ref, str(job.get("name")))
            ctx = JobContext(
                ci_system="github",
                repo=repo,
                commit=sha,
                job=job.get("name"),
                url=job.get("html_url"),
                run_id=run_id,
                job_id=int(job["id"]),
                pull_requests=[n for n, _b in prs],
            )
            d = analyze(
                text.text, source=job.get("html_url") or f"job {job['id']}", baseline=baseline, context=ctx
            )
            d = d.model_copy(update={"verdict": _verdict(d, base_ref, baseline_url)})
            jobs_out.append(FailedJob(str(job.get("name")), job.get("html_url"), d, job.get("completed_at")))
            print_untrusted(f"{job.get('name')}: [{d.category.value}] {d.title}", out)
        body = render_comment(jobs_out, head_sha=sha or "unknown")
        if summary and env.get("GITHUB_STEP_SUMMARY"):
            md = body.replace(MARKER, "").strip() + "\n"
            encoded = md.encode()
            if len(encoded) > SUMMARY_LIMIT:
                md = encoded[: SUMMARY_LIMIT - 200].decode("utf-8", "ignore") + "\n\n_(summary truncated)_\n"
            with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
                fh.write(md)
        if comment and jobs_out:
            for number, _base in prs:
                try:
                    outcome, cid = ensure_sticky_comment(gh, repo, number, body, login=login)
                    out.write(f"cimedic: comment {outcome} on #{number} ({cid})\n")
                except GitHubError as exc:
                    # A token without pull-requests: write (e.g. fork PRs) must not fail the job.
                    out.write(f"::warning::cimedic could not write the PR comment: {exc}\n")
    out.write(f"cimedic: {len(jobs_out)} failed job(s) analysed in run {run_id}\n")
    return 0


def _baseline(
    gh: Client, repo: str, workflow_id: Any, base_ref: str | None, name: str
) -> tuple[bytes | None, str | None]:
    if not base_ref or not workflow_id:
        return None, None
    green = gh.last_successful_run(repo, int(workflow_id), base_ref)
    if not green:
        return None, None
    match = next(
        (
            j
            for j in gh.run_jobs(repo, int(green["id"]))
            if j.get("name") == name and j.get("conclusion") == "success"
        ),
        None,
    )
    if match is None:
        return None, None
    log = gh.job_log(repo, int(match["id"]), max_bytes=4 * 1024 * 1024, head_bytes=256 * 1024)
    return log.text, match.get("html_url")


def _verdict(d: Diagnosis, base_ref: str | None, baseline_url: str | None) -> Verdict:
    # The Action sees one run: no history of other runs, so no broken-trunk or flaky evidence; `new` needs
    # the job's green baseline on the base branch, anything else is `unsure` or `infrastructure`.
    return decide(
        d, Evidence(base_branch=base_ref, baseline_passed=baseline_url is not None, baseline_url=baseline_url)
    )
