"""Line splitting and cleaning: the contract's line numbers and what a reader sees."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.logtext import CleanLine, Marker, clean_line, count_breaks, mask_volatile, split_lines
from agent.scan import iter_text_lines

TEXT = st.text(alphabet=st.sampled_from(list("ab \t\r\n\x1b[0m;:#é✓")), max_size=200)


@given(TEXT)
def test_split_lines_counts_crlf_cr_and_lf_as_one_break_each(text: str) -> None:
    lines = split_lines(text)
    assert len(lines) == count_breaks(text) + (0 if text == "" or text[-1] in "\r\n" else 1)
    assert all("\r" not in line and "\n" not in line for line in lines)


@given(TEXT, st.lists(st.integers(min_value=0, max_value=200), max_size=6))
def test_streamed_lines_equal_split_lines_whatever_the_chunking(text: str, cuts: list[int]) -> None:
    data = text.encode("utf-8")
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert list(iter_text_lines(chunks)) == split_lines(text)


@given(st.text(max_size=200))
def test_clean_line_leaves_no_escape_or_control_characters(raw: str) -> None:
    cleaned = clean_line(raw).text
    assert "\x1b" not in cleaned
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", cleaned)


def test_github_timestamp_and_workflow_commands() -> None:
    line = clean_line("2026-11-24T08:15:02.1234567Z ##[error]Process completed with exit code 1.")
    assert line.text == "Process completed with exit code 1."
    assert line.marker is Marker.ERROR
    assert line.display == "##[error]Process completed with exit code 1."
    group = clean_line("2026-11-24T08:15:02.1234567Z ##[group]Run pytest -q")
    assert (group.marker, group.name) == (Marker.GROUP_START, "Run pytest -q")
    annotation = clean_line("::error file=src/a.py,line=3::boom")
    assert (annotation.text, annotation.name) == ("boom", "file=src/a.py,line=3")


def test_gh_run_view_log_prefix_is_read_past_and_kept_for_display() -> None:
    # `gh run view --log` puts the job's and the step's names before each line, tab-separated
    # (https://cli.github.com/manual/gh_run_view)
    raw = "build\tRun make\t2021-12-01T13:01:04.7408115Z ##[error]Process completed with exit code 1."
    line = clean_line(raw)
    assert (line.text, line.marker) == ("Process completed with exit code 1.", Marker.ERROR)
    assert line.display == raw
    group = clean_line(
        "build\tRun ./gradlew build\t2021-12-01T13:00:49.3973698Z ##[group]Run ./gradlew build"
    )
    assert (group.marker, group.name) == (Marker.GROUP_START, "Run ./gradlew build")
    plain = clean_line("build\tRun ./gradlew build\t2021-12-01T13:01:04.3785538Z > Task :test FAILED")
    assert plain.text == "> Task :test FAILED"
    # a tab-separated line of a tool's own (go test's `FAIL\tpkg\t0.01s`) is left as it is
    assert clean_line("FAIL\tgithub.com/acme/ring\t0.067s").text == "FAIL\tgithub.com/acme/ring\t0.067s"


@given(st.text(alphabet=st.sampled_from(list("ab \t:-Z09#[]")), max_size=40))
def test_a_gh_prefixed_line_reads_as_the_line_behind_it(rest: str) -> None:
    inner = clean_line(f"2024-05-14T09:12:03.4518823Z {rest}")
    prefixed = clean_line(f"job\tstep\t2024-05-14T09:12:03.4518823Z {rest}")
    assert (prefixed.text, prefixed.marker, prefixed.name) == (inner.text, inner.marker, inner.name)


def test_gitlab_sections_and_ansi() -> None:
    start = clean_line("section_start:1700000000:step_script[collapsed=true]")
    assert (start.marker, start.name, start.system) == (Marker.GROUP_START, "step_script", "gitlab")
    assert clean_line("\x1b[0K\x1b[32;1m$ make test\x1b[0;m").text == "$ make test"
    assert (
        clean_line("\x1b[31;1mERROR: Job failed: exit code 2\x1b[0m").text == "ERROR: Job failed: exit code 2"
    )


def test_travis_markers_and_esc_less_colour_codes() -> None:
    assert clean_line("travis_fold:start:install").marker is Marker.GROUP_START
    assert clean_line("travis_time:end:0a1b:start=1,finish=2,duration=1").text == ""
    assert clean_line("[1m[31mFAILED[0m tests/x.py").text == "FAILED tests/x.py"


def test_mask_volatile_keeps_counts_and_masks_what_reruns_change() -> None:
    a = mask_volatile(
        "2026-11-24T08:15:02Z took 1.25s pid 4242 at /tmp/pytest-of-ci/x1/f.txt "
        "port 8080 on localhost:8080 id 9f1c2ab7"
    )
    b = mask_volatile(
        "2026-11-25T09:00:00Z took 3.5s pid 17 at /tmp/pytest-of-ci/x9/f.txt "
        "port 9090 on localhost:9090 id 0e7d3c55"
    )
    assert a == b
    assert mask_volatile("3 failed, 10 passed") != mask_volatile("2 failed, 10 passed")


def test_escape_sequences_without_csi_leave_nothing_behind() -> None:
    # vis's test runner under a pseudo-terminal (LogChunks): keypad modes and cursor keys around each result
    raw = "\x1b[?1h\x1b=\x1b[?1l\x1b>multiple-cursors/selections-trim                  FAIL"
    assert clean_line(raw).text == "multiple-cursors/selections-trim                  FAIL"
    # tput sgr0 (character set G0 to ASCII, then SGR reset) and a cursor save and restore
    assert clean_line("\x1b7\x1b[1mok 3 - parses\x1b(B\x1b[m\x1b8").text == "ok 3 - parses"


@pytest.mark.parametrize("name", ["[main]", "[msghand]", "[mkdir-p]", "[Kafka]"])
def test_a_bracketed_name_is_not_an_escape_that_lost_its_esc(name: str) -> None:
    # ESC-less `[m` and `[K` are stripped only on their own: a logger's `[main] ERROR` keeps its thread name
    assert clean_line(f"10:01:02 {name} ERROR x.Handler - boom").text == f"{name} ERROR x.Handler - boom"
    assert clean_line("done [m").text == "done"


@pytest.mark.parametrize(
    ("raw", "prefix", "text"),
    [
        (
            "@acme/pricing:test:  FAIL  src/quote.test.ts > rounds",
            "@acme/pricing:test: ",
            " FAIL  src/quote.test.ts > rounds",
        ),
        (
            "web:build: error TS2304: Cannot find name 'x'.",
            "web:build: ",
            "error TS2304: Cannot find name 'x'.",
        ),
        ("docs:test:unit: ", "docs:test:unit: ", ""),
    ],
)
def test_a_turborepo_task_prefix_is_read_past_and_kept_for_display(raw: str, prefix: str, text: str) -> None:
    # turbo run prefixes each line of a task's output with `<package>:<task>: `
    line = clean_line(f"2024-03-12T14:02:12.2071507Z {raw}")
    assert (line.prefix, line.text) == (prefix, text.rstrip())
    assert line.display.rstrip() == raw.rstrip()


@pytest.mark.parametrize(
    ("raw", "prefix", "text"),
    [
        (
            "[11:39:26] :\t [Step 2/2] [ERROR] Failed to execute goal maven-deploy-plugin:3.1.1:deploy",
            "[11:39:26] :\t [Step 2/2] ",
            "[ERROR] Failed to execute goal maven-deploy-plugin:3.1.1:deploy",
        ),
        (
            "[14:02:46]E:\t\t\t\t [Billing.Tests.InvoiceTotalsTests.Total_includes_tax]   Expected: 107.00m",
            "[14:02:46]E:\t\t\t\t [Billing.Tests.InvoiceTotalsTests.Total_includes_tax] ",
            "  Expected: 107.00m",
        ),
        # gulp's own time stamp has no status: not TeamCity's
        ("[10:15:21] Using gulpfile ~/app/gulpfile.js", "", "[10:15:21] Using gulpfile ~/app/gulpfile.js"),
    ],
)
def test_teamcitys_time_status_and_block_are_read_past_and_kept_for_display(
    raw: str, prefix: str, text: str
) -> None:
    line = clean_line(raw)
    assert (line.prefix, line.text) == (prefix, text)
    assert line.display == raw


@pytest.mark.parametrize(
    "raw",
    [
        "main.c:12: error: expected ';'",
        "error:0906D06C:PEM routines:PEM_read_bio:no start line",
        "node:internal/modules/cjs/loader:1080",
        "Error: connect ECONNREFUSED 127.0.0.1:5432",
        "https://registry.npmjs.org/: not found",
    ],
)
def test_a_path_or_message_with_colons_is_not_a_task_prefix(raw: str) -> None:
    assert clean_line(raw) == CleanLine(raw)
