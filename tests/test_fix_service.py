"""Suggested fixes in the service: the files at the head SHA read through the forge's API (GitHub contents,
GitLab raw files), the fix validated as in the CLI and shown in the sticky PR comment / MR note as a
collapsed diff. Real HTTP against the simulators; the engine and the validation are the real ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github_sim import APP_ID, GitHubSim, Service, keypair, new_sim, service_env, wait_until
from gitlab_sim import BOT, WEBHOOK_TOKEN, GitLabSim, delivery, job_hook
from test_gh_e2e import REPO, SHA, green_base, pr_run, send_job, settled, sticky

from actions.github_api import GitHubApi
from agent.fixes import Unreadable
from webhooks.fix_reader import GitHubFiles
from webhooks.gitlab_files import GitLabFiles
from webhooks.gitlab_forge import connect

MAIN_PY = """\
def summarize(values: list[int]) -> str:
    average = sum(values) / len(values)
    return f"mean {averge:.2f}"


print(summarize([1, 2, 3]))
"""
# Python 3.11's traceback for the file above (bench/fixes/cases/py-name-error), as a GitHub runner prints it.
TRACEBACK = """\
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "<frozen runpy>", line 88, in _run_code
  File "/home/runner/work/app/app/app/main.py", line 6, in <module>
    print(summarize([1, 2, 3]))
          ^^^^^^^^^^^^^^^^^^^^
  File "/home/runner/work/app/app/app/main.py", line 3, in summarize
    return f"mean {averge:.2f}"
                   ^^^^^^
NameError: name 'averge' is not defined. Did you mean: 'average'?
"""
GH_LOG = (
    "2024-05-01T10:00:00.0000000Z ##[group]Run python -m app.main\n"
    + "".join(f"2024-05-01T10:00:01.0000000Z {line}\n" for line in TRACEBACK.splitlines())
    + "2024-05-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n"
)
ADDED = '+    return f"mean {average:.2f}"'


# --- the readers, alone -------------------------------------------------------------------------------


@pytest.fixture
def gh_sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    yield s
    s.stop()


def contents_calls(sim: GitHubSim) -> list[str]:
    """Contents reads, but the policy file's (read from the default branch for every repository)."""
    return [
        path
        for m, path, _s in sim.api_calls()
        if m == "GET" and "/contents/" in path and not path.endswith("/.github/cimedic.yml")
    ]


def test_github_reader_reads_the_head_sha_once_per_path(gh_sim: GitHubSim) -> None:
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY, ref=SHA)
    gh_sim.add_file(REPO, "app/main.py", "something else\n")  # the default branch differs
    api = GitHubApi(base_url=gh_sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        files = GitHubFiles(gh, REPO, SHA)
        assert files("app/main.py") == MAIN_PY.encode()
        assert files("app/main.py") == MAIN_PY.encode()
        assert files("app/missing.py") is None
        assert files("app/missing.py") is None
        assert files("app") is None  # a directory, listed as JSON: not a file
    assert contents_calls(gh_sim) == [
        f"/repos/{REPO}/contents/app/main.py",
        f"/repos/{REPO}/contents/app/missing.py",
        f"/repos/{REPO}/contents/app",
    ]


def test_github_reader_refuses_a_big_file_and_stops_after_its_budget(gh_sim: GitHubSim) -> None:
    gh_sim.add_file(REPO, "big.c", "x" * 2000, ref=SHA)
    api = GitHubApi(base_url=gh_sim.url, app_id=APP_ID, private_key=keypair()[0])
    with api.client(1) as gh:
        files = GitHubFiles(gh, REPO, SHA, max_bytes=1000, max_lookups=3)
        with pytest.raises(Unreadable, match="larger than 1000 bytes"):
            files("big.c")
        assert files("a") is None and files("b") is None and files("c") is None
        with pytest.raises(Unreadable, match="more than 3 files"):
            files("d")
    assert len(contents_calls(gh_sim)) == 4  # big.c, a, b, c; not d


def test_gitlab_reader_reads_the_raw_file_at_the_sha() -> None:
    sim = GitLabSim().start()
    try:
        pid = sim.add_project("acme/shop")["id"]
        sim.add_file(pid, "app/main.py", MAIN_PY, ref=SHA)
        files = GitLabFiles(connect(sim.url, sim.token), pid, SHA, max_bytes=50)
        with pytest.raises(Unreadable, match="larger than 50 bytes"):
            files("app/main.py")
        files = GitLabFiles(connect(sim.url, sim.token), pid, SHA)
        assert files("app/main.py") == MAIN_PY.encode()
        assert files("app/nothing.py") is None
        raw = [p for m, p, _s in sim.api_calls() if "/repository/files/" in p]
        assert len(raw) == 3 and all(p.endswith("/raw") for p in raw)
    finally:
        sim.stop()


# --- end to end: GitHub -------------------------------------------------------------------------------


@pytest.fixture
def service(gh_sim: GitHubSim, tmp_path: Path) -> Iterator[Service]:
    svc = Service(service_env(gh_sim, tmp_path))
    yield svc
    svc.close()


def test_a_fix_it_in_the_log_becomes_a_checked_patch_in_the_pr_comment(
    gh_sim: GitHubSim, service: Service
) -> None:
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY, ref=SHA)
    green_base(gh_sim, ["run"])
    job = gh_sim.add_job(pr_run(gh_sim), "run", log=GH_LOG)
    assert send_job(service, gh_sim, job) == 202
    body = wait_until(lambda: sticky(gh_sim) and sticky(gh_sim)[0]["body"])
    assert "<details><summary>Suggested patch: Use 'average' instead of 'averge'" in body
    assert "```diff\ndiff --git a/app/main.py b/app/main.py\n" in body and ADDED in body
    wait_until(lambda: settled(service))
    # Only the file the fix-it names, at the head SHA, tried from the longest tail of the runner's path.
    reads = contents_calls(gh_sim)
    assert reads and all(p.endswith("/main.py") for p in reads)
    assert reads[-1] == f"/repos/{REPO}/contents/app/main.py"
    assert len(reads) == len(set(reads)) <= 6
    stored = service.svc.store.results_for_sha(REPO, SHA)[0].diagnosis
    assert stored is not None and '"validated":true' in stored.replace(" ", "")


def test_a_patch_that_no_longer_applies_at_the_head_sha_is_not_shown(
    gh_sim: GitHubSim, service: Service
) -> None:
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY.replace("averge", "avg"), ref=SHA)  # not what the log says
    green_base(gh_sim, ["run"])
    job = gh_sim.add_job(pr_run(gh_sim), "run", log=GH_LOG)
    send_job(service, gh_sim, job)
    body = wait_until(lambda: sticky(gh_sim) and sticky(gh_sim)[0]["body"])
    wait_until(lambda: settled(service))
    assert "Suggested patch" not in body and ADDED not in body
    stored = service.svc.store.results_for_sha(REPO, SHA)[0].diagnosis or ""
    assert "python-did-you-mean" in stored and "dropped" in stored  # the note says why


def test_a_contents_api_outage_costs_the_fix_not_the_diagnosis(gh_sim: GitHubSim, service: Service) -> None:
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY, ref=SHA)
    gh_sim.fail("GET", r"/contents/(?!\.github/)", status=500, times=1000)
    green_base(gh_sim, ["run"])
    job = gh_sim.add_job(pr_run(gh_sim), "run", log=GH_LOG)
    send_job(service, gh_sim, job)
    body = wait_until(lambda: sticky(gh_sim) and sticky(gh_sim)[0]["body"])
    assert "NameError" in body and "Suggested patch" not in body
    assert "suggested fix skipped" in body


def test_a_fix_it_on_a_path_the_policy_protects_is_refused(gh_sim: GitHubSim, service: Service) -> None:
    """The repository's policy (default branch) protects app/**: the fix-it is dropped with that reason."""
    gh_sim.add_file(REPO, ".github/cimedic.yml", 'protected: ["app/**"]\n')
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY, ref=SHA)
    green_base(gh_sim, ["run"])
    job = gh_sim.add_job(pr_run(gh_sim), "run", log=GH_LOG)
    send_job(service, gh_sim, job)
    body = wait_until(lambda: sticky(gh_sim) and sticky(gh_sim)[0]["body"])
    wait_until(lambda: settled(service))
    assert "Suggested patch" not in body
    stored = service.svc.store.results_for_sha(REPO, SHA)[0].diagnosis or ""
    assert "app/main.py is a protected path" in stored


# --- end to end: GitLab -------------------------------------------------------------------------------


def test_gitlab_mr_note_shows_the_checked_patch(tmp_path: Path) -> None:
    sim = GitLabSim().start()
    gh = new_sim()
    svc = Service(
        service_env(
            gh,
            tmp_path,
            CIMEDIC_GITLAB_URL=sim.url,
            CIMEDIC_GITLAB_TOKEN=sim.token,
            CIMEDIC_GITLAB_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
        )
    )
    try:
        pid = sim.add_project("acme/shop")["id"]
        sha = "b2" * 20
        sim.add_file(pid, "app/main.py", MAIN_PY, ref=sha)
        sim.add_mr(pid, 4, source_branch="feature", sha=sha)
        sim.add_mr_diff(pid, 4, "app/main.py", PR_PATCH)
        pipeline = sim.add_pipeline(pid, ref="refs/merge-requests/4/head", sha=sha)
        trace = TRACEBACK.replace("/home/runner/work/app/app/", "/builds/acme/shop/")
        job = sim.add_job(pipeline, "run", status="failed", trace=trace + "ERROR: Job failed: exit code 1\n")
        headers, body = delivery("Job Hook", job_hook(sim, job))
        assert svc.http.post("/webhooks/gitlab", headers=headers, content=body).status_code == 202
        notes = wait_until(
            lambda: [n for n in sim.notes_on(pid, 4) if n["author"]["username"] == BOT["username"]]
        )
        text = notes[0]["body"]
        assert "Suggested patch: Use 'average' instead of 'averge'" in text and ADDED in text
        # The fix as a diff thread on the MR's own line 3 (a line the MR added: no old_line).
        [thread] = wait_until(lambda: list(sim.discussions.values()))
        [note] = thread["notes"]
        assert note["position"]["new_line"] == 3 and "old_line" not in note["position"]
        assert note["position"]["head_sha"] == sha and note["position"]["base_sha"] == "ba" * 20
        assert '```suggestion:-0+0\n    return f"mean {average:.2f}"\n```' in note["body"]
        raw = [p for m, p, _s in sim.api_calls() if "/repository/files/" in p and "cimedic.yml" not in p]
        assert (
            raw and all(p.endswith("main.py/raw") for p in raw) and raw[-1].endswith("/files/app/main.py/raw")
        )
    finally:
        svc.close()
        gh.stop()
        sim.stop()


# --- review suggestions -------------------------------------------------------------------------------

PR_PATCH = "\n".join(
    [
        "@@ -1,6 +1,6 @@",
        " def summarize(values: list[int]) -> str:",
        "     average = sum(values) / len(values)",
        '-    return f"mean {average:.2f}"',
        '+    return f"mean {averge:.2f}"',
        " ",
        " ",
        " print(summarize([1, 2, 3]))",
    ]
)


def review_comments(sim: GitHubSim) -> list[dict[str, object]]:
    return [c for c in sim.review_comments.values() if c["_repo"] == REPO]


def test_the_fix_is_suggested_on_the_prs_own_line_once(gh_sim: GitHubSim, service: Service) -> None:
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY, ref=SHA)
    green_base(gh_sim, ["run"])
    run = pr_run(gh_sim)
    gh_sim.add_pull_file(REPO, 12, "app/main.py", PR_PATCH)
    job = gh_sim.add_job(run, "run", log=GH_LOG)
    send_job(service, gh_sim, job)
    found = wait_until(lambda: review_comments(gh_sim))
    wait_until(lambda: settled(service))
    assert len(found) == 1
    c = found[0]
    assert (c["path"], c["line"], c["side"], c["commit_id"], c["start_line"]) == (
        "app/main.py",
        3,
        "RIGHT",
        SHA,
        None,
    )
    body = str(c["body"])
    assert '```suggestion\n    return f"mean {average:.2f}"\n```' in body
    assert (c["user"] or {})["login"] == "cimedic-test[bot]"  # type: ignore[index]
    # The same job again (a redelivery under a new id): the suggestion is not posted twice.
    send_job(service, gh_sim, job, delivery_id="again")
    wait_until(lambda: (service.svc.store.delivery("again") or {}).get("status") == "done")
    wait_until(lambda: settled(service))
    assert len(review_comments(gh_sim)) == 1
    assert "suggestion.created" in {e.action for e in service.svc.audit.entries(repo=REPO)}


def test_no_suggestion_where_the_line_is_outside_the_prs_diff(gh_sim: GitHubSim, service: Service) -> None:
    gh_sim.add_file(REPO, "app/main.py", MAIN_PY, ref=SHA)
    green_base(gh_sim, ["run"])
    run = pr_run(gh_sim)
    gh_sim.add_pull_file(REPO, 12, "README.md", "@@ -1 +1 @@\n-old\n+new")  # the PR changed another file
    job = gh_sim.add_job(run, "run", log=GH_LOG)
    send_job(service, gh_sim, job)
    body = wait_until(lambda: sticky(gh_sim) and sticky(gh_sim)[0]["body"])
    wait_until(lambda: settled(service))
    assert "Suggested patch" in body  # the collapsed diff is all there is
    assert review_comments(gh_sim) == []
    assert not [p for m, p, _s in gh_sim.api_calls() if m == "POST" and p.endswith("/pulls/12/comments")]
