"""`cimedic fix` and `cimedic analyze --source` as a user runs them: a real process on a real checkout and
the real build's log; after `--apply` the same build passes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "bench" / "fixes" / "cases"


def cimedic(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIMEDIC_HOME": str(home), "NO_COLOR": "1"}
    env.pop("CIMEDIC_LLM", None)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def build(checkout: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.main"], cwd=checkout, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the py-name-error case and the log of its real, failing build."""
    work = tmp_path / "repo"
    shutil.copytree(CASES / "py-name-error", work, ignore=shutil.ignore_patterns("case.yaml"))
    failed = build(work)
    assert failed.returncode != 0
    (tmp_path / "build.log").write_text(failed.stderr)
    return work


def test_fix_prints_the_patch_and_apply_makes_the_build_pass(checkout: Path, tmp_path: Path) -> None:
    log = str(tmp_path / "build.log")
    shown = cimedic("fix", log, cwd=checkout, home=tmp_path / "home")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("diff --git a/app/main.py b/app/main.py\n")
    assert '+    return f"mean {average:.2f}"' in shown.stdout
    assert "Use 'average' instead of 'averge'" in shown.stderr
    assert build(checkout).returncode != 0  # printing changes nothing
    applied = cimedic("fix", log, "--apply", cwd=checkout, home=tmp_path / "home")
    assert applied.returncode == 0, applied.stderr
    assert "applied to app/main.py (not committed)" in applied.stderr
    assert build(checkout).returncode == 0
    again = cimedic("fix", log, "--source", str(checkout), cwd=tmp_path, home=tmp_path / "home")
    assert again.returncode == 1 and again.stdout == ""
    assert "line 3 does not contain 'averge'" in again.stderr


def test_the_checkouts_policy_protects_its_paths(checkout: Path, tmp_path: Path) -> None:
    (checkout / ".github").mkdir()
    (checkout / ".github" / "cimedic.yml").write_text("protected: ['app/**']\n")
    out = cimedic(
        "fix", str(tmp_path / "build.log"), "--format", "json", cwd=checkout, home=tmp_path / "home"
    )
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result["fix"] is None
    assert result["fix_notes"] == [
        "rule patch python-did-you-mean (log line 10) dropped: app/main.py is a protected path"
    ]


def test_analyze_puts_the_fix_in_the_diagnosis_only_with_a_source(checkout: Path, tmp_path: Path) -> None:
    log = str(tmp_path / "build.log")
    home = tmp_path / "home"
    with_source = cimedic(
        "analyze", "--no-kb", "-f", "json", "--source", str(checkout), log, cwd=tmp_path, home=home
    )
    assert with_source.returncode == 0, with_source.stderr
    fix = json.loads(with_source.stdout)["fix"]
    assert fix["source"] == "rule" and fix["validated"] is True and fix["files"] == ["app/main.py"]
    assert fix["rules"] == ["python-did-you-mean"]
    assert fix["patch"] == cimedic("fix", log, cwd=checkout, home=home).stdout
    without = json.loads(cimedic("analyze", "--no-kb", "-f", "json", log, cwd=checkout, home=home).stdout)
    assert without["fix"] is None and without["fix_notes"] == []


def test_analyze_text_and_markdown_show_the_checked_patch(checkout: Path, tmp_path: Path) -> None:
    log = str(tmp_path / "build.log")
    home = tmp_path / "home"
    text = cimedic(
        "analyze", "--no-kb", "-f", "text", "--source", str(checkout), log, cwd=tmp_path, home=home
    )
    assert text.returncode == 0, text.stderr
    assert "Suggested patch (the build's own tool: python-did-you-mean): Use 'average'" in text.stdout
    assert '  +    return f"mean {average:.2f}"' in text.stdout
    md = cimedic(
        "analyze", "--no-kb", "-f", "markdown", "--source", str(checkout), log, cwd=tmp_path, home=home
    )
    assert "<details><summary>Suggested patch: Use 'average' instead of 'averge'" in md.stdout
    assert "```diff\ndiff --git a/app/main.py b/app/main.py\n" in md.stdout
    plain = cimedic("analyze", "--no-kb", "-f", "text", log, cwd=checkout, home=home)
    assert "Suggested patch" not in plain.stdout


def test_an_unreadable_log_is_a_clear_error(tmp_path: Path) -> None:
    out = cimedic("fix", str(tmp_path / "missing.log"), cwd=tmp_path, home=tmp_path / "home")
    assert out.returncode == 2
    assert "no such file" in out.stderr
