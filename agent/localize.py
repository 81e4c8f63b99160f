"""Failure localization: which lines of the log explain the failure.

Input is one `ScanResult` (candidate lines with their surroundings, step marks, the tail). The failing
step's own output outranks earlier noise: candidates are scored by their signals, by where they stand
relative to the failing step, by catalog rules, and, given a passing log of the same job, by whether they
are new. The best candidate anchors a block that grows over the lines that continue the same error
(indented detail, stack frames, further error lines) and stops at blank lines, commands and step ends.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from agent.logtext import CleanLine, Marker, mask_volatile
from agent.scan import ERROR_MARK, ScanResult, StepMark, Window

MAX_EXCERPT = 80
MAX_NEW_EXCERPT = 1000
CHAIN_GAP = 25
NEW_HOP = 12  # lines of a tool's closing summary a new block hops over to the new trace above it
NEW_BRIDGE = 3  # plain new lines (or single blanks) a new block reaches across to more of its detail
MAX_FOCUS = 3
SAME_RULE_SLACK = 3.0
DETAIL_REACH = 3  # lines right after the anchor that state an error are its detail, in focus too
FOCUS_SHARE = 0.45  # a line joins the focus when it scores at least this share of the anchor
NEIGHBOUR_SHARE = 0.6  # a neighbouring paragraph joins the excerpt with a line scoring this share
MAX_UP = 8
SOFT_RUN = 6  # text and blank lines alternating this far each way make a log double-spaced
SIBLING_SHARE = 0.5  # a next list item scoring less than this share of the anchor's signals ends its block
MAX_DETAIL_UP = 30
PARAGRAPHS = 8
POSITION_WEIGHT = 2.0
# A line outside every failing step: a step that passed did not fail the job, even where a rule knows its
# error (rvm's curl 404 before it installs Ruby from source), unless nothing in the failing step says more.
OUTSIDE_PENALTY = 5.0
QUIET_LINES = 10
QUIET_VERDICT = 2  # a last paragraph this short is a verdict on the one above it
FIRST_FAILURE_BONUS = 0.5
SECTION_REACH = 200  # how far above a line its section header may stand

CONTINUATION = re.compile(
    r"^(?:\s+\S"  # indented detail
    r"|at [\w$.<>]+[.(]"  # JVM/JS stack frame without indentation
    r"|at [\w$.<>-]+, \S"  # PowerShell stack frame (`at Verify-Equal, /src/Verify-Equal.ps1:16`)
    r"|/\S+:\d+$"  # PHPUnit's trace: one absolute `path:line` a line
    r"|#\d+\s"  # native backtrace frame
    r"|\s*\^"  # caret under a source line
    r"|[\-+]{3} |[\-+@] "  # diff lines
    r"|E\s"  # pytest detail
    r"|>\s{2,}\S"  # pytest's failing source line (`>       assert total == 4`)
    r"|\d+\s*\|"  # source excerpt with line number gutter
    r"|\d+ {2,}\S|\s*[~^]{2,}\s*$"  # tsc --pretty code frame and its underline
    r"|\|"  # rustc/tsc gutter
    r"|Caused by:|Suppressed:|\.\.\. \d+ more"
    r")"
)
# A stack frame (JVM, JS): the deep frames of a new trace are often frames the passing run printed too.
FRAME = re.compile(r"^\s*(?:at [\w$.<>/]+[.(]|\.\.\. \d+ more)")
# A Python traceback's frame line; the line under it is the frame's source
# (https://docs.python.org/3/library/traceback.html).
PY_FRAME = re.compile(r'^\s*File "[^"]+", line \d+')
# Rake's closing hint below "rake aborted!", its message and backtrace: advice, not the error.
TOOL_HINT = re.compile(r"^\s*\(See full trace")
FILE_MESSAGE = re.compile(r"^\s*[\w.@~+\-/\\]+\.[A-Za-z]\w{0,5}:\d+(?::\d+)?:\s*\S")
# Lines that introduce an error report above its first error line.
HEADER = re.compile(
    r"^\s*(?:Traceback |={3,}|-{3,}|_{3,}|#{2,} |\*{2,} |FAIL|ERROR|Failures?:|Errors?:|Offenses:|\d+\) |"
    r"Call Stack|Caused by|In file included from|Running |[-=]+ ?[A-Z]\w* ?[-=]+$)"
)
# Progress chatter that precedes an error without being part of it, however indented (a step a build marks
# done: ` ✓ building client + server bundles...`). Build systems' quiet
# lines (`  CC      foo.o`, `  CCLD    lib.la`, ` ERLC\tx.beam`: automake's silent rules, Linux kbuild,
# https://www.gnu.org/software/automake/manual/html_node/Automake-Silent-Rules.html) are progress too.
PROGRESS = re.compile(
    r"^\s*(?:Compiling|Downloading|Downloaded|Checking|Fresh|Installing|Collecting|Building|Fetching|Updating|"
    r"Resolving|Unpacking|Setting up|Requirement|Using|Running \S+ \.\.\.$|-- |\[\d+/\d+\]|\d+%|[✓✔√] "
    r"|(?:CC|CXX|CPP|CCLD|CXXLD|LD|AR|AS|GEN|RANLIB|ERLC|HOSTCC|HOSTLD|LINK|YACC|LEX|FC|F77)(?:\t| +)\S+$)"
)
# A line that reports a test that passed (automake's `PASS: t/x`, cargo-nextest's `    PASS [ 0.01s] x`, TAP's
# `ok 3 - x`, go's `ok  pkg`, mocha's and xcpretty's `    ✓ name` under its suite): the next test's verdict,
# never the detail of the failure above it. A check mark at the margin is a build's progress (Next.js'
# ` ✓ Generating static pages`), which may stand inside a failure's report.
PASSED = re.compile(r"^\s*(?:PASS(?:ED)?|ok)\b|^\s{2,}[✓✔√] ")
# A sanitizer's report: its first line, its summary and its last (LLVM's compiler-rt prints them all).
SANITIZER_START = re.compile(r"(?:^|==\d+==)ERROR: \w+Sanitizer:")
SANITIZER_SUMMARY = re.compile(r"^SUMMARY: \w+Sanitizer:")
SANITIZER_ABORT = re.compile(r"==\d+==ABORTING")
# A line that introduces the detail under it: pip's `The conflict is caused by:`, Python's
# `Current thread 0x00007f (most recent call first):`.
TAP_NOT_OK = re.compile(r"^\s*not ok \d+\b")
TAP_BLOCK_START = re.compile(r"^\s+---\s*$")
TAP_BLOCK_END = re.compile(r"^\s+\.\.\.\s*$")
LEAD_IN = re.compile(r"^\S.*:\s*$")
# A header of words alone (`Offenses:`, `Failures:`): it opens a report and names no error of its own.
BARE_HEADER = re.compile(r"^\s*[A-Z][A-Za-z ]{0,40}:\s*$")
# A tool's log-level prefix alone on a line is its blank line (npm prints `npm error` between paragraphs).
# (Maven's bare `[ERROR]` lines are not: they sit inside its reports, whose labeled spans run across them.)
PREFIX_ONLY = re.compile(r"^npm (?:ERR!|error)\s*$")
# Lines that end an error block: a new command, prompt or step header; and go test -v's start of a test
# (`=== RUN   TestX`), whose logs are that test's own, not the failure of the test above it
# (https://pkg.go.dev/cmd/go#hdr-Testing_flags, `-v`); and the GitHub runner's `Post job cleanup.`, the first
# line of an action's post step, which a job log gives no group marker.
# A command echoed by the CI or the shell (`$ make` at Travis' and GitLab's prompt, `+ make` under `set -x`).
COMMAND = re.compile(r"^[$+] \S")
BOUNDARY = re.compile(
    r"^(?:\$ |\+ |> \S+@\S+ |==> |\[Pipeline\]|Running |Step \d+/\d+|#\d+ \[|=== RUN |Post job cleanup\.$)"
)


@dataclass(frozen=True, slots=True)
class Localized:
    focus: list[tuple[int, str]]
    excerpt: list[tuple[int, str]]
    anchor_score: float
    step: StepMark | None
    exit: StepMark | None
    # Parameters of the workflow commands on excerpt lines (`::error file=a.py,line=3::`), by line number.
    params: dict[int, str] = field(default_factory=dict)
    # The tool's closing exit statement or summary right below the excerpt (`make: *** [test] Error 1`,
    # `2 violations found`): not shown as part of the failure, but it names what failed (a test target, a
    # kind of check), which classification may use.
    closing: tuple[int, str] | None = None


@dataclass(frozen=True, slots=True)
class Region:
    begin: int
    end: int
    start: StepMark | None
    exit: StepMark | None


def _action_exits(steps: list[StepMark], total: int) -> list[StepMark]:
    """The marks with each failed action's exit added. A JavaScript or Docker action fails by printing
    `##[error]message` (`core.setFailed`), with no `Process completed with exit code` line after it
    (https://docs.github.com/en/actions/creating-actions/setting-exit-codes-for-actions): a `Run ` step with
    an error mark and no exit mark of its own ends, failed, where the next step starts (its output, the
    message included, is the failed step's)."""
    out: list[StepMark] = []
    failed = False  # the current step printed an error mark and no exit mark
    for mark in steps:
        if mark.kind == "start" and mark.name.startswith("Run "):
            if failed:
                out.append(StepMark(mark.line, "exit", "", 1))
            failed = False
        if mark.kind == "error":
            failed = True
        elif mark.kind == "exit":
            failed = False
        out.append(mark)
    if failed:
        out.append(StepMark(total + 1, "exit", "", 1))
    return out


def failing_regions(steps: list[StepMark], total: int) -> list[Region]:
    """Line ranges of the steps that failed: from a start mark to a non-zero exit, in log order.

    Travis runs every `script` command even after one fails, so a log may hold several; the first is
    usually the cause and the later ones its consequences. With no exit mark the whole log is one region.
    """
    steps = _action_exits(steps, total)
    regions: list[Region] = []
    previous_exit = 0
    for exit_mark in (s for s in steps if s.kind == "exit"):
        if exit_mark.code in (None, 0):
            previous_exit = exit_mark.line
            continue
        starts = [s for s in steps if s.kind == "start" and previous_exit < s.line < exit_mark.line]
        start_mark: StepMark | None = None
        if exit_mark.name:  # Travis names the command that exited
            wanted = exit_mark.name.rstrip('" ')
            start_mark = next((s for s in reversed(starts) if s.name.rstrip('" ') == wanted), None)
            if start_mark is None:
                # Travis quotes the command in its exit line as the shell ran it (`\\hbox` as `\hbox`, the
                # escape of `echo -e "\e..."` as the byte, `bundle install` as `eval bundle install`), so the
                # echo may not match: the command is then the last one echoed before the exit, not the log's
                # first fold (whose end would close the region before the command ran).
                start_mark = next((s for s in reversed(starts) if s.prompt), None)
        if start_mark is None:
            runs = [
                s for s in starts if s.name.startswith("Run ") or s.name in ("step_script", "build_script")
            ]
            start_mark = runs[-1] if runs else (starts[0] if starts else None)
        begin = start_mark.line if start_mark else previous_exit + 1
        end = exit_mark.line
        if start_mark is not None and not start_mark.name.startswith("Run "):
            # A GitLab section closes before the runner's after_script and clean-up sections, which are
            # not the job's own output; a GitHub `Run` group only wraps the step's header, so it is not used.
            closing = next(
                (
                    s.line
                    for s in steps
                    if s.kind == "end" and s.name == start_mark.name and begin < s.line < end
                ),
                None,
            )
            end = closing if closing is not None else end
            # GitLab Runner runs the script under `set -eo pipefail` and echoes each command at a `$ ` prompt
            # (https://docs.gitlab.com/ee/ci/yaml/script.html): the job stopped at the last one it echoed, and
            # the commands before it succeeded.
            prompts = [s for s in starts if s.prompt and begin < s.line < end]
            if start_mark.name in ("step_script", "build_script") and prompts:
                begin = prompts[-1].line
        regions.append(Region(begin, end, start_mark, exit_mark))
        previous_exit = exit_mark.line
    return regions or [Region(1, total, None, None)]


class LineScorer:
    """Final score of a line in context: signals, rules, position, novelty against a baseline."""

    def __init__(
        self,
        scan: ScanResult,
        regions: list[Region],
        *,
        signal_score: Callable[[str], tuple[float, bool]],
        rule_bonus: Callable[[str], float],
        baseline: Collection[str] | None,
        view: LogView,
        section_weight: Callable[[str], float | None],
        names_cause: Callable[[str], bool] = lambda _: False,
        section_indented: Callable[[str], bool] = lambda _: False,
        verdict_weight: Callable[[str], float | None] = lambda _: None,
    ) -> None:
        self.scan = scan
        self.verdict_weight = verdict_weight
        self.names_cause = names_cause
        self.view = view
        self.section_weight = section_weight
        self.section_indented = section_indented
        self.regions = regions
        self._ends = [r.end for r in regions]
        self.signal_score = signal_score
        self.rule_bonus = rule_bonus
        self.baseline = baseline
        self._cache: dict[int, float] = {}
        self._intrinsic: dict[int, float] = {}

    def region_of(self, line: int) -> Region | None:
        i = bisect.bisect_left(self._ends, line)
        if i < len(self.regions) and self.regions[i].begin <= line <= self.regions[i].end:
            return self.regions[i]
        return None

    def section(self, line: int) -> float:
        """The weight of the section (a report's "Issues" list, a list of allowed failures) holding `line`."""
        weight = self._section_above(line)
        return weight if weight else self._verdict_below(line)

    def _verdict_below(self, line: int) -> float:
        """The weight of a verdict right below the indented block holding `line` (go test's `--- PASS:`),
        or right below `line` itself when it is not indented (Ansible's `...ignoring` under `fatal:`)."""
        own = self.view.get(line)
        if own is None:
            return 0.0
        if _indent(own.text) == 0:
            nxt = self.view.get(line + 1)
            weight = self.verdict_weight(nxt.text) if nxt is not None else None
            return weight if weight is not None else 0.0
        below = line + 1
        while below - line <= SECTION_REACH:
            clean = self.view.get(below)
            if clean is None or not clean.text.strip():
                return 0.0
            if _indent(clean.text) == 0:
                weight = self.verdict_weight(clean.text)
                return weight if weight is not None else 0.0
            below += 1
        return 0.0

    def _section_above(self, line: int) -> float:
        above = line - 1
        # An indented section (go test's `--- PASS: TestX` over the test's own indented logs) holds only lines
        # indented deeper than its header, every line between included.
        own = self.view.get(line)
        shallowest = _indent(own.text) if own is not None else 0
        # In a double-spaced log (`\r\r\n` line ends) a single blank line separates lines, not blocks.
        double = _soft_blank(line - 1, self.view) or _soft_blank(line + 1, self.view)
        while above >= 1 and line - above <= SECTION_REACH:
            clean = self.view.get(above)
            if clean is None:
                return 0.0
            if double and not clean.text.strip() and not _is_blank(self.view.get(above - 1)):
                above -= 1
                continue
            if not clean.text.strip():
                # Blank lines right below a header ("There was 1 failure:", then a blank) open its
                # section; any other blank line closes the block the line is in.
                while _is_blank(self.view.get(above)) and view_known(self.view, above):
                    above -= 1
                header = self.view.get(above)
                weight = self.section_weight(header.text) if header is not None else None
                return weight if weight is not None and line - above <= SECTION_REACH else 0.0
            weight = self.section_weight(clean.text)
            if weight is not None:
                if self.section_indented(clean.text) and shallowest <= _indent(clean.text):
                    return 0.0
                return weight
            if COMMAND.match(clean.text):
                return 0.0  # the output of a later command: no section above it reaches past its echo
            shallowest = min(shallowest, _indent(clean.text))
            above -= 1
        return 0.0

    def states(self, line: int, clean: CleanLine) -> bool:
        """Whether the line says something of its own (its signals, rules, section or novelty), apart from
        where it stands in the step."""
        self.score(line, clean)
        return self._intrinsic.get(line, 0.0) > 0

    def known(self, text: str) -> bool:
        return self.baseline is not None and mask_volatile(text) in self.baseline

    def score(
        self, line: int, clean: CleanLine, base: float | None = None, generic: bool | None = None
    ) -> float:
        cached = self._cache.get(line)
        if cached is not None:
            return cached
        text = clean.text
        if base is None or generic is None:  # a scanner candidate arrives with this part done
            base, generic = self.signal_score(text)
            base += self.rule_bonus(text) + (ERROR_MARK if clean.marker is Marker.ERROR else 0.0)
        score = base + self.section(line)
        if self.baseline is not None:
            score += -3.0 if self.known(text) else 1.5
        self._intrinsic[line] = score
        region = self.region_of(line)
        if region is None:
            score -= OUTSIDE_PENALTY
        else:
            span = max(region.end - region.begin, 1)
            score += 1.0 + POSITION_WEIGHT * ((line - region.begin) / span) ** 2
            if region is self.regions[0] and len(self.regions) > 1:
                score += FIRST_FAILURE_BONUS
        if generic and not self.names_cause(text):
            # "exit code 1" and its kin: never the answer when the log says more, wherever they stand.
            # An exit line a rule knows the cause from (exit code 137 or 124, `make: *** [test]
            # Segmentation fault`) does say more.
            score = min(score, 0.5)
        self._cache[line] = score
        return score


class LogView:
    """Lines known around the candidates (their windows) and at the end of the log."""

    def __init__(self, scan: ScanResult) -> None:
        self._windows: list[Window] = sorted(
            [c.window for c in scan.candidates] + [scan.tail], key=lambda w: w.first
        )
        self._firsts = [w.first for w in self._windows]
        self._cache: dict[int, CleanLine | None] = {}

    def get(self, line: int) -> CleanLine | None:
        if line in self._cache:
            return self._cache[line]
        found: CleanLine | None = None
        i = bisect.bisect_right(self._firsts, line)
        # Windows overlap; look back over the few that may hold the line.
        for window in reversed(self._windows[max(0, i - 8) : i]):
            offset = line - window.first
            if 0 <= offset < len(window.lines):
                found = window.lines[offset]
                break
        self._cache[line] = found
        return found


EMPTY = CleanLine("")


def view_known(view: LogView, line: int) -> bool:
    return line >= 1 and view.get(line) is not None


def _is_blank(clean: CleanLine | None) -> bool:
    return clean is None or not clean.text.strip() or PREFIX_ONLY.match(clean.text) is not None


def _ends_block(clean: CleanLine | None) -> bool:
    return (
        clean is None
        or _is_blank(clean)
        or clean.marker in (Marker.GROUP_START, Marker.GROUP_END)
        or BOUNDARY.match(clean.text) is not None
    )


def paragraph(
    anchor: int,
    view: LogView,
    limits: tuple[int, int],
    erring: Callable[[int], bool],
    strength: Callable[[int], float] = lambda _: 0.0,
) -> tuple[int, int]:
    """The run of lines holding `anchor`, up to blank lines, within `limits` and size bounds.

    Above the anchor only lines that lead into the error are taken: error lines, report headers, and
    stack or source detail; progress chatter ("Compiling x") stops it even when indented.
    """
    low, high = limits
    top = anchor
    plain = 0  # lines taken that are neither stack/source detail nor a report header
    head = view.get(anchor)

    def annotations(clean: CleanLine | None) -> bool:
        # A run of the CI's error annotations (the `##[error]` line a linter prints for each finding:
        # golangci-lint, eslint with GitHub's formatter) is one report, whatever words each finding uses.
        return (
            clean is not None
            and head is not None
            and clean.marker is Marker.ERROR
            and head.marker is Marker.ERROR
        )

    while plain < MAX_UP and anchor - top < MAX_DETAIL_UP and top - 1 >= low:
        above = top - 2 if _soft_blank(top - 1, view) else top - 1
        prev = view.get(above)
        if (
            above < low
            or prev is None
            or _ends_block(prev)
            or PROGRESS.match(prev.text)
            or PASSED.match(prev.text)
        ):
            break
        current = view.get(top)
        detail = bool(HEADER.match(prev.text) or CONTINUATION.match(prev.text))
        if not (
            detail
            or erring(above)
            or (current is not None and CONTINUATION.match(current.text))
            or annotations(prev)
        ):
            break
        plain += not detail
        top = above
    if top == anchor and top - 1 >= low:
        # A one-line error reads better with the line that led to it ("Deploying x" / "... unbound variable").
        prev = view.get(top - 1)
        if (
            prev is not None
            and not _ends_block(prev)
            and not PROGRESS.match(prev.text)
            and not PASSED.match(prev.text)
        ):
            top -= 1
    bottom = anchor
    lead = _lead(head.text) if head is not None else None
    while bottom - top + 1 < MAX_EXCERPT and bottom + 1 <= high:
        soft = _soft_blank(bottom + 1, view)
        below = bottom + 2 if soft else bottom + 1
        nxt = view.get(below)
        if below > high or nxt is None or _ends_block(nxt):
            break
        if soft and (
            PROGRESS.match(nxt.text)
            or not (CONTINUATION.match(nxt.text) or HEADER.match(nxt.text) or erring(below))
        ):
            break  # a double-spaced log has no blank lines between paragraphs: what continues must say so
        if nxt is not None and nxt.marker is Marker.ERROR and below != anchor and not annotations(nxt):
            break
        if PASSED.match(nxt.text):
            break
        if (
            nxt is not None
            and lead
            and _lead(nxt.text) == lead
            and strength(below) < SIBLING_SHARE * strength(anchor)
        ):
            break  # the next item of the same list (the next test) that did not fail like this one
        bottom = below
    return top, bottom


def _soft_blank(n: int, view: LogView) -> bool:
    """A blank line of a double-spaced log (each line followed by an empty one, as some Travis macOS
    logs are, from `\r\r\n` line ends): it separates lines, not paragraphs. Known by the alternation
    of text and blank lines on both sides of it."""
    for d in range(-SOFT_RUN, SOFT_RUN + 1):
        clean = view.get(n + d)
        if clean is None or _is_blank(clean) != (d % 2 == 0):
            return False
    return True


# `#` opens a comment, not a list item: TAP's diagnostics (`#   Failed test 'x'`, `#   at t/a.t line 3.`,
# `#          got: 1`) are one report (https://testanything.org/tap-version-13-specification.html).
_LEAD = re.compile(r"^\s*(?:\[\w+\]\s*)?[^\w\s#][^\w\s]*\s+")


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _lead(text: str) -> str | None:
    """How a list item starts (`[info] - `, `  ✗ `, `- `): items of one list share it."""
    m = _LEAD.match(text)
    return m.group(0) if m else None


def localize(
    scan: ScanResult,
    *,
    signal_score: Callable[[str], tuple[float, bool]],
    rule_bonus: Callable[[str], float],
    rule_of: Callable[[str], str | None] = lambda _: None,
    baseline: Collection[str] | None = None,
    section_weight: Callable[[str], float | None] = lambda _: None,
    names_cause: Callable[[str], bool] = lambda _: False,
    section_indented: Callable[[str], bool] = lambda _: False,
    verdict_weight: Callable[[str], float | None] = lambda _: None,
    stops: Callable[[str], bool] = lambda _: False,
) -> Localized:
    regions = failing_regions(scan.steps, scan.total_lines)
    view = LogView(scan)
    scorer = LineScorer(
        scan,
        regions,
        signal_score=signal_score,
        rule_bonus=rule_bonus,
        baseline=baseline,
        view=view,
        section_weight=section_weight,
        names_cause=names_cause,
        section_indented=section_indented,
        verdict_weight=verdict_weight,
    )
    scored = sorted(
        (
            (scorer.score(c.line, c.clean, c.score, c.generic), c.line)
            for c in scan.candidates
            if c.clean.text.strip()
        ),
        reverse=True,
    )
    if not scored or scored[0][0] <= 0.5:
        return _quiet_failure(scan, view, regions[0], scored[0][0] if scored else 0.0, signal_score)
    if _speaks_only_outside(scored, view, regions):
        # The failing step printed output but no line of it states an error (gofmt's file list, a diff),
        # while an earlier step that passed logged one (a test's `connection refused` it recovered from):
        # what the failing step printed is the failure.
        return _quiet_failure(scan, view, regions[0], 0.5, signal_score)

    def line_score(n: int) -> float:
        clean = view.get(n)
        return scorer.score(n, clean) if clean is not None and clean.text.strip() else 0.0

    def strength(n: int) -> float:
        clean = view.get(n)
        return signal_score(clean.text)[0] if clean is not None else 0.0

    def erring(n: int) -> bool:
        return strength(n) > 0

    def states(n: int) -> bool:
        clean = view.get(n)
        return clean is not None and bool(clean.text.strip()) and scorer.states(n, clean)

    def limits(n: int) -> tuple[int, int]:
        # A region ends at its step's exit mark, which is not output; a log with no exit mark is one
        # region whose last line is output like any other.
        region = scorer.region_of(n)
        if region is None:
            return (1, scan.total_lines)
        return (region.begin, region.end - 1 if region.exit is not None else region.end)

    best: tuple[float, int] | None = None
    anchors: list[tuple[float, int]] = []  # each paragraph's value and anchor line
    seen: set[tuple[int, int]] = set()
    for seed_score, seed in scored[:PARAGRAPHS]:
        if seed_score <= 0.5:
            break  # generic exits and noise do not seed a chunk
        span = paragraph(seed, view, limits(seed), erring, strength)
        if span in seen:
            continue
        seen.add(span)
        ranked_in = sorted(((line_score(n), -n) for n in range(span[0], span[1] + 1)), reverse=True)
        # The paragraph's best line that says something anchors it (earliest on ties): a line with no word
        # of its own (`# duration_ms 44.8` closing a TAP stream) would win on its place near the step's
        # end alone. The lines around it (frames, detail) still weigh for the paragraph.
        stating = [(x, m) for x, m in ranked_in if states(-m)]
        if not stating:
            continue
        value = stating[0][0] + 0.4 * sum(x for x, m in ranked_in[:8] if x > 0 and m != stating[0][1])
        line = -stating[0][1]
        anchors.append((value, line))
        if best is None or (value, line) > (best[0], best[1]):
            best = (value, line)
    if best is None:
        return _quiet_failure(scan, view, regions[0], scored[0][0], signal_score)
    best = _in_report(best, anchors, view, scorer, section_weight)
    anchor = best[1]
    # The block is the one that grows from the anchor itself: a seed further up may have taken in a list
    # above it that merely mentions problems.
    top, bottom = paragraph(anchor, view, limits(anchor), erring, strength)
    # The same message repeated (a compiler's second identical error, a retried step): the first one is
    # the cause, the later ones only won on position.
    first = _first_of_kind(anchor, view, scored, scorer, rule_of)
    if first != anchor:
        anchor = first
        top, bottom = paragraph(anchor, view, limits(anchor), erring, strength)
    report = _restated_in_report(anchor, view, scorer)
    if report is not None:
        anchor, top, bottom = report
    stopped = _stopped_after(anchor, scored, view, scorer, stops)
    if stopped is not None:
        anchor = stopped
        top, bottom = paragraph(anchor, view, limits(anchor), erring, strength)
    anchor_score = line_score(anchor)
    threshold = max(1.5, anchor_score * NEIGHBOUR_SHARE)
    # Neighbouring paragraphs that state errors too (a list of failures) belong to the same chunk.
    low, high = limits(anchor)
    own_bottom = bottom
    # A closing report is its own span: the progress lines that marked the same failures above are not it.
    for direction in () if report is not None else (-1, 1):
        while bottom - top + 1 < MAX_EXCERPT:
            edge = top if direction < 0 else bottom
            gap = edge + direction
            while (
                abs(gap - edge) <= 2
                and low <= gap <= high
                and _is_blank(view.get(gap))
                and view.get(gap) is not None
            ):
                gap += direction
            nxt = view.get(gap)
            if gap == edge + direction or nxt is None or _ends_block(nxt) or not (low <= gap <= high):
                break
            span = paragraph(gap, view, (low, high), erring)
            # Only the lines it would add count: in a double-spaced log its span reaches into the block.
            added = range(span[0], top) if direction < 0 else range(bottom + 1, span[1] + 1)
            strong = max((line_score(n) for n in added), default=0.0) >= threshold
            if not strong and direction > 0:
                # Below an error, the detail that follows a blank line belongs to it (a code frame, pip's
                # `The conflict is caused by:` list, Python's crash stack, node:test's `expected:`/`actual:`),
                # up to the first line that is not detail.
                last = _detail_run(span, view, lead_in=bottom == own_bottom)
                if last is None:
                    break
                bottom = min(last, top + MAX_EXCERPT - 1)
                if last < span[1]:
                    break
                continue
            if not strong:
                break
            if direction < 0:
                top = max(span[0], bottom - MAX_EXCERPT + 1)
            else:
                bottom = min(span[1], top + MAX_EXCERPT - 1)
    bottom = _sanitizer_report_end(anchor, top, bottom, view, high)
    tap = _tap_diagnostic(anchor, view, (low, high))
    if tap is not None:
        # The failed test's own line leads; the block is its report, and the stream goes on with the next
        # test's (kept only when another failure was taken in below).
        start, end = tap
        later_failure = any(
            (clean := view.get(n)) is not None and TAP_NOT_OK.match(clean.text)
            for n in range(end + 1, bottom + 1)
        )
        anchor, top, bottom = start, min(top, start), bottom if later_failure else max(end, anchor)
    # What follows a generic exit statement below the anchor is the tool winding down (after "rake aborted!":
    # its own stack, "See full trace"), not more of the error. The statement itself ends the excerpt when it
    # says something of its own (`collect2: error: ld returned 1 exit status`); mere exit boilerplate
    # (`make: *** [all] Error 1`, `The command "x" exited with 1.`) is left out. With a passing log, novelty
    # decides instead.
    exit_line: tuple[int, str] | None = None
    for n in range(anchor + 1, bottom + 1 if baseline is None else anchor + 1):
        clean = view.get(n)
        if clean is not None and clean.text.strip() and (said := signal_score(clean.text))[1]:
            bottom = n
            if said[0] <= 0:
                exit_line = (n, clean.display)
                bottom -= 1
                while bottom > anchor and _is_blank(view.get(bottom)):
                    bottom -= 1
            break
    if exit_line is None and baseline is None:
        # A tool's closing summary a blank line or two under the excerpt (`Audit done: 1 violation found.`)
        # is left out like an exit line, but it may still name the kind of check that failed.
        after = bottom + 1
        while (
            after <= high and after - bottom <= 3 and view_known(view, after) and _is_blank(view.get(after))
        ):
            after += 1
        below = view.get(after)
        if after <= high and below is not None and below.text.strip() and signal_score(below.text)[1]:
            exit_line = (after, below.display)
    if baseline is not None:
        # A passing log tells which error lines are new: the chunk spans all of them near the anchor.
        strong_new = sorted(
            n
            for s, n in scored
            if s >= threshold and low <= n <= high and not scorer.known((view.get(n) or EMPTY).text)
        )
        while True:
            top, bottom = _grow_new(top, bottom, view, scorer, (low, high), erring)
            near = [n for n in strong_new if top - CHAIN_GAP <= n < top or bottom < n <= bottom + CHAIN_GAP]
            fits = [n for n in near if max(bottom, n) - min(top, n) < MAX_NEW_EXCERPT]
            if not fits:
                break
            top, bottom = min(top, *fits), max(bottom, *fits)
        # The CI's own error line that closes the step ("##[error]Process completed with exit code 1") is
        # where the new output ends: a block that runs up to it takes it in.
        region = scorer.region_of(anchor)
        closing = view.get(region.end) if region is not None and region.exit is not None else None
        if (
            region is not None
            and closing is not None
            and bottom == high
            and closing.marker is Marker.ERROR
            and not scorer.known(closing.text)
        ):
            bottom = region.end
        # Lines the passing run printed too are not the failure: the chunk neither opens nor closes on
        # them (a package list around a failed test, the runner's clean-up after the exit line).
        while top < anchor and _is_known_or_blank(top, view, scorer):
            top += 1
        while bottom > anchor and _is_known_or_blank(bottom, view, scorer):
            bottom -= 1
    excerpt = [(n, clean.display) for n in range(top, bottom + 1) if (clean := view.get(n)) is not None]
    params = {
        n: clean.name
        for n in range(top, bottom + 1)
        if (clean := view.get(n)) is not None
        and clean.name
        and clean.marker in (Marker.ERROR, Marker.WARNING)
    }
    # The anchor's own detail right after it says more than a summary further down: nearness counts.
    focus_floor = max(1.5, anchor_score * FOCUS_SHARE)
    ranked = sorted(
        (line_score(n) - 0.1 * abs(n - anchor), n)
        for n in range(top, bottom + 1)
        if n != anchor
        and (
            line_score(n) >= focus_floor
            or (0 < n - anchor <= DETAIL_REACH and erring(n) and line_score(n) >= 1.5)
        )
    )
    chosen = [anchor, *sorted(n for _, n in ranked[::-1][: MAX_FOCUS - 1])]
    focus = [(n, clean.display) for n in chosen if (clean := view.get(n)) is not None]
    region = scorer.region_of(anchor) or regions[-1]
    return Localized(focus, excerpt, anchor_score, region.start, region.exit, params, exit_line)


def _stopped_after(
    anchor: int,
    scored: list[tuple[float, int]],
    view: LogView,
    scorer: LineScorer,
    stops: Callable[[str], bool],
) -> int | None:
    """The CI's statement that it stopped the job, below an anchor in a command that never returned (no exit
    line closes its step): nothing the command printed ended it, so the stop is what failed the job. Of
    several such statements the first tells it (GitLab's warning that the script could not run to completion,
    before its closing `Job failed: execution took longer than ...`)."""
    region = scorer.region_of(anchor)
    if region is None or region.exit is not None:
        return None
    said = sorted(n for _, n in scored if n >= region.begin and stops((view.get(n) or EMPTY).text))
    if stops((view.get(anchor) or EMPTY).text):
        return said[0] if said and said[0] < anchor else None
    return next((n for n in said if n > anchor), None)


def _tap_diagnostic(anchor: int, view: LogView, limits: tuple[int, int]) -> tuple[int, int] | None:
    """A TAP 13 producer (node:test, node-tap) follows a failed test's `not ok N - name` with a YAML block
    from `  ---` to `  ...` that says why (https://testanything.org/tap-version-13-specification.html); its
    message may hold blank lines. When the anchor is that line or inside such a block: the `not ok` line and
    the block's last line."""
    low, high = limits
    start = None
    for n in range(anchor, max(low, anchor - MAX_EXCERPT) - 1, -1):
        clean = view.get(n)
        if clean is None or (n != anchor and TAP_BLOCK_END.match(clean.text)):
            return None
        if TAP_NOT_OK.match(clean.text):
            start = n
            break
    opening = view.get(start + 1) if start is not None else None
    if start is None or opening is None or not TAP_BLOCK_START.match(opening.text):
        return None
    for n in range(start + 2, min(high, start + MAX_EXCERPT - 1) + 1):
        clean = view.get(n)
        if clean is None:
            return None
        if TAP_BLOCK_END.match(clean.text):
            return start, n
    return None


def _sanitizer_report_end(anchor: int, top: int, bottom: int, view: LogView, high: int) -> int:
    """A sanitizer's report runs from its `ERROR:` line through the stacks of the access, the free and the
    allocation, separated by blank lines, to `==PID==ABORTING` (or its `SUMMARY:` line): all of it says
    where the memory went wrong (https://github.com/google/sanitizers/wiki/AddressSanitizer)."""
    head = view.get(anchor)
    if head is None or not SANITIZER_START.search(head.text):
        return bottom
    end = bottom
    for n in range(bottom + 1, min(high, top + MAX_EXCERPT - 1) + 1):
        clean = view.get(n)
        if clean is None:
            break  # the scan kept no more of the report
        if SANITIZER_START.search(clean.text):
            break  # the next report
        if SANITIZER_ABORT.search(clean.text):
            return n
        if SANITIZER_SUMMARY.match(clean.text):
            end = n
    return end


def _detail_run(span: tuple[int, int], view: LogView, *, lead_in: bool) -> int | None:
    """The last line of the run of detail lines that opens `span`; None when the span does not open with
    detail. With `lead_in` (right under the error's own block) one line that introduces the detail, such
    as `The conflict is caused by:`, may come first; further down it would take in the next report."""
    first = view.get(span[0])
    introduced = lead_in and first is not None and LEAD_IN.match(first.text) and span[1] > span[0]
    start = span[0] + 1 if introduced else span[0]
    last = None
    for n in range(start, span[1] + 1):
        clean = view.get(n)
        if clean is None or not CONTINUATION.match(clean.text) or PASSED.match(clean.text):
            break
        last = n
    return last


_DIGITS = re.compile(r"\d+")


# A tool's closing restatement of an error it printed above: sbt's `[error] (core / coverageReport) <message>`
# (https://www.scala-sbt.org/1.x/docs/Howto-Logging.html), Gradle's `> <message>` under "What went wrong:" and
# `Caused by: x.GradleException: <message>`, maven-javadoc-plugin's `[ERROR] Exit code: 1 - <message>`,
# Maven's `[ERROR] Failed to execute goal <plugin> (<execution>) on project <name>: <message> -> [Help 1]`
# (https://maven.apache.org/guides/introduction/introduction-to-the-lifecycle.html). The same message told
# twice is one kind, whose first telling is the cause.
_LEVEL = r"^\s*(?:\[\w+\]\s*)?"
_RESTATED = re.compile(
    _LEVEL + r"(?:(?<=\]\s)\([^)]*\)\s+|>\s+|Caused by: [\w.$]+: |Exit code: \d+ - |"
    r"Failed to execute goal \S+(?: \([^)]*\))? on project [^:\s]+: )"
)
_HELP_LINK = re.compile(r"\s*-> \[Help \d+\]\s*$")
_LEVEL_TAG = re.compile(_LEVEL)
RESTATED_REACH = 200  # how far above a restatement its first telling is looked for
# A line announcing another attempt (Bundler's `Retrying download gem from https://rubygems.org/ due to
# error (2/4): ...`, `travis_retry`'s `The command "x" failed. Retrying, 2 of 3.`): the step went on after
# it, so the failure is the error it ended on, not the same error told while it was still trying.
RETRYING = re.compile(r"(?i)\bretrying\b|\bwill retry\b")


def _message(text: str) -> str:
    if _RESTATED.match(text):
        return _HELP_LINK.sub("", _RESTATED.sub("", text, count=1))
    return _LEVEL_TAG.sub("", text, count=1)


def _shape(text: str) -> str:
    return _DIGITS.sub("#", _message(text).strip())[:80]


def _in_report(
    best: tuple[float, int],
    anchors: list[tuple[float, int]],
    view: LogView,
    scorer: LineScorer,
    section_weight: Callable[[str], float | None],
) -> tuple[float, int]:
    """The best paragraph inside the runner's report of its failures, when that report follows `best`.

    A test runner prints its progress, then a report of what failed (mocha's `1 failing`, PHPUnit's `There
    was 1 failure:`, cargo's `failures:`): an error printed before the report in the same step is the run's
    chatter (a passing test's logged exception, a retried connection), and the report says what failed.
    """
    region = scorer.region_of(best[1])
    later = [a for a in anchors if a[1] > best[1] and scorer.region_of(a[1]) is region]
    if not later:
        return best
    # The header stands within a section's reach above the report's own lines (so the view, the lines around
    # candidates, holds it): only those lines are read, whatever the distance from `best`.
    headers = {
        n
        for a in later
        for n in range(max(best[1] + 1, a[1] - SECTION_REACH), a[1])
        if (clean := view.get(n)) is not None and (section_weight(clean.text) or 0.0) > 0
    }
    if not headers:
        return best
    report = min(headers)
    inside = [a for a in later if a[1] > report]
    return max(inside) if inside else best


# A test runner's mark of a failed test in its progress stream (xcpretty's `    ✗ testX, XCTAssertTrue
# failed`, https://github.com/xcpretty/xcpretty/blob/master/lib/xcpretty/formatters/simple.rb).
FAILED_MARK = re.compile(r"^\s*[✗✘×]\s+")
# A test suite's name alone at the margin (`Alamofire_iOS_Tests.SessionTestCase`).
SUITE_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def _restated_in_report(anchor: int, view: LogView, scorer: LineScorer) -> tuple[int, int, int] | None:
    """The failure told again, without its progress mark, in the runner's closing report below: the anchor
    there, and the report's span (the suite's name above its first failure through the last failure's
    source).

    A runner that marks each failed test as it goes (xcpretty) prints them all again after the run, each
    under its suite's name with its file, line and fenced source: that report is where it tells them in full.
    """
    clean = view.get(anchor)
    region = scorer.region_of(anchor)
    if clean is None or region is None or not FAILED_MARK.match(clean.text):
        return None

    def told(n: int) -> str | None:
        line = view.get(n)
        return " ".join(line.text.split()) if line is not None and line.text.strip() else None

    marked = {
        " ".join(FAILED_MARK.sub("", line.text).split())
        for n in range(region.begin, region.end + 1)
        if (line := view.get(n)) is not None and FAILED_MARK.match(line.text)
    }
    own = " ".join(FAILED_MARK.sub("", clean.text).split())

    def restates(n: int) -> str | None:
        # A stray byte or two may be glued before the line (some Travis logs hold `nl  testX, ...`).
        line = told(n)
        if line is None or FAILED_MARK.match(line):
            return None
        return next((line[k:] for k in range(4) if line[k:] in marked), None)

    restated = [n for n in range(anchor + 1, region.end + 1) if restates(n) is not None]
    at = next((n for n in restated if restates(n) == own), None)
    if at is None:
        return None
    top, bottom = restated[0], restated[-1]
    above = top - 1
    while above > region.begin and told(above) is None and top - above <= 2:
        above -= 1
    if (name := view.get(above)) is not None and SUITE_NAME.match(name.text):
        top = above
    # The last failure's source: its fence opens within a few lines and closes further down.
    fence = next((n for n in range(bottom + 1, min(bottom + 6, region.end)) if told(n) == "```"), None)
    if fence is not None:
        bottom = next((n for n in range(fence + 1, min(fence + 40, region.end)) if told(n) == "```"), fence)
    return at, top, min(bottom, top + MAX_EXCERPT - 1)


def _first_of_kind(
    anchor: int,
    view: LogView,
    scored: list[tuple[float, int]],
    scorer: LineScorer,
    kind_of: Callable[[str], str | None],
) -> int:
    """The first line of the anchor's kind (same catalog rule, else same words) in its step.

    Only lines that lost to the anchor on position alone qualify: a tool's first error is its cause.
    """
    clean = view.get(anchor)
    region = scorer.region_of(anchor)
    if clean is None or scorer.section(anchor) > 0:
        return anchor  # a closing report of the failures is where the runner tells them in full
    rule = kind_of(clean.text)
    kind = rule or _shape(clean.text)
    # Same rule: the wording may differ by a keyword or two ("does not exist"), the kind does not.
    floor = scorer.score(anchor, clean) - POSITION_WEIGHT - (SAME_RULE_SLACK if rule else 0.5)
    earlier = [
        n
        for s, n in scored
        if n < anchor
        and s >= floor
        # The CI's own closing line stands outside every step (`ERROR: Job failed: exit code 136`): what it
        # restates happened in one of them.
        and (region is None or scorer.region_of(n) is region)
        and (other := view.get(n)) is not None
        and (kind_of(other.text) or _shape(other.text)) == kind
        # A line the signals demote (CMake's `-- Could NOT find X` status for an optional package, above the
        # `CMake Error` for a required one) is not where the failure starts, whatever rule it shares.
        and scorer.signal_score(other.text)[0] >= 0
        # Nor is a bare header its rule knows (RuboCop's `Offenses:` above the first offense).
        and not BARE_HEADER.match(other.text)
        # Nor the source line of a Python traceback's frame (`    raise ReadTimeoutError(...)` under `File
        # "...", line 336, in _error_catcher`): the code that raised, above the exception it raised.
        and not ((frame := view.get(n - 1)) is not None and PY_FRAME.match(frame.text))
        and not RETRYING.search(other.text)
    ]
    first = min(earlier, default=anchor)
    if not _RESTATED.match(clean.text) or region is None:
        return first
    # A restatement's first telling may hold no error word of its own (Gradle's CodeNarc task prints `CodeNarc
    # rule violations were found.`), so it was never a candidate: look for it above.
    shape = _shape(clean.text)
    told = [
        n
        for n in range(max(region.begin, first - RESTATED_REACH), first)
        if (other := view.get(n)) is not None
        and other.text.strip()
        and _shape(other.text) == shape
        and scorer.signal_score(other.text)[0] >= 0
    ]
    return min(told, default=first)


def _grow_new(
    top: int,
    bottom: int,
    view: LogView,
    scorer: LineScorer,
    limits: tuple[int, int],
    erring: Callable[[int], bool],
) -> tuple[int, int]:
    """With a passing log: widen the block over the adjacent lines the passing run did not print.

    What is new next to the error is its detail (stack frames, the rest of a report), however long;
    lines the passing run printed too, or a second blank line, end it. Upwards it also hops over a short
    closing summary to a new trace above (Maven prints BUILD FAILURE between the cause and its goal error).
    """
    low, high = limits

    def new(n: int) -> bool:
        clean = view.get(n)
        if clean is None or not clean.text.strip() or scorer.known(clean.text):
            return False
        return erring(n) or bool(CONTINUATION.match(clean.text) or HEADER.match(clean.text))

    def novel(n: int) -> bool:
        clean = view.get(n)
        return clean is not None and (not clean.text.strip() or not scorer.known(clean.text))

    def reach(edge: int, direction: int) -> int | None:
        """The next new line from `edge` over at most NEW_BRIDGE lines that are new but plain ("tar: This
        does not look like a tar archive" between a git error and tar's failure) or single blank lines."""
        blanks = 0
        for k in range(1, NEW_BRIDGE + 2):
            n = edge + direction * k
            if not low <= n <= high:
                return None
            if new(n):
                return n
            clean = view.get(n)
            blanks = blanks + 1 if clean is not None and not clean.text.strip() else 0
            if blanks > 1 or not novel(n):
                return None
        return None

    while top - 1 >= low and bottom - top + 1 < MAX_NEW_EXCERPT:
        above = reach(top, -1)
        if above is None:
            # A tool's closing summary (Maven's BUILD FAILURE and timings) may stand between its error
            # report and the new output that caused it: hop over a few lines to new detail above.
            hops = range(top - 2, max(low, top - NEW_HOP) - 1, -1)
            above = next((n for n in hops if _trace_end(n, view, new, erring, low)), None)
            if above is None:
                # Or a new trace's exception line above frames the passing run printed too.
                above = _frames_above(top, view, scorer, erring, max(low, bottom - MAX_NEW_EXCERPT))
            if above is None:
                break
        top = above
    while bottom + 1 <= high and bottom - top + 1 < MAX_NEW_EXCERPT:
        below = reach(bottom, 1)
        if below is None:
            break
        bottom = below
    return top, bottom


def _quiet_failure(
    scan: ScanResult,
    view: LogView,
    region: Region,
    score: float,
    signal_score: Callable[[str], tuple[float, bool]],
) -> Localized:
    """No line states an error: show the last lines the failing step printed, where a reader looks.

    The focus is the line next to the first generic statement ("rake aborted!", "Command failed with exit
    code 1"): the message it announces follows it when it opens the paragraph, else it stands just above.
    """
    end = region.end - 1 if region.exit is not None else scan.total_lines
    picked: list[tuple[int, str]] = []
    line = end
    verdict = 0  # lines of a short closing paragraph taken, once the paragraph above it is being taken
    while line > region.begin and len(picked) < QUIET_LINES:
        clean = view.get(line)
        if clean is None:
            break
        if clean.text.strip() and clean.marker is Marker.NONE:
            picked.append((line, clean.display))
        elif picked and not clean.text.strip() and len(picked) != verdict:
            # The last paragraph is enough, unless it is a closing verdict of a line or two standing apart
            # from what it judges (bundler-audit's `Vulnerabilities found!`, Danger's `Found 1 error.`):
            # then the paragraph above it is taken too.
            if verdict or len(picked) > QUIET_VERDICT:
                break
            verdict = len(picked)
        line -= 1
    picked.reverse()
    if not picked:
        picked = [(scan.tail.first + i, c.text) for i, c in enumerate(scan.tail.lines) if c.text.strip()][
            -QUIET_LINES:
        ]
    focus = picked[-1]
    generic = [i for i, (_, text) in enumerate(picked) if signal_score(text)[1]]
    if generic:
        near = generic[0] + 1 if generic[0] == 0 else generic[0] - 1
        if 0 <= near < len(picked) and near not in generic:
            focus = picked[near]
        if near > generic[0]:
            # Below the message it announces, the tool's closing hint ("(See full trace by running task
            # with --trace)") ends what there is to read.
            cut = next((i for i in range(near + 1, len(picked)) if TOOL_HINT.match(picked[i][1])), None)
            picked = picked[:cut]
    # A tool's message about a place in a file (SwiftFormat's `--lint` warnings, a checker that fails on its
    # warnings) is what the step failed on, when nothing states an error.
    focus = next((item for item in picked if FILE_MESSAGE.match(item[1])), focus)
    return Localized([focus], picked, score, region.start, region.exit)


def _speaks_only_outside(scored: list[tuple[float, int]], view: LogView, regions: list[Region]) -> bool:
    """Whether every line that states something stands outside the failing steps, while the first of them
    (a command named by its start and exit) printed output of its own."""
    region = regions[0]
    start, exit_mark = region.start, region.exit
    if start is None or exit_mark is None:
        return False
    # Only a step whose start is known: Travis' exit line names its command, GitHub's `Run` group and
    # GitLab's script section open the step (a region guessed from the log's first fold is not one).
    named = bool(exit_mark.name) and start.name.rstrip('" ') == exit_mark.name.rstrip('" ')
    if not (named or start.name.startswith("Run ") or start.name in ("step_script", "build_script")):
        return False
    # (a step's exit line counts as its own: GitLab closes the script's section before `Job failed`)
    spans = [(r.begin, r.exit.line if r.exit is not None else r.end) for r in regions]
    if any(score > 0.5 and any(a <= line <= b for a, b in spans) for score, line in scored):
        return False
    return any(
        (clean := view.get(n)) is not None and clean.text.strip() and clean.marker is Marker.NONE
        for n in range(region.begin + 1, region.end)
    )


def _is_known_or_blank(n: int, view: LogView, scorer: LineScorer) -> bool:
    clean = view.get(n)
    return _is_blank(clean) or scorer.known((clean or EMPTY).text)


def _trace_end(
    n: int, view: LogView, new: Callable[[int], bool], erring: Callable[[int], bool], low: int
) -> bool:
    """Whether new line `n` ends a new trace (stack frames or detail below an error statement)."""
    clean = view.get(n)
    if clean is None or not CONTINUATION.match(clean.text):
        return False
    stop = max(low, n - MAX_NEW_EXCERPT)
    while n >= stop and new(n):
        if erring(n):
            return True
        n -= 1
    return False


def _frames_above(
    top: int, view: LogView, scorer: LineScorer, erring: Callable[[int], bool], low: int
) -> int | None:
    """The new exception line above a run of stack frames ending at `top - 1`, when the frames lead up to
    one: a trace whose exception is new belongs to the failure even where its frames are old."""
    n = top - 1
    while n >= low and (clean := view.get(n)) is not None and FRAME.match(clean.text):
        n -= 1
    if n == top - 1 or n < low:
        return None
    clean = view.get(n)
    if clean is None or scorer.known(clean.text) or not erring(n):
        return None
    return n
