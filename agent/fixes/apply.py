"""A strict patch applier with `git apply --check` semantics: exact context, offsets allowed, no fuzz.

git looks for each hunk at its stated line first and then at growing distances before and after it; every
context and removed line must match exactly (no fuzz, whitespace included). A hunk that starts at line 1
must match at the start of the file, and one with no trailing context must match at its end (git's
`match_beginning` / `match_end` in apply.c), which is why a zero-context hunk in the middle of a file is
refused, as `git apply` refuses it without `--unidiff-zero`. Hunks apply in order and may not
overlap. Nothing here touches a file system: contents come in and go out as strings.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.fixes.unidiff import FileDiff, Hunk


class ApplyError(ValueError):
    """The patch does not apply; the message names the file and the hunk."""


@dataclass(frozen=True)
class _Side:
    lines: tuple[str, ...]  # without their "\n"
    eof_newline: bool


def _split(text: str) -> tuple[list[str], bool]:
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
        return parts, True
    return parts, not parts  # an empty file has no final line to lack a newline


def _sides(hunk: Hunk) -> tuple[_Side, _Side, int]:
    old = tuple(x[1:] for x in hunk.lines if x[0] in " -")
    new = tuple(x[1:] for x in hunk.lines if x[0] in " +")
    trailing = next((k for k, x in enumerate(reversed(hunk.lines)) if x[0] != " "), len(hunk.lines))
    return _Side(old, hunk.old_eof_newline), _Side(new, hunk.new_eof_newline), trailing


def apply_hunks(original: str, diff: FileDiff, name: str) -> str:
    """`original` with every hunk of `diff` applied; raises ApplyError when one does not match exactly."""
    lines, eof_newline = _split(original)
    out: list[str] = []
    pos = 0  # first line of `lines` not yet copied to `out`
    offset = 0  # git carries the offset found for one hunk to the next
    for number, hunk in enumerate(diff.hunks, 1):
        old, new, trailing = _sides(hunk)
        size = len(old.lines)
        match_beginning = hunk.old_start <= 1
        match_end = trailing == 0
        # A pure insertion names the line after which it goes; its old side is empty.
        want = hunk.old_start - (1 if size else 0) + offset
        at = _find(lines, old.lines, want, pos, match_beginning, match_end)
        if at is None:
            raise ApplyError(
                f"{name}: hunk {number} (@@ -{hunk.old_start},{hunk.old_len}) does not apply: "
                "its context or removed lines do not match the file"
            )
        ends_file = at + size == len(lines)
        if ends_file and size and not old.eof_newline and eof_newline:
            raise ApplyError(f"{name}: hunk {number} expects no newline at the end of the file")
        if ends_file and size and old.eof_newline and not eof_newline and old.lines:
            raise ApplyError(f"{name}: hunk {number} expects a newline at the end of the file")
        offset = at - (hunk.old_start - (1 if size else 0))
        out.extend(lines[pos:at])
        out.extend(new.lines)
        pos = at + size
        if ends_file:
            eof_newline = new.eof_newline
    out.extend(lines[pos:])
    if not out:
        return ""
    return "\n".join(out) + ("\n" if eof_newline else "")


def _find(
    lines: list[str], old: tuple[str, ...], want: int, floor: int, beginning: bool, end: bool
) -> int | None:
    def fits(at: int) -> bool:
        if at < floor or at + len(old) > len(lines):
            return False
        if beginning and at != 0:
            return False
        if end and at + len(old) != len(lines):
            return False
        return tuple(lines[at : at + len(old)]) == old

    limit = max(len(lines), want) + 1
    for distance in range(limit + 1):
        for at in (want - distance, want + distance) if distance else (want,):
            if fits(at):
                return at
    return None
