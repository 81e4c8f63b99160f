"""GitHub webhook deliveries, sans I/O: verify the signature, then turn the body into one small event.

`parse_github_delivery(headers, body, secret)` is pure: it does no network or storage work, so the HTTP
intake, the tests and the redelivery tool share it. The body is never parsed before its HMAC verifies.

GitHub's documentation this follows:
- signature: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
  (`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed by the secret>`; compare in constant
  time; `X-Hub-Signature` carries the legacy SHA-1 HMAC, which we do not accept on its own).
- headers: https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
- payloads: https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_job and #workflow_run.
- content types: https://docs.github.com/en/webhooks/using-webhooks/creating-webhooks ("Content type":
  `application/json` delivers the JSON as the body; `application/x-www-form-urlencoded`, the default of
  repository webhooks, "will send the JSON payload as a form parameter called `payload`"). The signature is
  computed over the body as sent, so it is verified before the form is decoded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from agent.errors import CimedicError
from agent.jobs import FAILED_CONCLUSIONS

MAX_BODY_BYTES = 25 * 1024 * 1024
"""GitHub caps webhook payloads at 25 MB and does not deliver larger ones (docs: webhook-events-and-payloads,
"Payload cap"); anything larger sent to us is not from GitHub."""

_SIG256 = re.compile(r"sha256=([0-9a-f]{64})")


class DeliveryRejected(CimedicError):
    """The delivery is not acceptable; `status_code` is what the intake answers."""

    status_code = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(DeliveryRejected):
    """Missing, malformed, SHA-1-only or wrong signature."""

    status_code = 401


class PayloadTooLarge(DeliveryRejected):
    status_code = 413


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def verify_signature(secret: str | bytes, body: bytes, signature_header: str | None) -> None:
    """Raise `SignatureError` unless `signature_header` is the SHA-256 HMAC of `body` under `secret`."""
    if not secret:
        # An empty secret would make every signature forgeable; the settings require one, this guards misuse.
        raise SignatureError("no webhook secret configured")
    if signature_header is None:
        raise SignatureError("missing X-Hub-Signature-256")
    match = _SIG256.fullmatch(signature_header.strip())
    if match is None:
        raise SignatureError("malformed X-Hub-Signature-256")
    key = secret.encode() if isinstance(secret, str) else secret
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    # compare_digest: time independent of where the strings differ (docs: "Never use a plain == operator").
    if not hmac.compare_digest(expected, match.group(1)):
        raise SignatureError("signature does not match")


def sign(secret: str | bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub would send for `body` (used by tests and the bench)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


# --- the events we act on -------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery_id: str
    installation_id: int | None = None
    repo: str = Field(description="owner/name")
    default_branch: str | None = Field(default=None, description="where the repo policy is read from")


class WorkflowJobCompleted(_Event):
    """A job finished. Failures are the unit of work; successes close earlier failures (resolutions)."""

    kind: Literal["workflow_job"] = "workflow_job"
    job_id: int
    run_id: int
    run_attempt: int = 1
    job_name: str
    workflow_name: str | None = None
    head_sha: str
    head_branch: str | None = None
    conclusion: str
    html_url: str | None = None
    completed_at: str | None = None
    failed_step: str | None = None
    labels: list[str] = Field(default_factory=list)
    runner_name: str | None = None

    @property
    def failed(self) -> bool:
        return self.conclusion in FAILED_CONCLUSIONS


class PullRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: int
    base_ref: str | None = None
    head_ref: str | None = None


class WorkflowRunCompleted(_Event):
    """A whole run finished: carries the PR association GitHub computed and closes run-level state."""

    kind: Literal["workflow_run"] = "workflow_run"
    run_id: int
    run_attempt: int = 1
    workflow_id: int | None = None
    workflow_name: str | None = None
    head_sha: str
    head_branch: str | None = None
    head_repo: str | None = Field(default=None, description="owner/name the head commit lives in (forks)")
    event: str | None = None
    conclusion: str | None = None
    pull_requests: list[PullRef] = Field(default_factory=list)


class InstallationChanged(_Event):
    """`installation` / `installation_repositories`: bookkeeping only."""

    kind: Literal["installation"] = "installation"
    action: str
    account: str | None = None
    repos_added: list[str] = Field(default_factory=list)
    repos_removed: list[str] = Field(default_factory=list)


class PublishRequest(_Event):
    """Internal work item: bring the outputs of one head commit up to date (comment per PR, check run).

    Job results enqueue it instead of writing themselves, so the jobs of a matrix that finish together share
    one write: a request that is already queued absorbs the next ones (`Store.admit(rearm=True)`).
    """

    kind: Literal["publish"] = "publish"
    head_sha: str
    pull_requests: list[int] = Field(default_factory=list)
    check_run: bool = True


class FixCommand(_Event):
    """`/cimedic fix` in a new comment on a pull request: open the draft fix PR (docs/fixes.md)."""

    kind: Literal["fix_command"] = "fix_command"
    pull_number: int
    author: str
    author_type: str | None = Field(default=None, description="`User` or `Bot` (the comment's user.type)")


FIX_COMMAND = "/cimedic fix"

GitHubEvent = Annotated[
    WorkflowJobCompleted | WorkflowRunCompleted | InstallationChanged | PublishRequest | FixCommand,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[
    WorkflowJobCompleted | WorkflowRunCompleted | InstallationChanged | PublishRequest | FixCommand
] = TypeAdapter(GitHubEvent)


class Ignored(BaseModel):
    """A verified delivery we have nothing to do for (answered 2xx so GitHub keeps the hook healthy)."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    event: str
    action: str | None = None
    reason: str


# --- parsing --------------------------------------------------------------------------------------


def _typed(event: str, payload: dict[str, Any]) -> Any | None:
    """githubkit's typed model of the payload, or None when its strict schema rejects a real payload.

    Real deliveries (and GitHub Enterprise Server versions) omit fields the OpenAPI schema marks required,
    e.g. the `workflow_run` example in @octokit/webhooks-examples lacks `actor` and `path`; we then fall
    back to the few fields we need, read leniently.

    We validate against the one model of the completed action directly: `githubkit.webhooks.parse_obj`
    builds a TypeAdapter over the union of every action on each call (~1.3 ms against ~0.1 ms), and the
    intake answers GitHub within milliseconds.
    """
    from githubkit_schemas.latest.models import WebhookWorkflowJobCompleted, WebhookWorkflowRunCompleted

    models: dict[str, Any] = {
        "workflow_job": WebhookWorkflowJobCompleted,
        "workflow_run": WebhookWorkflowRunCompleted,
    }
    model = models.get(event)
    if model is None:
        return None
    try:
        return model.model_validate(payload)
    except (ValidationError, KeyError, ValueError):
        return None


def _get(obj: Any, *path: str) -> Any:
    """Read a nested field from a githubkit model or a dict; None when any step is missing."""
    from githubkit.utils import UNSET

    for name in path:
        if obj is None or obj is UNSET:
            return None
        obj = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return None if obj is UNSET else obj


def _failed_step(steps: Any) -> str | None:
    for step in steps or []:
        if _get(step, "conclusion") in FAILED_CONCLUSIONS:
            name = _get(step, "name")
            return str(name) if name is not None else None
    return None


def _job_event(delivery_id: str, payload: dict[str, Any], typed: Any) -> WorkflowJobCompleted:
    src: Any = typed if typed is not None else payload
    job = _get(src, "workflow_job")
    return WorkflowJobCompleted(
        delivery_id=delivery_id,
        installation_id=_get(src, "installation", "id"),
        repo=_get(src, "repository", "full_name"),
        default_branch=_get(src, "repository", "default_branch"),
        job_id=_get(job, "id"),
        run_id=_get(job, "run_id"),
        run_attempt=_get(job, "run_attempt") or 1,
        job_name=_get(job, "name") or "",
        workflow_name=_get(job, "workflow_name"),
        head_sha=_get(job, "head_sha"),
        head_branch=_get(job, "head_branch"),
        conclusion=_get(job, "conclusion") or "",
        html_url=_get(job, "html_url"),
        completed_at=_str_or_none(_get(job, "completed_at")),
        failed_step=_failed_step(_get(job, "steps")),
        labels=[str(x) for x in (_get(job, "labels") or [])],
        runner_name=_get(job, "runner_name"),
    )


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _run_event(delivery_id: str, payload: dict[str, Any], typed: Any) -> WorkflowRunCompleted:
    src: Any = typed if typed is not None else payload
    run = _get(src, "workflow_run")
    prs = [
        PullRef(
            number=_get(pr, "number"),
            base_ref=_get(pr, "base", "ref"),
            head_ref=_get(pr, "head", "ref"),
        )
        for pr in (_get(run, "pull_requests") or [])
    ]
    return WorkflowRunCompleted(
        delivery_id=delivery_id,
        installation_id=_get(src, "installation", "id"),
        repo=_get(src, "repository", "full_name"),
        default_branch=_get(src, "repository", "default_branch"),
        run_id=_get(run, "id"),
        run_attempt=_get(run, "run_attempt") or 1,
        workflow_id=_get(run, "workflow_id"),
        workflow_name=_get(run, "name") or _get(src, "workflow", "name"),
        head_sha=_get(run, "head_sha"),
        head_branch=_get(run, "head_branch"),
        head_repo=_get(run, "head_repository", "full_name"),
        event=_get(run, "event"),
        conclusion=_get(run, "conclusion"),
        pull_requests=prs,
    )


def _installation_event(delivery_id: str, event: str, payload: dict[str, Any]) -> InstallationChanged:
    # Read from the dict: these payloads are bookkeeping, no typed model is worth its validation cost here.
    inst = payload.get("installation") or {}
    repo_list = payload.get("repositories") or []
    added = payload.get("repositories_added") or (repo_list if payload.get("action") == "created" else [])
    removed = payload.get("repositories_removed") or []
    return InstallationChanged(
        delivery_id=delivery_id,
        installation_id=inst.get("id"),
        repo=str(_get(inst, "account", "login") or ""),
        action=str(payload.get("action") or ""),
        account=_get(inst, "account", "login"),
        repos_added=[str(r.get("full_name")) for r in added if isinstance(r, dict)],
        repos_removed=[str(r.get("full_name")) for r in removed if isinstance(r, dict)],
    )


def _fix_command(
    delivery_id: str, action: str | None, payload: dict[str, Any], ignored: Callable[[str], Ignored]
) -> FixCommand | Ignored:
    """An `issue_comment` `created` on a pull request whose first line is the command (docs.github.com/en/
    webhooks/webhook-events-and-payloads#issue_comment: a PR's issue carries a `pull_request` object)."""
    issue = payload.get("issue") or {}
    comment = payload.get("comment") or {}
    if action != "created" or not isinstance(issue, dict) or not isinstance(comment, dict):
        return ignored("not a new comment")
    if not issue.get("pull_request"):
        return ignored("comment on an issue, not a pull request")
    lines = str(comment.get("body") or "").strip().splitlines()
    if not lines or lines[0].strip().lower() != FIX_COMMAND:
        return ignored("not a command")
    user = comment.get("user") or {}
    repo = payload.get("repository") or {}
    return FixCommand(
        delivery_id=delivery_id,
        installation_id=(payload.get("installation") or {}).get("id"),
        repo=repo.get("full_name"),
        default_branch=repo.get("default_branch"),
        pull_number=issue.get("number"),
        author=user.get("login") or "",
        author_type=user.get("type"),
    )


def parse_github_delivery(
    headers: Mapping[str, str], body: bytes, secret: str | bytes
) -> WorkflowJobCompleted | WorkflowRunCompleted | InstallationChanged | FixCommand | Ignored:
    """Verify and parse one delivery. Raises `DeliveryRejected` (with the HTTP status to answer)."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body larger than {MAX_BODY_BYTES} bytes")
    # Verify first: nothing about an unauthenticated body is read, not even its JSON structure.
    verify_signature(secret, body, _header(headers, "X-Hub-Signature-256"))

    delivery_id = _header(headers, "X-GitHub-Delivery")
    event = _header(headers, "X-GitHub-Event")
    if not delivery_id or not event:
        raise DeliveryRejected("missing X-GitHub-Delivery or X-GitHub-Event")
    delivery_id = delivery_id.strip()
    if len(delivery_id) > 128:
        raise DeliveryRejected("X-GitHub-Delivery too long")
    payload = _payload(body, _header(headers, "Content-Type"))
    action = payload.get("action")
    action = action if isinstance(action, str) else None

    def ignored(reason: str) -> Ignored:
        return Ignored(delivery_id=delivery_id, event=event, action=action, reason=reason)

    try:
        return _event(delivery_id, event, action, payload, ignored)
    except RecursionError:
        # Verified, yet nested past what the models can walk: GitHub's payloads are shallow.
        raise DeliveryRejected("payload nested too deeply") from None


def _payload(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The delivery's JSON object, from a JSON body or from the `payload` field of a form-encoded one."""
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    text: str | bytes = body
    if media == "application/x-www-form-urlencoded":
        try:
            fields = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=32)
        except (UnicodeDecodeError, ValueError):
            raise DeliveryRejected("form body is malformed") from None
        values = fields.get("payload")
        if not values or len(values) != 1:
            raise DeliveryRejected("form body has no single `payload` field")
        text = values[0]
    try:
        payload = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DeliveryRejected("body is not JSON") from None
    except RecursionError:
        # json's C decoder gives up on deep nesting with RecursionError, which is not a ValueError.
        raise DeliveryRejected("body is not JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise DeliveryRejected("body is not a JSON object")
    return payload


def _event(
    delivery_id: str,
    event: str,
    action: str | None,
    payload: dict[str, Any],
    ignored: Callable[[str], Ignored],
) -> WorkflowJobCompleted | WorkflowRunCompleted | InstallationChanged | FixCommand | Ignored:
    try:
        if event == "workflow_job":
            if action != "completed":
                return ignored("job not completed")
            job = payload.get("workflow_job") or {}
            if not isinstance(job, dict):
                return ignored("no workflow_job object")
            return _job_event(delivery_id, payload, _typed(event, payload))
        if event == "workflow_run":
            if action != "completed":
                return ignored("run not completed")
            return _run_event(delivery_id, payload, _typed(event, payload))
        if event in ("installation", "installation_repositories"):
            return _installation_event(delivery_id, event, payload)
        if event == "issue_comment":
            return _fix_command(delivery_id, action, payload, ignored)
    except ValidationError as exc:
        # Verified but lacking even the few fields we need: acknowledge (a 4xx would count against the hook)
        # and say why in the log.
        return ignored(f"payload lacks required fields: {exc.error_count()} errors")
    return ignored("event not handled")
