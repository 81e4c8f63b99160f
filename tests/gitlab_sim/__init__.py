"""Test harness for GitLab: the simulator and deliveries shaped like GitLab's documented Job, Pipeline and
Comment events (tests/fixtures/gitlab/)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from .server import BOT, GitLabSim

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gitlab"
WEBHOOK_TOKEN = "gitlab-hook-secret"

__all__ = ["BOT", "WEBHOOK_TOKEN", "GitLabSim", "delivery", "job_hook", "note_hook", "pipeline_hook"]


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def job_hook(sim: GitLabSim, job: dict[str, Any], *, retries_count: int = 0) -> dict[str, Any]:
    """GitLab's documented Job event example with this job's fields."""
    payload = copy.deepcopy(fixture("job_hook.json"))
    pipeline = sim.pipelines[job["pipeline"]["id"]]
    project = sim.projects[job["_project"]]
    payload.update(
        ref=pipeline["ref"],
        sha=pipeline["sha"],
        build_id=job["id"],
        build_name=job["name"],
        build_stage=job["stage"],
        build_status=job["status"],
        retries_count=retries_count,
        pipeline_id=pipeline["id"],
        project_id=project["id"],
        build_failure_reason=job.get("failure_reason") or "unknown_failure",
    )
    payload["project"].update(
        id=project["id"],
        name=project["name"],
        path_with_namespace=project["path_with_namespace"],
        default_branch=project["default_branch"],
        web_url=project["web_url"],
    )
    payload["repository"]["homepage"] = project["web_url"]
    return payload


def pipeline_hook(sim: GitLabSim, pipeline: dict[str, Any], mr: dict[str, Any] | None) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("pipeline_hook.json"))
    project = sim.projects[pipeline["project_id"]]
    payload["object_attributes"].update(
        id=pipeline["id"], ref=pipeline["ref"], sha=pipeline["sha"], status=pipeline["status"]
    )
    payload["project"].update(
        id=project["id"],
        path_with_namespace=project["path_with_namespace"],
        default_branch=project["default_branch"],
        web_url=project["web_url"],
    )
    if mr is None:
        payload["merge_request"] = None
    else:
        payload["merge_request"].update(
            iid=mr["iid"],
            target_project_id=mr["target_project_id"],
            source_project_id=mr["source_project_id"],
            target_branch=mr["target_branch"],
            source_branch=mr["source_branch"],
        )
    return payload


def note_hook(
    sim: GitLabSim, mr: dict[str, Any], body: str, *, user_id: int, username: str, action: str = "create"
) -> dict[str, Any]:
    """GitLab's documented "Comment on a merge request" example: `username` wrote `body` on `mr`."""
    payload = copy.deepcopy(fixture("note_hook.json"))
    project = sim.projects[mr["target_project_id"]]
    with sim.lock:
        note_id = next(sim.ids)
    payload["user"].update(id=user_id, username=username, name=username.title())
    payload["project_id"] = project["id"]
    payload["project"].update(
        id=project["id"],
        path_with_namespace=project["path_with_namespace"],
        default_branch=project["default_branch"],
        web_url=project["web_url"],
    )
    payload["object_attributes"].update(
        id=note_id,
        note=body,
        author_id=user_id,
        project_id=project["id"],
        noteable_id=mr["id"],
        action=action,
        url=f"{mr['web_url']}#note_{note_id}",
    )
    payload["merge_request"].update(
        id=mr["id"],
        iid=mr["iid"],
        target_project_id=mr["target_project_id"],
        source_project_id=mr["source_project_id"],
        target_branch=mr["target_branch"],
        source_branch=mr["source_branch"],
    )
    payload["merge_request"]["last_commit"]["id"] = mr["sha"]
    return payload


def delivery(
    event: str, payload: dict[str, Any], *, token: str | None = WEBHOOK_TOKEN, key: str | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers as GitLab sends them (docs: user/project/integrations/webhooks.md, "Delivery headers")."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/18.6.0",
        "X-Gitlab-Event": event,
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "X-Gitlab-Webhook-UUID": "2c1e8ad0-8b8f-4c0e-a5b4-1d1b1f1f1f1f",
        "X-Gitlab-Event-UUID": str(uuid.uuid4()),
        "Idempotency-Key": key or str(uuid.uuid4()),
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return headers, json.dumps(payload).encode()
