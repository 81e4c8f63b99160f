"""A new user's first hour (issue 15): what `cimedic` does on a clean home, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.analyze_cmd import line_links
from agent.errors import CimedicError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "python-module-not-found.log"


def _cimedic(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "CIMEDIC_HOME": str(home), "NO_COLOR": "1", **env}
    for name in ("CIMEDIC_LLM", "CIMEDIC_DATABASE_URL", "OPENAI_API_KEY"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=180,
        cwd=ROOT,
    )


def _one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("cimedic: error: "), lines[0]
    return lines[0]


def test_analyze_on_an_empty_home_does_not_load_the_embedding_model(tmp_path: Path) -> None:
    # The CLI in-process, then the list of imported modules: torch is what costs the seconds and the MB.
    script = (
        "import sys\nfrom agent.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = ('torch', 'sentence_transformers', 'chromadb')\n"
        "print('heavy:', sorted(m for m in heavy if m in sys.modules))\nprint('code:', code)\n"
    )
    env = {**os.environ, "CIMEDIC_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", script, "analyze", str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert "heavy: []" in out.stdout and "code: 0" in out.stdout, out.stdout + out.stderr
    assert out.stderr == ""
    stats = _cimedic("kb", "stats", home=tmp_path / "home")
    assert stats.stdout.startswith("1 failures, 1 occurrences"), stats.stdout  # recorded all the same


@pytest.mark.parametrize(
    "command",
    [
        ["kb", "stats"],
        ["kb", "search", "No module named yaml"],
        ["kb", "add", str(EXAMPLE)],
        ["kb", "export", "-"],
        ["audit"],
    ],
    ids=["kb-stats", "kb-search", "kb-add", "kb-export", "audit"],
)
def test_a_malformed_database_url_is_one_line_for_every_command(tmp_path: Path, command: list[str]) -> None:
    out = _cimedic(*command, home=tmp_path, CIMEDIC_DATABASE_URL="garbage")
    assert "Could not parse SQLAlchemy URL" in _one_error_line(out)


def test_an_unreachable_postgresql_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/none"
    for command in (["kb", "stats"], ["audit"]):
        line = _one_error_line(_cimedic(*command, home=tmp_path, CIMEDIC_DATABASE_URL=url))
        assert "Connection refused" in line or "connection failed" in line


def test_analyze_keeps_going_without_a_usable_database_and_says_so_once(tmp_path: Path) -> None:
    out = _cimedic("analyze", str(EXAMPLE), home=tmp_path, CIMEDIC_DATABASE_URL="garbage")
    assert out.returncode == 0 and "stripe" in out.stdout
    assert out.stderr.count("cimedic: warning: cannot open the knowledge base database") == 1, out.stderr


def test_a_malformed_setting_and_a_bad_option_share_the_prefix(tmp_path: Path) -> None:
    line = _one_error_line(_cimedic("kb", "stats", home=tmp_path, CIMEDIC_WORKER_THREADS="many"))
    assert "CIMEDIC_WORKER_THREADS" in line
    assert "--bogus" in _one_error_line(_cimedic("analyze", "--bogus", str(EXAMPLE), home=tmp_path))
    assert "no rule 'nope'" in _one_error_line(_cimedic("rules", "show", "nope", home=tmp_path))
    assert "give either TEXT or --log" in _one_error_line(_cimedic("kb", "search", home=tmp_path))


def test_version(tmp_path: Path) -> None:
    out = _cimedic("--version", home=tmp_path)
    assert out.returncode == 0 and out.stdout.startswith("cimedic ")


def test_an_llm_without_its_key_is_skipped_with_one_line_saying_why(tmp_path: Path) -> None:
    out = _cimedic(
        "analyze",
        "--no-kb",
        "-f",
        "json",
        str(EXAMPLE),
        str(EXAMPLE),
        home=tmp_path,
        CIMEDIC_LLM="openai:gpt-4.1-mini",
    )
    assert out.returncode == 0
    assert (
        out.stderr.strip() == "cimedic: warning: LLM openai:gpt-4.1-mini skipped: OPENAI_API_KEY is not set"
    )
    check = _cimedic("llm", "check", home=tmp_path, CIMEDIC_LLM="openai:gpt-4.1-mini")
    assert check.returncode == 1
    assert "OPENAI_API_KEY is not set" in check.stdout and "Agent(" not in check.stdout


def test_every_error_class_is_a_cimedic_error() -> None:
    from actions.github_api import GitHubError
    from agent.catalog import CatalogError
    from agent.config import ConfigError
    from agent.engine import InputError
    from agent.errors import KnowledgeBaseError
    from webhooks.github import DeliveryRejected, PayloadTooLarge, SignatureError

    for cls in (GitHubError, CatalogError, ConfigError, InputError, KnowledgeBaseError, DeliveryRejected):
        assert issubclass(cls, CimedicError), cls
    assert issubclass(SignatureError, DeliveryRejected) and issubclass(PayloadTooLarge, DeliveryRejected)
    assert issubclass(CatalogError, ValueError)  # callers catching ValueError keep working
    import agent.errors

    for cls in (GitHubError, CatalogError, ConfigError, InputError, KnowledgeBaseError, DeliveryRejected):
        assert cls.__name__ in (agent.errors.__doc__ or ""), f"{cls.__name__} missing from the drawn tree"


def test_log_links_on_a_github_job_page_have_no_line_anchors() -> None:
    page = "https://github.com/acme/app/actions/runs/123/job/456"
    links = line_links(page)
    assert links is not None and links(16) == page
    other = line_links("https://gitlab.example/acme/app/-/jobs/9")
    assert other is not None and other(16) == "https://gitlab.example/acme/app/-/jobs/9#L16"
    assert line_links(None) is None


def test_a_malformed_knowledge_setting_stops_every_command_with_one_line(tmp_path: Path) -> None:
    for command in (["kb", "stats"], ["analyze", str(EXAMPLE)]):
        line = _one_error_line(_cimedic(*command, home=tmp_path, CIMEDIC_KB_THRESHOLD="high"))
        assert "invalid configuration: CIMEDIC_KB_THRESHOLD" in line


def test_the_action_passes_every_input_through_env_and_never_into_run() -> None:
    import yaml

    action = yaml.safe_load((ROOT / "action.yml").read_text())
    steps = action["runs"]["steps"]
    for step in steps:  # script injection: an input interpolated into a script runs as code
        assert "${{" not in step.get("run", ""), step.get("name")
    env_values = " ".join(str(v) for step in steps for v in (step.get("env") or {}).values())
    for name in action["inputs"]:
        assert f"inputs.{name} }}}}" in env_values, f"input {name} is not passed to any step"
    diagnose = next(s for s in steps if "cimedic" in s.get("run", "") and "action" in s["run"])
    assert {"CIMEDIC_LLM", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY"} <= set(diagnose["env"])
    install = next(s for s in steps if "pip" in s.get("run", ""))
    assert "torch" not in install["run"] and "[kb]" not in install["run"]  # the light install


def test_a_command_without_its_extra_names_the_extra_in_one_line(tmp_path: Path) -> None:
    # The light install has no fastapi: `None` in sys.modules makes `import fastapi` fail as a missing one.
    script = "import sys\nsys.modules['fastapi'] = None\nfrom agent.cli import main\nmain()\n"
    env = {**os.environ, "CIMEDIC_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script, "serve"], capture_output=True, text=True, env=env, timeout=180
    )
    line = _one_error_line(out)
    assert "'service' extra" in line and "pip install 'cimedic[service]'" in line, line


def test_the_readme_first_session_does_what_it_says(tmp_path: Path) -> None:
    """README.md, "Use": the first session's commands, in order, on a fresh home."""
    home = tmp_path / "home"
    first = _cimedic("analyze", "examples/python-module-not-found.log", home=home)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert "dependency" in first.stdout and "No module named 'stripe'" in first.stdout
    examples = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.log"))
    added = _cimedic("kb", "add", *examples, home=home)
    assert added.returncode == 0 and f"recorded {len(examples)} logs" in added.stdout, (
        added.stdout + added.stderr
    )
    search = _cimedic("kb", "search", "No module named yaml", home=home)
    assert search.returncode == 0, search.stderr
    top = search.stdout.splitlines()[0]
    assert "Python module stripe not found" in top and "similar 0." in top, search.stdout
    again = _cimedic("analyze", "examples/github/python-module-not-found.log", home=home)
    assert again.returncode == 0, again.stderr
    seen = again.stdout.split("Seen before", 1)[1]
    assert "same failure: Python module stripe not found" in seen.splitlines()[1], again.stdout
    stats = _cimedic("kb", "stats", home=home)
    assert stats.stdout.startswith(f"{len(examples)} failures"), stats.stdout


def test_a_provider_sdk_is_imported_only_when_a_model_of_its_provider_is_built() -> None:
    script = (
        "import sys\nimport agent.cli, webhooks.github_action\nfrom agent.llm import build_chain, registry\n"
        "sdks = ('openai', 'anthropic', 'google.genai')\n"
        "registry.prefixes()\nchain = build_chain('anthropic:claude-x,openai:gpt-4.1-mini')\n"
        "print('after chain:', sorted(m for m in sdks if m in sys.modules))\n"
        "import httpx2\nchain[1].build(httpx2.AsyncClient())\n"
        "print('after build:', sorted(m for m in sdks if m in sys.modules))\n"
    )
    env = {**os.environ, "OPENAI_API_KEY": "sk-test"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180)
    assert "after chain: []" in out.stdout, out.stdout + out.stderr
    assert "after build: ['openai']" in out.stdout, out.stdout + out.stderr
