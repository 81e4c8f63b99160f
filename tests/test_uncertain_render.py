"""A low-confidence diagnosis leads with its failing lines and says "category uncertain" on every surface
(terminal text, CLI Markdown, the sticky PR comment and GitLab MR note, the check-run summary); a confident
one keeps its headline. Real example logs (examples/), analysed by the engine with the packaged calibration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.github_checks import check_output
from actions.github_comment import FailedJob, render_comment
from agent.engine import analyze_file
from agent.models import Category, Diagnosis
from agent.render import UNCERTAIN_BELOW, inline_md, render_markdown, render_text_to_string, to_json

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def diagnose(name: str) -> Diagnosis:
    return analyze_file(EXAMPLES / name, source=name)


@pytest.fixture(scope="module")
def low() -> Diagnosis:
    # pip failing on a self-signed certificate: answered `network`, the category whose answers were right
    # about half the time on the development folds.
    d = diagnose("pip-tls-error.log")
    assert d.category is Category.NETWORK and d.confidence < UNCERTAIN_BELOW
    return d


@pytest.fixture(scope="module")
def high() -> Diagnosis:
    d = diagnose("pytest-assertion.log")
    assert d.category is Category.TEST and d.confidence >= UNCERTAIN_BELOW
    return d


def test_text_leads_with_the_failing_lines_when_uncertain(low: Diagnosis) -> None:
    out = render_text_to_string(low).splitlines()
    assert out[0] == "pip-tls-error.log"
    assert out[1].strip().startswith("category uncertain")
    shown = [line.split("│", 1)[1].strip() for line in out[2 : 2 + len(low.focus)]]
    assert shown == [f.text.strip() for f in low.focus]
    guess = out[2 + len(low.focus)]
    assert (
        guess.startswith(f"best guess: network, {low.title}") and f"confidence {low.confidence:.2f}" in guess
    )
    assert not any(line.lstrip().startswith("network ") for line in out)  # no bold category headline


def test_text_keeps_the_headline_when_confident(high: Diagnosis) -> None:
    out = render_text_to_string(high)
    assert out.splitlines()[1].strip() == f"test  {high.title}"
    assert "uncertain" not in out


def test_markdown_leads_with_the_lines_and_names_the_category_as_a_guess(low: Diagnosis) -> None:
    body = render_markdown(low)
    head, rest = body.split("\n", 1)
    assert head == "### ❔ Category uncertain: the failing lines"
    first_quote = rest.index("> line ")
    assert (
        first_quote
        < rest.index("**Best guess:** `network`")
        < rest.index("**What to do, if it is `network`**")
    )
    assert f"`{low.title}`" not in head


def test_markdown_keeps_the_headline_when_confident(high: Diagnosis) -> None:
    body = render_markdown(high)
    assert body.startswith(f"### ❌ `{high.title}`") and "uncertain" not in body.lower()
    assert "**Category:** `test`" in body


def test_sticky_comment_leads_with_the_lines_when_uncertain(low: Diagnosis, high: Diagnosis) -> None:
    body = render_comment([FailedJob("deps", None, low), FailedJob("tests", None, high)], head_sha="a" * 40)
    uncertain, confident = (part for part in body.split("\n---\n") if "####" in part)
    uncertain, confident = sorted((uncertain, confident), key=lambda p: "uncertain" not in p)
    heading = next(line for line in uncertain.splitlines() if line.startswith("####"))
    assert heading.endswith("Category uncertain: the failing lines")
    after = uncertain.split(heading, 1)[1]
    assert after.index("> line 7: `ERROR: Could not find a version") < after.index(
        f"best guess `network` ({low.confidence:.2f})"
    )
    assert "**What to do, if it is `network`**" in uncertain and "**What to do**" in confident
    assert any(
        line.startswith("#### ") and line.endswith(inline_md(high.title)) for line in confident.splitlines()
    )
    assert "uncertain" not in confident


def test_gitlab_note_of_a_gitlab_log_leads_with_the_lines() -> None:
    # The MR note is the same body (webhooks/gitlab_ci.py renders it with render_comment).
    d = diagnose("gitlab/pip-tls-error.log")
    assert d.confidence < UNCERTAIN_BELOW
    body = render_comment([FailedJob("deps", "https://gitlab.example/x/-/jobs/1", d)], head_sha="b" * 40)
    assert "Category uncertain: the failing lines" in body and "Could not fetch URL" in body
    assert f"#### ⚪ {d.title}" not in body


def test_check_run_summary_names_the_first_line_not_the_guess(low: Diagnosis, high: Diagnosis) -> None:
    _, _, summary = check_output([FailedJob("deps", None, low)])
    assert "category uncertain, `" in summary and low.focus[0].text.strip()[:60] in summary
    assert inline_md(low.title) not in summary
    _, _, summary = check_output([FailedJob("tests", None, high)])
    assert inline_md(high.title) in summary and "uncertain" not in summary


def test_json_keeps_the_category_and_the_calibrated_confidence(low: Diagnosis) -> None:
    data = json.loads(to_json([low], lines=False))
    assert data["category"] == "network" and data["confidence"] == low.confidence < UNCERTAIN_BELOW
    assert data["title"] == low.title


def test_an_unknown_failure_leads_with_its_lines_and_an_empty_log_keeps_its_one_line(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("Running tests\nok 1\nsomething went wrong here\nexit status 1\n")
    d = analyze_file(log, source="job.log")
    assert d.category is Category.UNKNOWN and d.focus
    out = render_text_to_string(d).splitlines()
    assert out[1].strip().startswith("category uncertain") and out[2].endswith(d.focus[0].text)
    assert "**Category:** `unknown`" in render_markdown(d) and "Best guess" not in render_markdown(d)
    body = render_comment([FailedJob("job", None, d)], head_sha="c" * 40)
    assert "Category uncertain: the failing lines" in body and "category `unknown`" in body
    assert "best guess" not in body
    empty = tmp_path / "empty.log"
    empty.write_text("")
    d = analyze_file(empty, source="empty.log")
    assert not d.focus and render_text_to_string(d).splitlines()[1].strip() == f"unknown  {d.title}"
