"""`cimedic gitlab-ci`: for projects that cannot add a webhook, run by a job with `when: on_failure`.

Reads GitLab's predefined variables (docs.gitlab.com/ci/variables/predefined_variables.md): `CI_API_V4_URL`,
`CI_PROJECT_ID`, `CI_PIPELINE_ID`, `CI_COMMIT_SHA`, `CI_COMMIT_REF_NAME`, `CI_PROJECT_PATH`,
`CI_DEFAULT_BRANCH`, `CI_MERGE_REQUEST_IID`, `CI_MERGE_REQUEST_PROJECT_ID`,
`CI_MERGE_REQUEST_TARGET_BRANCH_NAME`.
`CI_JOB_TOKEN` cannot read other jobs' traces, so a `CIMEDIC_GITLAB_TOKEN` CI/CD variable (a bot's access
token) is required. Each failed job of the pipeline goes through the same use case; the note is the same
sticky note the service writes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from actions.github_comment import FailedJob, render_comment
from actions.gitlab_note import ensure_mr_note
from agent.failed_job import diagnose_failed_job
from agent.jobs import JobRef
from webhooks.gitlab import MergeRequestRef
from webhooks.gitlab_files import read_policy
from webhooks.gitlab_forge import GitLabForge, connect
from webhooks.lookups import Lookups

log = logging.getLogger("cimedic.gitlab_ci")


class MissingVariable(Exception):
    pass


def _need(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise MissingVariable(f"{name}: not set (run inside a GitLab CI job; see docs/gitlab.md)")
    return value


def run_gitlab_ci(env: Mapping[str, str] | None = None) -> int:
    """Diagnose the pipeline's failed jobs and upsert the MR note. Returns the exit code."""
    env = os.environ if env is None else env
    try:
        token = _need(env, "CIMEDIC_GITLAB_TOKEN")
        api = _need(env, "CI_API_V4_URL")
        project_id = int(_need(env, "CI_PROJECT_ID"))
        pipeline_id = int(_need(env, "CI_PIPELINE_ID"))
        sha = _need(env, "CI_COMMIT_SHA")
    except MissingVariable as exc:
        print(f"cimedic gitlab-ci: {exc}", file=sys.stderr)
        return 2
    gl = connect(api.removesuffix("/api/v4"), token)
    repo = env.get("CI_PROJECT_PATH") or str(project_id)
    policy = read_policy(gl, project_id, env.get("CI_DEFAULT_BRANCH"))
    iid = env.get("CI_MERGE_REQUEST_IID")
    known = (
        [
            MergeRequestRef(
                project_id=int(env.get("CI_MERGE_REQUEST_PROJECT_ID") or project_id),
                iid=int(iid),
                target_branch=env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"),
            )
        ]
        if iid
        else None
    )
    forge = GitLabForge(gl, project_id, Lookups(), known=known)
    jobs = forge.project.pipelines.get(pipeline_id, lazy=True).jobs.list(scope="failed", get_all=True)
    failed: list[FailedJob] = []
    for job in jobs:
        if job.name == env.get("CI_JOB_NAME") or policy.ignores_job(job.name) or job.allow_failure:
            continue
        ref = JobRef(
            repo=repo,
            job_id=int(job.id),
            job_name=job.name,
            run_id=pipeline_id,
            head_sha=sha,
            head_branch=env.get("CI_COMMIT_REF_NAME"),
            workflow_name=job.stage,
            url=job.web_url,
            completed_at=job.finished_at,
        )
        report = diagnose_failed_job(ref, forge=forge, ci_system="gitlab")
        failed.append(FailedJob(job.name, job.web_url, report.diagnosis, job.finished_at))
        print(f"{job.name}: {report.diagnosis.title}")
    if not failed or not policy.outputs.comment:
        return 0
    body = render_comment(failed, head_sha=sha)
    username = None
    gl.auth()
    if gl.user is not None:
        username = gl.user.username
    for mr in forge.merge_requests:
        outcome, note_id = ensure_mr_note(
            gl, mr.project_id, mr.iid, body, username=username, dry_run=policy.dry_run
        )
        print(f"note on !{mr.iid}: {outcome} ({note_id})")
    return 0
