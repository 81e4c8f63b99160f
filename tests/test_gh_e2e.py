"""End to end through HTTP: a signed delivery in, the PR comment and check run out of the simulator.

The service runs for real (uvicorn on 127.0.0.1, embedded SQLite store and queue, worker threads, the real
engine); GitHub is the simulator. Nothing is mocked on our side.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_sim import (
    GitHubSim,
    Service,
    delivery,
    fixture,
    job_payload,
    new_sim,
    run_payload,
    service_env,
    wait_until,
)

from actions.github_comment import MARKER

REPO = "octo/app"
SHA = "a1" * 20
PYTEST_FAIL = """\
2024-05-01T10:00:00.0000000Z ##[group]Run python -m pytest
2024-05-01T10:00:00.1000000Z python -m pytest
2024-05-01T10:00:01.0000000Z ============================= FAILURES =============================
2024-05-01T10:00:01.0000000Z ___________________________ test_add ___________________________
2024-05-01T10:00:01.0000000Z     def test_add():
2024-05-01T10:00:01.0000000Z >       assert add(1, 2) == 4
2024-05-01T10:00:01.0000000Z E       assert 3 == 4
2024-05-01T10:00:01.0000000Z tests/test_math.py:5: AssertionError
2024-05-01T10:00:01.0000000Z =========================== short test summary info ============================
2024-05-01T10:00:01.0000000Z FAILED tests/test_math.py::test_add - assert 3 == 4
2024-05-01T10:00:01.0000000Z ========================= 1 failed, 3 passed in 0.12s =========================
2024-05-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.
"""
GREEN = "2024-05-01T09:00:00.0000000Z ##[group]Run python -m pytest\n4 passed in 0.10s\n"
INFRA_FAIL = """\
2024-05-01T10:00:00.0000000Z ##[group]Run actions/checkout@v4
2024-05-01T10:00:05.0000000Z ##[error]The runner has received a shutdown signal.
2024-05-01T10:00:05.0000000Z ##[error]The operation was canceled.
"""


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    yield s
    s.stop()


@pytest.fixture(params=["embedded", pytest.param("postgres+redis", marks=pytest.mark.slow)])
def service(request: pytest.FixtureRequest, sim: GitHubSim, tmp_path: Path) -> Iterator[Service]:
    """The embedded default (SQLite, worker threads in the intake's process), or PostgreSQL + Redis with the
    intake alone and two `cimedic worker` processes."""
    if request.param == "embedded":
        svc = Service(service_env(sim, tmp_path))
        yield svc
        svc.close()
        return
    from test_gh_workers import _redis_up, start_worker
    from test_kb_support import postgres_database

    if not _redis_up():
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    with postgres_database() as url:
        env = service_env(sim, tmp_path, database_url=url, redis_url="redis://127.0.0.1:6379/0")
        svc = Service(env, run_worker=False)
        workers = [start_worker(env), start_worker(env)]
        try:
            yield svc
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(20)
            svc.close()


def green_base(sim: GitHubSim, job_names: list[str]) -> None:
    run = sim.add_run(REPO, head_sha="b0" * 20, head_branch="main", event="push", conclusion="success")
    for name in job_names:
        sim.add_job(run, name, log=GREEN, conclusion="success")


def pr_run(
    sim: GitHubSim,
    number: int = 12,
    *,
    sha: str = SHA,
    fork: str | None = None,
    attempt: int = 1,
    run_id: int | None = None,
) -> dict[str, Any]:
    if (REPO, number) not in sim.pulls:
        sim.add_pull(REPO, number, head_sha=sha, head_ref="feature", fork=fork)
    return sim.add_run(
        REPO, head_sha=sha, head_branch="feature", pulls=[number], run_attempt=attempt, run_id=run_id
    )


def send_job(service: Service, sim: GitHubSim, job: dict[str, Any], delivery_id: str | None = None) -> int:
    headers, body = delivery("workflow_job", job_payload(sim, job), delivery_id=delivery_id)
    return service.post(headers, body).status_code


def sticky(sim: GitHubSim, number: int = 12) -> list[dict[str, Any]]:
    return [c for c in sim.comments_on(REPO, number) if MARKER in c["body"]]


def settled(service: Service) -> bool:
    inbox = service.svc.inbox
    if inbox is not None and inbox.waiting()[0]:
        return False  # accepted, not yet admitted by the pump
    counts = service.svc.store.counts()
    return counts.get("queued", 0) == 0 and counts.get("running", 0) == 0


def test_new_failure_gets_one_comment_and_a_check_run(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    assert send_job(service, sim, job) == 202
    comments = wait_until(lambda: sticky(sim))
    body = comments[0]["body"]
    assert comments[0]["user"]["login"] == "cimedic-test[bot]"
    assert "New failure" in body and "tests/test\\_math.py::test\\_add" in body
    assert "E       assert 3 == 4" in body  # excerpt in the collapsible block
    assert f'<a href="{job["html_url"]}">' in body  # its line numbers link to the job log
    assert "<details>" in body and "pytest -x tests/test_math.py::test_add" in body
    wait_until(lambda: settled(service))
    checks = sim.checks_on(REPO, SHA)
    assert len(checks) == 1 and checks[0]["name"] == "CI Medic" and checks[0]["conclusion"] == "neutral"
    assert [a["path"] for a in checks[0]["_annotations"]] == ["tests/test_math.py"]
    # The job log was fetched without credentials at the blob host (the sim answers 400 otherwise).
    assert ("GET", f"/_blobs/logs/{job['id']}", 200) in sim.calls
    audit = service.svc.audit.entries(repo=REPO)
    assert {e.action for e in audit} == {"comment.created", "check_run.created"}


def test_broken_trunk_links_to_the_base_branch_failure(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    main_run = sim.add_run(REPO, head_sha="c0" * 20, head_branch="main", event="push")
    main_job = sim.add_job(main_run, "test", log=PYTEST_FAIL)
    assert send_job(service, sim, main_job) == 202
    wait_until(lambda: settled(service) and service.svc.store.results_for_sha(REPO, "c0" * 20))
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    send_job(service, sim, job)
    body = wait_until(lambda: sticky(sim))[0]["body"]
    assert "Broken trunk" in body and main_job["html_url"] in body


def test_flaky_when_the_rerun_of_the_same_commit_passes(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    first = pr_run(sim)
    failed = sim.add_job(first, "test", log=PYTEST_FAIL)
    send_job(service, sim, failed)
    wait_until(lambda: sticky(sim) and "New failure" in sticky(sim)[0]["body"])
    rerun = pr_run(sim, attempt=2, run_id=first["id"])
    passed = sim.add_job(rerun, "test", log=GREEN, conclusion="success")
    send_job(service, sim, passed)
    wait_until(lambda: "Flaky" in sticky(sim)[0]["body"])
    assert len(sticky(sim)) == 1


def test_fork_pr_is_found_by_commit(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    run = pr_run(sim, 31, fork="someone/app")
    assert run["pull_requests"] == []  # as GitHub does for forks
    job = sim.add_job(run, "test", log=PYTEST_FAIL)
    send_job(service, sim, job)
    assert wait_until(lambda: sticky(sim, 31))
    assert any(path.endswith(f"/commits/{SHA}/pulls") for _m, path, _s in sim.calls)


def test_matrix_of_20_failing_jobs_gives_one_comment_one_group(sim: GitHubSim, service: Service) -> None:
    names = [
        f"test ({py}, {os_})"
        for py in ("3.9", "3.10", "3.11", "3.12", "3.13")
        for os_ in ("ubuntu", "macos", "windows", "arm")
    ]
    green_base(sim, names)
    run = pr_run(sim)
    jobs = [sim.add_job(run, n, log=PYTEST_FAIL) for n in names]
    for job in jobs:
        assert send_job(service, sim, job) == 202
    wait_until(lambda: settled(service), timeout=60)
    comments = sticky(sim)
    assert len(comments) == 1
    body = comments[0]["body"]
    assert "20 failed jobs" in body and "1 distinct failure" in body and "Same failure in 20 jobs" in body
    assert len(sim.checks_on(REPO, SHA)) == 1
    calls = sim.api_calls()
    per_job = len(calls) / len(jobs)
    print(f"API calls per failed job (matrix of 20): {per_job:.2f}")
    assert per_job <= 6


def test_duplicate_and_concurrent_deliveries_give_one_comment(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test", "lint"])
    run = pr_run(sim)
    job = sim.add_job(run, "test", log=PYTEST_FAIL)
    other = sim.add_job(run, "lint", log=PYTEST_FAIL.replace("test_add", "test_sub"))
    codes: list[int] = []

    def send(j: dict[str, Any], did: str) -> None:
        codes.append(send_job(service, sim, j, delivery_id=did))

    threads = [threading.Thread(target=send, args=(job, "dup-1")) for _ in range(5)]
    threads += [threading.Thread(target=send, args=(other, f"other-{i}")) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(202) == 4  # dup-1 once, each other-i once
    wait_until(lambda: settled(service))
    comments = sticky(sim)
    assert len(comments) == 1 and "2 failed jobs" in comments[0]["body"]
    log_downloads = [c for c in sim.calls if c[1] == f"/repos/{REPO}/actions/jobs/{job['id']}/logs"]
    assert len(log_downloads) == 1  # the duplicate was dropped, not processed twice


def test_github_502_then_200_is_retried(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    sim.fail("GET", rf"/actions/jobs/{job['id']}/logs$", status=502, times=1)
    sim.fail("POST", r"/issues/12/comments$", status=502, times=1)
    send_job(service, sim, job)
    assert wait_until(lambda: sticky(sim))
    wait_until(lambda: settled(service))
    assert len(sticky(sim)) == 1
    statuses = [s for m, p, s in sim.calls if p.endswith("/issues/12/comments") and m == "POST"]
    assert statuses == [502, 201]


def test_github_timeout_then_success(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    # The client timeout is 2 s in these tests: the first answer comes too late, the retry succeeds.
    sim.fail("GET", rf"/actions/runs/{job['run_id']}$", status=None, delay_s=3, times=1)
    send_job(service, sim, job)
    assert wait_until(lambda: sticky(sim), timeout=30)
    wait_until(lambda: settled(service))
    assert len(sticky(sim)) == 1


def test_secondary_rate_limit_is_honoured(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    sim.fail(
        "POST",
        r"/issues/12/comments$",
        status=403,
        times=1,
        headers={"retry-after": "1"},
        body={"message": "You have exceeded a secondary rate limit."},
    )
    sim.primary_limit(2)  # the third call hits the primary limit (reset in 1 s)
    send_job(service, sim, job)
    assert wait_until(lambda: sticky(sim))
    wait_until(lambda: settled(service))
    assert len(sticky(sim)) == 1
    assert any(s == 403 for _m, _p, s in sim.calls)


def test_failed_delivery_is_processed_again_on_redelivery(sim: GitHubSim, tmp_path: Path) -> None:
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    # Every attempt fails (the log endpoint is down), until the delivery is marked failed.
    sim.fail("GET", rf"/actions/jobs/{job['id']}/logs$", status=500, times=100)
    svc = Service(service_env(sim, tmp_path, CIMEDIC_MAX_ATTEMPTS="2", CIMEDIC_RETRY_BASE_SECONDS="0.1"))
    try:
        assert send_job(svc, sim, job, delivery_id="redo-1") == 202
        wait_until(lambda: (svc.svc.store.delivery("redo-1") or {}).get("status") == "failed", timeout=30)
        assert sticky(sim) == []
        sim.faults.clear()
        assert send_job(svc, sim, job, delivery_id="redo-1") == 202  # GitHub's redelivery: same GUID
        assert wait_until(lambda: sticky(sim))
        assert svc.svc.store.delivery("redo-1")["status"] in ("running", "done")
    finally:
        svc.close()


def test_policy_dry_run_writes_nothing_but_audits(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", "dry_run: true\n")
    green_base(sim, ["test"])
    send_job(service, sim, sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL))
    wait_until(lambda: service.svc.audit.entries(repo=REPO))
    wait_until(lambda: settled(service))
    assert sim.comments_on(REPO, 12) == [] and sim.checks_on(REPO, SHA) == []
    assert {e.outcome for e in service.svc.audit.entries(repo=REPO)} == {"dry-run"}


def test_policy_from_pr_branch_is_not_used(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", "dry_run: true\n", ref="feature")  # only on the PR branch
    green_base(sim, ["test"])
    send_job(service, sim, sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL))
    assert wait_until(lambda: sticky(sim))


def test_infrastructure_failure_is_rerun_once_when_policy_allows(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", "rerun: [infrastructure, flaky]\noutputs: {check_run: false}\n")
    green_base(sim, ["build"])
    run = pr_run(sim)
    job = sim.add_job(run, "build", log=INFRA_FAIL, failed_step="Run actions/checkout@v4")
    send_job(service, sim, job)
    send_job(service, sim, job)  # a second delivery id for the same job: still one re-run
    body = wait_until(lambda: sticky(sim))[0]["body"]
    wait_until(lambda: settled(service))
    if "Infrastructure" not in body:
        pytest.skip(f"engine does not classify this log as infrastructure yet: {body[:300]}")
    assert sim.reruns == [job["id"]]
    assert sim.checks_on(REPO, SHA) == []


def test_jobs_passing_again_updates_the_comment(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    send_job(service, sim, sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL))
    wait_until(lambda: sticky(sim))
    new_sha = "d4" * 20
    sim.pulls[(REPO, 12)]["head"]["sha"] = new_sha
    run = sim.add_run(REPO, head_sha=new_sha, head_branch="feature", pulls=[12], conclusion="success")
    headers, body = delivery("workflow_run", run_payload(sim, run))
    assert service.post(headers, body).status_code == 202
    wait_until(lambda: "all jobs pass" in sticky(sim)[0]["body"])
    assert len(sticky(sim)) == 1


def test_a_single_failing_job_costs_few_api_calls(
    sim: GitHubSim, service: Service, request: pytest.FixtureRequest
) -> None:
    store = service.svc.store
    base_run = sim.add_run(REPO, head_sha="b0" * 20, head_branch="main", event="push", conclusion="success")
    base_job = sim.add_job(base_run, "test", log=GREEN, conclusion="success")
    assert send_job(service, sim, base_job, "base") == 202  # the App hears of the base branch's jobs too
    wait_until(lambda: (store.delivery("base") or {}).get("status") == "done")
    before = len(sim.api_calls())
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    send_job(service, sim, job)
    wait_until(lambda: sticky(sim) and sim.checks_on(REPO, SHA) and settled(service))
    calls = [(m, path) for m, path, _s in sim.api_calls()[before:]]
    # The baseline is the recorded green job's log (no lookup of the last green run and its jobs), and the
    # check run is created without a search since no attempt of ours can have made one.
    assert ("GET", f"/repos/{REPO}/actions/jobs/{base_job['id']}/logs") in calls
    assert not [c for c in calls if "/actions/workflows/" in c[1] or (c[0] == "GET" and "check-runs" in c[1])]
    # policy, run, log, baseline log, App login, comment search + create, check-run create
    limit = 8
    if request.node.callspec.params["service"] != "embedded":
        # Two worker processes: the comment may be published by the one that did not analyse the job, and
        # the policy cache is per process, so it reads the policy file once more (about 1 run in 5).
        limit += 1
    assert len(calls) <= limit, calls
    assert "New failure" in sticky(sim)[0]["body"]  # the baseline passed: this change is to blame


def test_installations_are_recorded_and_a_removed_one_stops_work(sim: GitHubSim, service: Service) -> None:
    store = service.svc.store

    def send(event: str, payload: dict[str, Any]) -> None:
        payload["installation"]["id"] = 1
        headers, body = delivery(event, payload)
        assert service.post(headers, body).status_code == 202

    def touched(job: dict[str, Any]) -> bool:
        return any(f"/actions/jobs/{job['id']}/" in path for _m, path, _s in sim.calls)

    ours = {"id": 1, "node_id": "R_1", "name": "app", "full_name": REPO, "private": False}
    created = fixture("installation.created.json")
    created["repositories"] = [ours]
    send("installation", created)
    wait_until(lambda: store.installation(1) == ("active", [REPO]))

    removed = fixture("installation_repositories.added.json")
    removed |= {"action": "removed", "repositories_added": [], "repositories_removed": [ours]}
    send("installation_repositories", removed)
    wait_until(lambda: store.installation(1) == ("active", []))
    green_base(sim, ["test"])
    skipped = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    assert send_job(service, sim, skipped, "skipped") == 202
    wait_until(lambda: (store.delivery("skipped") or {}).get("status") == "done")
    assert not touched(skipped) and not sticky(sim)

    added = fixture("installation_repositories.added.json")
    added["repositories_added"] = [ours]
    send("installation_repositories", added)
    wait_until(lambda: store.installation(1) == ("active", [REPO]))
    job = sim.add_job(pr_run(sim, 13, sha="c1" * 20), "test", log=PYTEST_FAIL)
    send_job(service, sim, job)
    assert wait_until(lambda: sticky(sim, 13))

    send("installation", fixture("installation.created.json") | {"action": "deleted"})
    wait_until(lambda: (store.installation(1) or ("",))[0] == "deleted")
    late = sim.add_job(pr_run(sim, 14, sha="d1" * 20), "test", log=PYTEST_FAIL)
    send_job(service, sim, late, "late")
    wait_until(lambda: (store.delivery("late") or {}).get("status") == "done")
    assert not touched(late) and not sticky(sim, 14)


@pytest.mark.parametrize("status", [403, 404])
def test_a_failing_baseline_lookup_still_gives_the_diagnosis(
    sim: GitHubSim, service: Service, status: int
) -> None:
    # The workflow's runs answer 404 (workflow deleted or renamed) or 403 (token without actions: read):
    # the comparison is skipped with a note, the diagnosis is still posted (it failed four times before).
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    sim.fail("GET", r"/actions/workflows/\d+/runs$", status=status, times=100)
    assert send_job(service, sim, job) == 202
    body = wait_until(lambda: sticky(sim))[0]["body"]
    assert "Cause unclear" in body and "E       assert 3 == 4" in body
    assert "comparison with \\`main\\` skipped" in body and f"HTTP {status}" in body
    wait_until(lambda: settled(service))
    assert service.svc.store.counts().get("failed", 0) == 0


def test_a_job_name_longer_than_the_column_is_diagnosed(sim: GitHubSim, service: Service) -> None:
    # Matrix job names can be long; PostgreSQL refuses a value over a VARCHAR's length (SQLite does not).
    name = "test (" + ", ".join(f"param-{i}-{'x' * 12}" for i in range(40)) + ")"
    assert len(name) > 500
    green_base(sim, [name])
    job = sim.add_job(pr_run(sim), name, log=PYTEST_FAIL)
    assert send_job(service, sim, job) == 202
    body = wait_until(lambda: sticky(sim))[0]["body"]
    assert "New failure" in body
    wait_until(lambda: settled(service))
    assert service.svc.store.counts().get("failed", 0) == 0


def test_an_invalid_policy_is_named_in_a_check_run_and_nothing_else_is_written(
    sim: GitHubSim, service: Service
) -> None:
    # A typo must not make CI Medic write where a maintainer meant to restrict it (dry-run), but the owners
    # must see why it stays quiet: the check run, the least intrusive output, names the error.
    sim.add_file(REPO, ".github/cimedic.yml", "outputs:\n  coment: false\n")
    green_base(sim, ["test"])
    send_job(service, sim, sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL))
    checks = wait_until(lambda: sim.checks_on(REPO, SHA))
    wait_until(lambda: settled(service))
    assert len(checks) == 1 and ".github/cimedic.yml ignored" in checks[0]["output"]["summary"]
    assert sim.comments_on(REPO, 12) == []
    outcomes = {(e.action, e.outcome) for e in service.svc.audit.entries(repo=REPO)}
    assert ("check_run.created", "done") in outcomes and ("comment.dry-run", "dry-run") in outcomes


TS_FAIL = """\
2024-05-01T10:00:00.0000000Z ##[group]Run npx tsc --noEmit
2024-05-01T10:00:03.0000000Z src/ui/app.ts(3,7): error TS2322: Type 'string' is not assignable to 'number'.
2024-05-01T10:00:03.0000000Z ##[error]Process completed with exit code 2.
"""


def red_base(sim: GitHubSim, log: str, *, green_first: bool = True) -> dict[str, Any]:
    """The base branch's history as GitHub has it, none of it ever delivered to us: green, then red."""
    if green_first:
        green_base(sim, ["test"])
    run = sim.add_run(REPO, head_sha="c0" * 20, head_branch="main", event="push")
    return sim.add_job(run, "test", log=log)


@pytest.mark.parametrize(
    ("base_log", "green_first", "label"),
    [
        (PYTEST_FAIL, True, "Broken trunk"),  # red with the same failure
        (TS_FAIL, True, "New failure"),  # red with another failure: the baseline is the newest green
        (TS_FAIL, False, "Cause unclear"),  # never green
    ],
)
def test_the_base_branch_is_read_from_github_when_we_never_saw_it(
    sim: GitHubSim, service: Service, base_log: str, green_first: bool, label: str
) -> None:
    base_job = red_base(sim, base_log, green_first=green_first)
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    before = len(sim.api_calls())
    send_job(service, sim, job)
    body = wait_until(lambda: sticky(sim))[0]["body"]
    assert label in body
    if label == "Broken trunk":
        assert base_job["html_url"] in body
    if label == "Cause unclear":
        assert "No successful run of this job on \\`main\\`" in body
    wait_until(lambda: settled(service))
    reads = [c for c in sim.api_calls()[before:] if c[0] == "GET" and "/actions/" in c[1]]
    # With a green base branch: the run, the job log, the base runs (one page), the green run's jobs and the
    # green log (5). A red base branch may add the red run's jobs and the red log: two calls at most.
    assert len(reads) <= 7, reads


def test_an_expired_log_ends_in_a_short_comment_not_silence(sim: GitHubSim, service: Service) -> None:
    # GitHub keeps logs for a limited time; a redelivered old job's log answers 410: permanent, said once.
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    sim.fail("GET", rf"/actions/jobs/{job['id']}/logs$", status=410, times=100)
    send_job(service, sim, job)
    body = wait_until(lambda: sticky(sim))[0]["body"]
    assert "log is no longer available" in body
    wait_until(lambda: settled(service))
    log_calls = [c for c in sim.api_calls() if c[1].endswith(f"/actions/jobs/{job['id']}/logs")]
    assert len(log_calls) == 1  # permanent: not retried


def test_a_permanent_error_is_not_retried(sim: GitHubSim, service: Service) -> None:
    green_base(sim, ["test"])
    job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
    sim.fail("GET", rf"/actions/jobs/{job['id']}/logs$", status=403, times=100)  # no actions: read
    send_job(service, sim, job)
    wait_until(lambda: service.svc.store.counts().get("failed", 0) == 1, timeout=30)
    assert len([c for c in sim.api_calls() if c[1].endswith(f"/actions/jobs/{job['id']}/logs")]) == 1
