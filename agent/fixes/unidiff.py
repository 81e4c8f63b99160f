"""Unified diffs: a strict parser and a writer.

The format is GNU diff's unified format with git's extended headers
(https://www.gnu.org/software/diffutils/manual/html_node/Detailed-Unified.html,
https://git-scm.com/docs/git-diff#_generating_patch_text_with_p). The parser follows what `git apply`
accepts and refuses what it refuses: text before the first file header is ignored (as git ignores a mail
body), but inside a file section every line must belong to a hunk whose header counts match its body.
Binary patches, mode changes and copies are parsed so they can be refused by name, never half-applied.

Lines are split on `\\n` only: a `\\r` before it is part of the line, so CRLF files diff and apply exactly.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_GIT_HEADER = "diff --git "
NO_NEWLINE = "\\ No newline at end of file"
CONTEXT = 3  # lines of context around a change, diff's and git's default


class DiffError(ValueError):
    """The text is not a well-formed unified diff; the message says where."""


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: tuple[str, ...]  # each starts with " ", "-" or "+"
    old_eof_newline: bool = True  # False when "\ No newline at end of file" follows the old side's last line
    new_eof_newline: bool = True


@dataclass(frozen=True)
class FileDiff:
    old_path: str | None  # None: the file is created (/dev/null)
    new_path: str | None  # None: the file is deleted
    hunks: tuple[Hunk, ...]
    binary: bool = False
    rename: bool = False
    copy: bool = False
    mode_change: bool = False

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for p in (self.old_path, self.new_path) if p is not None))


def _strip_prefix(path: str, prefix: str, strip: bool) -> str:
    return path[len(prefix) :] if strip and path.startswith(prefix) else path


def _header_path(line: str) -> str:
    """The path of a `---`/`+++` line: up to a tab (diff puts the timestamp after one)."""
    path = line[4:].split("\t", 1)[0].rstrip("\r")
    if path.startswith('"'):
        raise DiffError(f"quoted path {path} is not supported")
    return path


def _parse_hunks(lines: Sequence[str], i: int, where: str) -> tuple[list[Hunk], int]:
    hunks: list[Hunk] = []
    while i < len(lines) and lines[i].startswith("@@"):
        m = _HUNK.match(lines[i])
        if m is None:
            raise DiffError(f"{where}: malformed hunk header {lines[i]!r}")
        old_start, new_start = int(m.group(1)), int(m.group(3))
        old_len = 1 if m.group(2) is None else int(m.group(2))
        new_len = 1 if m.group(4) is None else int(m.group(4))
        i += 1
        body: list[str] = []
        old_left, new_left = old_len, new_len
        old_eof = new_eof = True
        while old_left or new_left:
            if i >= len(lines):
                raise DiffError(f"{where}: hunk at old line {old_start} ends early (corrupt patch)")
            line = lines[i]
            # git reads an empty line inside a hunk as an empty context line (editors strip the space).
            tag = line[:1] or " "
            if tag == " " and old_left and new_left:
                old_left, new_left = old_left - 1, new_left - 1
            elif tag == "-" and old_left:
                old_left -= 1
            elif tag == "+" and new_left:
                new_left -= 1
            else:
                raise DiffError(f"{where}: line {line!r} does not fit the hunk header counts (corrupt patch)")
            body.append(tag + line[1:])
            i += 1
            if i < len(lines) and lines[i].startswith("\\"):
                old_eof = old_eof and tag == "+"
                new_eof = new_eof and tag == "-"
                i += 1
        hunks.append(Hunk(old_start, old_len, new_start, new_len, tuple(body), old_eof, new_eof))
    return hunks, i


def parse_diff(text: str) -> list[FileDiff]:
    """Every file section of `text`; raises DiffError for anything `git apply` would call corrupt."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    files: list[FileDiff] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not (line.startswith(_GIT_HEADER) or (line.startswith("--- ") and i + 1 < len(lines))):
            if files and line.strip():
                raise DiffError(f"line {i + 1}: unexpected text {line[:80]!r} between file sections")
            i += 1
            continue
        if line.startswith("--- ") and not lines[i + 1].startswith("+++ "):
            i += 1
            continue
        where = f"line {i + 1}"
        git = line.startswith(_GIT_HEADER)
        binary = rename = copy = mode = False
        old: str | None = None
        new: str | None = None
        if git:
            # `diff --git a/X b/Y`: the names, for sections without ---/+++ (binary, mode, pure rename).
            names = line[len(_GIT_HEADER) :].rstrip("\r")
            if names.startswith("a/") and " b/" in names:
                old, new = names[2:].rsplit(" b/", 1)
            i += 1
            while i < len(lines) and not lines[i].startswith(("--- ", "@@", _GIT_HEADER)):
                ext = lines[i]
                if ext.startswith(("rename from ", "rename to ")):
                    rename = True
                    path = ext.split(" ", 2)[2]
                    old, new = (path, new) if ext.startswith("rename from") else (old, path)
                elif ext.startswith(("copy from ", "copy to ")):
                    copy = True
                elif ext.startswith(("old mode ", "new mode ")):
                    mode = True
                elif ext.startswith(("GIT binary patch", "Binary files ")):
                    binary = True
                    while i + 1 < len(lines) and not lines[i + 1].startswith(_GIT_HEADER):
                        i += 1  # base85 data, refused as a whole
                elif ext.startswith("new file mode "):
                    old = None
                elif ext.startswith("deleted file mode "):
                    new = None
                elif not ext.startswith(("index ", "similarity index", "dissimilarity index")):
                    raise DiffError(f"line {i + 1}: unknown extended header {ext[:80]!r}")
                i += 1
        hunks: list[Hunk] = []
        if i < len(lines) and lines[i].startswith("--- "):
            if i + 1 >= len(lines) or not lines[i + 1].startswith("+++ "):
                raise DiffError(f"line {i + 1}: '---' header without '+++'")
            a, b = _header_path(lines[i]), _header_path(lines[i + 1])
            # git's -p1: strip a/ and b/ when the diff uses them (git always does; many tools do).
            strip = git or (
                (a.startswith("a/") or a == "/dev/null") and (b.startswith("b/") or b == "/dev/null")
            )
            old = None if a == "/dev/null" else _strip_prefix(a, "a/", strip)
            new = None if b == "/dev/null" else _strip_prefix(b, "b/", strip)
            i += 2
            hunks, i = _parse_hunks(lines, i, where)
            if not hunks:
                raise DiffError(f"{where}: file header without any hunk")
        elif rename and (old is None or new is None):
            raise DiffError(f"{where}: rename without both 'rename from' and 'rename to'")
        elif not (binary or rename or copy or mode):
            raise DiffError(f"{where}: file section without '---'/'+++' headers or hunks")
        files.append(FileDiff(old, new, tuple(hunks), binary, rename, copy, mode))
    if not files:
        raise DiffError("no file headers ('--- a/...' / '+++ b/...') found: not a unified diff")
    return files


def _range(start: int, length: int) -> str:
    # GNU diff: an empty range is named by the line before it; a one-line range has no length.
    if length == 0:
        return f"{start},0"
    return f"{start + 1}" if length == 1 else f"{start + 1},{length}"


def _body_line(tag: str, line: str, last: bool) -> list[str]:
    out = [tag + (line[:-1] if line.endswith("\n") else line)]
    if last and not line.endswith("\n"):
        out.append(NO_NEWLINE)
    return out


def make_diff(path: str, old: str, new: str) -> str:
    """A git-style unified diff from `old` to `new` for one file (empty when they are equal)."""
    # Not str.splitlines: it also breaks on \r, \v, \x1c...; a diff splits on \n only.
    a, b = _split_lf(old), _split_lf(new)
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(CONTEXT):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                for k in range(x1, x2):
                    out += _body_line(" ", a[k], k == len(a) - 1 and y1 + k - x1 == len(b) - 1)
                continue
            for k in range(x1, x2):
                out += _body_line("-", a[k], k == len(a) - 1)
            for k in range(y1, y2):
                out += _body_line("+", b[k], k == len(b) - 1)
    if not out:
        return ""
    header = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
    return "\n".join(header + out) + "\n"


def _split_lf(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
