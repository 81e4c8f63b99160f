"""GitLab deliveries, sans I/O: authentication and parsing of GitLab's documented Job and Pipeline events."""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest
from gitlab_sim import WEBHOOK_TOKEN, delivery
from gitlab_sim import fixture as gitlab_fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from webhooks.gitlab import (
    GitLabAuth,
    GitLabJob,
    GitLabPipeline,
    Ignored,
    Unauthorized,
    authenticate,
    merge_request_iid,
    parse_gitlab_delivery,
    sign,
)

AUTH = GitLabAuth(token=WEBHOOK_TOKEN)
KEY = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def failed_job_payload() -> dict[str, object]:
    payload = copy.deepcopy(gitlab_fixture("job_hook.json"))
    payload["build_status"] = "failed"
    payload["build_failure_reason"] = "script_failure"
    return payload


def test_documented_job_event_is_parsed_from_its_own_fields() -> None:
    headers, body = delivery("Job Hook", failed_job_payload())
    ev = parse_gitlab_delivery(headers, body, AUTH)
    assert isinstance(ev, GitLabJob)
    assert ev.repo == "gitlab:jsmithy2/release-tools-fake"
    assert (ev.project_id, ev.job_id, ev.pipeline_id) == (31537070, 3580121225, 743121198)
    assert (ev.job_name, ev.stage, ev.status, ev.conclusion) == (
        "auto_deploy:start",
        "coordinated:tag",
        "failed",
        "failure",
    )
    assert ev.retries_count == 1 and ev.sha == "95d49d1efbd941908580e79d65e4b5ecaf4a8305"
    assert ev.delivery_id == "gitlab:31537070:3580121225:1"
    assert ev.url == "https://gitlab.com/jsmithy2/release-tools-fake/-/jobs/3580121225"
    assert ev.default_branch == "main"


def test_job_event_without_project_object_falls_back_to_the_repository_homepage() -> None:
    payload = failed_job_payload()
    del payload["project"]
    ev = parse_gitlab_delivery(*delivery("Job Hook", payload), AUTH)
    assert isinstance(ev, GitLabJob)
    assert ev.repo == "gitlab:jsmithy2/release-tools-fake" and ev.default_branch is None


def test_same_job_delivered_twice_under_new_keys_is_one_piece_of_work() -> None:
    a = parse_gitlab_delivery(*delivery("Job Hook", failed_job_payload()), AUTH)
    b = parse_gitlab_delivery(*delivery("Job Hook", failed_job_payload()), AUTH)
    assert isinstance(a, GitLabJob) and isinstance(b, GitLabJob)
    assert a.delivery_id == b.delivery_id


def test_documented_pipeline_event_carries_its_merge_request() -> None:
    headers, body = delivery("Pipeline Hook", gitlab_fixture("pipeline_hook.json"), key="k-1")
    ev = parse_gitlab_delivery(headers, body, AUTH)
    assert isinstance(ev, GitLabPipeline)
    assert (ev.project_id, ev.repo, ev.pipeline_id, ev.status) == (
        1,
        "gitlab:gitlab-org/gitlab-test",
        31,
        "success",
    )
    assert ev.merge_request is not None
    assert (ev.merge_request.iid, ev.merge_request.target_branch, ev.merge_request.project_id) == (
        1,
        "master",
        1,
    )
    again = parse_gitlab_delivery(
        *delivery("Pipeline Hook", gitlab_fixture("pipeline_hook.json"), key="k-1"), AUTH
    )
    assert isinstance(again, GitLabPipeline) and again.delivery_id == ev.delivery_id


@pytest.mark.parametrize("status", ["created", "pending", "running", "manual"])
def test_unfinished_jobs_are_ignored(status: str) -> None:
    payload = failed_job_payload()
    payload["build_status"] = status
    assert isinstance(parse_gitlab_delivery(*delivery("Job Hook", payload), AUTH), Ignored)


@pytest.mark.parametrize(
    ("event", "body"),
    [
        ("Job Hook", b"not json"),
        ("Job Hook", b"[1, 2]"),
        ("Job Hook", json.dumps({"object_kind": "build", "build_status": "failed"}).encode()),
        ("Push Hook", json.dumps({"object_kind": "push"}).encode()),
    ],
)
def test_authenticated_but_unusable_bodies_are_ignored_never_rejected(event: str, body: bytes) -> None:
    headers, _ = delivery(event, {})
    assert isinstance(parse_gitlab_delivery(headers, body, AUTH), Ignored)


@pytest.mark.parametrize("token", ["wrong", "", None, WEBHOOK_TOKEN + "x"])
def test_wrong_or_missing_token_is_unauthorized(token: str | None) -> None:
    headers, body = delivery("Job Hook", failed_job_payload(), token=token)
    with pytest.raises(Unauthorized):
        parse_gitlab_delivery(headers, body, AUTH)


def signed(body: bytes, *, key: str = KEY, at: int | None = None, msg_id: str = "msg_1") -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    secret = base64.b64decode(key.removeprefix("whsec_"))
    return {
        "X-Gitlab-Event": "Job Hook",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": sign(secret, msg_id, stamp, body),
    }


def test_signed_delivery_is_accepted_with_the_signing_key() -> None:
    body = json.dumps(failed_job_payload()).encode()
    ev = parse_gitlab_delivery(signed(body), body, GitLabAuth(signing_key=KEY))
    assert isinstance(ev, GitLabJob)


def test_signature_during_key_rotation_any_listed_signature_may_match() -> None:
    body = b"{}"
    headers = signed(body)
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    authenticate(headers, body, GitLabAuth(signing_key=KEY))


def test_tampered_stale_or_unsigned_deliveries_are_unauthorized() -> None:
    auth = GitLabAuth(signing_key=KEY)
    body = json.dumps(failed_job_payload()).encode()
    with pytest.raises(Unauthorized):
        authenticate(signed(body), body + b" ", auth)
    with pytest.raises(Unauthorized):
        authenticate(signed(body, at=int(time.time()) - 3600), body, auth)
    with pytest.raises(Unauthorized):
        authenticate({"X-Gitlab-Event": "Job Hook"}, body, auth)
    with pytest.raises(Unauthorized):
        authenticate(signed(body), body, GitLabAuth())


def test_token_still_accepted_when_a_signing_key_is_configured_too() -> None:
    headers, body = delivery("Job Hook", failed_job_payload())
    authenticate(headers, body, GitLabAuth(token=WEBHOOK_TOKEN, signing_key=KEY))


@pytest.mark.parametrize(
    ("ref", "iid"),
    [
        ("refs/merge-requests/12/head", 12),
        ("refs/merge-requests/3/merge", 3),
        ("refs/merge-requests/3/train", 3),
        ("main", None),
        ("feature/refs/merge-requests/1/head", None),
    ],
)
def test_merge_request_pipelines_name_their_mr_in_the_ref(ref: str, iid: int | None) -> None:
    assert merge_request_iid(ref) == iid


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(["Job Hook", "Pipeline Hook", "Push Hook"]))
def test_any_body_with_the_right_token_is_an_event_or_ignored(body: bytes, event: str) -> None:
    headers, _ = delivery(event, {})
    assert isinstance(parse_gitlab_delivery(headers, body, AUTH), GitLabJob | GitLabPipeline | Ignored)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["build_id", "build_name", "build_status", "pipeline_id", "project_id", "sha", "ref"]
        ),
        st.none() | st.integers() | st.text(max_size=20) | st.lists(st.integers(), max_size=2),
    )
)
def test_job_fields_of_any_type_never_raise(fields: dict[str, object]) -> None:
    payload = failed_job_payload() | fields
    headers, body = delivery("Job Hook", payload)
    assert isinstance(parse_gitlab_delivery(headers, body, AUTH), GitLabJob | Ignored)
