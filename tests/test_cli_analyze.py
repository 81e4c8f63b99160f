"""`cimedic analyze` as a user runs it: a real process, real files, every output format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.logtext import clean_line, split_lines

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "pytest-assertion.log"


def _cimedic(*args: str, stdin: bytes | None = None, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "CIMEDIC_HOME": str(home), "NO_COLOR": "1"}
    env.pop("CIMEDIC_LLM", None)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], input=stdin, capture_output=True, env=env, timeout=120
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_json_follows_the_documented_schema(home: Path) -> None:
    out = _cimedic("analyze", "--no-kb", "--format", "json", str(EXAMPLE), home=home)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["schema"] == "cimedic.diagnosis/v1"
    assert d["source"] == str(EXAMPLE)
    assert set(d) >= {"category", "confidence", "title", "focus", "excerpt", "fingerprint", "facts", "rule"}
    lines = split_lines(EXAMPLE.read_text())
    for item in d["focus"] + d["excerpt"]:  # every cited line is that line of the log, markup removed
        assert clean_line(lines[item["line"] - 1]).display.strip() == item["text"].strip()


def test_jsonl_writes_one_object_per_log_and_stdin_works(home: Path) -> None:
    out = _cimedic(
        "analyze", "--no-kb", "-f", "jsonl", str(EXAMPLE), "-", stdin=EXAMPLE.read_bytes(), home=home
    )
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [r["source"] for r in rows] == [str(EXAMPLE), "-"]
    assert rows[0]["fingerprint"] == rows[1]["fingerprint"]


def test_markdown_and_text_views(home: Path) -> None:
    md = _cimedic(
        "analyze",
        "--no-kb",
        "-f",
        "markdown",
        "--log-url",
        "https://ci.example/job/1",
        str(EXAMPLE),
        home=home,
    )
    assert md.returncode == 0, md.stderr
    body = md.stdout.decode()
    assert "<details>" in body and "https://ci.example/job/1#L" in body and len(body) < 65_000
    text = _cimedic("analyze", "--no-kb", str(EXAMPLE), home=home)
    assert text.returncode == 0 and b"AssertionError" in text.stdout


def test_missing_file_exits_non_zero_with_one_line(home: Path) -> None:
    out = _cimedic("analyze", "--no-kb", "nope.log", home=home)
    assert out.returncode == 2
    assert out.stderr.decode().strip() == "cimedic: error: nope.log: no such file"
    assert b"Traceback" not in out.stderr
