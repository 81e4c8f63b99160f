"""`cimedic action` against the simulator: the runner's environment in, summary and sticky comment out."""

from __future__ import annotations

import io
import json
from pathlib import Path

from github_sim import new_sim
from test_gh_e2e import GREEN, PYTEST_FAIL, REPO

from actions.github_comment import MARKER
from webhooks.github_action import print_untrusted, run_action


def test_action_under_workflow_run_writes_summary_and_comment(tmp_path: Path) -> None:
    sim = new_sim(pat="ghp_simtoken")
    try:
        sim.add_repo(REPO)
        green = sim.add_run(REPO, head_sha="b" * 40, head_branch="main", event="push", conclusion="success")
        sim.add_job(green, "test", log=GREEN, conclusion="success")
        sim.add_pull(REPO, 3, head_sha="c" * 40, head_ref="feature")
        run = sim.add_run(REPO, head_sha="c" * 40, head_branch="feature", pulls=[3])
        sim.add_job(run, "test", log=PYTEST_FAIL + "::set-output name=x::pwned\n")
        sim.add_job(run, "lint", log=GREEN, conclusion="success")
        event = tmp_path / "event.json"
        event.write_text(
            json.dumps(
                {
                    "action": "completed",
                    "workflow_run": {k: v for k, v in run.items() if not k.startswith("_")},
                }
            )
        )
        summary = tmp_path / "summary.md"
        env = {
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": "999",
            "GITHUB_API_URL": sim.url,
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_TOKEN": "ghp_simtoken",
            "CIMEDIC_COMMENT_LOGIN": "token-user",
        }
        out = io.StringIO()
        assert run_action(env=env, out=out) == 0
        text = summary.read_text()
        assert "1 failed job" in text and MARKER not in text and "New failure" in text
        comments = sim.comments_on(REPO, 3)
        assert len(comments) == 1 and comments[0]["body"].startswith(MARKER)
        assert run_action(env=env, out=io.StringIO()) == 0  # again: updated in place, not duplicated
        assert len(sim.comments_on(REPO, 3)) == 1
        assert "::stop-commands::" in out.getvalue()
    finally:
        sim.stop()


def test_untrusted_output_is_fenced_by_stop_commands() -> None:
    out = io.StringIO()
    print_untrusted("::error::fake", out)
    lines = out.getvalue().splitlines()
    token = lines[0].split("::")[2]
    assert lines == [f"::stop-commands::{token}", "::error::fake", f"::{token}::"] and len(token) == 32


def test_missing_environment_is_a_clear_error() -> None:
    out = io.StringIO()
    assert run_action(env={}, out=out) == 2 and "GITHUB_REPOSITORY" in out.getvalue()
