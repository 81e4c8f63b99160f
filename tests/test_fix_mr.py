"""Draft fix merge requests on GitLab, end to end through the HTTP intake.

A Job Hook in; out, the checked fix as one commit (Commits API, `start_sha`) on `cimedic/fix-<fingerprint>`
and a draft MR onto the MR's branch, linked from the sticky note. `/cimedic fix` arrives as a Note Hook
(GitLab's documented "Comment on a merge request" example) from a Developer. Each guard is exercised: a
Reporter, our own bot, a second request, a person's push, a fork, nothing to fix, a lost answer. The GitLab
simulator's endpoints follow docs.gitlab.com/api (tests/gitlab_sim).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_sim import Service, new_sim, service_env, wait_until
from gitlab_sim import BOT, WEBHOOK_TOKEN, GitLabSim, delivery, job_hook, note_hook
from test_fix_service import MAIN_PY, TRACEBACK
from test_gh_e2e import settled
from test_gitlab_e2e import GREEN, PYTEST_FAIL

from actions.fix_request import BRANCH_PREFIX
from actions.github_comment import MARKER, FailedJob
from actions.policy import parse_policy
from agent.engine import analyze
from agent.fixes import suggest
from agent.models import Verdict
from agent.pipeline import prompt_lines
from webhooks.gitlab import MergeRequestRef
from webhooks.gitlab_files import GitLabFiles
from webhooks.gitlab_fix_outputs import publish_fix_mrs
from webhooks.gitlab_forge import connect
from webhooks.store import Claimed

SHA = "b2" * 20
TRUNK = "c3" * 20
FIXED = MAIN_PY.replace("{averge:", "{average:")
TRACE = (
    TRACEBACK.replace("/home/runner/work/app/app/", "/builds/acme/shop/") + "ERROR: Job failed: exit code 1\n"
)
OPT_IN = "fixes:\n  pull_request: true\n"
DEVELOPER, REPORTER = (41, "dev"), (42, "reporter")


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


@pytest.fixture
def service(sim: GitLabSim, tmp_path: Path) -> Iterator[Service]:
    gh = new_sim()
    svc = Service(
        service_env(
            gh,
            tmp_path,
            CIMEDIC_GITLAB_URL=sim.url,
            CIMEDIC_GITLAB_TOKEN=sim.token,
            CIMEDIC_GITLAB_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            CIMEDIC_RETRY_BASE_SECONDS="0.2",
        )
    )
    yield svc
    svc.close()
    gh.stop()


def project(sim: GitLabSim, path: str = "acme/shop", *, policy: str | None = None, trunk: str = TRUNK) -> int:
    """A project whose `main` passes its `run` job; `feature` adds app/main.py (and a script beside it)."""
    pid = int(sim.add_project(path)["id"])
    files = {"README.md": "hello\n"} | ({".gitlab/cimedic.yml": policy} if policy else {})
    sim.add_commit(pid, files, sha=trunk, branch="main")
    sim.add_job(
        sim.add_pipeline(pid, ref="main", sha=trunk, status="success"), "run", status="success", trace=GREEN
    )
    sim.add_commit(
        pid, {"app/main.py": MAIN_PY, "run.sh": "#!/bin/sh\n"}, parent=trunk, sha=SHA, branch="feature"
    )
    sim.add_member(pid, *DEVELOPER, 30)
    sim.add_member(pid, *REPORTER, 20)
    return pid


def failing_mr(sim: GitLabSim, pid: int, *, trace: str = TRACE, iid: int = 4) -> tuple[dict[str, Any], dict]:
    mr = sim.add_mr(pid, iid, source_branch="feature", sha=SHA)
    job = sim.add_job(
        sim.add_pipeline(pid, ref=f"refs/merge-requests/{iid}/head", sha=SHA),
        "run",
        status="failed",
        trace=trace,
    )
    return mr, job


def post(service: Service, event: str, payload: dict[str, Any]) -> int:
    headers, body = delivery(event, payload)
    return service.http.post("/webhooks/gitlab", headers=headers, content=body).status_code


def ask(
    service: Service, sim: GitLabSim, mr: dict[str, Any], who: tuple[int, str], body: str = "/cimedic fix"
) -> int:
    return post(service, "Note Hook", note_hook(sim, mr, body, user_id=who[0], username=who[1]))


def sticky(sim: GitLabSim, pid: int, iid: int = 4) -> str:
    mine = [
        n
        for n in sim.notes_on(pid, iid)
        if MARKER in n["body"] and n["author"]["username"] == BOT["username"]
    ]
    return str(mine[0]["body"]) if mine else ""


def fix_mrs(sim: GitLabSim) -> list[dict[str, Any]]:
    return [m for _k, m in sorted(sim.mrs.items()) if m["source_branch"].startswith(BRANCH_PREFIX)]


def writes(sim: GitLabSim) -> list[tuple[str, str]]:
    """Our writes to the repository and its merge requests (notes and statuses aside)."""
    return [
        (m, p)
        for m, p, _s in sim.api_calls()
        if m in ("POST", "PUT", "DELETE")
        and ("/repository/" in p or p.endswith("/merge_requests") or p.endswith("/merge"))
    ]


def audit(service: Service) -> list[Any]:
    return list(service.svc.audit.entries())


def actions(service: Service) -> list[str]:
    return [e.action for e in audit(service)]


def diagnosed(service: Service, sim: GitLabSim, pid: int, job: dict[str, Any]) -> str:
    assert post(service, "Job Hook", job_hook(sim, job)) == 202
    body = wait_until(lambda: sticky(sim, pid))
    wait_until(lambda: settled(service))
    return body


def test_a_developers_fix_command_opens_one_draft_mr_with_the_commit(
    sim: GitLabSim, service: Service
) -> None:
    pid = project(sim)
    mr, job = failing_mr(sim, pid)
    assert "Suggested patch" in diagnosed(service, sim, pid, job) and fix_mrs(sim) == []
    first = note_hook(sim, mr, "/cimedic fix", user_id=DEVELOPER[0], username=DEVELOPER[1])
    assert post(service, "Note Hook", first) == 202
    [fix] = wait_until(lambda: fix_mrs(sim))
    wait_until(lambda: settled(service) and fix["web_url"] in sticky(sim, pid))
    assert "**Draft fix MR:**" in sticky(sim, pid)
    assert fix["draft"] is True and fix["title"].startswith("Draft: CI Medic: ")
    assert fix["target_branch"] == "feature" and fix["author"]["username"] == BOT["username"]
    assert "!4" in fix["description"] and "Suggested patch" in fix["description"]
    commit = sim.commits[sim.branches[(pid, fix["source_branch"])]]
    assert commit["parent_ids"] == [SHA]
    assert commit["_files"]["app/main.py"] == FIXED and commit["_files"]["run.sh"] == "#!/bin/sh\n"
    made = writes(sim)
    assert made == [
        ("POST", f"/api/v4/projects/{pid}/repository/commits"),
        ("POST", f"/api/v4/projects/{pid}/merge_requests"),
    ]  # one commit that makes the branch, one MR: no branch moved, nothing merged
    # Asked again (a new note), and GitLab delivering the first note again: still one MR, no new commit.
    assert post(service, "Note Hook", first) == 200  # the same note: a duplicate, whatever its delivery key
    assert ask(service, sim, mr, DEVELOPER) == 202
    wait_until(lambda: settled(service))
    assert len(fix_mrs(sim)) == 1 and writes(sim) == made
    assert actions(service).count("fix_mr.created") == 1


def test_a_reporter_and_our_own_bot_are_not_obeyed(sim: GitLabSim, service: Service) -> None:
    pid = project(sim)
    mr, job = failing_mr(sim, pid)
    diagnosed(service, sim, pid, job)
    assert ask(service, sim, mr, REPORTER) == 202
    assert ask(service, sim, mr, (BOT["id"], BOT["username"])) == 202
    assert ask(service, sim, mr, DEVELOPER, body="please /cimedic fix this") == 200  # not a command
    edited = note_hook(sim, mr, "/cimedic fix", user_id=DEVELOPER[0], username=DEVELOPER[1], action="update")
    assert post(service, "Note Hook", edited) == 200  # an edit is not a new request
    wait_until(lambda: settled(service) and actions(service).count("fix_mr.refused") == 2)
    reasons = sorted(str(e.detail["reason"]) for e in audit(service) if e.action == "fix_mr.refused")
    assert reasons == [
        "notes by bots are not commands",
        "reporter has less than Developer access to the project",
    ]
    assert fix_mrs(sim) == [] and writes(sim) == []


def test_by_policy_and_a_persons_push_onto_the_fix_branch_stops_every_write(
    sim: GitLabSim, service: Service
) -> None:
    pid = project(sim, policy=OPT_IN)
    mr, job = failing_mr(sim, pid)
    diagnosed(service, sim, pid, job)
    [fix] = wait_until(lambda: fix_mrs(sim))
    wait_until(lambda: settled(service) and fix["web_url"] in sticky(sim, pid))
    sim.push(pid, fix["source_branch"], {"app/main.py": FIXED + "# reviewed\n"})
    fix["state"] = "closed"  # closed meanwhile: without the guard a new one would be opened
    before = writes(sim)
    assert ask(service, sim, mr, DEVELOPER) == 202
    wait_until(lambda: settled(service) and "fix_mr.human-pushed" in actions(service))
    assert writes(sim) == before and len(fix_mrs(sim)) == 1
    assert fix["web_url"] not in sticky(sim, pid)  # no longer offered as ours
    # ...and from then on not even a look at the branch.
    sim.calls.clear()
    assert ask(service, sim, mr, DEVELOPER) == 202
    wait_until(lambda: settled(service) and actions(service).count("fix_mr.human-pushed") == 2)
    assert not [
        c for c in sim.api_calls() if "/repository/branches/" in c[1] or "/repository/commits" in c[1]
    ]


def test_a_fork_mr_gets_no_fix_mr(sim: GitLabSim, service: Service) -> None:
    """The MR lives in the upstream project, its branch and its pipeline in the fork."""
    upstream = project(sim)
    fork = project(sim, "alice/shop", policy=OPT_IN, trunk="c4" * 20)
    sim.add_file(upstream, "app/main.py", MAIN_PY, ref=SHA)  # a fork MR's commits are readable upstream
    mr = sim.add_mr(upstream, 9, source_branch="feature", sha=SHA, source_project_id=fork)
    job = sim.add_job(sim.add_pipeline(fork, ref="feature", sha=SHA), "run", status="failed", trace=TRACE)
    assert post(service, "Job Hook", job_hook(sim, job)) == 202
    wait_until(lambda: sticky(sim, upstream, 9))
    wait_until(lambda: settled(service) and "fix_mr.fork" in actions(service))
    assert ask(service, sim, mr, DEVELOPER) == 202
    wait_until(lambda: settled(service) and actions(service).count("fix_mr.fork") == 2)
    assert fix_mrs(sim) == [] and writes(sim) == []


def test_nothing_to_fix_is_said_once(sim: GitLabSim, service: Service) -> None:
    pid = project(sim)
    mr, job = failing_mr(sim, pid, trace=PYTEST_FAIL)  # an assertion: no fix-it in the log
    diagnosed(service, sim, pid, job)
    for _ in range(2):
        assert ask(service, sim, mr, DEVELOPER) == 202
        wait_until(lambda: settled(service))
    wait_until(lambda: actions(service).count("fix_mr.none") == 2)
    replies = [n for n in sim.notes_on(pid, 4) if MARKER not in n["body"]]
    assert len(replies) == 1 and replies[0]["author"]["username"] == BOT["username"]
    assert replies[0]["body"].startswith("@dev CI Medic has no checked fix") and SHA[:7] in replies[0]["body"]
    assert fix_mrs(sim) == [] and writes(sim) == []


def test_a_lost_answer_to_the_commit_is_recognised_as_ours(sim: GitLabSim, service: Service) -> None:
    """A proxy's 502 after GitLab made the branch: the retry finds our commit on it (its only parent the MR's
    head, our message), opens the MR on it, and makes no second commit."""
    pid = project(sim, policy=OPT_IN)
    sim.fail("POST", r"/repository/commits$", 502, carried_out=True)
    _mr, job = failing_mr(sim, pid)
    assert post(service, "Job Hook", job_hook(sim, job)) == 202
    [fix] = wait_until(lambda: fix_mrs(sim), timeout=30)
    wait_until(lambda: settled(service))
    assert [c[2] for c in sim.api_calls() if c[0] == "POST" and c[1].endswith("/repository/commits")] == [502]
    assert sim.commits[sim.branches[(pid, fix["source_branch"])]]["parent_ids"] == [SHA]
    assert "fix_mr.human-pushed" not in actions(service)


def test_a_fix_mr_does_not_need_the_note(sim: GitLabSim, service: Service) -> None:
    pid = project(sim, policy=OPT_IN + "outputs:\n  comment: false\n")
    _mr, job = failing_mr(sim, pid)
    assert post(service, "Job Hook", job_hook(sim, job)) == 202
    [fix] = wait_until(lambda: fix_mrs(sim))
    wait_until(lambda: settled(service))
    assert fix["draft"] is True and sim.notes_on(pid, 4) == []


def test_a_broken_trunk_is_fixed_on_the_default_branch(sim: GitLabSim, service: Service) -> None:
    """The verdict says the target branch fails the same way: the fix goes on the default branch's head."""
    pid = project(sim)
    trunk = sim.push(pid, "main", {"app/main.py": MAIN_PY})
    mr, _job = failing_mr(sim, pid)
    gl = connect(sim.url, sim.token)
    found = analyze(TRACE.encode(), source="job")
    found = suggest(found, prompt_lines([TRACE.encode()], found), GitLabFiles(gl, pid, SHA))
    assert found.fix is not None
    found = found.model_copy(update={"verdict": Verdict(kind="broken-trunk", reason="fails on main")})
    publish_fix_mrs(
        service.svc.store,
        service.svc.audit,
        gl,
        "gitlab:acme/shop",
        MergeRequestRef(project_id=pid, iid=mr["iid"]),
        SHA,
        [FailedJob("run", None, found)],
        policy=parse_policy(OPT_IN),
        claimed=Claimed("d1", "gitlab_publish", "{}", 1, "test", 0.0),
        default_branch="main",
    )
    [fix] = fix_mrs(sim)
    assert fix["target_branch"] == "main" and fix["draft"] is True
    commit = sim.commits[sim.branches[(pid, fix["source_branch"])]]
    assert commit["parent_ids"] == [trunk] and commit["_files"]["app/main.py"] == FIXED
    assert "CI Medic's fix for `main`" in fix["description"]
