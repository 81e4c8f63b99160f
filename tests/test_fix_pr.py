"""Draft fix PRs: opt-in by policy or by `/cimedic fix` from a writer; a commit through the Git data API on
`cimedic/fix-<fingerprint>`, a draft PR onto the PR's branch, linked from the sticky comment; and each guard
(human push, one per fingerprint, three per PR, forks, its own branch, a moved PR, no merge, no force-push).
End to end against the GitHub simulator, whose git endpoints follow docs.github.com/en/rest/git."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_sim import (
    APP_ID,
    GitHubSim,
    Service,
    delivery,
    fixture,
    keypair,
    new_sim,
    service_env,
    wait_until,
)
from test_fix_service import GH_LOG, MAIN_PY
from test_gh_e2e import PYTEST_FAIL, REPO, SHA, green_base, send_job, settled, sticky

from actions.fix_pr import ensure_fix_pr
from actions.fix_request import BRANCH_PREFIX, MAX_ATTEMPTS, FixBranch, branch_name
from actions.github_api import GitHubApi, GitHubError
from actions.github_comment import FailedJob
from actions.policy import parse_policy
from agent.engine import analyze
from agent.fixes import Patch, Validated, suggest, validate
from agent.models import Fix, Verdict
from agent.pipeline import prompt_lines
from webhooks.fix_outputs import publish_fix_prs
from webhooks.fix_reader import GitHubFiles
from webhooks.store import Claimed

FIXED = MAIN_PY.replace("{averge:", "{average:")
OPT_IN = "fixes:\n  pull_request: true\n"


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    s.add_commit(REPO, {"README.md": "hello\n"}, branch="main")
    s.add_commit(
        REPO,
        {"app/main.py": MAIN_PY, "run.sh": "#!/bin/sh\n"},
        sha=SHA,
        branch="feature",
        modes={"run.sh": "100755"},
    )
    yield s
    s.stop()


@pytest.fixture
def service(sim: GitHubSim, tmp_path: Path) -> Iterator[Service]:
    svc = Service(service_env(sim, tmp_path))
    yield svc
    svc.close()


def failing_pr(
    sim: GitHubSim,
    *,
    number: int = 12,
    fork: str | None = None,
    head_ref: str = "feature",
    green: bool = True,
) -> dict[str, Any]:
    if green:
        green_base(sim, ["run"])
    sim.add_pull(REPO, number, head_sha=SHA, head_ref=head_ref, fork=fork)
    run = sim.add_run(REPO, head_sha=SHA, head_branch=head_ref, pulls=[number])
    return sim.add_job(run, "run", log=GH_LOG)


def fix_prs(sim: GitHubSim) -> list[dict[str, Any]]:
    return [
        p
        for (r, _n), p in sorted(sim.pulls.items())
        if r == REPO and p["head"]["ref"].startswith(BRANCH_PREFIX)
    ]


def git_writes(sim: GitHubSim) -> list[tuple[str, str]]:
    return [
        (m, p)
        for m, p, _s in sim.api_calls()
        if m in ("POST", "PATCH", "PUT", "DELETE") and ("/git/" in p or p.endswith("/pulls") or "/merge" in p)
    ]


def audit_actions(service: Service) -> set[str]:
    return {e.action for e in service.svc.audit.entries(repo=REPO)}


def fingerprint(service: Service) -> str:
    fp = service.svc.store.results_for_sha(REPO, SHA)[0].fingerprint
    assert fp
    return fp


def test_by_policy_one_draft_fix_pr_onto_the_prs_branch_linked_from_the_comment(
    sim: GitHubSim, service: Service
) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", OPT_IN)
    job = failing_pr(sim)
    send_job(service, sim, job)
    [pr] = wait_until(lambda: fix_prs(sim))
    wait_until(lambda: settled(service) and "Draft fix PR" in sticky(sim)[0]["body"])
    assert pr["draft"] is True and pr["base"]["ref"] == "feature"
    assert pr["head"]["ref"] == branch_name(fingerprint(service))
    assert pr["user"]["login"] == "cimedic-test[bot]" and "Suggested patch" in pr["body"]
    commit = sim.commits[pr["head"]["sha"]]
    assert commit["parents"] == [SHA]
    tree = sim.trees[commit["tree"]]
    assert tree["app/main.py"] == ("100644", FIXED) and tree["run.sh"] == ("100755", "#!/bin/sh\n")
    assert pr["html_url"] in sticky(sim)[0]["body"]
    writes = git_writes(sim)
    assert [w[0] for w in writes] == ["POST"] * 4  # tree, commit, ref, pull: no PATCH (force), no merge
    # The same failure again (another job of the matrix, a redelivery): no second PR, no new commit.
    send_job(service, sim, job, delivery_id="again")
    wait_until(lambda: (service.svc.store.delivery("again") or {}).get("status") == "done")
    wait_until(lambda: settled(service))
    assert len(fix_prs(sim)) == 1 and git_writes(sim) == writes
    assert "fix_pr.created" in audit_actions(service)


def test_without_opt_in_nothing_is_written_to_git(sim: GitHubSim, service: Service) -> None:
    send_job(service, sim, failing_pr(sim))
    body = wait_until(lambda: sticky(sim) and sticky(sim)[0]["body"])
    wait_until(lambda: settled(service))
    assert "Suggested patch" in body and "Draft fix PR" not in body
    assert fix_prs(sim) == [] and git_writes(sim) == []


def test_a_human_push_on_the_fix_branch_stops_every_write(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", OPT_IN)
    job = failing_pr(sim)
    send_job(service, sim, job)
    [pr] = wait_until(lambda: fix_prs(sim))
    wait_until(lambda: settled(service))
    sim.push(REPO, pr["head"]["ref"], {"app/main.py": FIXED + "# reviewed\n"})
    before = git_writes(sim)
    # The fix PR is closed meanwhile: without the guard we would open a new one.
    pr["state"] = "closed"
    send_job(service, sim, job, delivery_id="after-push")
    wait_until(lambda: (service.svc.store.delivery("after-push") or {}).get("status") == "done")
    wait_until(lambda: settled(service))
    assert git_writes(sim) == before
    assert "fix_pr.human-pushed" in audit_actions(service)
    # ...and from then on not even a look at the branch.
    sim.calls.clear()
    send_job(service, sim, job, delivery_id="later")
    wait_until(lambda: (service.svc.store.delivery("later") or {}).get("status") == "done")
    wait_until(lambda: settled(service))
    assert not [c for c in sim.api_calls() if "/git/" in c[1]]


def test_a_fork_pr_gets_no_fix_pr(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", OPT_IN)
    send_job(service, sim, failing_pr(sim, number=31, fork="someone/app"))
    wait_until(lambda: sticky(sim, 31))
    wait_until(lambda: settled(service) and "fix_pr.fork" in audit_actions(service))
    assert fix_prs(sim) == [] and git_writes(sim) == []


def test_the_fix_prs_own_failure_is_not_fixed_by_another_fix_pr(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", OPT_IN)
    sim.move_branch(REPO, "cimedic/fix-old", SHA)
    send_job(service, sim, failing_pr(sim, number=40, head_ref="cimedic/fix-old"))
    wait_until(lambda: settled(service) and "fix_pr.fix-branch" in audit_actions(service))
    assert git_writes(sim) == []


# --- the guards, one call at a time ---------------------------------------------------------------------


def checked_fix(gh: Any) -> tuple[Fix, Validated]:
    diff = (
        "--- a/app/main.py\n+++ b/app/main.py\n@@ -1,4 +1,4 @@\n def summarize(values: list[int]) -> str:\n"
        '     average = sum(values) / len(values)\n-    return f"mean {averge:.2f}"\n'
        '+    return f"mean {average:.2f}"\n \n'
    )
    result = validate(Patch("rule", "Use 'average'", diff=diff), GitHubFiles(gh, REPO, SHA))
    assert isinstance(result, Validated), result
    return Fix(patch=result.diff, source="rule", files=list(result.files), title="Use 'average'"), result


def pull_of(sim: GitHubSim, number: int = 12) -> dict[str, Any]:
    return copy.deepcopy(
        sim.pulls.get((REPO, number)) or sim.add_pull(REPO, number, head_sha=SHA, head_ref="feature")
    )


def test_at_most_three_fix_prs_per_pull_request(sim: GitHubSim) -> None:
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        fix, checked = checked_fix(gh)
        known = FixBranch()
        result = ensure_fix_pr(
            gh, REPO, pull_of(sim), SHA, fix, checked.results, "fp-4", known=known, attempts=MAX_ATTEMPTS
        )
    assert result.outcome == "attempts" and git_writes(sim) == [] and known.commits == []


def test_a_closed_fix_pr_is_not_proposed_again_and_a_moved_pr_is_left_alone(sim: GitHubSim) -> None:
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        fix, checked = checked_fix(gh)
        known = FixBranch()
        first = ensure_fix_pr(
            gh, REPO, pull_of(sim), SHA, fix, checked.results, "fp-1", known=known, attempts=0
        )
        assert first.outcome == "created" and known.number is not None
        sim.pulls[(REPO, known.number)]["state"] = "closed"
        again = ensure_fix_pr(
            gh, REPO, pull_of(sim), SHA, fix, checked.results, "fp-1", known=known, attempts=1
        )
        assert again.outcome == "declined"
        moved = pull_of(sim)
        moved["head"]["sha"] = "d5" * 20
        later = ensure_fix_pr(
            gh, REPO, moved, SHA, fix, checked.results, "fp-2", known=FixBranch(), attempts=1
        )
        assert later.outcome == "stale"
    assert len(fix_prs(sim)) == 1


def test_an_interrupted_attempt_resumes_without_a_second_commit(sim: GitHubSim) -> None:
    """The branch was pushed, then the PR create failed: the retry opens the PR on the same commit."""
    sim.fail("POST", rf"^/repos/{REPO}/pulls$", status=422, times=1)
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        fix, checked = checked_fix(gh)
        known = FixBranch()
        with pytest.raises(Exception, match="HTTP 422"):
            ensure_fix_pr(gh, REPO, pull_of(sim), SHA, fix, checked.results, "fp-3", known=known, attempts=0)
        assert len(known.commits) == 1
        result = ensure_fix_pr(
            gh, REPO, pull_of(sim), SHA, fix, checked.results, "fp-3", known=known, attempts=0
        )
    assert result.outcome == "created" and len(known.commits) == 1
    assert [p for m, p in git_writes(sim) if p.endswith("/git/commits")] == [f"/repos/{REPO}/git/commits"]


# --- /cimedic fix ------------------------------------------------------------------------------------


def command(
    sim: GitHubSim, number: int, login: str, *, body: str = "/cimedic fix", user_type: str = "User"
) -> tuple[dict[str, str], bytes]:
    """The documented `issue_comment` example, on a pull request's issue (which carries `pull_request`)."""
    payload = copy.deepcopy(fixture("issue_comment.created.json"))
    repo = sim.repos[REPO]
    payload["issue"].update(number=number, pull_request={"url": f"{sim.url}/repos/{REPO}/pulls/{number}"})
    payload["comment"].update(body=body)
    payload["comment"]["user"].update(login=login, type=user_type)
    payload["repository"].update(full_name=REPO, default_branch=repo["default_branch"])
    payload["installation"] = {"id": 1}
    return delivery("issue_comment", payload)


def test_a_writer_asks_for_a_fix_pr_a_reader_and_a_bot_cannot(sim: GitHubSim, service: Service) -> None:
    send_job(service, sim, failing_pr(sim))
    wait_until(lambda: sticky(sim) and settled(service))
    sim.permissions[(REPO, "maintainer")] = "write"
    sim.permissions[(REPO, "visitor")] = "read"
    for login, kind in (("visitor", "User"), ("cimedic-test[bot]", "Bot")):
        headers, body = command(sim, 12, login, user_type=kind)
        assert service.post(headers, body).status_code == 202
    wait_until(lambda: settled(service))
    assert fix_prs(sim) == [] and git_writes(sim) == []
    refused = [e for e in service.svc.audit.entries(repo=REPO) if e.action == "fix_pr.refused"]
    assert len(refused) == 2
    headers, body = command(sim, 12, "someone", body="please /cimedic fix this")  # not a command
    assert service.post(headers, body).status_code == 200
    headers, body = command(sim, 12, "maintainer")
    assert service.post(headers, body).status_code == 202
    [pr] = wait_until(lambda: fix_prs(sim))
    wait_until(lambda: settled(service) and pr["html_url"] in sticky(sim)[0]["body"])
    assert pr["base"]["ref"] == "feature" and pr["draft"] is True


def nones(service: Service) -> list[Any]:
    return [e for e in service.svc.audit.entries(repo=REPO) if e.action == "fix_pr.none"]


def test_a_fix_asked_for_where_there_is_none_is_answered_once_and_writes_nothing(
    sim: GitHubSim, service: Service
) -> None:
    green_base(sim, ["run"])
    sim.add_pull(REPO, 12, head_sha=SHA, head_ref="feature")
    run = sim.add_run(REPO, head_sha=SHA, head_branch="feature", pulls=[12])
    send_job(service, sim, sim.add_job(run, "run", log=PYTEST_FAIL))  # an assertion: no fix-it in the log
    wait_until(lambda: sticky(sim) and settled(service))
    sim.permissions[(REPO, "maintainer")] = "write"
    for n in (1, 2):  # asked twice on the same commit: one reply
        headers, body = command(sim, 12, "maintainer")
        assert service.post(headers, body).status_code == 202
        wait_until(lambda n=n: settled(service) and len(nones(service)) == n)
    entries = nones(service)
    assert len(entries) == 2 and all(
        e.outcome == "skipped" and "maintainer" in str(e.detail) for e in entries
    )
    replies = [c for c in sim.comments_on(REPO, 12) if c not in sticky(sim)]
    assert len(replies) == 1 and replies[0]["body"].startswith("@maintainer CI Medic has no checked fix")
    assert fix_prs(sim) == [] and git_writes(sim) == []


def test_a_fix_pr_does_not_need_the_comment(sim: GitHubSim, service: Service) -> None:
    sim.add_file(REPO, ".github/cimedic.yml", OPT_IN + "outputs:\n  comment: false\n")
    send_job(service, sim, failing_pr(sim))
    [pr] = wait_until(lambda: fix_prs(sim))
    wait_until(lambda: settled(service))
    assert pr["draft"] is True and sim.comments_on(REPO, 12) == []


def test_a_broken_trunk_is_fixed_on_the_default_branch(sim: GitHubSim, service: Service) -> None:
    """The verdict says the base branch fails the same way: the fix goes on the default branch's head."""
    trunk = sim.add_commit(
        REPO, {"app/main.py": MAIN_PY, "README.md": "hello\n"}, sha="c0" * 20, branch="main"
    )
    sim.add_pull(REPO, 12, head_sha=SHA, head_ref="feature")
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        found = analyze(GH_LOG.encode(), source="job")
        lines = prompt_lines([GH_LOG.encode()], found)
        found = suggest(found, lines, GitHubFiles(gh, REPO, SHA))
        assert found.fix is not None
        found = found.model_copy(update={"verdict": Verdict(kind="broken-trunk", reason="fails on main")})
        claimed = Claimed("d1", "publish", "{}", 1, "test", 0.0)
        publish_fix_prs(
            service.svc.store,
            service.svc.audit,
            gh,
            REPO,
            12,
            SHA,
            [FailedJob("run", None, found)],
            policy=parse_policy(OPT_IN),
            claimed=claimed,
            default_branch="main",
        )
    [pr] = fix_prs(sim)
    assert pr["base"]["ref"] == "main" and pr["draft"] is True
    assert sim.commits[pr["head"]["sha"]]["parents"] == [trunk]
    assert sim.trees[sim.commits[pr["head"]["sha"]]["tree"]]["app/main.py"] == ("100644", FIXED)
    assert "CI Medic's fix for `main`" in pr["body"]


def test_a_symlink_is_never_written_as_a_file(sim: GitHubSim) -> None:
    """The contents API reads through a symlink; the fix must not replace the link with a file."""
    link = sim.add_commit(REPO, {"app/main.py": MAIN_PY}, sha="e7" * 20, modes={"app/main.py": "120000"})
    pull = pull_of(sim)
    pull["head"]["sha"] = link
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        fix, checked = checked_fix(gh)
        with pytest.raises(GitHubError, match="not a regular file"):
            ensure_fix_pr(gh, REPO, pull, link, fix, checked.results, "fp-5", known=FixBranch(), attempts=0)
    assert git_writes(sim) == []
