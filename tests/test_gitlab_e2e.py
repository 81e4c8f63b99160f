"""End to end through HTTP: a GitLab Job Hook in, one sticky MR note and the `cimedic` status out of the
GitLab simulator (python-gitlab talks to it for real). The service runs for real (uvicorn, SQLite, worker
threads, the real engine); GitHub is configured too, as `cimedic serve` would run with both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from github_sim import Service, new_sim, service_env, wait_until
from gitlab_sim import BOT, WEBHOOK_TOKEN, GitLabSim, delivery, job_hook, pipeline_hook

from actions.github_comment import MARKER
from webhooks.store import JobResult, job_results

SHA = "b2" * 20
PYTEST_FAIL = """\
section_start:1714557600:step_script\r\x1b[0KExecuting "step_script" stage of the job script
$ python -m pytest
============================= FAILURES =============================
___________________________ test_add ___________________________
    def test_add():
>       assert add(1, 2) == 4
E       assert 3 == 4
tests/test_math.py:5: AssertionError
=========================== short test summary info ============================
FAILED tests/test_math.py::test_add - assert 3 == 4
========================= 1 failed, 3 passed in 0.12s =========================
section_end:1714557601:step_script\r\x1b[0K
ERROR: Job failed: exit code 1
"""
GREEN = "$ python -m pytest\n4 passed in 0.10s\nJob succeeded\n"
INFRA_FAIL = """\
Running with gitlab-runner 17.0.0 (44feccdf)
WARNING: Job failed: execution took longer than 1h0m0s seconds
ERROR: Job failed: execution took longer than 1h0m0s seconds
"""


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


@pytest.fixture(params=["embedded", pytest.param("postgres+redis", marks=pytest.mark.slow)])
def service(request: pytest.FixtureRequest, sim: GitLabSim, tmp_path: Path) -> Iterator[Service]:
    """The embedded default (SQLite, worker threads in the intake's process), or PostgreSQL (store) + Redis
    (queue) with the intake alone and two `cimedic worker` processes, as on GitHub (tests/test_gh_e2e.py)."""
    gh = new_sim()
    gitlab = {
        "CIMEDIC_GITLAB_URL": sim.url,
        "CIMEDIC_GITLAB_TOKEN": sim.token,
        "CIMEDIC_GITLAB_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    }
    if request.param == "embedded":
        svc = Service(service_env(gh, tmp_path, **gitlab))
        yield svc
        svc.close()
        gh.stop()
        return
    from test_gh_workers import _redis_up, start_worker
    from test_kb_support import postgres_database

    if not _redis_up():
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    with postgres_database() as url:
        env = service_env(gh, tmp_path, database_url=url, redis_url="redis://127.0.0.1:6379/0", **gitlab)
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
            gh.stop()


def post(service: Service, headers: dict[str, str], body: bytes) -> int:
    return service.http.post("/webhooks/gitlab", headers=headers, content=body).status_code


def scenario(sim: GitLabSim, *, trace: str = PYTEST_FAIL, base: str | None = GREEN) -> tuple[int, dict, dict]:
    project = sim.add_project("acme/shop")
    pid = project["id"]
    if base is not None:
        green = sim.add_pipeline(
            pid, ref="main", sha="c3" * 20, status="success" if base == GREEN else "failed"
        )
        sim.add_job(green, "pytest", status="success" if base == GREEN else "failed", trace=base)
    sim.add_mr(pid, 4, source_branch="feature", sha=SHA)
    pipeline = sim.add_pipeline(pid, ref="refs/merge-requests/4/head", sha=SHA)
    job = sim.add_job(pipeline, "pytest", status="failed", trace=trace)
    return pid, pipeline, job


def test_new_failure_one_note_and_a_status_and_duplicates_change_nothing(
    sim: GitLabSim, service: Service
) -> None:
    pid, _pipeline, job = scenario(sim)
    sim.add_note_by(pid, 4, f"{MARKER}\nquoted by a person", "someone")
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    notes = wait_until(
        lambda: [n for n in sim.notes_on(pid, 4) if n["author"]["username"] == BOT["username"]]
    )
    assert len(notes) == 1
    text = notes[0]["body"]
    assert MARKER in text and "New failure" in text and "assert 3 == 4" in text
    wait_until(lambda: sim.statuses)
    assert sim.statuses[-1]["name"] == "cimedic" and sim.statuses[-1]["state"] == "failed"
    # GitLab retries the same delivery (same Idempotency-Key) and sends the job again under a new key.
    assert post(service, headers, body) == 200
    again, body2 = delivery("Job Hook", job_hook(sim, job))
    assert post(service, again, body2) == 200
    time.sleep(1.0)
    assert len(sim.notes_on(pid, 4)) == 2  # ours and the person's, untouched
    assert len(sim.statuses) == 1
    mine = [n for n in sim.notes_on(pid, 4) if n["author"]["username"] == BOT["username"]]
    assert mine[0]["body"] == text
    entries = service.svc.audit.entries()
    assert {e.action for e in entries} >= {"note.created", "commit_status.created"}


def test_gitlab_5xx_and_429_are_retried(sim: GitLabSim, service: Service) -> None:
    pid, _pipeline, job = scenario(sim)
    sim.fail("GET", r"/jobs/\d+/trace$", 502, times=2)
    sim.fail("POST", r"/merge_requests/4/notes$", 429, times=1, headers={"Retry-After": "1"})
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    wait_until(lambda: sim.notes_on(pid, 4))
    statuses = [c[2] for c in sim.api_calls()]
    assert 502 in statuses and 429 in statuses
    assert len(sim.notes_on(pid, 4)) == 1


def test_broken_target_branch(sim: GitLabSim, service: Service) -> None:
    pid, _pipeline, job = scenario(sim, base=PYTEST_FAIL)
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    notes = wait_until(lambda: sim.notes_on(pid, 4))
    assert "Broken trunk" in notes[0]["body"]


def test_flaky_retry_by_policy_once_then_marked_flaky(sim: GitLabSim, service: Service) -> None:
    pid, pipeline, job = scenario(sim, trace=INFRA_FAIL)
    sim.add_file(pid, ".gitlab/cimedic.yml", "rerun: [infrastructure, flaky]\n")
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    wait_until(lambda: sim.retried, timeout=15)
    assert sim.retried == [job["id"]]
    retried = sim.add_job(pipeline, "pytest", status="success", trace=GREEN)
    headers, body = delivery("Job Hook", job_hook(sim, retried, retries_count=1))
    assert post(service, headers, body) == 202
    wait_until(lambda: any("Flaky" in n["body"] for n in sim.notes_on(pid, 4)))
    assert sim.retried == [job["id"]]
    assert len(sim.notes_on(pid, 4)) == 1


def test_forked_project_mr_is_noted_in_the_target_project(sim: GitLabSim, service: Service) -> None:
    upstream = sim.add_project("acme/shop")
    fork = sim.add_project("alice/shop")
    green = sim.add_pipeline(fork["id"], ref="main", sha="c3" * 20, status="success")
    sim.add_job(green, "pytest", status="success", trace=GREEN)
    sim.add_mr(upstream["id"], 9, source_branch="fix", sha=SHA, source_project_id=fork["id"])
    pipeline = sim.add_pipeline(fork["id"], ref="fix", sha=SHA)
    job = sim.add_job(pipeline, "pytest", status="failed", trace=PYTEST_FAIL)
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    notes = wait_until(lambda: sim.notes_on(upstream["id"], 9))
    assert MARKER in notes[0]["body"]


def test_pipeline_success_marks_the_note_resolved(sim: GitLabSim, service: Service) -> None:
    pid, _pipeline, job = scenario(sim)
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    wait_until(lambda: sim.notes_on(pid, 4))
    fixed = sim.add_pipeline(pid, ref="refs/merge-requests/4/head", sha="d4" * 20, status="success")
    sim.add_job(fixed, "pytest", status="success", trace=GREEN)
    mr = sim.mrs[(pid, 4)]
    mr["sha"] = fixed["sha"]
    headers, body = delivery("Pipeline Hook", pipeline_hook(sim, fixed, mr))
    assert post(service, headers, body) == 202
    wait_until(lambda: "all jobs pass" in sim.notes_on(pid, 4)[0]["body"])


def test_wrong_token_401_and_ignored_events_200(sim: GitLabSim, service: Service) -> None:
    _pid, _pipeline, job = scenario(sim)
    headers, body = delivery("Job Hook", job_hook(sim, job), token="wrong")
    assert post(service, headers, body) == 401
    headers, body = delivery("Job Hook", job_hook(sim, job), token=None)
    assert post(service, headers, body) == 401
    running = dict(job_hook(sim, job), build_status="running")
    headers, body = delivery("Job Hook", running)
    assert post(service, headers, body) == 200
    headers, _ = delivery("Push Hook", {})
    assert post(service, headers, b"not json") == 200


def test_two_job_pipeline_api_calls(sim: GitLabSim, service: Service) -> None:
    """The budget of the issue: at most 8 GitLab API calls per failed job on a two-job pipeline."""
    pid, pipeline, job = scenario(sim)
    sim.add_job(sim.pipelines[min(sim.pipelines)], "lint", status="success", trace=GREEN)
    second = sim.add_job(pipeline, "lint", status="failed", trace=PYTEST_FAIL.replace("test_add", "test_sub"))
    for j in (job, second):
        headers, body = delivery("Job Hook", job_hook(sim, j))
        assert post(service, headers, body) == 202
    wait_until(lambda: sim.notes_on(pid, 4) and "2 failed jobs" in sim.notes_on(pid, 4)[0]["body"])
    wait_until(lambda: sim.statuses)
    time.sleep(1.0)
    calls = sim.api_calls()
    assert len(calls) / 2 <= 8, calls


def test_a_github_repo_of_the_same_name_is_not_this_projects_history(
    sim: GitLabSim, service: Service
) -> None:
    """`acme/shop` on GitHub and `acme/shop` on GitLab are two repositories: the GitHub one's broken `main`
    must not make a GitLab merge request's failure "broken trunk" (our record keys GitLab projects
    `gitlab:...`)."""
    pid, _pipeline, job = scenario(sim)
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    wait_until(lambda: sim.notes_on(pid, 4))
    store = service.svc.store
    with store.engine.connect() as conn:
        fingerprint, sig = conn.execute(
            sa.select(job_results.c.fingerprint, job_results.c.signature).where(
                job_results.c.job_id == job["id"]
            )
        ).one()
    # The same failure on GitHub's `acme/shop` main, recorded as the GitHub handlers record a workflow job.
    store.save_result(
        JobResult(
            repo="acme/shop",
            job_id=99001,
            run_id=99000,
            run_attempt=1,
            head_sha="e5" * 20,
            head_branch="main",
            job_name="pytest",
            workflow_name="CI",
            conclusion="failure",
            fingerprint=fingerprint,
            signature=sig,
            verdict="new",
            diagnosis=None,
            html_url="https://github.com/acme/shop/actions/runs/99000/job/99001",
            pull_requests=[],
            completed_at=None,
            updated_at=time.time(),
        )
    )
    sha = "f6" * 20
    sim.add_mr(pid, 5, source_branch="other", sha=sha)
    second = sim.add_job(
        sim.add_pipeline(pid, ref="refs/merge-requests/5/head", sha=sha),
        "pytest",
        status="failed",
        trace=PYTEST_FAIL,
    )
    headers, body = delivery("Job Hook", job_hook(sim, second))
    assert post(service, headers, body) == 202
    text = wait_until(lambda: sim.notes_on(pid, 5))[0]["body"]
    assert "New failure" in text and "Broken trunk" not in text and "github.com" not in text


def test_a_502_after_gitlab_wrote_the_note_gives_one_note(sim: GitLabSim, service: Service) -> None:
    """A proxy's 502 can come after GitLab created the note: creating it again would make two. The attempt
    fails instead, and the next one finds the note by its marker."""
    pid, _pipeline, job = scenario(sim)
    sim.fail("POST", r"/merge_requests/4/notes$", 502, carried_out=True)
    headers, body = delivery("Job Hook", job_hook(sim, job))
    assert post(service, headers, body) == 202
    wait_until(lambda: sim.statuses, timeout=30)  # written after the note, by the attempt that succeeded
    assert ("POST", f"/api/v4/projects/{pid}/merge_requests/4/notes", 502) in sim.api_calls()
    time.sleep(1.0)
    assert len(sim.notes_on(pid, 4)) == 1
