"""`cimedic action` against the simulator: the runner's environment in, summary and sticky comment out."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from github_sim import APP_ID, GitHubSim, keypair, new_sim
from llm_support import answer, completion
from test_gh_e2e import GREEN, PYTEST_FAIL, REPO

from actions.github_comment import MARKER
from agent.config import load_settings
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


RUNNER_TOKEN = "ghs_runner_own_token"
APP_TOKEN = "ghs_from_create_github_app_token"


def _scenario(sim: GitHubSim, tmp_path: Path, shape: str) -> dict[str, str]:
    """A PR whose run failed `test`, and the runner's environment of the Action in `shape`."""
    sim.add_repo(REPO)
    green = sim.add_run(REPO, head_sha="b" * 40, head_branch="main", event="push", conclusion="success")
    sim.add_job(green, "test", log=GREEN, conclusion="success")
    pull = sim.add_pull(REPO, 3, head_sha="c" * 40, head_ref="feature")
    run = sim.add_run(REPO, head_sha="c" * 40, head_branch="feature", pulls=[3])
    sim.add_job(run, "test", log=PYTEST_FAIL)
    event = tmp_path / "event.json"
    if shape == "workflow_run":
        payload = {
            "action": "completed",
            "workflow_run": {k: v for k, v in run.items() if not k.startswith("_")},
        }
        env = {"GITHUB_EVENT_NAME": "workflow_run", "GITHUB_RUN_ID": "999"}
    else:  # a last job with `if: failure()` in the pull_request workflow itself
        payload = {
            "action": "synchronize",
            "pull_request": {k: v for k, v in pull.items() if not k.startswith("_")},
        }
        env = {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_RUN_ID": str(run["id"])}
    event.write_text(json.dumps(payload))
    return env | {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": sim.url,
        # action.yml passes the run's own token beside the chosen one, to tell them apart
        "CIMEDIC_RUNNER_TOKEN": RUNNER_TOKEN,
    }


@pytest.mark.parametrize("shape", ["workflow_run", "last-job"])
@pytest.mark.parametrize(
    ("token", "author"),
    [
        (RUNNER_TOKEN, "github-actions[bot]"),  # the default `github.token`
        ("ghp_personal", "token-user"),  # a fine-grained or classic personal token: GET /user
        (APP_TOKEN, "other-app[bot]"),  # an App installation token: GET /user is 403, GraphQL viewer answers
    ],
)
def test_each_token_keeps_one_comment_over_two_runs(
    tmp_path: Path, shape: str, token: str, author: str
) -> None:
    sim = new_sim(pat="ghp_personal")
    sim.bot_tokens.update({RUNNER_TOKEN: "github-actions[bot]", APP_TOKEN: "other-app[bot]"})
    try:
        env = _scenario(sim, tmp_path, shape) | {"GITHUB_TOKEN": token}
        for _ in range(2):
            assert run_action(env=env, out=io.StringIO()) == 0
        comments = sim.comments_on(REPO, 3)
        assert [c["user"]["login"] for c in comments] == [author]
        assert comments[0]["body"].startswith(MARKER)
    finally:
        sim.stop()


def test_app_credentials_name_the_author_through_get_app(tmp_path: Path) -> None:
    sim = new_sim()
    sim.bot_tokens[APP_TOKEN] = f"{sim.app_slug}[bot]"
    sim.fail("POST", r"^/graphql$", status=404, times=10)  # not needed when the App's JWT answers
    try:
        env = _scenario(sim, tmp_path, "workflow_run") | {
            "GITHUB_TOKEN": APP_TOKEN,
            "CIMEDIC_GITHUB_APP_ID": str(APP_ID),
            "CIMEDIC_GITHUB_PRIVATE_KEY": keypair()[0],
        }
        for _ in range(2):
            assert run_action(env=env, out=io.StringIO()) == 0
        assert [c["user"]["login"] for c in sim.comments_on(REPO, 3)] == ["cimedic-test[bot]"]
        assert ("GET", "/app", 200) in sim.calls
    finally:
        sim.stop()


def test_action_shows_the_fix_checked_against_the_jobs_commit(tmp_path: Path) -> None:
    from test_fix_service import ADDED, GH_LOG, MAIN_PY

    sim = new_sim(pat="ghp_simtoken")
    try:
        sim.add_repo(REPO)
        sim.add_file(REPO, "app/main.py", MAIN_PY, ref="c" * 40)
        run = sim.add_run(REPO, head_sha="c" * 40, head_branch="feature", event="push")
        sim.add_job(run, "run", log=GH_LOG)
        event = tmp_path / "event.json"
        public = {k: v for k, v in run.items() if not k.startswith("_")}
        event.write_text(json.dumps({"action": "completed", "workflow_run": public}))
        summary = tmp_path / "summary.md"
        env = {
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": "999",
            "GITHUB_API_URL": sim.url,
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_TOKEN": "ghp_simtoken",
        }
        assert run_action(env=env, out=io.StringIO()) == 0
        text = summary.read_text()
        assert "Suggested patch: Use 'average' instead of 'averge'" in text and ADDED in text
        assert ("GET", f"/repos/{REPO}/contents/app/main.py", 200) in sim.calls
    finally:
        sim.stop()


class _ChatCompletions(http.server.BaseHTTPRequestHandler):
    """An OpenAI Chat Completions endpoint on 127.0.0.1 (POST /v1/chat/completions, documented at
    https://platform.openai.com/docs/api-reference/chat/create): the OpenAI SDK inside `cimedic action`
    talks to it over a real socket, as it would to api.openai.com through `OPENAI_BASE_URL`."""

    requests: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []
    reply: ClassVar[dict[str, Any]] = {}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append((self.path, self.headers.get("Authorization", ""), body))
        data = json.dumps(completion(json.dumps(self.reply))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """`load_settings` is read once per process: these tests set `CIMEDIC_*` (monkeypatch) before it."""
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


def _failed_run(sim: GitHubSim, tmp_path: Path) -> dict[str, str]:
    sim.add_repo(REPO)
    sim.add_pull(REPO, 3, head_sha="c" * 40, head_ref="feature")
    run = sim.add_run(REPO, head_sha="c" * 40, head_branch="feature", pulls=[3])
    sim.add_job(run, "test", log=PYTEST_FAIL)
    event = tmp_path / "event.json"
    workflow_run = {k: v for k, v in run.items() if not k.startswith("_")}
    event.write_text(json.dumps({"action": "completed", "workflow_run": workflow_run}))
    return {
        "GITHUB_EVENT_NAME": "workflow_run",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "999",
        "GITHUB_API_URL": sim.url,
        "GITHUB_TOKEN": "ghp_simtoken",
        "CIMEDIC_COMMENT_LOGIN": "token-user",
    }


@pytest.mark.usefixtures("fresh_settings")
def test_the_llm_input_and_its_key_reach_the_model_and_the_comment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ChatCompletions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _ChatCompletions.requests = []
    _ChatCompletions.reply = answer(
        summary="test_add fails: add(1, 2) returns 3, the test expects 4.",
        root_cause="The expected value in test_add is wrong: 1 + 2 is 3.",
        evidence=[{"line": 7, "quote": "assert 3 == 4"}],
        fix="Expect 3 in tests/test_math.py::test_add.",
        commands=["python -m pytest tests/test_math.py::test_add"],
    )
    sim = new_sim(pat="ghp_simtoken")
    try:
        env = _failed_run(sim, tmp_path)
        # What action.yml's diagnose step sets from the `llm` and `openai-api-key` inputs; OPENAI_BASE_URL is
        # the OpenAI SDK's documented override, pointed at the local endpoint.
        monkeypatch.setenv("CIMEDIC_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("CIMEDIC_LLM", "openai:gpt-4.1-mini")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-action-key")
        monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
        out = io.StringIO()
        assert run_action(env=env, out=out) == 0
        assert len(_ChatCompletions.requests) == 1, out.getvalue()
        path, auth, body = _ChatCompletions.requests[0]
        assert path == "/v1/chat/completions" and auth == "Bearer sk-test-action-key"
        assert body["model"] == "gpt-4.1-mini"
        prompt = json.dumps(body["messages"])
        assert "assert 3 == 4" in prompt and "ghp_simtoken" not in prompt
        comment = sim.comments_on(REPO, 3)[0]["body"]
        assert "**Root cause** (openai:gpt-4.1-mini" in comment and "1 + 2 is 3" in comment, comment
    finally:
        sim.stop()
        server.shutdown()
        server.server_close()


@pytest.mark.usefixtures("fresh_settings")
def test_an_llm_without_its_key_is_a_warning_and_the_diagnosis_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = new_sim(pat="ghp_simtoken")
    try:
        env = _failed_run(sim, tmp_path)
        monkeypatch.setenv("CIMEDIC_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("CIMEDIC_LLM", "openai:gpt-4.1-mini")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        out = io.StringIO()
        assert run_action(env=env, out=out) == 0
        assert (
            "::warning::cimedic: LLM openai:gpt-4.1-mini skipped: OPENAI_API_KEY is not set" in out.getvalue()
        )
        comment = sim.comments_on(REPO, 3)[0]["body"]
        assert "assert 3 == 4" in comment and "Root cause" not in comment
    finally:
        sim.stop()
