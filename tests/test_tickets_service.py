"""Tickets and chat messages from the service, end to end: signed deliveries in through HTTP, the real worker,
the real `jira` package and Linear client against their simulators, Slack and Teams against the chat receiver.

Nothing on our side is mocked: the service is the one `cimedic serve` runs (uvicorn, SQLite, worker threads).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_sim.server import ChatSim
from github_sim import GitHubSim, Service, delivery, job_payload, new_sim, service_env, wait_until
from gitlab_sim import WEBHOOK_TOKEN, GitLabSim, job_hook
from gitlab_sim import delivery as gitlab_delivery
from jira_sim.server import JiraSim
from linear_sim.server import LinearSim

from actions.github_comment import MARKER

REPO = "octo/app"
PYTEST_FAIL = """\
2024-05-01T10:00:00.0000000Z ##[group]Run python -m pytest
2024-05-01T10:00:01.0000000Z ___________________________ test_add ___________________________
2024-05-01T10:00:01.0000000Z >       assert add(1, 2) == 4
2024-05-01T10:00:01.0000000Z E       assert 3 == 4
2024-05-01T10:00:01.0000000Z tests/test_math.py:5: AssertionError
2024-05-01T10:00:01.0000000Z FAILED tests/test_math.py::test_add - assert 3 == 4
2024-05-01T10:00:01.0000000Z ========================= 1 failed, 3 passed in 0.12s =========================
2024-05-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.
"""
GREEN = "2024-05-01T09:00:00.0000000Z ##[group]Run python -m pytest\n4 passed in 0.10s\n"
JIRA_POLICY = "tickets:\n  tracker: jira\nnotify:\n  slack: true\n  teams: true\n"


@pytest.fixture
def jira() -> Iterator[JiraSim]:
    # Search lags a minute behind a create, as Jira Cloud's may: only our record keeps it to one ticket.
    sim = JiraSim(index_delay_s=60).start()
    yield sim
    sim.stop()
    assert sim.unexpected == []


@pytest.fixture
def chat() -> Iterator[ChatSim]:
    sim = ChatSim().start()
    yield sim
    sim.stop()
    assert sim.unexpected == []


@pytest.fixture
def github() -> Iterator[GitHubSim]:
    sim = new_sim()
    sim.add_repo(REPO)
    yield sim
    sim.stop()


def tracker_env(monkeypatch: pytest.MonkeyPatch, jira: JiraSim, chat: ChatSim) -> None:
    """The tracker and chat settings, read by the service when it is built (as `cimedic serve` does)."""
    for name, value in {
        "CIMEDIC_JIRA_URL": jira.url,
        "CIMEDIC_JIRA_EMAIL": jira.email,
        "CIMEDIC_JIRA_TOKEN": jira.token,
        "CIMEDIC_JIRA_PROJECT": jira.project,
        "CIMEDIC_TRACKER_TIMEOUT_SECONDS": "3",
        "CIMEDIC_TRACKER_ATTEMPTS": "2",
        "CIMEDIC_TRACKER_RETRY_BASE_SECONDS": "0.01",
        "CIMEDIC_SLACK_WEBHOOK_URL": chat.slack_url,
        "CIMEDIC_TEAMS_WEBHOOK_URL": chat.teams_url,
        "CIMEDIC_NOTIFY_RETRY_BASE_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def service(
    monkeypatch: pytest.MonkeyPatch, github: GitHubSim, jira: JiraSim, chat: ChatSim, tmp_path: Path
) -> Iterator[Service]:
    tracker_env(monkeypatch, jira, chat)
    svc = Service(service_env(github, tmp_path))
    yield svc
    svc.close()


def send(service: Service, sim: GitHubSim, job: dict[str, Any]) -> None:
    headers, body = delivery("workflow_job", job_payload(sim, job))
    assert service.post(headers, body).status_code == 202


def settled(service: Service) -> bool:
    inbox = service.svc.inbox
    if inbox is not None and inbox.waiting()[0]:
        return False
    counts = service.svc.store.counts()
    return counts.get("queued", 0) == 0 and counts.get("running", 0) == 0


def sticky(sim: GitHubSim, number: int) -> list[dict[str, Any]]:
    return [c for c in sim.comments_on(REPO, number) if MARKER in c["body"]]


def broken_trunk(sim: GitHubSim, service: Service) -> None:
    """main was green, then fails: a failure that pull requests then inherit (verdict broken trunk)."""
    green = sim.add_run(REPO, head_sha="b0" * 20, head_branch="main", event="push", conclusion="success")
    sim.add_job(green, "test", log=GREEN, conclusion="success")
    red = sim.add_run(REPO, head_sha="c0" * 20, head_branch="main", event="push")
    send(service, sim, sim.add_job(red, "test", log=PYTEST_FAIL))
    wait_until(lambda: settled(service) and service.svc.store.results_for_sha(REPO, "c0" * 20))


def pr_failure(sim: GitHubSim, service: Service, number: int, sha: str) -> dict[str, Any]:
    sim.add_pull(REPO, number, head_sha=sha, head_ref=f"feature-{number}")
    run = sim.add_run(REPO, head_sha=sha, head_branch=f"feature-{number}", pulls=[number])
    job = sim.add_job(run, "test", log=PYTEST_FAIL)
    send(service, sim, job)
    return job


def actions(service: Service) -> list[tuple[str, str]]:
    return [(e.action, e.outcome) for e in reversed(service.svc.audit.entries(repo=REPO, limit=500))]


def test_broken_trunk_files_one_ticket_linked_from_the_comment_and_recurrences_comment_on_it(
    github: GitHubSim, jira: JiraSim, chat: ChatSim, service: Service
) -> None:
    github.add_file(REPO, ".github/cimedic.yml", JIRA_POLICY)
    broken_trunk(github, service)
    first = pr_failure(github, service, 12, "a1" * 20)
    body = wait_until(lambda: [c for c in sticky(github, 12) if "Tracked in" in c["body"]])[0]["body"]
    [issue] = jira.issues.values()
    assert f"Tracked in [{issue['key']}]({jira.url}/browse/{issue['key']})" in body
    assert "Broken trunk" in body
    assert issue["labels"][0] == "cimedic" and issue["labels"][1].startswith("cimedic-")
    assert first["html_url"] in issue["description"]
    wait_until(lambda: chat.slack and chat.teams)

    second = pr_failure(github, service, 13, "a2" * 20)
    wait_until(lambda: len(jira.comments(issue["key"])) == 1 and settled(service))
    assert len(jira.issues) == 1  # the search still lags: our own record found the ticket
    [comment] = jira.comments(issue["key"])
    assert "Occurrences so far: 2" in comment and second["html_url"] in comment
    assert "Tracked in" in wait_until(lambda: sticky(github, 13))[0]["body"]
    assert len(chat.slack) == 1 and len(chat.teams) == 1  # once per fingerprint per period
    # A re-delivery of the same job adds nothing.
    send(service, github, second)
    wait_until(lambda: settled(service))
    time.sleep(0.5)
    assert len(jira.comments(issue["key"])) == 1 and len(sticky(github, 13)) == 1
    done = actions(service)
    assert ("ticket.create", "done") in done and ("ticket.comment", "done") in done
    assert ("notify.slack", "done") in done and ("notify.teams", "done") in done


def test_a_tracker_outage_keeps_the_comment_with_a_note_and_the_next_occurrence_files_once(
    github: GitHubSim, jira: JiraSim, service: Service
) -> None:
    github.add_file(REPO, ".github/cimedic.yml", "tickets: {tracker: jira}\n")
    jira.fail("POST", r"/rest/api/2/issue$", status=503, times=2)  # both tries of the create refused
    broken_trunk(github, service)
    failed = pr_failure(github, service, 12, "a1" * 20)
    comment = wait_until(lambda: [c for c in sticky(github, 12) if "Ticket:" in c["body"]])[0]
    assert "Jira could not be updated" in comment["body"] and "Broken trunk" in comment["body"]
    assert jira.issues == {}
    assert ("ticket.create", "error") in actions(service)

    # Jira is back: the next occurrence files the ticket, and the comment is updated in place.
    rerun = github.add_run(
        REPO, head_sha="a1" * 20, head_branch="feature-12", pulls=[12], run_attempt=2, run_id=failed["run_id"]
    )
    send(service, github, github.add_job(rerun, "test", log=PYTEST_FAIL))
    updated = wait_until(lambda: [c for c in sticky(github, 12) if "Tracked in" in c["body"]])
    assert [c["id"] for c in updated] == [comment["id"]] and "Ticket:" not in updated[0]["body"]
    assert len(jira.issues) == 1


def test_a_create_in_doubt_is_not_repeated_and_the_ticket_is_found_later(
    github: GitHubSim, jira: JiraSim, service: Service
) -> None:
    github.add_file(REPO, ".github/cimedic.yml", "tickets: {tracker: jira}\n")
    # The create is carried out, but the answer comes after the client's timeout (3 s).
    jira.fail("POST", r"/rest/api/2/issue$", status=None, delay_s=4, after=True)
    broken_trunk(github, service)
    pr_failure(github, service, 12, "a1" * 20)
    wait_until(lambda: [c for c in sticky(github, 12) if "being filed" in c["body"]], timeout=20)
    assert len(jira.issues) == 1
    assert len(jira.requests("POST", r"/rest/api/2/issue$")) == 1  # never repeated blind
    assert ("ticket.create", "pending") in actions(service)


def test_green_again_on_the_default_branch_comments_and_transitions(
    github: GitHubSim, jira: JiraSim, service: Service
) -> None:
    github.add_file(
        REPO,
        ".github/cimedic.yml",
        "tickets:\n  tracker: jira\n  min_occurrences: 1\n  on_green: {comment: true, transition: Done}\n",
    )
    broken_trunk(github, service)  # seen once on main: filed by count
    [issue] = wait_until(lambda: list(jira.issues.values()))
    fixed = github.add_run(REPO, head_sha="d0" * 20, head_branch="main", event="push", conclusion="success")
    send(service, github, github.add_job(fixed, "test", log=GREEN, conclusion="success"))
    wait_until(lambda: jira.issues[issue["key"]]["status"] == "Done")
    [comment] = jira.comments(issue["key"])
    assert "is green again" in comment
    # The audit row is written once Jira has answered the transition, so after the simulator's status changed.
    assert wait_until(lambda: ("ticket.transition", "done") in actions(service))


@pytest.mark.parametrize("when_done", ["reopen", "link"])
def test_a_ticket_closed_as_done_is_reopened_or_followed_by_a_linked_one_when_the_failure_returns(
    github: GitHubSim, jira: JiraSim, service: Service, when_done: str
) -> None:
    github.add_file(REPO, ".github/cimedic.yml", f"tickets: {{tracker: jira, when_done: {when_done}}}\n")
    broken_trunk(github, service)
    pr_failure(github, service, 12, "a1" * 20)
    [issue] = wait_until(lambda: list(jira.issues.values()))
    wait_until(lambda: settled(service))
    jira.resolve(issue["key"], "Done")
    pr_failure(github, service, 13, "a2" * 20)
    if when_done == "reopen":
        wait_until(lambda: jira.issues[issue["key"]]["status"] == "To Do")
        # The reopen transition lands before its comment: wait for the comment too.
        comments = wait_until(lambda: jira.comments(issue["key"]))
        assert len(jira.issues) == 1 and "Reopened by CI Medic" in comments[0]
        assert wait_until(lambda: ("ticket.reopen", "done") in actions(service))
    else:
        wait_until(lambda: len(jira.issues) == 2 and jira.links)
        [successor] = [k for k in jira.issues if k != issue["key"]]
        note = wait_until(lambda: [c for c in sticky(github, 13) if f"Tracked in [{successor}]" in c["body"]])
        assert note and jira.links[0]["type"] == "Relates"


def test_dry_run_writes_nothing_and_audits_what_would_have_been_written(
    github: GitHubSim, jira: JiraSim, chat: ChatSim, service: Service
) -> None:
    github.add_file(REPO, ".github/cimedic.yml", "dry_run: true\n" + JIRA_POLICY)
    broken_trunk(github, service)
    pr_failure(github, service, 12, "a1" * 20)
    wait_until(lambda: ("ticket.create", "dry-run") in actions(service) and settled(service))
    assert jira.issues == {} and chat.slack == [] and chat.teams == []
    assert jira.requests("POST", r"/issue") == []  # no create, comment, transition or link
    assert ("notify.slack", "dry-run") in actions(service)


# --- GitLab, with Linear --------------------------------------------------------------------------------


@pytest.fixture
def gitlab() -> Iterator[GitLabSim]:
    sim = GitLabSim().start()
    yield sim
    sim.stop()


@pytest.fixture
def linear() -> Iterator[LinearSim]:
    sim = LinearSim().start()
    yield sim
    sim.stop()
    assert sim.unexpected == []


def test_gitlab_broken_target_branch_files_one_linear_issue_linked_from_the_mr_note(
    monkeypatch: pytest.MonkeyPatch, gitlab: GitLabSim, linear: LinearSim, tmp_path: Path
) -> None:
    monkeypatch.setenv("CIMEDIC_LINEAR_URL", linear.url + "/graphql")
    monkeypatch.setenv("CIMEDIC_LINEAR_API_KEY", linear.api_key)
    monkeypatch.setenv("CIMEDIC_LINEAR_TEAM", linear.team_key)
    gh = new_sim()
    env = service_env(
        gh,
        tmp_path,
        CIMEDIC_GITLAB_URL=gitlab.url,
        CIMEDIC_GITLAB_TOKEN=gitlab.token,
        CIMEDIC_GITLAB_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
    )
    service = Service(env)
    try:
        project = gitlab.add_project("acme/shop")
        pid = project["id"]
        gitlab.add_file(pid, ".gitlab/cimedic.yml", "tickets: {tracker: linear}\n")
        base = gitlab.add_pipeline(pid, ref="main", sha="c3" * 20, status="failed")
        gitlab.add_job(base, "pytest", status="failed", trace=PYTEST_FAIL)
        for iid, sha in ((4, "b2" * 20), (5, "b3" * 20)):
            gitlab.add_mr(pid, iid, source_branch=f"feature-{iid}", sha=sha)
            pipeline = gitlab.add_pipeline(pid, ref=f"refs/merge-requests/{iid}/head", sha=sha)
            job = gitlab.add_job(pipeline, "pytest", status="failed", trace=PYTEST_FAIL)
            headers, body = gitlab_delivery("Job Hook", job_hook(gitlab, job))
            assert service.http.post("/webhooks/gitlab", headers=headers, content=body).status_code == 202
            note = wait_until(
                lambda iid=iid: [n for n in gitlab.notes_on(pid, iid) if "Tracked in" in n["body"]]
            )[0]["body"]
        [issue] = linear.issues.values()
        assert f"Tracked in [{issue['identifier']}]({issue['url']})" in note
        wait_until(lambda: len(linear.comments(issue["identifier"])) == 1)
        assert "Occurrences so far: 2" in linear.comments(issue["identifier"])[0]
    finally:
        service.close()
        gh.stop()
