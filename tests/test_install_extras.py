"""The light install (`pip install cimedic`, no extra: what the GitHub Action installs) and its extras
(issue 15).

Commands run on a site directory holding only what pip would install (tests/light_install.py); a command
that needs an extra must say which in one line, never with a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import light_install
import pytest
import yaml
from github_sim import new_sim
from test_gh_e2e import PYTEST_FAIL, REPO

from agent.cli import EXTRAS

EXAMPLE = light_install.ROOT / "examples" / "python-module-not-found.log"


@pytest.fixture(scope="session")
def site_with(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """The install with these extras, made once per session."""
    made: dict[tuple[str, ...], Path] = {}

    def make(*extras: str) -> Path:
        if extras not in made:
            target = tmp_path_factory.mktemp("-".join(extras) or "light") / "site"
            made[extras] = light_install.make_site(target, extras)
        return made[extras]

    return make


@pytest.fixture(scope="session")
def light_site(site_with: Callable[..., Path]) -> Path:
    return site_with()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def test_the_action_runs_on_the_light_install(light_site: Path, home: Path) -> None:
    # Outside GitHub Actions it stops at its own check of the environment: the imports all succeeded.
    out = light_install.run(light_site, "action", home=home)
    assert "needs GITHUB_REPOSITORY, GITHUB_RUN_ID and a token" in out.stdout, out.stdout + out.stderr
    assert out.returncode == 2 and "Traceback" not in out.stderr and "extra" not in out.stderr


# Every command on the light install: None = works (or stops at its own check), else the extra it must name.
COMMANDS: list[tuple[tuple[str, ...], str | None]] = [
    (("analyze", "--no-kb", str(EXAMPLE)), None),
    (("analyze", str(EXAMPLE)), None),  # goes on without the knowledge base, with one warning
    (("rules", "list"), None),
    (("llm", "providers"), None),
    (("llm", "usage"), None),
    (("kb", "stats"), "kb"),
    (("kb", "search", "No module named yaml"), "kb"),
    (("kb", "add", str(EXAMPLE)), "kb"),
    (("kb", "export", "-"), "kb"),
    (("kb", "repair"), "kb"),
    (("audit",), "store"),
    (("ticket", "list"), "store"),
    (("serve",), "service"),
    (("worker",), "service"),
    (("github", "redeliver"), "service"),
    (("gitlab-ci",), "gitlab"),
]


@pytest.mark.parametrize(("args", "extra"), COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS])
def test_each_command_on_the_light_install_works_or_names_its_extra(
    light_site: Path, home: Path, args: tuple[str, ...], extra: str | None
) -> None:
    out = light_install.run(light_site, *args, home=home)
    assert "Traceback" not in out.stderr, out.stderr
    if extra is None:
        assert out.returncode == 0, out.stderr
        assert all(line.startswith("cimedic: warning: ") for line in out.stderr.splitlines()), out.stderr
        return
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and lines[0].startswith("cimedic: error: "), out.stderr
    assert f"pip install 'cimedic[{extra}]'" in lines[0]
    assert extra in light_install.extras()


@pytest.mark.parametrize(
    ("extra", "args"),
    [
        ("kb", ("kb", "stats")),
        ("kb", ("analyze", str(EXAMPLE))),
        ("store", ("audit",)),
        ("service", ("audit",)),
    ],
)
def test_a_command_runs_with_the_extra_it_names_alone(
    site_with: Callable[..., Path], home: Path, extra: str, args: tuple[str, ...]
) -> None:
    out = light_install.run(site_with(extra), *args, home=home)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_gitlab_ci_runs_with_the_gitlab_extra_alone(site_with: Callable[..., Path], home: Path) -> None:
    # docs/gitlab.md installs `cimedic[gitlab]` in the job: no SQL store, no service
    out = light_install.run(site_with("gitlab"), "gitlab-ci", home=home)
    assert out.returncode == 2 and out.stderr.startswith("cimedic gitlab-ci: CIMEDIC_GITLAB_TOKEN: not set")


@pytest.mark.parametrize(
    ("model", "key", "extra"),
    [
        ("openai:gpt-4.1-mini", "OPENAI_API_KEY", "llm-openai"),
        ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY", "llm-anthropic"),
        ("google:gemini-2.5-flash", "GOOGLE_API_KEY", "llm-google"),
    ],
)
def test_an_llm_whose_sdk_is_missing_is_skipped_with_one_line_and_a_note(
    light_site: Path, home: Path, model: str, key: str, extra: str
) -> None:
    env = {"CIMEDIC_LLM": model, key: "sk-test"}
    out = light_install.run(light_site, "analyze", "--no-kb", "-f", "json", str(EXAMPLE), home=home, env=env)
    said = f"LLM {model} skipped: its SDK is not installed: pip install 'cimedic[{extra}]'"
    assert out.returncode == 0 and out.stderr == f"cimedic: warning: {said}\n", out.stderr
    diagnosis = json.loads(out.stdout)
    assert diagnosis["llm"] is None and diagnosis["notes"] == [said]
    assert extra in light_install.extras()
    check = light_install.run(light_site, "llm", "check", home=home, env=env)
    assert check.returncode == 1 and "Traceback" not in check.stderr, check.stderr
    assert f"pip install 'cimedic[{extra}]'" in check.stdout


def test_each_llm_extra_brings_its_providers_sdk_alone() -> None:
    light = light_install.distributions()
    sdks = {"llm-openai": "openai", "llm-anthropic": "anthropic", "llm-google": "google-genai"}
    assert not set(sdks.values()) & light
    for extra, sdk in sdks.items():
        added = light_install.distributions([extra]) - light
        assert sdk in added and not (set(sdks.values()) - {sdk}) & added, (extra, added)
    assert set(sdks.values()) <= light_install.distributions(["llm"])


def test_the_extras_named_by_errors_are_declared_and_bring_those_packages() -> None:
    # agent/cli's table of import name -> extra, and the knowledge base's own hint, against pyproject.toml
    light = light_install.distributions()
    for module, extra in EXTRAS.items():
        assert extra in light_install.extras(), extra
        brought = {
            dist
            for dist in light_install.distributions([extra]) - light
            for top in _top_levels(dist)
            if top == module
        }
        assert brought, f"{module}: not brought by the '{extra}' extra"
    assert {"store", "llm", "all"} <= set(light_install.extras())
    everything = light_install.distributions(["all"])
    for extra in light_install.extras():
        if extra != "dev":
            assert light_install.distributions([extra]) <= everything, extra
    assert everything <= light_install.distributions(["dev"])


def _top_levels(dist: str) -> set[str]:
    from importlib.metadata import distribution

    files = distribution(dist).files or []
    return {f.parts[0].removesuffix(".py") for f in files if f.parts[0] != ".."}


# Heavy packages the light paths must not import even where they are installed (this test venv has them all).
NOT_ON_THE_LIGHT_PATH = ("sqlalchemy", "alembic", "psycopg", "gitlab", "jira", "fastapi", "torch", "chromadb")


@pytest.mark.parametrize(
    "args", [("analyze", "--no-kb", str(EXAMPLE)), ("action",)], ids=["analyze", "action"]
)
def test_the_light_paths_import_no_extra(home: Path, args: tuple[str, ...]) -> None:
    script = (
        "import sys\nfrom agent.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print('code:', e.code)\n"
        f"print('imported:', sorted(m for m in {NOT_ON_THE_LIGHT_PATH!r} if m in sys.modules))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "CIMEDIC_HOME": str(home),
        "PYTHONPATH": str(light_install.ROOT),
    }
    out = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=180, cwd=home
    )
    assert "imported: []" in out.stdout, out.stdout + out.stderr


def _action_install(tmp_path: Path, llm: str) -> list[str]:
    """The arguments of each `python` command of action.yml's install step, run with `python` faked."""
    steps = yaml.safe_load((light_install.ROOT / "action.yml").read_text())["runs"]["steps"]
    script = next(s for s in steps if s.get("name") == "Install CI Medic")["run"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    calls.unlink(missing_ok=True)
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_ACTION_PATH": "/action",
        "CIMEDIC_PACKAGE": "",
        "CIMEDIC_LLM": llm,
    }
    subprocess.run(["bash", "-e", "-c", script], env=env, check=True, timeout=60)
    return calls.read_text().splitlines()


def test_the_actions_install_brings_the_sdk_of_each_provider_its_llm_input_names(tmp_path: Path) -> None:
    venv, pip = _action_install(tmp_path, "")
    assert venv.startswith("-m venv") and pip.endswith("install --quiet --no-compile /action")
    *_, pip = _action_install(tmp_path, "openai:gpt-4.1-mini, Anthropic:claude-x ,ollama:qwen2.5-coder:7b")
    assert pip.endswith("/action cimedic[llm-openai,llm-anthropic]")
    # every built-in prefix and alias, as the registry knows them (a fresh process: no test's own plugins)
    known = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from agent.llm import registry as r; "
            "print(json.dumps({p: r.get(p).sdk_extra for p in r.prefixes()}))",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(light_install.ROOT)},
    )
    extras = json.loads(known.stdout)
    assert {"openai", "anthropic", "google", "ollama"} <= set(extras)
    for prefix, extra in extras.items():
        assert extra in light_install.extras(), prefix
        *_, pip = _action_install(tmp_path, f"{prefix}:some-model")
        assert pip.endswith(f"/action cimedic[{extra}]"), (prefix, pip)


def test_the_action_on_the_light_install_comments_and_notes_the_llm_it_cannot_use(
    light_site: Path, home: Path
) -> None:
    # action.yml's own run against the simulated GitHub: a failed job of a PR's run, an `llm` input whose
    # provider's SDK is not installed (the light install has none).
    sim = new_sim(pat="ghp_simtoken")
    try:
        sim.add_repo(REPO)
        sim.add_pull(REPO, 3, head_sha="c" * 40, head_ref="feature")
        run = sim.add_run(REPO, head_sha="c" * 40, head_branch="feature", pulls=[3])
        sim.add_job(run, "test", log=PYTEST_FAIL)
        event = home / "event.json"
        workflow_run = {k: v for k, v in run.items() if not k.startswith("_")}
        event.write_text(json.dumps({"action": "completed", "workflow_run": workflow_run}))
        env = {
            "GITHUB_EVENT_NAME": "workflow_run",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_REPOSITORY": REPO,
            "GITHUB_RUN_ID": "999",
            "GITHUB_API_URL": sim.url,
            "GITHUB_TOKEN": "ghp_simtoken",
            "CIMEDIC_COMMENT_LOGIN": "token-user",
            "CIMEDIC_LLM": "anthropic:claude-sonnet-4-5",
            "ANTHROPIC_API_KEY": "sk-ant-test",
        }
        out = light_install.run(light_site, "action", home=home, env=env)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stdout + out.stderr
        said = (
            "LLM anthropic:claude-sonnet-4-5 skipped: "
            "its SDK is not installed: pip install 'cimedic[llm-anthropic]'"
        )
        assert f"::warning::cimedic: {said}\n" in out.stdout
        (comment,) = sim.comments_on(REPO, 3)
        body = comment["body"]  # Markdown: the note's brackets are escaped
        assert "LLM anthropic:claude-sonnet-4-5 skipped: its SDK is not installed" in body
        assert "llm-anthropic" in body and "1 failed job" in out.stdout
    finally:
        sim.stop()
