"""GitLab webhook deliveries, sans I/O: authenticate, then turn the body into one small event.

`parse_gitlab_delivery(headers, body, auth)` is pure, like `webhooks.github.parse_github_delivery`.

GitLab's documentation this follows (docs.gitlab.com/user/project/integrations/):
- webhooks.md, "Validate payloads by using a secret token": the hook's secret token arrives verbatim in
  `X-Gitlab-Token`; compared here in constant time.
- webhooks.md, signed webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64>` where
  the signature is HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" (the Standard Webhooks scheme,
  github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md; a `whsec_` key is
  base64 after its prefix). Several space-separated signatures may be sent during a key rotation.
- webhooks.md, "Delivery headers": `X-Gitlab-Event` (`Job Hook`, `Pipeline Hook`), `Idempotency-Key` (the same
  across retries of one delivery), `X-Gitlab-Event-UUID`.
- webhook_events.md, "Comment events", "Comment on a merge request" (`X-Gitlab-Event: Note Hook`,
  `object_kind: note`; `object_attributes.note`, `noteable_type: MergeRequest`, `action` create/update
  (16.11+), `system`; `user.id`/`user.username`; `merge_request.iid`, `source_project_id`,
  `target_project_id`).
- webhook_events.md, "Job events" (`object_kind: build`; `build_id`, `build_name`, `build_status`,
  `retries_count`, `pipeline_id`, `project_id`, `project_name`, `project.path_with_namespace`) and "Pipeline
  events" (`object_kind: pipeline`; `object_attributes.status`, `project.name`, `merge_request`).
- webhooks.md, "Failing webhooks": a hook is disabled after 4xx answers, and after four failures in a row.
  So once the token is right the answer is never 4xx: anything we do not act on is `Ignored` (2xx).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_BODY_BYTES = 25 * 1024 * 1024
"""Bodies larger than this are not read (GitLab's own limit for webhook payloads is smaller)."""

SIGNATURE_TOLERANCE_S = 300
"""How far `webhook-timestamp` may be from our clock (Standard Webhooks recommends five minutes)."""

# Job statuses (docs: api/jobs.md, "status"): `failed` is the one a developer should look at; GitLab's
# `canceled` and `skipped` are choices, as GitHub's `cancelled` is. Mapped onto the forge-neutral conclusions
# of `agent.jobs.FAILED_CONCLUSIONS`.
CONCLUSIONS = {"failed": "failure", "success": "success", "canceled": "cancelled", "skipped": "skipped"}

_MR_REF = re.compile(r"refs/merge-requests/(\d+)/(?:head|merge|train)")


def merge_request_iid(ref: str | None) -> int | None:
    """The MR of a merge request pipeline, whose ref is `refs/merge-requests/<iid>/head` (docs:
    ci/pipelines/merge_request_pipelines.md); None for branch and tag pipelines."""
    m = _MR_REF.fullmatch(ref or "")
    return int(m.group(1)) if m else None


REPO_PREFIX = "gitlab:"


def repo_key(path: str) -> str:
    """How a GitLab project is named in our record (job results, history, fingerprints, knowledge, audit):
    its `path_with_namespace` behind `gitlab:`. A GitLab `group/project` and a GitHub `owner/repo` can be the
    same string; without the prefix one forge's failures would count as the other's history (a flaky
    verdict, a broken target branch)."""
    return REPO_PREFIX + path


class Unauthorized(Exception):
    """Wrong or missing token or signature: the only case answered 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class GitLabAuth:
    """What a delivery may prove it is from GitLab with: the hook's secret token and/or a signing key."""

    token: str | None = None
    signing_key: str | None = None

    def key_bytes(self) -> bytes:
        key = self.signing_key or ""
        if key.startswith("whsec_"):
            try:
                return base64.b64decode(key.removeprefix("whsec_"), validate=True)
            except binascii.Error:
                pass  # not base64 after all: the text itself is the key
        return key.encode()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def sign(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> str:
    """The `webhook-signature` value for `body` (Standard Webhooks `v1`); used by verification and tests."""
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def authenticate(
    headers: Mapping[str, str], body: bytes, auth: GitLabAuth, *, now: float | None = None
) -> None:
    """Raise `Unauthorized` unless the delivery carries the right token or a valid signature."""
    if not auth.token and not auth.signing_key:
        raise Unauthorized("no GitLab webhook token or signing key configured")
    given = _header(headers, "X-Gitlab-Token")
    if auth.token and given is not None and hmac.compare_digest(given.encode(), auth.token.encode()):
        return
    signature = _header(headers, "webhook-signature")
    if auth.signing_key and signature:
        webhook_id = _header(headers, "webhook-id") or ""
        stamp = _header(headers, "webhook-timestamp") or ""
        if not webhook_id or not stamp.isdigit():
            raise Unauthorized("signed delivery without webhook-id or webhook-timestamp")
        if abs((now if now is not None else time.time()) - int(stamp)) > SIGNATURE_TOLERANCE_S:
            raise Unauthorized("webhook-timestamp too far from now")
        expected = sign(auth.key_bytes(), webhook_id, stamp, body).encode()
        if any(hmac.compare_digest(expected, s.encode()) for s in signature.split()):
            return
        raise Unauthorized("webhook-signature does not match")
    raise Unauthorized("wrong or missing X-Gitlab-Token" if given is not None else "missing X-Gitlab-Token")


# --- the events we act on -------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery_id: str
    project_id: int
    repo: str = Field(description="`gitlab:` and the project's path_with_namespace (`repo_key`)")
    default_branch: str | None = Field(default=None, description="where the project policy is read from")
    web_url: str | None = Field(default=None, description="the project's page")


class GitLabJob(_Event):
    """A job reached a final status. Failures are the unit of work; successes mark earlier ones flaky."""

    kind: Literal["gitlab_job"] = "gitlab_job"
    job_id: int
    job_name: str
    stage: str | None = None
    status: str
    retries_count: int = 0
    pipeline_id: int
    sha: str
    ref: str
    tag: bool = False
    allow_failure: bool = False
    failure_reason: str | None = None
    finished_at: str | None = None

    @property
    def conclusion(self) -> str:
        return CONCLUSIONS.get(self.status, self.status)

    @property
    def merge_request_iid(self) -> int | None:
        return merge_request_iid(self.ref)

    @property
    def branch(self) -> str | None:
        return None if self.tag or self.merge_request_iid is not None else self.ref

    @property
    def url(self) -> str | None:
        return f"{self.web_url}/-/jobs/{self.job_id}" if self.web_url else None


class MergeRequestRef(BaseModel):
    """A merge request and the project it lives in (a fork's MR lives in the target project)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project_id: int
    iid: int
    target_branch: str | None = None


class GitLabPipeline(_Event):
    """A pipeline reached a final status: carries its merge request, if any."""

    kind: Literal["gitlab_pipeline"] = "gitlab_pipeline"
    pipeline_id: int
    sha: str
    ref: str
    status: str
    source: str | None = None
    merge_request: MergeRequestRef | None = None


class GitLabPublish(_Event):
    """Internal work item: bring the MR notes and the commit status of one commit up to date."""

    kind: Literal["gitlab_publish"] = "gitlab_publish"
    sha: str
    merge_requests: list[MergeRequestRef] = Field(default_factory=list)
    commit_status: bool = True


class GitLabFixCommand(_Event):
    """`/cimedic fix` in a new note on a merge request: open the draft fix MR (docs/fixes.md)."""

    kind: Literal["gitlab_fix_command"] = "gitlab_fix_command"
    merge_request: MergeRequestRef
    source_project_id: int | None = None
    author: str
    author_id: int


GitLabEvent = Annotated[
    GitLabJob | GitLabPipeline | GitLabPublish | GitLabFixCommand, Field(discriminator="kind")
]
GITLAB_EVENTS: TypeAdapter[GitLabJob | GitLabPipeline | GitLabPublish | GitLabFixCommand] = TypeAdapter(
    GitLabEvent
)
KINDS = frozenset({"gitlab_job", "gitlab_pipeline", "gitlab_publish", "gitlab_fix_command"})
FIX_COMMAND = "/cimedic fix"


class Ignored(BaseModel):
    """An authenticated delivery we have nothing to do for (answered 2xx so GitLab keeps the hook on)."""

    model_config = ConfigDict(frozen=True)

    event: str
    reason: str


# --- parsing --------------------------------------------------------------------------------------

FINAL_JOB_STATUSES = frozenset(CONCLUSIONS)
FINAL_PIPELINE_STATUSES = frozenset({"success", "failed", "canceled", "skipped"})


def _path_of(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    path = urlsplit(url).path.strip("/")
    return path.removesuffix(".git") or None


def _project(payload: dict[str, Any]) -> dict[str, Any]:
    project = payload.get("project")
    return project if isinstance(project, dict) else {}


def _job(delivery_id: str, payload: dict[str, Any]) -> GitLabJob:
    project = _project(payload)
    repository = payload.get("repository") or {}
    # `project` came to job events later than `project_id`/`repository`; older GitLab versions send only
    # those, so the path falls back to the repository's homepage.
    web_url = project.get("web_url") or repository.get("homepage")
    return GitLabJob(
        delivery_id=delivery_id,
        project_id=payload.get("project_id") or project.get("id"),
        repo=repo_key(
            project.get("path_with_namespace") or _path_of(web_url) or str(payload.get("project_name") or "")
        ),
        default_branch=project.get("default_branch"),
        web_url=web_url,
        job_id=payload.get("build_id"),
        job_name=payload.get("build_name") or "",
        stage=payload.get("build_stage"),
        status=payload.get("build_status") or "",
        retries_count=payload.get("retries_count") or 0,
        pipeline_id=payload.get("pipeline_id"),
        sha=payload.get("sha"),
        ref=payload.get("ref") or "",
        tag=bool(payload.get("tag")),
        allow_failure=bool(payload.get("build_allow_failure")),
        failure_reason=payload.get("build_failure_reason"),
        finished_at=payload.get("build_finished_at"),
    )


def _pipeline(delivery_id: str, payload: dict[str, Any]) -> GitLabPipeline:
    project = _project(payload)
    attrs = payload.get("object_attributes") or {}
    mr = payload.get("merge_request")
    return GitLabPipeline(
        delivery_id=delivery_id,
        project_id=project.get("id"),
        repo=repo_key(project.get("path_with_namespace") or _path_of(project.get("web_url")) or ""),
        default_branch=project.get("default_branch"),
        web_url=project.get("web_url"),
        pipeline_id=attrs.get("id"),
        sha=attrs.get("sha"),
        ref=attrs.get("ref") or "",
        status=attrs.get("status") or "",
        source=attrs.get("source"),
        merge_request=(
            MergeRequestRef(
                project_id=mr.get("target_project_id") or project.get("id"),
                iid=mr.get("iid"),
                target_branch=mr.get("target_branch"),
            )
            if isinstance(mr, dict) and mr.get("iid") is not None
            else None
        ),
    )


def _fix_command(payload: dict[str, Any]) -> GitLabFixCommand | str:
    """A new note on a merge request whose first line is the command, or why it is not one. An edited note
    (`action: update`) is not a new request; GitLab before 16.11 sends no `action` and only new notes."""
    attrs = payload.get("object_attributes") or {}
    mr = payload.get("merge_request")
    if attrs.get("noteable_type") != "MergeRequest" or not isinstance(mr, dict):
        return "note on something other than a merge request"
    if attrs.get("action", "create") != "create" or attrs.get("system"):
        return "not a new comment"
    lines = str(attrs.get("note") or "").strip().splitlines()
    if not lines or lines[0].strip().lower() != FIX_COMMAND:
        return "not a command"
    project = _project(payload)
    user = payload.get("user") or {}
    target = mr.get("target_project_id") or project.get("id")
    return GitLabFixCommand(
        delivery_id=f"gitlab-note:{target}:{attrs.get('id')}",  # one note is one request, however delivered
        project_id=project.get("id") or payload.get("project_id"),
        repo=repo_key(project.get("path_with_namespace") or _path_of(project.get("web_url")) or ""),
        default_branch=project.get("default_branch"),
        web_url=project.get("web_url"),
        merge_request=MergeRequestRef(
            project_id=target, iid=mr.get("iid"), target_branch=mr.get("target_branch")
        ),
        source_project_id=mr.get("source_project_id"),
        author=user.get("username") or "",
        author_id=user.get("id"),
    )


def _one_of(value: Any, allowed: frozenset[str]) -> bool:
    return isinstance(value, str) and value in allowed


def job_delivery_id(project_id: int, job_id: int, retries_count: int) -> str:
    """One failed job is one piece of work however often it is delivered: GitLab retries a delivery with the
    same `Idempotency-Key`, and a job that fails again after a retry is a new job id."""
    return f"gitlab:{project_id}:{job_id}:{retries_count}"


def parse_gitlab_delivery(
    headers: Mapping[str, str], body: bytes, auth: GitLabAuth, *, now: float | None = None
) -> GitLabJob | GitLabPipeline | GitLabFixCommand | Ignored:
    """Authenticate and parse one delivery. Raises `Unauthorized` only; everything else is an event or
    `Ignored`."""
    authenticate(headers, body, auth, now=now)
    event = (_header(headers, "X-Gitlab-Event") or "unknown")[:64]
    if len(body) > MAX_BODY_BYTES:
        return Ignored(event=event, reason=f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Ignored(event=event, reason="body is not JSON")
    if not isinstance(payload, dict):
        return Ignored(event=event, reason="body is not a JSON object")
    kind = payload.get("object_kind")
    key = (_header(headers, "Idempotency-Key") or _header(headers, "X-Gitlab-Event-UUID") or "").strip()[:100]
    try:
        if event == "Job Hook" and kind == "build":
            if not _one_of(payload.get("build_status"), FINAL_JOB_STATUSES):
                return Ignored(event=event, reason="job not finished")
            job = _job("pending", payload)
            return job.model_copy(
                update={"delivery_id": job_delivery_id(job.project_id, job.job_id, job.retries_count)}
            )
        if event == "Pipeline Hook" and kind == "pipeline":
            attrs = payload.get("object_attributes")
            if not isinstance(attrs, dict) or not _one_of(attrs.get("status"), FINAL_PIPELINE_STATUSES):
                return Ignored(event=event, reason="pipeline not finished")
            pipeline = _pipeline("pending", payload)
            # The pipeline's id and status tell one final state; the key tells one delivery of it.
            return pipeline.model_copy(
                update={
                    "delivery_id": f"gitlab-pipeline:{pipeline.project_id}:{pipeline.pipeline_id}:"
                    f"{pipeline.status}:{key}"
                }
            )
        if event == "Note Hook" and kind == "note":
            command = _fix_command(payload)
            return command if isinstance(command, GitLabFixCommand) else Ignored(event=event, reason=command)
    except (ValidationError, AttributeError, TypeError) as exc:
        # Authenticated but lacking the fields we need: acknowledge (a 4xx counts against the hook) and
        # say why in the log.
        return Ignored(event=event, reason=f"payload lacks required fields: {str(exc).splitlines()[0]}")
    return Ignored(event=event, reason="event not handled")
