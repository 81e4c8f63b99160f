"""Reading a line once per shape (digits turned into `0`) gives the answer reading every line would."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.catalog import default_catalog, required_substrings
from agent.engine import analyze
from agent.scan import Scanner
from agent.shapes import DIGITS_TO_ZERO, DigitGate, digit_sensitive, relaxed
from agent.signals import default_signals

PATTERNS = [p for p, _ in default_catalog()._patterns] + [s.pattern for s in default_signals().signals]


def test_patterns_that_name_a_digit_are_told_apart() -> None:
    named = [r"exit code 137\b", r"[1-9]\d* failures?", r"[^5]x", r"(\d+) and \1", r"(?<!0)\d"]
    alike = [r"exit code \d+", r"[0-9a-f]{7}", r"\w+ \S+", r"[^0-9]+", r"v\d+\.\d+"]
    assert all(digit_sensitive(re.compile(p)) for p in named)
    assert not any(digit_sensitive(re.compile(p)) for p in alike)


def test_relaxed_patterns_match_the_shape_of_what_they_matched() -> None:
    relax = relaxed(re.compile(r"(?i)exit(ed)? (with )?(code|status) 137\b"))
    assert relax is not None
    assert relax.search("Process EXITED with code 000")
    assert not relax.search("exited with code x")
    negated = relaxed(re.compile(r"id=[^5!]+;"))
    assert negated is not None and negated.search("id=00;")
    assert relaxed(re.compile(r"(\d)\1")) is None  # a back-reference: such lines are read as they are


# Lines shaped like CI output, with digits in the places that rules care about.
_WORDS = st.sampled_from(
    [
        "exit",
        "code",
        "status",
        "exited with",
        "returned",
        "HTTP",
        "error",
        "Errors:",
        "failures",
        "Tests run:",
        "npm ERR!",
        "E",
        "TS",
        "Failures:",
        "warnings",
        "FAILED",
        " ",
        ",",
        ":",
        "x509",
        "429",
        "5",
        "0",
        "-",
    ]
)
_NUMBERS = st.integers(min_value=0, max_value=99999).map(str)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_WORDS, _NUMBERS), min_size=1, max_size=12), st.integers(0, len(PATTERNS) - 1))
def test_relaxed_pattern_and_gate_never_miss_a_match(parts: list[str], index: int) -> None:
    line = " ".join(parts)
    shape = line.translate(DIGITS_TO_ZERO)
    pattern = PATTERNS[index]
    matched = pattern.search(line) is not None
    if not digit_sensitive(pattern):
        assert (pattern.search(shape) is not None) == matched
    elif matched:
        relax = relaxed(pattern)
        assert relax is None or relax.search(shape)
        assert DigitGate.of([pattern], required_substrings).opens(shape)


def test_every_packaged_pattern_that_names_a_digit_has_a_gate() -> None:
    # Lines a gate lets through are read with their digits; a pattern with neither screen nor relaxed form
    # would let every line through and make big logs slow again.
    for pattern in PATTERNS:
        if digit_sensitive(pattern):
            assert relaxed(pattern) is not None or required_substrings(pattern) is not None, pattern.pattern


def test_a_line_that_only_differs_in_a_named_digit_is_read_with_its_own() -> None:
    # One shape on every line: the out-of-memory kill (137) among ordinary exits, first, amid or last
    # (later lines win ties, so a kill read as an ordinary exit, or the reverse, moves the focus).
    for oom in (1, 20, 50):
        log = "".join(
            f"step {n + 10}: worker exited with code {137 if n == oom else 100}\n" for n in range(1, 51)
        )
        diagnosis = analyze(log, source="t")
        assert diagnosis.focus[0].line == oom
        assert diagnosis.category.value == "infrastructure"


def test_candidates_keep_their_own_text_and_steps_their_own_names() -> None:
    data = b"".join(
        b"2026-11-29T08:13:20.%07dZ ERROR: disk %d of 400 is full\n" % (i, i) for i in range(1, 40)
    )
    data += b"$ make test-17\nERROR: Job failed: exit code 2\n"
    scanner = Scanner(rule_bonus=lambda _t: 0.0, rule_digit_gate=DigitGate(()))
    scanner.feed(data)
    result = scanner.finish()
    texts = [c.clean.text for c in result.candidates if c.line < 40]
    assert texts == [f"ERROR: disk {i} of 400 is full" for i in range(1, 40)]
    assert [(s.kind, s.name, s.code) for s in result.steps] == [
        ("start", "make test-17", None),
        ("exit", "", 2),
    ]
