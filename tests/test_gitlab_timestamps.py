"""GitLab Runner's job log timestamps (FF_TIMESTAMPS, runner 17.0+; on by default from 18.7): every trace line
starts with `<RFC 3339 UTC, 6 fractional digits> <stream 2 hex><O|E><+ or space>` (docs.gitlab.com/ci/jobs/
job_logs/#job-log-timestamps; the header GitLab itself parses is 32 bytes). The analysis must read such a
trace as it reads the same trace without them: header stripped, `section_start`/`section_end` still steps,
cited lines the log's own lines, the same fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agent.engine import analyze
from agent.logtext import Marker, clean_line, split_lines

# A failed pytest job as a GitLab runner (docker executor) writes it, sections and all.
PLAIN = [
    ("O", "Running with gitlab-runner 18.7.1 (d2f5a6b1)"),
    ("O", "  on docker-runner-2 t3_xYz9, system ID: s_5f1c0a7e3b2d"),
    (
        "O",
        "section_start:1764943200:prepare_executor\r\x1b[0K\x1b[0K\x1b[36;1mPreparing the executor\x1b[0;m",
    ),
    ("O", "\x1b[0KUsing Docker executor with image python:3.12-slim ...\x1b[0;m"),
    ("O", "section_end:1764943203:prepare_executor\r\x1b[0K"),
    (
        "O",
        "section_start:1764943203:get_sources\r\x1b[0K\x1b[0K\x1b[36;1m"
        "Getting source from Git repository\x1b[0;m",
    ),
    ("O", "\x1b[32;1mFetching changes with git depth set to 20...\x1b[0;m"),
    ("O", "Checking out 9f1c2ab7 as detached HEAD (ref is refs/merge-requests/4/head)..."),
    ("O", "section_end:1764943205:get_sources\r\x1b[0K"),
    (
        "O",
        "section_start:1764943205:step_script\r\x1b[0K\x1b[0K\x1b[36;1m"
        'Executing "step_script" stage of the job script\x1b[0;m',
    ),
    ("O", "\x1b[32;1m$ pip install -q -r requirements.txt\x1b[0;m"),
    ("E", "WARNING: Running pip as the 'root' user can result in broken permissions"),
    ("O", "\x1b[32;1m$ python -m pytest -q\x1b[0;m"),
    ("O", "..F."),
    ("O", "=================================== FAILURES ==================================="),
    ("O", "___________________________________ test_total _________________________________"),
    ("O", "    def test_total():"),
    ("O", ">       assert total([1, 2]) == 4"),
    ("O", "E       assert 3 == 4"),
    ("O", "E        +  where 3 = total([1, 2])"),
    ("O", "tests/test_cart.py:12: AssertionError"),
    ("O", "=========================== short test summary info ============================"),
    ("O", "FAILED tests/test_cart.py::test_total - assert 3 == 4"),
    ("O", "1 failed, 3 passed in 0.41s"),
    ("O", "section_end:1764943231:step_script\r\x1b[0K"),
    (
        "O",
        "section_start:1764943231:cleanup_file_variables\r\x1b[0K\x1b[0K\x1b[36;1m"
        "Cleaning up project directory and file based variables\x1b[0;m",
    ),
    ("O", "section_end:1764943232:cleanup_file_variables\r\x1b[0K"),
    ("O", "\x1b[31;1mERROR: Job failed: exit code 1\x1b[0;m"),
]


def stamped(lines: list[tuple[str, str]], *, start: datetime) -> str:
    """The trace with a runner header on each line: unique, increasing times (a few ms apart, as output
    arrives), stream 01 for the job script and 00 for the runner's own lines."""
    out = []
    for i, (stream, text) in enumerate(lines):
        when = start + timedelta(microseconds=1_000 * i * i + 137 * i)
        number = "01" if 10 <= i < 25 else "00"
        out.append(f"{when.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z {number}{stream} {text}")
    return "\n".join(out) + "\n"


PLAIN_TRACE = "\n".join(text for _, text in PLAIN) + "\n"
TRACE = stamped(PLAIN, start=datetime(2026, 12, 5, 13, 20, 0, 412_907, tzinfo=UTC))


def test_the_header_is_stripped_and_a_section_marker_after_it_is_still_a_step() -> None:
    line = clean_line("2026-12-05T13:20:05.004211Z 01O section_start:1764943205:step_script\r")
    assert (line.marker, line.name, line.system) == (Marker.GROUP_START, "step_script", "gitlab")
    err = clean_line("2026-12-05T13:20:07.118002Z 01E WARNING: Running pip as the 'root' user")
    assert (err.text, err.system) == ("WARNING: Running pip as the 'root' user", "gitlab")
    continued = clean_line("2026-12-05T13:20:07.118090Z 01O+tail of a long line")
    assert continued.text == "tail of a long line"
    # GitHub's stamp (7 fractional digits, no stream field) is still GitHub's.
    github = clean_line("2026-12-05T13:20:07.1180021Z ##[error]Process completed with exit code 1.")
    assert (github.text, github.system, github.marker) == (
        "Process completed with exit code 1.",
        "github",
        Marker.ERROR,
    )


def test_a_timestamped_trace_reads_as_the_same_trace_without_timestamps() -> None:
    plain = analyze(PLAIN_TRACE, source="job 1")
    d = analyze(TRACE, source="job 1")
    assert d.facts.step == plain.facts.step == "step_script"
    assert d.facts.exit_code == plain.facts.exit_code == 1
    assert d.fingerprint == plain.fingerprint
    assert d.category == plain.category
    assert [f.text for f in d.focus] == [f.text for f in plain.focus]
    assert any("assert 3 == 4" in f.text for f in d.focus)
    assert d.facts.failed_tests == ["tests/test_cart.py::test_total"]
    # Every cited line is that line of the trace (the Diagnosis contract's numbering: its own breaks).
    raw = split_lines(TRACE)
    for item in [*d.focus, *d.excerpt]:
        assert clean_line(raw[item.line - 1]).text.strip() == item.text.strip()
        assert "01O" not in item.text and "00O" not in item.text and "2026-12-05T" not in item.text


def test_a_rerun_with_other_times_has_the_same_fingerprint() -> None:
    later = stamped(PLAIN, start=datetime(2026, 12, 6, 9, 1, 2, 3, tzinfo=UTC))
    assert later != TRACE
    assert analyze(later).fingerprint == analyze(TRACE).fingerprint


WORDS = st.text(alphabet=st.sampled_from(list("abz09 :=._/-$>")), min_size=1, max_size=60)


@given(WORDS, st.sampled_from(["00O ", "01E ", "0aO+", "ffE+"]), st.integers(0, 86_399_999_999))
def test_any_line_behind_a_header_cleans_as_the_line_alone(text: str, field: str, micros: int) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    header = when.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z " + field
    assert clean_line(header + text).text == clean_line(text).text
