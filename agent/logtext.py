"""Turning raw CI log text into the lines a developer reads.

A raw log line may carry ANSI escape sequences, a GitHub Actions timestamp, a GitLab Runner timestamp header,
GitLab section markers (`section_start:<unix>:<name>` followed by `\\r\\x1b[0K`), Travis fold and timing
markers, NUL bytes and other control characters. `clean_line` removes all of that and keeps the words.

Line numbering follows the Diagnosis contract: `\\r\\n`, `\\r` and `\\n` each end a line, so a GitLab
marker `section_start:1:x\\r\\x1b[0KRunning` is two lines, exactly as the datasets count them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

LINE_BREAK = re.compile(r"\r\n|\r|\n")

# ECMA-48 control sequences (CSI ... final byte), OSC strings (terminated by BEL or ST), and the other
# escape sequences of ECMA-35: ESC, any intermediate bytes (0x20-0x2F), one final byte (0x30-0x7E), as in
# `ESC ( B` (tput sgr0's character set), `ESC =`/`ESC >` (keypad modes) and `ESC 7`/`ESC 8` (cursor save
# and restore) from full-screen programs run in tests, vim's and vis's in the LogChunks data. Also the
# caret forms `^[[0m` and the ESC-less `[0m` left behind when a log passed through a tool that dropped the
# ESC byte (seen in the LogChunks data).
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]"
    r"|\^\[\[[0-9;]*[A-Za-z]"
    r"|\[[0-9]{1,3}(?:;[0-9]{1,3})*m"
    # a bare reset or erase whose ESC was lost, not a bracketed name (a logger's `[main]`, bitcoind's
    # `[msghand]`)
    r"|(?<![\w\]])\[[mK](?![\w-])"
)
# Everything below U+0020 except TAB, plus DEL and the C1 range.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Zero-width characters that hide inside tokens and confuse matching.
ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")

# GitHub Actions prefixes every line with an RFC 3339 timestamp with 7 fractional digits.
GITHUB_TIMESTAMP = re.compile(r"^\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
# GitLab Runner (FF_TIMESTAMPS; docs.gitlab.com/ci/jobs/job_logs/#job-log-timestamps) prefixes every trace
# line with a 32-byte header: an RFC 3339 UTC time with 6 fractional digits, a space, the stream number (2
# hex digits), the stream (`O` stdout, `E` stderr) and `+` when the line continues the previous one (else a
# space). Checked before GitHub's, which its time alone would match, leaving `00O ` in front of a section
# marker. A continuation keeps a line of its own: line numbers count the trace's own line breaks.
GITLAB_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]{2}[EO][+ ]")
# Jenkins timestamper plugin: `[2021-03-04T10:11:12.345Z] ` or `12:34:56 `.
JENKINS_TIMESTAMP = re.compile(r"^\[\d{4}-\d\d-\d\dT[\d:.]+Z?\] |^\d\d:\d\d:\d\d(?:\.\d+)? (?=\S)")

# Workflow commands, https://docs.github.com/actions/reference/workflow-commands-for-github-actions
GITHUB_MARKER = re.compile(r"^##\[(group|endgroup|error|warning|notice|debug|section|command)\]")
GITHUB_COMMAND = re.compile(r"^::(error|warning|notice|group|endgroup|debug)(?: ([^:]*))?::")
# https://docs.gitlab.com/ee/ci/jobs/#custom-collapsible-sections
GITLAB_SECTION = re.compile(r"^section_(start|end):\d+:([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?")
# Travis CI's folding and timing markers, as they appear in its raw logs.
# `gh run view --log` (and `--log-failed`) prints each line of a job's log after its job's and step's names,
# tab-separated (https://cli.github.com/manual/gh_run_view): `build<TAB>Run tests<TAB>2024-05-14T09:12:03Z x`.
# The line behind them is the job log's own, markers and all; the names are kept for display.
GH_CLI_PREFIX = re.compile(r"^[^\t\n]+\t[^\t\n]*\t(?=\ufeff?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)")
# Turborepo runs a monorepo's tasks side by side and prefixes every line of a task's output with
# `<package>:<task>: ` (https://turbo.build/repo/docs/reference/run#--log-prefix): kept for display, like a
# workflow command, so that the tool's own line (`FAIL  src/x.test.ts > ...`) reads as the tool prints it.
# TeamCity's build log as downloaded: `[14:02:46]E:\t\t [dotnet test] message`, the time, the status (` `
# normal, `i` verbose, `W` warning, `E` error), tab-indented nesting and the block the line belongs to
# (https://www.jetbrains.com/help/teamcity/build-log.html). Read past and kept for display, like a Turborepo
# task's prefix.
TEAMCITY_PREFIX = re.compile(r"^\[\d\d:\d\d:\d\d\][ iWEF]:\s*(?:\[[^\]]*\] ?)?")
TASK_PREFIX = re.compile(r"^(?:@[a-z0-9][\w.~-]*/)?[a-z0-9][\w.~-]*:[a-z][\w-]*(?::[\w-]+)?:(?: |$)")
TRAVIS_MARKER = re.compile(r"^travis_(fold|time):(start|end):([^\s:]*)(?::\S*)?")


class Marker(Enum):
    NONE = "none"
    GROUP_START = "group-start"
    GROUP_END = "group-end"
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CleanLine:
    """A line as read: text without markup, and what CI markup it carried."""

    text: str
    marker: Marker = Marker.NONE
    name: str = ""  # group/section name, or the workflow command's parameters
    system: str = ""  # "github", "gitlab", "travis" when the markup tells
    prefix: str = ""  # a workflow command (`##[error]`, `::error file=x::`) that stood before the text

    @property
    def display(self) -> str:
        """The line as the log shows it to a reader: the text with its error/warning command kept."""
        return self.prefix + self.text


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text) if ("\x1b" in text or "[" in text or "^[" in text) else text


def clean_line(raw: str) -> CleanLine:
    """Remove CI markup, ANSI codes and control characters from one raw line."""
    text = strip_ansi(raw) if ("\x1b" in raw or "[" in raw) else raw
    if text.isascii():  # the common case: no zero-width characters, and a cheap test for control ones
        if not text.isprintable():
            text = CONTROL.sub("", text)
    else:
        text = ZERO_WIDTH.sub("", CONTROL.sub("", text))
    if "\t" in text and (gh := GH_CLI_PREFIX.match(text)):
        rest = text[gh.end() :]
        inner = clean_line(rest)
        stamp = GITHUB_TIMESTAMP.match(rest)
        head = text[: gh.end() + (stamp.end() if stamp else 0)]
        return replace(inner, prefix=head + inner.prefix)
    system = ""
    if stamp := GITLAB_TIMESTAMP.match(text):
        text = text[stamp.end() :]
        system = "gitlab"
    elif stamp := GITHUB_TIMESTAMP.match(text):
        text = text[stamp.end() :]
        system = "github"
    if text.startswith("##["):
        m = GITHUB_MARKER.match(text)
        if m:
            rest = text[m.end() :].strip()
            kind = m.group(1)
            if kind == "group":
                return CleanLine(rest, Marker.GROUP_START, rest, "github")
            if kind == "endgroup":
                return CleanLine("", Marker.GROUP_END, "", "github")
            if kind == "error":
                return CleanLine(rest, Marker.ERROR, "", "github", m.group(0))
            if kind == "warning":
                return CleanLine(rest, Marker.WARNING, "", "github", m.group(0))
            return CleanLine(rest, Marker.NONE, "", "github")
    elif text.startswith("::"):
        m = GITHUB_COMMAND.match(text)
        if m:
            rest = text[m.end() :].strip()
            kind = m.group(1)
            params = m.group(2) or ""
            if kind == "error":
                return CleanLine(rest, Marker.ERROR, params, "github", m.group(0))
            if kind == "warning":
                return CleanLine(rest, Marker.WARNING, params, "github", m.group(0))
            if kind == "group":
                return CleanLine(rest, Marker.GROUP_START, rest, "github")
            if kind == "endgroup":
                return CleanLine("", Marker.GROUP_END, "", "github")
            return CleanLine(rest, Marker.NONE, params, "github")
    elif text.startswith("section_"):
        m = GITLAB_SECTION.match(text)
        if m:
            kind = Marker.GROUP_START if m.group(1) == "start" else Marker.GROUP_END
            return CleanLine(text[m.end() :].strip(), kind, m.group(2), "gitlab")
    elif text.startswith("travis_"):
        m = TRAVIS_MARKER.match(text)
        if m:
            rest = text[m.end() :].strip()
            if m.group(1) == "fold":
                kind = Marker.GROUP_START if m.group(2) == "start" else Marker.GROUP_END
                return CleanLine(rest, kind, m.group(3), "travis")
            return CleanLine(rest, Marker.NONE, "", "travis")
    else:
        jstamp = JENKINS_TIMESTAMP.match(text)
        if jstamp:
            text = text[jstamp.end() :]
        elif task := TASK_PREFIX.match(text):
            return CleanLine(text[task.end() :].rstrip(), Marker.NONE, "", system, task.group())
        elif text.startswith("[") and (team := TEAMCITY_PREFIX.match(text)):
            return CleanLine(text[team.end() :].rstrip(), Marker.NONE, "", system, team.group())
    return CleanLine(text.rstrip(), Marker.NONE, "", system)


def split_lines(text: str) -> list[str]:
    """Split on `\\r\\n`, `\\r` and `\\n`; a final break does not start another line."""
    parts = LINE_BREAK.split(text)
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def count_breaks(text: str, start: int = 0, end: int | None = None) -> int:
    """How many line breaks `text[start:end]` holds (a `\\r\\n` counts once)."""
    stop = len(text) if end is None else end
    return text.count("\n", start, stop) + text.count("\r", start, stop) - text.count("\r\n", start, stop)


# Volatile tokens that differ between two runs of the same job: masked before comparing lines with a
# passing log and before fingerprinting. Counts (tests run, errors found) are deliberately kept: they carry
# meaning. Order matters: specific shapes before generic ones.
_VOLATILE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:[.,]\d+)?\b"), "<time>"),
    (
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        "<uuid>",
    ),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b"), "<hex>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<addr>"),
    (
        re.compile(r"(?:/tmp|/var/folders|/private/var|C:\\Users\\[^\\]+\\AppData\\Local\\Temp)[^\s:'\"]*"),
        "<tmp>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|msec|s|sec|secs|seconds?|m|min|mins|minutes?|h)\b"), "<dur>"),
    (re.compile(r"(?<=[\w\]]):\d{2,5}\b(?!:\d)"), ":<port>"),
    (re.compile(r"\bport \d{2,5}\b"), "port <port>"),
    (re.compile(r"\b(?:pid|PID|process|thread)[ =:#]*\d+"), "<pid>"),
    (re.compile(r"\b\d{10,}\b"), "<n>"),
)


def mask_volatile(text: str) -> str:
    """Mask timestamps, durations, hashes, UUIDs, temp paths, ports and PIDs in a cleaned line."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())
