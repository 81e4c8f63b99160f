"""`cimedic ticket open` and `ticket list` end to end: the CLI process against the tracker simulators."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from jira_sim.server import JiraSim
from linear_sim.server import LinearSim
from llm_support import completion

ROOT = Path(__file__).resolve().parents[1]
PYTEST_LOG = ROOT / "examples" / "pytest-assertion.log"
GO_LOG = ROOT / "examples" / "go-test-failure.log"


def cimedic(*args: str, home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    full.update(CIMEDIC_HOME=str(home), NO_COLOR="1", **env)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, env=full, timeout=120
    )


@pytest.fixture
def jira() -> Iterator[JiraSim]:
    sim = JiraSim(index_delay_s=60).start()
    yield sim
    sim.stop()
    assert sim.unexpected == []


def jira_env(sim: JiraSim) -> dict[str, str]:
    return {
        "CIMEDIC_JIRA_URL": sim.url,
        "CIMEDIC_JIRA_EMAIL": sim.email,
        "CIMEDIC_JIRA_TOKEN": sim.token,
        "CIMEDIC_JIRA_PROJECT": sim.project,
    }


def test_open_files_once_then_comments_and_list_shows_the_record(jira: JiraSim, tmp_path: Path) -> None:
    env, home = jira_env(jira), tmp_path / "home"
    common = ["ticket", "open", "--tracker", "jira", "--no-llm", "--repo", "acme/shop", "--job", "tests"]
    first = cimedic(*common, "--job-url", "https://ci.example/jobs/1", str(PYTEST_LOG), home=home, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{PYTEST_LOG}: created OPS-1 {jira.url}/browse/OPS-1"
    second = cimedic(*common, "--job-url", "https://ci.example/jobs/2", str(PYTEST_LOG), home=home, env=env)
    assert second.stdout.strip() == f"{PYTEST_LOG}: commented OPS-1 {jira.url}/browse/OPS-1 (occurrence 2)"
    assert len(jira.issues) == 1 and len(jira.comments("OPS-1")) == 1

    listed = cimedic("ticket", "list", "--json", home=home, env={})
    assert listed.returncode == 0, listed.stderr
    [row] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["tracker"], row["key"], row["state"], row["occurrences"], row["repo"]) == (
        "jira", "OPS-1", "open", 2, "acme/shop",
    )  # fmt: skip
    audit = cimedic("audit", "--json", home=home, env={})
    assert [json.loads(line)["action"] for line in audit.stdout.splitlines()] == [
        "ticket.comment",
        "ticket.create",
    ]


def test_dry_run_prints_what_it_would_do_and_writes_nothing(jira: JiraSim, tmp_path: Path) -> None:
    out = cimedic(
        "ticket", "open", "--dry-run", "--no-llm", str(GO_LOG), home=tmp_path / "home", env=jira_env(jira)
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{GO_LOG}: dry-run: would be created (dry-run: nothing written)"
    assert jira.issues == {} and not [r for r in jira.received if r[0] != "GET"]
    listed = cimedic("ticket", "list", home=tmp_path / "home", env={})
    assert listed.stdout == ""


def test_a_policy_file_can_make_it_a_dry_run(jira: JiraSim, tmp_path: Path) -> None:
    policy = tmp_path / "cimedic.yml"
    policy.write_text("dry_run: true\ntickets:\n  tracker: jira\n")
    out = cimedic(
        "ticket", "open", "--no-llm", "--policy", str(policy), str(GO_LOG), home=tmp_path, env=jira_env(jira)
    )
    assert out.returncode == 0 and "dry-run: would be created" in out.stdout and jira.issues == {}
    policy.write_text("tickets:\n  tracker: bugzilla\n")
    out = cimedic(
        "ticket", "open", "--no-llm", "--policy", str(policy), str(GO_LOG), home=tmp_path, env=jira_env(jira)
    )
    assert "ignored" in out.stderr and "dry-run: would be created" in out.stdout and jira.issues == {}


def test_linear_from_the_command_line(tmp_path: Path) -> None:
    sim = LinearSim().start()
    try:
        env = {
            "CIMEDIC_LINEAR_URL": sim.url + "/graphql",
            "CIMEDIC_LINEAR_API_KEY": sim.api_key,
            "CIMEDIC_LINEAR_TEAM": sim.team_key,
        }
        out = cimedic(
            "ticket", "open", "--tracker", "linear", "--no-llm", str(GO_LOG), home=tmp_path, env=env
        )
        assert out.returncode == 0, out.stderr
        [issue] = sim.issues.values()
        assert out.stdout.strip() == f"{GO_LOG}: created {issue['identifier']} {issue['url']}"
    finally:
        sim.stop()
    assert sim.unexpected == []


def test_missing_settings_are_named(tmp_path: Path) -> None:
    out = cimedic("ticket", "open", "--no-llm", str(GO_LOG), home=tmp_path, env={})
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "cimedic: Jira needs CIMEDIC_JIRA_URL, CIMEDIC_JIRA_PROJECT and CIMEDIC_JIRA_TOKEN"
    )
    bad = cimedic("ticket", "open", "--tracker", "linear", "--no-llm", "nope.log", home=tmp_path, env={})
    assert bad.returncode == 2 and "CIMEDIC_LINEAR_API_KEY" in bad.stderr


def test_open_hands_the_log_to_the_llm_unless_no_llm(jira: JiraSim, tmp_path: Path) -> None:
    prompts: list[str] = []

    class Chat(BaseHTTPRequestHandler):  # an OpenAI-compatible endpoint; its answer is no valid explanation
        def do_POST(self) -> None:
            prompts.append(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
            body = json.dumps(completion("not an explanation")).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            **jira_env(jira),
            "CIMEDIC_LLM": f"openai-compatible:http://127.0.0.1:{server.server_address[1]}/v1#tiny",
        }
        out = cimedic("ticket", "open", str(PYTEST_LOG), home=tmp_path, env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"{PYTEST_LOG}: created OPS-1 ")  # a failed explanation does not stop it
        assert (
            prompts and "AssertionError" in prompts[0]
        )  # the log reached the model, numbered as the excerpt
        seen = len(prompts)
        cimedic("ticket", "open", "--no-llm", str(GO_LOG), home=tmp_path, env=env)
        assert len(prompts) == seen
    finally:
        server.shutdown()
        server.server_close()
