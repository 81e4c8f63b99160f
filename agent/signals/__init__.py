"""Line signals for localization, loaded from `localization.yaml` (data, not code)."""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

import re2
import yaml

from agent.catalog import load_yaml, required_substrings
from agent.shapes import DigitGate


@dataclass(frozen=True, slots=True)
class Signal:
    pattern: re.Pattern[str]
    weight: float
    generic: bool
    # Lower-cased strings one of which every line the pattern matches holds (None: no such screen). A line
    # without any is not searched: on logs whose lines are all different (timestamps, counters) the
    # signals are searched once per candidate line, and most signals cannot match most lines.
    screen: frozenset[str] | None = None
    # The CI's own word that it stopped a job whose command had not returned (a time limit, no output).
    stops: bool = False


class Prefilter(Protocol):
    """What the scanner needs of the compiled prefilter (an RE2 regexp)."""

    def search(self, text: bytes, pos: int = ..., endpos: int = ...) -> re.Match[bytes] | None: ...


@dataclass(frozen=True, slots=True)
class Section:
    """A header that opens a block of lines (up to a blank line) whose lines all weigh more, or less."""

    header: re.Pattern[str]
    weight: float
    # The block holds only the lines indented deeper than the header (go test's logs under `--- PASS:`).
    indented: bool = False
    # A verdict printed below the block it judges (go test's `--- PASS:` under the logs it streamed since
    # `=== RUN`): the block is the indented lines right above it.
    below: bool = False


@dataclass(frozen=True, slots=True)
class SignalSet:
    prefilter: Prefilter
    signals: tuple[Signal, ...]
    sections: tuple[Section, ...] = ()
    # Every signal's screen strings, looked for once per line (C-level `in` checks).
    screens: tuple[str, ...] = ()
    # Which lines the signals may score differently once their digits are turned into `0`.
    digit_gate: DigitGate = field(default_factory=lambda: DigitGate(()))

    def section_weight(self, text: str) -> float | None:
        """The weight of the section `text` opens, or None when it is not a section header."""
        for section in self.sections:
            if not section.below and section.header.search(text):
                return section.weight
        return None

    def verdict_weight(self, text: str) -> float | None:
        """The weight `text` gives the indented lines right above it, or None when it judges none."""
        for section in self.sections:
            if section.below and section.header.search(text):
                return section.weight
        return None

    def section_indented(self, text: str) -> bool:
        """Whether the section `text` opens holds only the lines indented deeper than it."""
        return any(
            section.indented for section in self.sections if not section.below and section.header.search(text)
        )

    def stops(self, text: str) -> bool:
        """Whether `text` is the CI's statement that it stopped the job before its command returned."""
        return any(signal.stops and signal.pattern.search(text) for signal in self.signals)

    def score(self, text: str) -> tuple[float, bool]:
        """Sum of matching weights, and whether the line is a generic exit statement."""
        total = 0.0
        generic = False
        lowered = text.lower()
        present = {s for s in self.screens if s in lowered}
        for signal in self.signals:
            screen = signal.screen
            if screen is not None and present.isdisjoint(screen):
                continue
            if signal.pattern.search(text):
                total += signal.weight
                generic = generic or signal.generic
        return total, generic


@functools.cache
def default_signals() -> SignalSet:
    raw = load_yaml(resources.files("agent.signals").joinpath("localization.yaml").read_text("utf-8"))
    # YAML's "\xNN" escapes give one character per byte, so latin-1 turns the literals back into the UTF-8
    # byte sequences the byte-level scanner looks for.
    literals = [str(lit).encode("latin-1") for lit in raw["prefilter"]]
    signals = tuple(_signal(item) for item in raw["signals"])
    patterns = [str(p).encode("latin-1") for p in raw.get("prefilter_patterns", [])]
    sections = tuple(
        Section(
            re.compile(item.get("header") or item["verdict"]),
            float(item["weight"]),
            bool(item.get("indented", False)),
            below="verdict" in item,
        )
        for item in raw.get("sections", [])
    )
    screens = tuple(sorted({s for signal in signals for s in signal.screen or ()}))
    prefilter = compile_prefilter(b"|".join([trie_pattern(literals), *patterns]))
    gate = DigitGate.of([s.pattern for s in signals], required_substrings)
    return SignalSet(prefilter, signals, sections, screens, gate)


def _signal(item: dict[str, Any]) -> Signal:
    pattern = re.compile(item["pattern"])
    screen = required_substrings(pattern)
    return Signal(
        pattern,
        float(item["weight"]),
        bool(item.get("generic", False)),
        screen or None,
        bool(item.get("stops", False)),
    )


Points = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Calibration:
    """Raw engine confidence -> the share of diagnoses with that confidence whose category was right,
    measured on held-out data (`calibration.yaml`, fitted by bench/crossval.py). One table per answered
    category where the development data held enough of it (a network answer at raw 0.9 is right about half
    as often as a lint answer at raw 0.9), `points` for the others. Piecewise linear between the points,
    flat beyond them; the points rise, so a higher raw confidence never maps lower."""

    points: Points = ()
    by_category: dict[str, Points] = field(default_factory=dict)

    def apply(self, raw: float, category: str | None = None) -> float:
        points = self.by_category.get(category, self.points) if category else self.points
        if not points:
            return raw
        if raw <= points[0][0]:
            return points[0][1]
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            if raw <= x1:
                return y0 + (y1 - y0) * (raw - x0) / (x1 - x0) if x1 > x0 else y1
        return points[-1][1]


@functools.cache
def default_calibration() -> Calibration:
    return load_calibration(resources.files("agent.signals").joinpath("calibration.yaml").read_text("utf-8"))


def load_calibration(text: str) -> Calibration:
    """A calibration table from its YAML; a malformed one is an error that says what is wrong."""
    raw = yaml.safe_load(text)
    by_category = {
        str(name): _points(value, f"categories.{name}")
        for name, value in (raw.get("categories") or {}).items()
    }
    return Calibration(_points(raw["points"], "points"), by_category)


def _points(items: list[list[float]], where: str) -> Points:
    points = tuple((float(x), float(y)) for x, y in items)
    if any(x1 < x0 or y1 < y0 for (x0, y0), (x1, y1) in itertools.pairwise(points)):
        raise ValueError(f"calibration.yaml: {where}: points must rise in both raw confidence and accuracy")
    if any(not (0.0 <= v <= 1.0) for point in points for v in point):
        raise ValueError(f"calibration.yaml: {where}: values must lie in 0..1")
    return points


def compile_prefilter(pattern: bytes) -> Prefilter:
    """RE2, not `re`: its automaton scans a log at hundreds of MB/s whatever the number of literals, where
    `re` tries the alternatives one by one at every byte (about 5 MB/s here). Latin-1 mode makes it match
    raw bytes, so logs with invalid UTF-8 need no decoding first (https://github.com/google/re2/wiki/Syntax)."""
    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    options.max_mem = 64 << 20
    compiled: Prefilter = re2.compile(pattern, options)
    return compiled


def trie_pattern(literals: list[bytes]) -> bytes:
    """One regex for many literals, factored by common prefixes.

    Python's `re` tries the branches of an alternation one by one at every position; sharing prefixes
    (`e(?:rror|xception|...)`) makes a failing position cost one branch per distinct first byte instead
    of one per literal, which is most of the scanner's speed.
    """
    trie: dict[int, Any] = {}
    for literal in literals:
        node = trie
        for byte in literal:
            node = node.setdefault(byte, {})
        node[-1] = {}

    def build(node: dict[int, Any]) -> bytes:
        if -1 in node:  # a literal ends here: for finding lines, longer ones add nothing
            return b""
        branches = [re.escape(bytes([b])) + build(child) for b, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"

    return build(trie)
