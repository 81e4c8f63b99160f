"""The fix-it rules are data: every packaged rule is exercised by a real captured log, a malformed rules
file is refused with its name and the rule's, and no log text can make harvesting fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.engine import analyze
from agent.fixes import harvest
from agent.fixes.harvest import FixitError, default_fixits, load_fixits, parse_fixits
from agent.logtext import LINE_BREAK
from agent.models import Category, Diagnosis

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "fixes"
PLAIN = Diagnosis(
    source="x", category=Category.BUILD, confidence=0.5, title="t", focus=[], excerpt=[], fingerprint="f"
)


def test_every_packaged_rule_fires_on_a_real_log() -> None:
    fired: set[str] = set()
    for log in FIXTURES.glob("*.log"):
        text = log.read_text(encoding="utf-8")
        fired |= {p.rule or "" for p in harvest(analyze(text), LINE_BREAK.split(text))}
    assert {f.id for f in default_fixits()} <= fired


GOOD = """
tool: demo
fixits:
  - id: demo-rename
    title: "rename {old}"
    needle: "did you mean"
    match: '^(?P<path>\\S+):(?P<line>\\d+): .*''(?P<old>\\w+)''.*did you mean ''(?P<new>\\w+)''$'
    edit: replace
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fixits: []", "expected a mapping with 'tool'"),
        (GOOD.replace("edit: replace", "edit: rewrite"), "demo-rename: edit must be one of"),
        (GOOD.replace("needle:", "nedle:"), "unknown keys ['nedle']"),
        (GOOD.replace("'^(?P<path>", "'^(?P<path"), "demo-rename: bad regex"),
        (GOOD + "    near: [{direction: up, within: 2, pattern: x}]\n", "near 1: needs direction"),
        (GOOD + "    near: [{direction: before, within: 0, pattern: x}]\n", "within must be a positive"),
        (GOOD.replace("rename {old}", "rename {name}"), "title uses ['name'], which no pattern captures"),
    ],
)
def test_malformed_rules_are_refused_by_name(text: str, message: str) -> None:
    with pytest.raises(FixitError) as info:
        parse_fixits(text, "demo.yaml")
    assert str(info.value).startswith("demo.yaml") and message in str(info.value)


def test_duplicate_ids_across_files_are_refused() -> None:
    with pytest.raises(FixitError) as info:
        load_fixits([("a.yaml", GOOD), ("b.yaml", GOOD)])
    assert str(info.value) == "duplicate fixit id 'demo-rename' in b.yaml and a.yaml"


def test_a_rule_from_data_drives_harvesting() -> None:
    rules = parse_fixits(GOOD, "demo.yaml")
    (patch,) = harvest(PLAIN, ["x", "src/a.c:4: error 'totl' did you mean 'total'"], rules)
    assert (patch.rule, patch.title, patch.log_line) == ("demo-rename", "rename totl", 2)
    (edit,) = patch.edits
    assert (edit.path, edit.line, edit.old, edit.new, edit.column) == ("src/a.c", 4, "totl", "total", None)


# Lines shaped like the tools' output, so the rules' near-lookups and suggestion parsers get exercised.
pieces = st.sampled_from(
    [
        "help: consider importing this struct",
        "  |",
        "1 + use std::fmt;",
        "3 -     x",
        "  - y",
        "2 |     let mut a = 1;",
        "  |         +++",
        " --> src/main.rs:3:5",
        "error[E0425]: cannot find value `x`",
        "warning: unused",
        "F401 [*] `os` imported but unused",
        "a.c:1:1: note: include '<stdio.h>' or provide a declaration of 'printf'",
        "  +++ |+#include <stdio.h>",
        "a.c:2:5: error: 'totl' undeclared; did you mean 'total'?",
        '  File "a.py", line 3, in f',
        "NameError: name 'x' is not defined. Did you mean: 'y'?",
        "A.java:3: error: ';' expected",
        "        ^",
        './main.go:5:2: imported and not used: "os"',
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(pieces, st.text(max_size=40)), max_size=30))
def test_harvest_never_fails_on_any_log(lines: list[str]) -> None:
    for patch in harvest(PLAIN, lines):
        assert patch.edits and patch.rule and patch.log_line is not None
        assert all(e.line >= 1 or e.insert for e in patch.edits)
