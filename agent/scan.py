"""One streaming pass over a log: candidate lines, their surroundings, step boundaries and the tail.

The pass works on raw bytes. It searches a lowercased copy of each block with one prefilter regex (the
lowercasing of bytes changes ASCII letters only, so positions stay aligned) and decodes just the lines that
matter. Memory stays bounded whatever the log's size: blocks of `BLOCK` bytes, at most `KEEP` candidates
(the highest scoring, later lines winning ties), the last `TAIL` lines, the last `MAX_STEPS` step marks.
"""

from __future__ import annotations

import codecs
import functools
import heapq
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from agent.logtext import LINE_BREAK, CleanLine, Marker, clean_line
from agent.shapes import BYTE_DIGITS_TO_ZERO, DigitGate
from agent.signals import SignalSet, default_signals

BLOCK = 1 << 22  # bytes read at a time
CONTEXT = 1 << 16  # bytes kept on each side of the block being searched, for windows
MAX_LINE = 4096  # characters of one line kept for analysis; longer lines are cut
WINDOW_BEFORE = 30  # lines kept before a block boundary, for the windows of the next block
WINDOW_BYTES = 4096
SANITIZER_WINDOW_BYTES = 24576
KEEP = 300
# A line the CI system itself flags as an error (`##[error]`, `::error`) is strong evidence by itself.
ERROR_MARK = 2.5
SCORE_CACHE = 1 << 16
STAMP = len(b"2026-11-24T08:15:02.1234567Z ")  # GitHub Actions' line prefix
GITLAB_STAMP = len(b"2026-11-24T08:15:02.123456Z 00O ")  # GitLab Runner's (agent.logtext.GITLAB_TIMESTAMP)
KEEP_EVERY_LINE = 3000
TAIL = 80
MAX_STEPS = 2000
SNIFF = 8192  # bytes looked at to tell a binary file from a log
# Bytes a text log is made of: printable ASCII, UTF-8 lead and continuation bytes, TAB, LF, VT, FF, CR, ESC.
TEXT_BYTES = bytes(range(0x20, 0x100)) + b"\t\n\x0b\x0c\r\x1b"
BYTE_BREAK = re.compile(rb"\r\n|\r|\n")

# Travis CI's closing line of a command, e.g. `The command "npm test" exited with 1.`
# (travis_retry's `The command "npm install" failed 3 times.` counts attempts, it is no exit code: the step's
# own closing line follows it; travis-build's lib/travis/build/bash/travis_retry.bash)
TRAVIS_EXIT = re.compile(r'^The command "(.*)" (?:exited with|failed(?: and exited with)?) (\d+)(?! times)')
# A multi-line command: `The command "bash -c "` ... `" exited with 1.`
TRAVIS_EXIT_OPEN = re.compile(r'^The command "(.*)$')
TRAVIS_EXIT_CLOSE = re.compile(r'^"\s*(?:exited with|failed(?: and exited with)?) (\d+)')
GITHUB_EXIT = re.compile(r"^Process completed with exit code (\d+)")
GITLAB_EXIT = re.compile(r"^ERROR: Job failed: (?:exit code|exit status) (\d+)")
JENKINS_STAGE = re.compile(r"^\[Pipeline\] \{ \((.+)\)$")
JENKINS_END = re.compile(r"^Finished: (FAILURE|ABORTED|UNSTABLE)")
SHELL_PROMPT = re.compile(r"^\$ (\S.*)$")
_SECTION_ECHO = re.compile(r"section_(?:start|end):")
# Every line `_note_step` may act on starts like this (or carries a group/error marker): a superset test.
STEP_LINE = re.compile(
    r'^(?:The command "|"\s*(?:exited with|failed)|Process completed with exit code |ERROR: Job failed: '
    r"|\$ \S|\[Pipeline\] \{ \(|Finished: )"
)
STEP_MARKERS = (Marker.GROUP_START, Marker.GROUP_END, Marker.ERROR)


class Window:
    """Lines around a candidate, kept as raw bytes and cleaned on first use (`lines[i]` is `first + i`)."""

    __slots__ = ("_lines", "_raw", "first")

    def __init__(self, first: int, raw: bytes) -> None:
        self.first = first
        self._raw = raw
        self._lines: list[CleanLine] | None = None

    @property
    def lines(self) -> list[CleanLine]:
        if self._lines is None:
            parts = BYTE_BREAK.split(self._raw)
            self._lines = [clean_line(_decode(part)) for part in parts]
        return self._lines


class Candidate:
    """A line kept for localization. Its cleaned text is made on first use: most lines that enter the
    candidate heap are pushed out of it again, and cleaning is the costliest part of reading a line."""

    __slots__ = ("_clean", "_raw", "_system", "generic", "line", "score", "window")

    def __init__(
        self,
        line: int,
        score: float,
        generic: bool,
        window: Window,
        *,
        clean: CleanLine | None = None,
        raw: bytes = b"",
        system: str = "",
    ) -> None:
        self.line = line
        self.score = score
        self.generic = generic
        self.window = window
        self._clean = clean
        self._raw = raw
        self._system = system

    @property
    def clean(self) -> CleanLine:
        if self._clean is None:
            self._clean = _clean_of(self._raw, self._system)
        return self._clean


@dataclass(frozen=True, slots=True)
class StepMark:
    """A step boundary: `start` of a step/section/command, or its `exit` with a code."""

    line: int
    kind: str  # "start" | "end" | "exit" | "error"
    name: str
    code: int | None = None
    # A command echoed at a shell prompt (`$ make`, as GitLab and Travis print each script line), as opposed
    # to a group or section name (`section_start:1:build_section`): only a prompt names a command.
    prompt: bool = False


@dataclass(slots=True)
class ScanResult:
    total_lines: int
    candidates: list[Candidate]
    tail: Window
    steps: list[StepMark]
    systems: Counter[str] = field(default_factory=Counter)
    binary: bool = False


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def _clean_of(raw: bytes, system: str) -> CleanLine:
    clean = clean_line(_decode(raw))
    return replace(clean, system=system) if system and not clean.system else clean


def _line_bounds(buf: bytes, pos: int) -> tuple[int, int]:
    if 0 < pos < len(buf) and buf[pos] == 10 and buf[pos - 1] == 13:
        pos -= 1  # the LF of a `\r\n` ends the line its CR ends
    start = _line_start(buf, pos)
    nl = buf.find(b"\n", pos)
    if nl < 0:
        nl = len(buf)
    cr = buf.find(b"\r", pos, nl)  # bounded by the LF: a log without CRs is not scanned to its end
    return start, nl if cr < 0 else cr


def _line_start(buf: bytes, pos: int) -> int:
    """Start of the line holding `pos`; each search stops at the nearest LF, never the buffer's start.

    The LF of a `\r\n` belongs to the line that break ends, as its CR does."""
    if 0 < pos < len(buf) and buf[pos] == 10 and buf[pos - 1] == 13:
        pos -= 1
    nl = buf.rfind(b"\n", 0, pos)
    return max(nl, buf.rfind(b"\r", nl + 1, pos)) + 1


def _next_line_start(buf: bytes, end: int) -> int:
    """Position after the break that ends at `end` (a `\\r\\n` is one break)."""
    if end < len(buf) and buf[end] == 13 and end + 1 < len(buf) and buf[end + 1] == 10:
        return end + 2
    return end + 1


def _count_breaks(buf: bytes, start: int, end: int) -> int:
    return buf.count(b"\n", start, end) + buf.count(b"\r", start, end) - buf.count(b"\r\n", start, end)


class Scanner:
    """Feed bytes with `feed`, then `finish` for the result. Use `scan` for the whole loop."""

    def __init__(
        self,
        signals: SignalSet | None = None,
        *,
        every_line: bool = False,
        rule_bonus: Callable[[str], float] | None = None,
        rule_digit_gate: DigitGate | None = None,
    ) -> None:
        self.signals = signals or default_signals()
        # Catalog rules know messages that carry no error word ("F401 `os` imported but unused").
        self.rule_bonus = rule_bonus
        # Most lines of a big log differ from others only in their numbers (timestamps, counters, sizes,
        # durations): a line is read once per shape (`agent.shapes`), except the lines a pattern naming a
        # digit may match and the few that mark a step, which are read with their own digits.
        # `rule_digit_gate` is the gate of `rule_bonus`'s patterns; without it every line is read as it is.
        self._gate: DigitGate | None = self.signals.digit_gate
        if rule_bonus is not None:
            self._gate = None if rule_digit_gate is None else self.signals.digit_gate | rule_digit_gate
        self._read = functools.lru_cache(maxsize=SCORE_CACHE)(self._read_line)
        # With a baseline every line may be new, so every line is a candidate (logs with a baseline are
        # the size of one job's output, where this costs little).
        self.every_line = every_line
        self.keep = KEEP_EVERY_LINE if every_line else KEEP
        self._buf = b""
        self._buf_line = 1  # line number of the first line in _buf (which starts at a line start)
        self._done = 0  # offset in _buf up to which lines were examined
        self._heap: list[tuple[float, int, Candidate]] = []
        self._steps: list[StepMark] = []
        self._systems: Counter[str] = Counter()
        self._total = 0
        self._nul = 0
        self._seen = 0
        self._open_command = ""

    def feed(self, data: bytes) -> None:
        if self._seen < SNIFF:
            sample = data[: SNIFF - self._seen]
            self._nul += len(sample.translate(None, TEXT_BYTES))
            self._seen += len(sample)
        self._buf += data
        if len(self._buf) - self._done >= BLOCK + CONTEXT:
            self._process(final=False)

    def finish(self) -> ScanResult:
        self._process(final=True)
        buf = self._buf
        total = self._buf_line - 1 + _count_breaks(buf, 0, len(buf))
        if buf and buf[-1:] not in (b"\n", b"\r"):
            total += 1
        tail_lines = self._lines_before(len(buf), TAIL, end_line=total)
        candidates = sorted((c for _, _, c in self._heap), key=lambda c: c.line)
        binary = self._seen > 0 and self._nul > self._seen // 10  # like file(1): mostly non-text bytes
        return ScanResult(total, candidates, tail_lines, self._steps, self._systems, binary)

    # -- internals ---------------------------------------------------------------------------------

    def _lines_before(self, end: int, count: int, *, end_line: int) -> Window:
        """The `count` lines that end at offset `end` of the buffer; the last is line `end_line`."""
        buf = self._buf
        stop = end
        if stop > 0 and buf[stop - 1] in (10, 13):
            stop -= 2 if stop > 1 and buf[stop - 2 : stop] == b"\r\n" else 1
        start, walked = self._back(stop, count - 1)
        return Window(end_line - walked, buf[start:stop])

    def _back(self, start: int, count: int) -> tuple[int, int]:
        """Start of the line `count` lines before the line starting at (or holding) `start`."""
        buf = self._buf
        pos = _line_start(buf, start)
        walked = 0
        while walked < count and pos > 0:
            prev_end = pos - 2 if pos > 1 and buf[pos - 2 : pos] == b"\r\n" else pos - 1
            pos = _line_start(buf, prev_end)
            walked += 1
        return pos, walked

    def _window(self, start: int, end: int, line: int) -> Window:
        """WINDOW_BYTES on each side of the line, cut at line boundaries: a slice and one count in C,
        which matters because windows are taken for every line that enters the candidate heap."""
        buf = self._buf
        lo = _line_start(buf, max(0, start - WINDOW_BYTES))
        # A sanitizer's report runs on for several kilobytes of stack frames below its first line, none
        # of which a prefilter word marks: its window reaches further down (localize reads the report to
        # its end).
        after = SANITIZER_WINDOW_BYTES if buf.find(b"Sanitizer:", start, end) != -1 else WINDOW_BYTES
        hi = min(len(buf), end + after)
        if hi < len(buf):
            hi = _line_bounds(buf, hi)[1]
        return Window(line - _count_breaks(buf, lo, start), buf[lo:hi])

    def _read_line(self, raw: bytes, system: str) -> tuple[CleanLine, float, bool, bool]:
        """The line's cleaned form and score, and whether both hold for every line of the same shape
        (the same bytes up to digits) without a step mark to note."""
        clean = _clean_of(raw, system)
        score, generic = self.signals.score(clean.text)
        if self.rule_bonus is not None:
            score += self.rule_bonus(clean.text)
        if clean.marker is Marker.ERROR:
            score += ERROR_MARK
        gate = self._gate
        shared = not (
            gate is None
            or clean.marker in STEP_MARKERS
            or STEP_LINE.match(clean.text)
            or gate.opens(clean.text)
        )
        return clean, score, generic, shared

    def _note_step(self, line: int, clean: CleanLine) -> None:
        text = clean.text
        mark: StepMark | None = None
        if clean.marker is Marker.GROUP_START:
            mark = StepMark(line, "start", clean.name or text)
        elif clean.marker is Marker.GROUP_END:
            mark = StepMark(line, "end", clean.name)
        elif clean.marker is Marker.ERROR:
            m = GITHUB_EXIT.match(text)
            mark = StepMark(line, "exit", "", int(m.group(1))) if m else StepMark(line, "error", text)
        else:
            m = TRAVIS_EXIT.match(text)
            if m:
                mark = StepMark(line, "exit", m.group(1), int(m.group(2)))
                self._systems["travis"] += 1
            elif (m := TRAVIS_EXIT_CLOSE.match(text)) is not None:
                mark = StepMark(line, "exit", self._open_command, int(m.group(1)))
            elif (m := TRAVIS_EXIT_OPEN.match(text)) is not None:
                self._open_command = m.group(1)
            elif (m := GITLAB_EXIT.match(text)) is not None:
                mark = StepMark(line, "exit", "", int(m.group(1)))
                self._systems["gitlab"] += 1
            elif (m := SHELL_PROMPT.match(text)) is not None:
                # `$ echo -e "section_start:$(date +%s):build\r\e[0KBuilding"` only opens a collapsible
                # section (https://docs.gitlab.com/ee/ci/jobs/#custom-collapsible-sections): not a command.
                command = m.group(1)
                mark = StepMark(line, "start", command, prompt=not _SECTION_ECHO.search(command))
            elif (m := JENKINS_STAGE.match(text)) is not None:
                mark = StepMark(line, "start", m.group(1))
                self._systems["jenkins"] += 1
            elif (m := JENKINS_END.match(text)) is not None:
                mark = StepMark(line, "exit", "", 1)
                self._systems["jenkins"] += 1
        if mark is not None:
            self._steps.append(mark)
            if len(self._steps) > MAX_STEPS:
                del self._steps[: MAX_STEPS // 2]

    def _examine(self, start: int, end: int, line: int) -> None:
        buf = self._buf
        # Lines repeat once their timestamp is gone: clean and score each distinct one once.
        if (
            end - start > STAMP
            and buf[start + 4] == 45
            and buf[start + 10] == 84
            and buf[start + STAMP - 2] == 90
        ):
            raw, system = buf[start + STAMP : end], "github"
        elif (
            end - start >= GITLAB_STAMP
            and buf[start + 4] == 45
            and buf[start + 10] == 84
            and buf[start + GITLAB_STAMP - 6] == 90
            and buf[start + GITLAB_STAMP - 5] == 32
            and buf[start + GITLAB_STAMP - 2] in (69, 79)
        ):
            raw, system = buf[start + GITLAB_STAMP : end], "gitlab"
        else:
            raw, system = buf[start:end], ""
        own: CleanLine | None = None
        if self._gate is not None:
            clean, score, generic, shared = self._read(raw.translate(BYTE_DIGITS_TO_ZERO), system)
            if not shared:
                own, score, generic, _ = self._read(raw, system)
        else:
            own, score, generic, _ = self._read(raw, system)
            clean = own
        if clean.system:
            self._systems[clean.system] += 1
        if own is not None:
            self._note_step(line, own)
        if not clean.text:
            return
        if score <= 0 and not self.every_line:
            return
        key = (score, line)
        if len(self._heap) >= self.keep and key <= self._heap[0][:2]:
            return
        window = self._window(start, end, line)
        cand = Candidate(line, score, generic, window, clean=own, raw=raw, system=system)
        if len(self._heap) >= self.keep:
            heapq.heapreplace(self._heap, (score, line, cand))
        else:
            heapq.heappush(self._heap, (score, line, cand))

    def _process(self, *, final: bool) -> None:
        buf = self._buf
        limit = len(buf) if final else len(buf) - CONTEXT
        if limit <= self._done:
            return
        if self.every_line:
            self._examine_all(limit)
        else:
            self._examine_matches(limit)
        if final:
            return
        # Keep CONTEXT bytes before the examined region for the windows of the next block...
        keep_from = _line_start(buf, max(self._done - CONTEXT, 0))
        if keep_from > 0 and buf[keep_from - 1] == 13 and keep_from < len(buf) and buf[keep_from] == 10:
            keep_from += 1
        # ...and at least the lines the tail and the windows need, however long they are.
        keep_from = min(keep_from, self._back(self._done, max(TAIL, WINDOW_BEFORE))[0])
        if keep_from > 0:
            self._buf_line += _count_breaks(buf, 0, keep_from)
            self._buf = buf[keep_from:]
            self._done -= keep_from

    def _examine_matches(self, limit: int) -> None:
        buf = self._buf
        lower = buf.lower()
        has_cr = b"\r" in buf  # LF-only logs need one count per match, not three
        prefilter = self.signals.prefilter
        pos = self._done
        counted_to = 0
        line_at = self._buf_line
        while True:
            m = prefilter.search(lower, pos)
            if m is None or m.start() >= limit:
                break
            at = m.start()
            if buf[at] in (10, 13):
                # A pattern that needs the byte before a word (`(?:^|[^0-9.])404`) may match from the line
                # break before it: the match is about the next line.
                at = _next_line_start(buf, at)
                if at >= limit:
                    break
            start, end = _line_bounds(buf, at)
            line_at += (
                _count_breaks(buf, counted_to, start) if has_cr else buf.count(b"\n", counted_to, start)
            )
            counted_to = start
            self._examine(start, end, line_at)
            pos = _next_line_start(buf, end)
        # Everything before `limit` is examined; advance to the start of the line holding `limit`.
        done = limit if limit >= len(buf) else _line_start(buf, limit)
        if limit < len(buf) and done > 0 and buf[done - 1] == 13 and buf[done : done + 1] == b"\n":
            done += 1
        # A line that began before `limit` was examined whole: the next search starts after it.
        self._done = max(done, min(pos, len(buf)))

    def _examine_all(self, limit: int) -> None:
        buf = self._buf
        pos = self._done
        line_at = self._buf_line + _count_breaks(buf, 0, pos)
        while pos < limit:
            _, end = _line_bounds(buf, pos)
            if end >= len(buf) and limit < len(buf):
                break
            self._examine(pos, end, line_at)
            pos = _next_line_start(buf, end)
            line_at += 1
        self._done = min(pos, len(buf))


def scan(
    chunks: Iterable[bytes], *, every_line: bool = False, rule_bonus: Callable[[str], float] | None = None
) -> ScanResult:
    scanner = Scanner(every_line=every_line, rule_bonus=rule_bonus)
    for chunk in chunks:
        scanner.feed(chunk)
    return scanner.finish()


def iter_text_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Every line of a byte stream, decoded, with the contract's line breaks (for baseline logs)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    carry = ""
    for chunk in chunks:
        text = carry + decoder.decode(chunk)
        # A trailing CR may be the first half of a CRLF split across chunks: hold it back.
        hold = text.endswith("\r")
        parts = LINE_BREAK.split(text[:-1] if hold else text)
        carry = parts.pop() + ("\r" if hold else "")
        yield from parts
    parts = LINE_BREAK.split(carry + decoder.decode(b"", final=True))
    if parts[-1] == "":
        parts.pop()
    yield from parts
