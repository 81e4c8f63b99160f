"""One escaping policy for every surface that shows log text: comment, check run, CLI Markdown."""

from __future__ import annotations

from actions.github_checks import check_output
from actions.github_comment import FailedJob, render_comment
from agent.models import Category, Diagnosis, Facts, LlmExplanation, Location, LogLine, Verdict
from agent.render import render_markdown

HOSTILE = "error TS2345: @everyone <img src=https://evil.example/x.png> [x](https://evil.example) `a` |b|"


def diag(title: str = HOSTILE) -> Diagnosis:
    return Diagnosis(
        source="https://github.com/octo/app/actions/runs/1/job/7",
        category=Category.BUILD,
        confidence=0.9,
        title=title,
        focus=[LogLine(line=3, text=HOSTILE)],
        excerpt=[LogLine(line=3, text=HOSTILE)],
        fingerprint="fp01",
        facts=Facts(locations=[Location(path="src/a.ts", line=4, message=HOSTILE)]),
        verdict=Verdict(kind="new", reason="The same job passes on `main`."),
        notes=["comparison with `main` skipped: GET workflows/{id}/runs: HTTP 404 <b>@octocat</b>"],
        llm=LlmExplanation(
            model="test",
            summary=f"summary {HOSTILE}",
            root_cause=f"cause {HOSTILE}",
            category=Category.BUILD,
            confidence="high",
            evidence=[LogLine(line=3, text=HOSTILE)],
            verified=True,
        ),
    )


def assert_defused(markdown: str) -> None:
    """Rendered as CommonMark: no image, no link to the log's host, no mention outside code."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    html = md.render(markdown)
    assert "<img" not in html and 'href="https://evil' not in html and "<b>" not in html
    for block in md.parse(markdown):
        for tok in block.children or []:
            if tok.type == "text":
                assert "@everyone" not in tok.content and "@octocat" not in tok.content


def test_check_run_summary_escapes_log_text_like_the_comment() -> None:
    conclusion, title, summary = check_output([FailedJob("build", None, diag())])
    assert conclusion == "neutral" and "TS2345" in summary
    assert_defused(summary)
    assert_defused(title)


def test_comment_escapes_log_text_and_shows_notes() -> None:
    body = render_comment([FailedJob("build", None, diag())], head_sha="f" * 40)
    assert_defused(body)
    assert "comparison with \\`main\\` skipped" in body or "comparison with `main` skipped" in body


def test_cli_markdown_escapes_llm_text() -> None:
    body = render_markdown(diag())
    assert_defused(body)
