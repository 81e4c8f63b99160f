"""The streaming scanner: the same answer whatever the block size, bounded state whatever the log size."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import scan as scan_module
from agent.localize import failing_regions
from agent.logtext import split_lines
from agent.scan import Scanner, scan
from agent.signals import default_signals

NOISE = ["collecting deps", "ok 1 - fine", "Downloading x 12%", "", "compiling a.c"]
ERRORS = ["ERROR: boom happened", "error: cannot find symbol", "FAILED tests/t.py::test_x - assert 1 == 2"]


@st.composite
def logs(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.sampled_from(NOISE + ERRORS), min_size=1, max_size=120))
    breaks = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines), max_size=len(lines)))
    return "".join(line + br for line, br in zip(lines, breaks, strict=True)).encode()


def _summary(data: bytes, block: int) -> tuple[int, list[tuple[int, str]], list[str]]:
    scanner = Scanner()
    for i in range(0, len(data), block):
        scanner.feed(data[i : i + block])
    result = scanner.finish()
    return (
        result.total_lines,
        [(c.line, c.clean.text) for c in result.candidates],
        [line.text for line in result.tail.lines],
    )


@settings(max_examples=60, deadline=None)
@given(logs(), st.integers(min_value=1, max_value=64))
def test_block_boundaries_do_not_change_the_result(data: bytes, block: int) -> None:
    old = (scan_module.BLOCK, scan_module.CONTEXT)
    scan_module.BLOCK, scan_module.CONTEXT = 16, 64  # force many small blocks through the buffer logic
    try:
        assert _summary(data, block) == _summary(data, len(data) or 1)
    finally:
        scan_module.BLOCK, scan_module.CONTEXT = old


def test_line_numbers_and_windows_follow_the_contract() -> None:
    result = scan([b"a\r\nb\rc\nERROR: here\nd\r\ne"])
    assert result.total_lines == 6
    (cand,) = result.candidates
    assert cand.line == 4
    assert [line.text for line in cand.window.lines] == ["a", "b", "c", "ERROR: here", "d", "e"]
    assert cand.window.first == 1


def test_candidates_stay_bounded_on_a_noisy_log() -> None:
    data = b"".join(b"error: noise %d\n" % i for i in range(5000))
    result = scan([data])
    assert len(result.candidates) <= scan_module.KEEP
    assert result.total_lines == 5000
    assert result.tail.lines[-1].text == "error: noise 4999"


def test_only_a_prompt_names_a_command_and_a_section_echo_is_none() -> None:
    # GitLab echoes each script line with `$ `; a line that only opens a collapsible section
    # (docs.gitlab.com/ee/ci/jobs/#custom-collapsible-sections) is echoed too, then the marker itself follows
    log = (
        b"section_start:1764928805:step_script\r\x1b[0KExecuting step_script\n"
        b"$ ./ci/build.sh\n"
        b'$ echo -e "section_start:`date +%s`:compile[collapsed=true]\\r\\e[0KBuilding"\n'
        b"section_start:1764928808:compile[collapsed=true]\r\x1b[0KBuilding\n"
        b"main.c:3:13: error: 'rows_len' undeclared\n"
    )
    steps = scan([log]).steps
    assert [s.name for s in steps if s.prompt] == ["./ci/build.sh"]
    assert {"step_script", "compile"} <= {s.name for s in steps if s.kind == "start"}


def test_binary_input_is_flagged() -> None:
    assert scan([bytes(range(256)) * 40]).binary


def _unscreened(text: str) -> tuple[float, bool]:
    """The signals' meaning: every pattern searched on every line."""
    total, generic = 0.0, False
    for signal in default_signals().signals:
        if signal.pattern.search(text):
            total += signal.weight
            generic = generic or signal.generic
    return total, generic


_FRAGMENTS = [
    *sorted({s for sig in default_signals().signals for s in sig.screen or ()}),
    "E   ",
    "ERROR",
    "Error:",
    " 0 ",
    "FAIL",
    "::",
    ":12:3: ",
    "\t",
    "  ",
    "✗ ",
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=6)), max_size=8))
def test_screened_signal_scores_equal_searching_every_pattern(parts: list[str]) -> None:
    text = "".join(parts)
    assert default_signals().score(text) == _unscreened(text)


def test_screened_signal_scores_on_real_lines() -> None:
    root = Path(__file__).resolve().parent / "fixtures" / "engine"
    lines = [ln for p in sorted(root.glob("*.log")) for ln in p.read_text().splitlines()]
    assert len(lines) > 500
    for line in lines:
        assert default_signals().score(line) == _unscreened(line), line


@st.composite
def status_logs(draw: st.DrawFn) -> bytes:
    """Logs whose lines may open with an HTTP status, which a prefilter pattern finds by the byte before it
    (a line break): the scanner must still count lines by the contract and read the status line itself."""
    lines = draw(
        st.lists(st.sampled_from([*NOISE, *ERRORS, "404 Not Found", "500 boom"]), min_size=1, max_size=80)
    )
    breaks = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=len(lines), max_size=len(lines)))
    return "".join(line + br for line, br in zip(lines, breaks, strict=True)).encode()


@settings(max_examples=200, deadline=None)
@given(status_logs(), st.integers(min_value=1, max_value=40))
def test_candidates_and_windows_hold_the_lines_their_numbers_name(data: bytes, window: int) -> None:
    old = scan_module.WINDOW_BYTES
    scan_module.WINDOW_BYTES = window  # small windows start anywhere, also between a CR and its LF
    try:
        result = scan([data])
    finally:
        scan_module.WINDOW_BYTES = old
    lines = split_lines(data.decode())
    assert result.total_lines == len(lines)
    for cand in result.candidates:
        assert cand.clean.text == lines[cand.line - 1]
        for i, clean in enumerate(cand.window.lines):
            n = cand.window.first + i
            assert clean.text == (lines[n - 1] if n <= len(lines) else "")  # after a last break: nothing
    assert {n for n, text in enumerate(lines, 1) if text in ERRORS} <= {c.line for c in result.candidates}


def test_a_travis_exit_that_quotes_its_command_otherwise_still_bounds_that_command() -> None:
    # Travis quotes the command as the shell ran it: `eval bundle install` for the echoed `bundle install`
    # (bench/formats batch 47), `\hbox` for the echoed `\\hbox` (LogChunks, cplusplus/draft). The first fold
    # of the log (the worker's information) is not the command, and its end did close the region.
    log = (
        "travis_fold:start:worker_info\r\x1b[0KWorker information\n"
        "hostname: 1a2b3c4d-travis-job\n"
        "travis_fold:end:worker_info\r\x1b[0K\n"
        "travis_fold:start:install.bundler\r\x1b[0K$ bundle install --jobs=3 --deployment\n"
        "Your Ruby version is 2.3.4, but your Gemfile specified 2.4.1\n"
        "travis_fold:end:install.bundler\r\x1b[0K\n"
        'The command "eval bundle install --jobs=3 --deployment" failed and exited with 18 during .\n'
        "\n"
        "Your build has been stopped.\n"
    )
    result = scan([log.encode()])
    (region,) = failing_regions(result.steps, result.total_lines)
    assert region.start is not None
    assert region.start.name == "bundle install --jobs=3 --deployment"
    error = next(n for n, text in enumerate(split_lines(log), 1) if text.startswith("Your Ruby version"))
    assert region.begin < error < region.end
