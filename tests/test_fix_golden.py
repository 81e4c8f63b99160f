"""Golden tests on real build output: each log in tests/fixtures/fixes/ was captured from the real tool
(`python bench/fixes/run.py --capture tests/fixtures/fixes`) building the project of the same name under
bench/fixes/cases/; the fix we suggest against that project must be exactly the recorded `.diff`, and a
log without a `.diff` must yield no fix at all.

Re-capture after an intended change and review the diff (`git diff tests/fixtures/fixes`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.engine import analyze
from agent.fixes import Reader, harvest, suggest
from agent.logtext import LINE_BREAK

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "fixes"
CASES = ROOT / "bench" / "fixes" / "cases"
LOGS = sorted(FIXTURES.glob("*.log"))


def reader_for(root: Path) -> Reader:
    def read(path: str) -> bytes | None:
        target = root / path
        return target.read_bytes() if target.is_file() else None

    return read


def test_every_case_has_a_captured_log() -> None:
    assert {p.stem for p in LOGS} == {p.name for p in CASES.iterdir() if p.is_dir()}


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.stem)
def test_fix_matches_the_recorded_diff(log: Path) -> None:
    text = log.read_text(encoding="utf-8")
    diagnosis = suggest(analyze(text, source=log.name), LINE_BREAK.split(text), reader_for(CASES / log.stem))
    expected = log.with_suffix(".diff")
    if expected.exists():
        assert diagnosis.fix is not None, diagnosis.fix_notes
        assert diagnosis.fix.patch == expected.read_text(encoding="utf-8")
        assert diagnosis.fix.source == "rule" and diagnosis.fix.validated is True
        assert diagnosis.fix.rules and diagnosis.fix_notes == []
    else:
        assert diagnosis.fix is None


@pytest.mark.parametrize("log", [p for p in LOGS if p.with_suffix(".diff").exists()], ids=lambda p: p.stem)
def test_the_same_fix_from_a_github_actions_log(log: Path) -> None:
    # The runner prefixes every line with a timestamp; the fix-it must still be read.
    lines = LINE_BREAK.split(log.read_text(encoding="utf-8"))
    dressed = [f"2026-01-01T00:00:00.0000000Z {x}" for x in lines]
    text = "\n".join(dressed)
    diagnosis = suggest(analyze(text, source=log.name), dressed, reader_for(CASES / log.stem))
    assert diagnosis.fix is not None
    assert diagnosis.fix.patch == log.with_suffix(".diff").read_text(encoding="utf-8")


def test_a_checkout_that_moved_on_drops_the_fix_with_a_note(tmp_path: Path) -> None:
    # The file no longer says what the log quoted (someone edited line 8): the fix-it must not be shown.
    case = tmp_path / "c-did-you-mean"
    case.mkdir()
    source = (CASES / "c-did-you-mean" / "main.c").read_text()
    (case / "main.c").write_text(source.replace('printf("%d\\n", totl);', 'printf("%d\\n", count);'))
    log = (FIXTURES / "c-did-you-mean.log").read_text()
    diagnosis = suggest(analyze(log), LINE_BREAK.split(log), reader_for(case))
    assert diagnosis.fix is None
    assert len(diagnosis.fix_notes) == 1
    assert (
        "gcc-did-you-mean" in diagnosis.fix_notes[0]
        and "has no 'totl' at column 20" in diagnosis.fix_notes[0]
    )


def test_a_file_outside_the_checkout_is_noted_not_guessed(tmp_path: Path) -> None:
    log = (FIXTURES / "py-name-error.log").read_text()
    diagnosis = suggest(analyze(log), LINE_BREAK.split(log), reader_for(tmp_path))
    assert diagnosis.fix is None
    assert "is not in the checkout" in diagnosis.fix_notes[0]


def test_harvest_reads_no_file_and_keeps_log_order() -> None:
    log = (FIXTURES / "c-member-and-function.log").read_text()
    patches = harvest(analyze(log), LINE_BREAK.split(log))
    assert [p.rule for p in patches] == ["gcc-did-you-mean", "gcc-did-you-mean"]
    assert [(e.old, e.new, e.line, e.column) for p in patches for e in p.edits] == [
        ("prinf", "printf", 10, 5),
        ("lenght", "length", 10, 21),
    ]
    assert all(p.log_line for p in patches)


def test_rustc_alternatives_are_not_a_fix() -> None:
    # rustc offers several imports for one name: which one is meant is not the tool's to say.
    log = (
        "error[E0412]: cannot find type `Result` in this scope\n"
        " --> src/lib.rs:3:13\n"
        "  |\n"
        "3 | fn f() -> Result<(), ()> { Ok(()) }\n"
        "  |           ^^^^^^ not found in this scope\n"
        "  |\n"
        "help: consider importing one of these items\n"
        "  |\n"
        "1 + use std::fmt::Result;\n"
        "  |\n"
        "1 + use std::io::Result;\n"
        "  |\n"
    )
    assert harvest(analyze(log), log.split("\n")) == []


def test_a_warnings_suggestion_is_not_harvested() -> None:
    log = (
        "warning: unused variable: `x`\n"
        " --> src/main.rs:2:9\n"
        "  |\n"
        "2 |     let x = 1;\n"
        "  |         ^ help: if this is intentional, prefix it with an underscore: `_x`\n"
        "  |\n"
        "help: remove it\n"
        "  |\n"
        "2 -     let x = 1;\n"
        "  |\n"
    )
    assert harvest(analyze(log), log.split("\n")) == []
