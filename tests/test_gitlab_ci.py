"""`cimedic gitlab-ci` against the GitLab simulator, with GitLab's predefined variables of an MR pipeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gitlab_sim import BOT, GitLabSim
from test_gitlab_e2e import GREEN, PYTEST_FAIL, SHA

from actions.github_comment import MARKER
from webhooks.gitlab_ci import run_gitlab_ci


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


def test_gitlab_ci_notes_the_failed_jobs_once(sim: GitLabSim, capsys: pytest.CaptureFixture[str]) -> None:
    project = sim.add_project("acme/shop")
    pid = project["id"]
    sim.add_mr(pid, 4, source_branch="feature", sha=SHA)
    pipeline = sim.add_pipeline(pid, ref="refs/merge-requests/4/head", sha=SHA)
    sim.add_job(pipeline, "pytest", status="failed", trace=PYTEST_FAIL)
    sim.add_job(pipeline, "lint", status="success", trace=GREEN)
    env = {
        "CIMEDIC_GITLAB_TOKEN": sim.token,
        "CI_API_V4_URL": sim.url + "/api/v4",
        "CI_PROJECT_ID": str(pid),
        "CI_PROJECT_PATH": "acme/shop",
        "CI_PIPELINE_ID": str(pipeline["id"]),
        "CI_COMMIT_SHA": SHA,
        "CI_COMMIT_REF_NAME": "refs/merge-requests/4/head",
        "CI_DEFAULT_BRANCH": "main",
        "CI_MERGE_REQUEST_IID": "4",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
        "CI_JOB_NAME": "cimedic",
    }
    assert run_gitlab_ci(env) == 0
    assert run_gitlab_ci(env) == 0  # a second run edits nothing
    notes = sim.notes_on(pid, 4)
    assert len(notes) == 1 and notes[0]["author"]["username"] == BOT["username"]
    assert MARKER in notes[0]["body"] and "assert 3 == 4" in notes[0]["body"]
    assert "unchanged" in capsys.readouterr().out


def test_gitlab_ci_names_a_missing_variable() -> None:
    assert run_gitlab_ci({"CI_API_V4_URL": "http://127.0.0.1:9/api/v4"}) == 2
