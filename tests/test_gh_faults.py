"""The GitHub client and writers under faults (issue 10, items 1 and 8), against the simulator.

Writes whose answer never comes (late, or the connection cut) were carried out by GitHub all the same: the
writers must find them instead of writing twice. Errors say whether retrying can help and when.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from github_sim import APP_ID, GitHubSim, keypair, new_sim, wait_until
from test_gh_e2e import PYTEST_FAIL, REPO, SHA, green_base, pr_run, send_job, settled, sticky
from test_gh_outputs import diag

from actions.github_api import (
    SECONDARY_LIMIT_WAIT_S,
    Client,
    GitHubApi,
    GitHubError,
    LogExpired,
    RetryPolicy,
)
from actions.github_checks import CHECK_NAME, ensure_check_run
from actions.github_comment import MARKER, FailedJob, ensure_sticky_comment

PR = 5
HEAD = "f" * 40
LOGIN = "cimedic-test[bot]"


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    s.add_pull(REPO, PR, head_sha=HEAD, head_ref="feature")
    yield s
    s.stop()


def _api(sim: GitHubSim, **kwargs: object) -> GitHubApi:
    return GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def client(sim: GitHubSim) -> Iterator[Client]:
    # 1 s client timeout; the simulator answers late writes after 2 s
    with _api(sim, timeout_s=1.0).client(1) as c:
        yield c


def _posts(sim: GitHubSim, suffix: str) -> list[int]:
    return [status for method, path, status in sim.calls if method == "POST" and path.endswith(suffix)]


def _jobs() -> list[FailedJob]:
    return [FailedJob(name="test", url=None, diagnosis=diag(1))]


# --- item 1: a write is never sent twice blind -----------------------------------------------------


@pytest.mark.parametrize("fault", [{"after_s": 2.0}, {"drop": True}], ids=["late answer", "dropped"])
def test_comment_whose_answer_is_lost_is_found_not_posted_again(
    sim: GitHubSim, client: Client, fault: dict[str, object]
) -> None:
    sim.fail("POST", rf"/issues/{PR}/comments$", status=None, **fault)  # type: ignore[arg-type]
    outcome, cid = ensure_sticky_comment(client, REPO, PR, f"{MARKER}\nv1", login=LOGIN)
    assert (outcome, cid) == ("created", sim.comments_on(REPO, PR)[0]["id"])
    assert len(sim.comments_on(REPO, PR)) == 1
    assert len([c for c in sim.started if c[0] == "POST" and c[1].endswith("/comments")]) == 1
    assert sim.fired == [("POST", f"/repos/{REPO}/issues/{PR}/comments", next(iter(sim.fired))[2])]


def test_comment_post_answered_502_is_looked_up_then_posted_again(sim: GitHubSim, client: Client) -> None:
    sim.fail("POST", rf"/issues/{PR}/comments$", status=502)  # answered: GitHub did not write it
    outcome, _ = ensure_sticky_comment(client, REPO, PR, f"{MARKER}\nv1", login=LOGIN)
    assert outcome == "created" and len(sim.comments_on(REPO, PR)) == 1
    assert _posts(sim, "/comments") == [502, 201]
    gets = [p for m, p, _s in sim.calls if m == "GET" and p.endswith(f"/issues/{PR}/comments")]
    assert len(gets) == 2  # the first search, and the look-up after the 502 before posting again


def test_comment_timeout_with_nothing_written_yet_is_transient_and_searched_next_time(
    sim: GitHubSim, client: Client
) -> None:
    # The request is still on its way at GitHub (here: never carried out) when our timeout fires: a search
    # now would miss it, so no second POST now; the caller retries later and searches first.
    sim.fail("POST", rf"/issues/{PR}/comments$", status=None, delay_s=2.0)
    with pytest.raises(GitHubError) as info:
        ensure_sticky_comment(client, REPO, PR, f"{MARKER}\nv1", login=LOGIN)
    assert info.value.transient and info.value.outcome_unknown and info.value.status is None
    wait_until(lambda: len(sim.comments_on(REPO, PR)) == 1, timeout=10)  # it lands late
    outcome, _ = ensure_sticky_comment(client, REPO, PR, f"{MARKER}\nv1", login=LOGIN)
    assert outcome == "unchanged" and len(sim.comments_on(REPO, PR)) == 1


@pytest.mark.parametrize("fault", [{"after_s": 2.0}, {"drop": True}], ids=["late answer", "dropped"])
def test_check_run_whose_answer_is_lost_is_found_not_created_again(
    sim: GitHubSim, client: Client, fault: dict[str, object]
) -> None:
    sim.fail("POST", r"/check-runs$", status=None, **fault)  # type: ignore[arg-type]
    outcome, check_id, *_ = ensure_check_run(
        client, REPO, HEAD, _jobs(), known_id=None, known_hash=None, sent_keys=set(), search=False
    )
    runs = sim.checks_on(REPO, HEAD)
    assert outcome == "created" and [c["id"] for c in runs] == [check_id]
    assert runs[0]["name"] == CHECK_NAME and len(runs[0]["_annotations"]) == 1
    assert len(_posts(sim, "/check-runs")) <= 1  # the lost one may be recorded, never a second


def test_check_run_post_answered_502_is_created_once(sim: GitHubSim, client: Client) -> None:
    sim.fail("POST", r"/check-runs$", status=502)
    outcome, *_ = ensure_check_run(
        client, REPO, HEAD, _jobs(), known_id=None, known_hash=None, sent_keys=set(), search=False
    )
    assert outcome == "created" and len(sim.checks_on(REPO, HEAD)) == 1
    assert _posts(sim, "/check-runs") == [502, 201]


@pytest.mark.parametrize(
    "fault", [{"after_s": 2.0}, {"drop": True}, {"status": 502}], ids=["late answer", "dropped", "502"]
)
def test_annotations_of_a_lost_update_are_not_sent_twice(
    sim: GitHubSim, client: Client, fault: dict[str, object]
) -> None:
    # 60 annotations: 50 go with the create, 10 with a PATCH (GitHub appends each request's annotations).
    jobs = [FailedJob(name="test", url=None, diagnosis=diag(1, locations=60))]
    sim.fail("PATCH", r"/check-runs/\d+$", **{"status": None, **fault})  # type: ignore[arg-type]
    outcome, check_id, _digest, sent, _n = ensure_check_run(
        client, REPO, HEAD, jobs, known_id=None, known_hash=None, sent_keys=set(), search=False
    )
    assert outcome == "created" and len(sent) == 60
    run = sim.check_runs[check_id]
    assert len(run["_annotations"]) == 60
    assert len({(a["path"], a["start_line"]) for a in run["_annotations"]}) == 60


def test_reads_are_still_retried_after_a_lost_connection(sim: GitHubSim, client: Client) -> None:
    sim.fail("GET", rf"/repos/{REPO}$", status=None, drop=True)
    assert client.get_repo(REPO)["full_name"] == REPO


# The reproduction, through the service: client timeout 2 s, comment and check-run POSTs answered
# after 3 s. PR #12 ended with 2 bot comments.
def test_service_makes_one_comment_and_one_check_run_when_writes_answer_late(
    sim: GitHubSim, tmp_path: object
) -> None:
    from pathlib import Path

    from github_sim import Service, service_env

    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    sim.fail("POST", r"/issues/12/comments$", status=None, after_s=3.0)
    sim.fail("POST", r"/check-runs$", status=None, after_s=3.0)
    service = Service(service_env(sim, Path(str(tmp_path))))
    try:
        send_job(service, sim, job)
        wait_until(lambda: sticky(sim) and sim.checks_on(REPO, SHA), timeout=60)
        wait_until(lambda: settled(service), timeout=60)
        assert len(sticky(sim)) == 1
        assert len(sim.checks_on(REPO, SHA)) == 1
        assert {kind for _m, _p, kind in sim.fired} == {"late answer"}
    finally:
        service.close()


# --- item 8: transient or permanent, and when to retry -----------------------------------------------


def test_secondary_rate_limit_without_retry_after_waits_a_minute(sim: GitHubSim, client: Client) -> None:
    sim.fail(
        "POST",
        rf"/issues/{PR}/comments$",
        status=403,
        body={"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
    )
    with pytest.raises(GitHubError) as info:
        client.create_comment(REPO, PR, "x")
    assert info.value.transient and not info.value.outcome_unknown
    assert info.value.retry_after is not None and info.value.retry_after >= SECONDARY_LIMIT_WAIT_S == 60
    sim.fail("GET", rf"/repos/{REPO}$", status=429)
    with pytest.raises(GitHubError) as info:
        client.get_repo(REPO)
    assert info.value.transient and (info.value.retry_after or 0) >= 60


def test_permission_403_is_permanent(sim: GitHubSim, client: Client) -> None:
    sim.fail(
        "POST",
        rf"/issues/{PR}/comments$",
        status=403,
        body={"message": "Resource not accessible by integration"},
    )
    with pytest.raises(GitHubError) as info:
        client.create_comment(REPO, PR, "x")
    assert not info.value.transient and info.value.retry_after is None


def test_uninstalled_app_and_missing_installation_are_permanent(sim: GitHubSim) -> None:
    sim.uninstall(9)
    api = _api(sim)
    with api.client(9) as gh, pytest.raises(GitHubError) as info:
        gh.get_repo(REPO)
    assert info.value.status == 404 and not info.value.transient
    assert "installation token" in str(info.value)
    assert [p for _m, p, _s in sim.calls if p.endswith("/access_tokens")] == [
        "/app/installations/9/access_tokens"
    ]  # asked once, not retried
    with pytest.raises(GitHubError) as info, api.client(None):
        pass
    assert not info.value.transient


def test_expired_log_raises_log_expired(sim: GitHubSim, client: Client) -> None:
    run = pr_run(sim)
    gone = sim.add_job(run, "gone", log="x")
    del sim.logs[gone["id"]]  # GitHub answers 404 once the log's retention has passed
    with pytest.raises(LogExpired) as info:
        client.job_log(REPO, gone["id"], max_bytes=1000, head_bytes=100)
    assert info.value.status == 404 and not info.value.transient
    blob = sim.add_job(run, "blob-gone", log="x")
    sim.fail("GET", rf"/_blobs/logs/{blob['id']}$", status=410)
    with pytest.raises(LogExpired):
        client.job_log(REPO, blob["id"], max_bytes=1000, head_bytes=100)
    assert [p for _m, p, _s in sim.calls if p == f"/repos/{REPO}/actions/jobs/{gone['id']}/logs"] == [
        f"/repos/{REPO}/actions/jobs/{gone['id']}/logs"
    ]  # a 404 is not retried


def test_log_download_has_an_overall_deadline(sim: GitHubSim) -> None:
    job = sim.add_job(pr_run(sim), "drip", log="x" * 40)
    # One byte every 0.25 s: every read is well within the client's timeout, the whole takes 10 s.
    sim.fail("GET", rf"/_blobs/logs/{job['id']}$", status=None, drip_s=0.25)
    with _api(sim, timeout_s=5.0, log_deadline_s=1.0).client(1) as gh, pytest.raises(GitHubError) as info:
        gh.job_log(REPO, job["id"], max_bytes=1000, head_bytes=100)
    assert info.value.transient and "within 1 s" in str(info.value)


def test_chaos_faults_are_random_reproducible_and_recorded() -> None:
    def run(seed: int) -> list[tuple[str, str, str]]:
        s = new_sim(seed=seed)
        s.add_repo(REPO)
        s.chaos(0.5, late_s=0.0)
        try:
            with _api(s, timeout_s=5.0, retry=RetryPolicy(base_delay_s=0.01)).client(1) as gh:
                for _ in range(20):
                    with contextlib.suppress(GitHubError):  # 4 failures in a row end a call
                        gh.get_repo(REPO)
            return list(s.fired)
        finally:
            s.stop()

    first = run(7)
    assert first == run(7)  # same seed, same sequential requests: same faults
    kinds = {kind for _m, _p, kind in first}
    assert kinds == {"status 502", "drop"}
    assert all(path == f"/repos/{REPO}" for _m, path, _k in first)
