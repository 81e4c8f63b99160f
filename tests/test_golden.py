"""Golden tests: the engine's answers on the real example logs in examples/ must stay what they are.

For every ``examples/**/*.log`` there is ``examples/expected/<path under examples/, / as __>.json`` with the
fields that must stay stable: category, rule, title, focus (line numbers and texts), the excerpt's first and
last line numbers, and the fingerprint.

Re-bless after an intended change and review the diff (``git diff examples/expected``):

    CIMEDIC_BLESS=1 .venv/bin/pytest tests/test_golden.py

Expected files with ``"pinned": true`` were written by hand because the engine's answer was judged wrong
(their ``"why"`` says what a developer would point at); blessing keeps them unless ``CIMEDIC_BLESS=force``.
A pinned file states only what a person can: any of the stable fields above (compared exactly), and
``title_contains_any`` (case-insensitive substrings, one must occur), ``focus_includes`` (lines that must be
in focus, with their text), ``focus_first_in`` (allowed numbers for the first focus line), ``excerpt_covers``
(``first``..``last`` must lie inside the excerpt) and ``rule_not_null``. Blessing replaces a pinned file
with the full answer once the engine meets it, and keeps it while the engine does not.

The cross-form tests state properties, not recorded answers, so blessing never changes them: the plain
capture, its GitHub Actions dressing and its GitLab CI dressing are the same failure, so after normalization
they must agree on category, rule, title and fingerprint, and their focus lines must be the same lines of the
captured output (``examples/manifest.json`` gives where the capture starts inside each dressed log).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from agent.engine import analyze_file
from agent.models import Diagnosis

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXPECTED = EXAMPLES / "expected"
MANIFEST = EXAMPLES / "manifest.json"
FORMS = ("", "github/", "gitlab/")  # plain capture, GitHub Actions dressing, GitLab CI dressing
BLESS = os.environ.get("CIMEDIC_BLESS", "").strip().lower()
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

LOGS = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.log"))
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.log"))


def _expected_path(rel: str) -> Path:
    return EXPECTED / (rel.replace("/", "__") + ".json")


def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MANIFEST.read_text())
    return data["examples"]  # type: ignore[no-any-return]


_cache: dict[str, Diagnosis] = {}


def _diagnose(rel: str) -> Diagnosis:
    if rel not in _cache:
        _cache[rel] = analyze_file(EXAMPLES / rel, source=f"examples/{rel}")
    return _cache[rel]


def _stable(d: Diagnosis) -> dict[str, Any]:
    return {
        "category": d.category.value,
        "rule": d.rule,
        "title": d.title,
        "focus": [{"line": f.line, "text": f.text} for f in d.focus],
        "excerpt": {
            "first": d.excerpt[0].line if d.excerpt else None,
            "last": d.excerpt[-1].line if d.excerpt else None,
        },
        "fingerprint": d.fingerprint,
    }


def _log_lines(rel: str) -> list[str]:
    """The log's lines as the contract numbers them (\\r\\n, \\r, \\n are breaks), ANSI removed."""
    text = (EXAMPLES / rel).read_bytes().decode("utf-8", errors="replace")
    return [_ANSI.sub("", line) for line in _LINE_BREAK.split(text)]


# ---------------------------------------------------------------------------------------------------------
# the examples themselves


def test_examples_are_there() -> None:
    assert 6 <= len(NAMES) <= 10, "make demo reads examples/*.log: keep 6 to 10 plain captures"
    for name in NAMES:
        plain = EXAMPLES / f"{name}.log"
        assert plain.stat().st_size < 16_000, f"{plain} is big for a demo log"
        for form in ("github", "gitlab"):
            assert (EXAMPLES / form / f"{name}.log").exists(), f"run examples/generate.py --redress ({form})"
    assert set(_manifest()) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_dressed_forms_hold_the_capture(name: str) -> None:
    """Generator sanity: the capture sits unchanged at the recorded line inside each dressed log."""
    entry = _manifest()[name]
    plain = _log_lines(f"{name}.log")[: entry["output_lines"]]
    for form in ("github", "gitlab"):
        rel = f"{form}/{name}.log"
        lines = _log_lines(rel)
        first = entry["output_first_line"][f"examples/{rel}"]
        body = lines[first - 1 : first - 1 + len(plain)]
        if form == "github":
            body = [re.sub(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ", "", line) for line in body]
        assert body == plain, f"{rel}: capture not found at line {first}"


# ---------------------------------------------------------------------------------------------------------
# golden results


@pytest.mark.parametrize("rel", LOGS)
def test_golden(rel: str) -> None:
    got = _stable(_diagnose(rel))
    path = _expected_path(rel)
    previous = json.loads(path.read_text()) if path.exists() else None
    pinned = bool(previous and previous.get("pinned"))
    # a pinned expectation is replaced by the full answer only once the engine meets it (or when forced)
    if BLESS and (not pinned or BLESS == "force" or not _pinned_problems(got, previous or {})):
        EXPECTED.mkdir(exist_ok=True)
        path.write_text(json.dumps({"log": f"examples/{rel}", **got}, indent=2, ensure_ascii=False) + "\n")
        return
    assert previous is not None, f"no {path.relative_to(ROOT)}; bless with CIMEDIC_BLESS=1"
    if pinned:
        problems = _pinned_problems(got, previous)
        assert not problems, (
            f"examples/{rel}: the engine's answer is not the hand-written one in {path.relative_to(ROOT)}"
            f" ({previous.get('why')}):\n  " + "\n  ".join(problems) + f"\ngot: {json.dumps(got, indent=1)}"
        )
        return
    expected = {k: previous[k] for k in got}
    assert got == expected, f"examples/{rel} differs from {path.relative_to(ROOT)}"


def _pinned_problems(got: dict[str, Any], spec: dict[str, Any]) -> list[str]:
    problems = [f"{k}: {got[k]!r}, expected {spec[k]!r}" for k in got if k in spec and got[k] != spec[k]]
    if "title_contains_any" in spec and not any(
        s.lower() in got["title"].lower() for s in spec["title_contains_any"]
    ):
        problems.append(f"title {got['title']!r} names none of {spec['title_contains_any']}")
    focus = got["focus"]
    for want in spec.get("focus_includes", []):
        if want not in focus:
            problems.append(f"focus lacks line {want['line']}: {want['text']!r}")
    allowed = spec.get("focus_first_in")
    if allowed is not None and (not focus or focus[0]["line"] not in allowed):
        first = focus[0] if focus else None
        problems.append(f"first focus line {first} is not one of lines {allowed}")
    covers = spec.get("excerpt_covers")
    if covers is not None:
        ex = got["excerpt"]
        if ex["first"] is None or ex["first"] > covers["first"] or ex["last"] < covers["last"]:
            problems.append(
                f"excerpt {ex['first']}..{ex['last']} does not cover {covers['first']}..{covers['last']}"
            )
    if spec.get("rule_not_null") and got["rule"] is None:
        problems.append("no catalog rule matched")
    return problems


# ---------------------------------------------------------------------------------------------------------
# expected properties across forms: the point of normalization


@pytest.mark.parametrize("name", NAMES)
def test_forms_agree_on_identity(name: str) -> None:
    """Plain, GitHub and GitLab forms of one failure: same category, rule, title and fingerprint."""
    results = {form or "plain/": _diagnose(f"{form}{name}.log") for form in FORMS}
    for field in ("category", "rule", "title", "fingerprint"):
        values = {form: getattr(d, field) for form, d in results.items()}
        assert len(set(values.values())) == 1, f"{name}: forms disagree on {field}: {values}"


@pytest.mark.parametrize("name", NAMES)
def test_forms_agree_on_focus(name: str) -> None:
    """The focus lines of a dressed log are the plain form's focus lines, shifted to where the capture
    starts, with the same text (no timestamps, no CI markup); runner noise is never in focus."""
    entry = _manifest()[name]
    plain = [(f.line, f.text) for f in _diagnose(f"{name}.log").focus]
    assert plain, f"{name}: no focus lines in the plain form"
    for form in ("github", "gitlab"):
        rel = f"{form}/{name}.log"
        shift = entry["output_first_line"][f"examples/{rel}"] - 1
        got = [(f.line - shift, f.text) for f in _diagnose(rel).focus]
        assert got == plain, f"{rel}: focus differs from the plain form (lines shifted by {shift})"


@pytest.mark.parametrize("name", NAMES)
def test_category_is_the_one_a_developer_would_give(name: str) -> None:
    """Each example was built to fail in one kind of way (manifest `expected_category`)."""
    want = _manifest()[name]["expected_category"]
    assert _diagnose(f"{name}.log").category.value == want


_DURATION = re.compile(r"(?<![\w.])(\d+)\.(\d+)s\b")
_ADDRESS = re.compile(r"\b0x[0-9a-f]{8,16}\b")


def _rerun_noise(text: str) -> str:
    """What differs when the same job runs again: durations and object addresses."""
    text = _DURATION.sub(lambda m: f"{int(m[1]) + 3}.{m[2][::-1]}s", text)
    return _ADDRESS.sub(lambda m: "0x" + m[0][2:][::-1], text)


def _plain(name: str) -> str:
    return (EXAMPLES / f"{name}.log").read_bytes().decode("utf-8", errors="surrogateescape")


@pytest.mark.parametrize("name", [n for n in NAMES if _rerun_noise(_plain(n)) != _plain(n)])
def test_fingerprint_ignores_rerun_noise(name: str, tmp_path: Path) -> None:
    """A rerun of the same failure (other durations, other object addresses) keeps its fingerprint."""
    changed = _rerun_noise(_plain(name))
    rerun = tmp_path / f"{name}.log"
    rerun.write_bytes(changed.encode("utf-8", errors="surrogateescape"))
    again = analyze_file(rerun, source=f"examples/{name}.log")
    first = _diagnose(f"{name}.log")
    assert (again.fingerprint, again.title) == (first.fingerprint, first.title)
