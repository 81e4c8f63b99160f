"""Checking a patch before anyone sees it: it parses, applies exactly, stays off protected paths, is small.

`validate(patch, reader, policy)` is the one gate (issue 12). The reader gives a file's bytes at the
failing commit by repository-relative path, or None when there is no such file: the CLI reads a local
checkout (`--source DIR`), the App reads the forge's contents at the head SHA. A rule's edits are first
turned into a diff against those files; from then on both kinds of patch take the same checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from agent.fixes.apply import ApplyError, apply_hunks
from agent.fixes.patch import Edit, Patch
from agent.fixes.policy import PatchPolicy, matches
from agent.fixes.unidiff import DiffError, FileDiff, make_diff, parse_diff

Reader = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Validated:
    patch: Patch
    diff: str
    files: tuple[str, ...]
    results: dict[str, str | None] = field(compare=False)  # path -> new text (None: deleted)


@dataclass(frozen=True)
class Rejected:
    patch: Patch
    reason: str


class _Invalid(Exception):
    pass


class Unreadable(Exception):
    """A reader's refusal to read a file (too large, its lookup budget spent): the patch is rejected with
    this reason, and the other patches are still checked. A remote reader raises it rather than answering
    None, which would mean the file does not exist."""


def _text(reader: Reader, path: str) -> str | None:
    data = reader(path)
    if data is None:
        return None
    if b"\0" in data:
        raise _Invalid(f"{path} is a binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid(f"{path} is not UTF-8 text") from None


def _repo_path(path: str) -> str:
    """Repository-relative form of a path as written in a patch; refuses paths that leave the tree."""
    if "\\" in path or path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        raise _Invalid(f"{path!r} is not a repository-relative path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise _Invalid(f"{path!r} leaves the repository")
    return "/".join(parts)


def resolve_path(path: str, reader: Reader) -> str | None:
    """The repository path a log's path names: as written, else (absolute paths from a CI runner such as
    /home/runner/work/repo/repo/src/a.c) the longest tail that exists in the checkout."""
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        return None
    tails = [parts] if not path.startswith("/") and ":" not in path[:3] else []
    tails += [parts[k:] for k in range(1, len(parts))]
    for tail in tails:
        name = "/".join(tail)
        if name and reader(name) is not None:
            return name
    return None


def _display_index(line: str, column: int, tabstop: int = 8) -> int | None:
    """The index of the character at display column `column` (1-based), tabs expanded: gcc counts columns
    so by default (`-fdiagnostics-column-unit=display`, `-ftabstop=8`,
    https://gcc.gnu.org/onlinedocs/gcc/Diagnostic-Message-Formatting-Options.html)."""
    if "\t" not in line:
        return None
    shown = 0
    for index, ch in enumerate(line):
        if shown + 1 == column:
            return index
        shown = (shown // tabstop + 1) * tabstop if ch == "\t" else shown + 1
    return len(line) if shown + 1 == column else None


def _edit_line(line: str, edit: Edit) -> str:
    if edit.column is not None:
        for at in (edit.column - 1, _display_index(line, edit.column)):
            if at is not None and at <= len(line) and line[at : at + len(edit.old)] == edit.old:
                return line[:at] + edit.new + line[at + len(edit.old) :]
        raise _Invalid(f"line {edit.line} has no {edit.old!r} at column {edit.column}")
    hits = [m.start() for m in re.finditer(rf"(?<![\w$]){re.escape(edit.old)}(?![\w$])", line)]
    if len(hits) != 1:
        why = "does not contain" if not hits else "contains more than one"
        raise _Invalid(f"line {edit.line} {why} {edit.old!r}")
    return line[: hits[0]] + edit.new + line[hits[0] + len(edit.old) :]


def _locate(edit: Edit, lines: Sequence[str]) -> Edit:
    """An edit without a line number goes to the one line its `check` matches."""
    hits = [k for k, line in enumerate(lines) if edit.check is not None and re.search(edit.check, line)]
    if len(hits) != 1:
        raise _Invalid(f"{'no' if not hits else 'more than one'} line matches {edit.check!r}")
    return replace(edit, line=hits[0] + 1, check=None)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` with `edits` made, bottom up so line numbers stay valid; each must find what it expects."""
    ending = "\r\n" if "\r\n" in text else "\n"
    lines = text.split("\n")
    crlf = [x.endswith("\r") for x in lines]
    bare = [x[:-1] if c else x for x, c in zip(lines, crlf, strict=True)]
    edits = [_locate(edit, bare) if edit.line == 0 else edit for edit in edits]
    seen: dict[int, list[Edit]] = {}
    # Bottom up, and on one line right to left, so earlier positions stay valid; an insertion before a
    # line goes after that line's own edits.
    for edit in sorted(edits, key=lambda e: (e.line, not e.insert, e.column or 0), reverse=True):
        k = edit.line - 1
        if not 0 <= k < len(bare) or (k == len(bare) - 1 and bare[k] == "" and not edit.insert):
            raise _Invalid(f"line {edit.line} is past the end of the file")
        if edit.insert:
            new = [ln.rstrip("\r\n") for ln in edit.new_lines]
            bare[k:k] = new
            crlf[k:k] = [ending == "\r\n"] * len(new)
            continue
        others = seen.setdefault(edit.line, [])
        if others and (
            edit.whole_line
            or edit.column is None
            or any(o.whole_line or o.column is None or edit.column + len(edit.old) > o.column for o in others)
        ):
            raise _Invalid(f"two fixes change line {edit.line} in overlapping ways")
        others.append(edit)
        if not edit.whole_line:
            bare[k] = _edit_line(bare[k], edit)
            continue
        if edit.check is not None:
            if re.search(edit.check, bare[k]) is None:
                raise _Invalid(f"line {edit.line} does not look like {edit.check!r}")
        elif bare[k] != edit.old:
            raise _Invalid(f"line {edit.line} is not {edit.old!r}")
        new = [ln.rstrip("\r\n") for ln in edit.new_lines]
        bare[k : k + 1] = new
        crlf[k : k + 1] = [crlf[k]] * len(new)
    return "\n".join(x + ("\r" if c else "") for x, c in zip(bare, crlf, strict=True))


def _diff_from_edits(patch: Patch, reader: Reader) -> str:
    by_file: dict[str, list[Edit]] = {}
    for edit in patch.edits:
        path = resolve_path(edit.path, reader)
        if path is None:
            raise _Invalid(f"{edit.path} is not in the checkout")
        by_file.setdefault(path, []).append(edit)
    parts = []
    for path, edits in by_file.items():
        old = _text(reader, path)
        assert old is not None  # resolve_path found it
        try:
            parts.append(make_diff(path, old, apply_edits(old, edits)))
        except _Invalid as exc:
            raise _Invalid(f"{path}: {exc}") from None
    diff = "".join(parts)
    if not diff:
        raise _Invalid("the edits change nothing")
    return diff


def _check_paths(files: Sequence[FileDiff], patch: Patch, policy: PatchPolicy) -> tuple[str, ...]:
    paths: list[str] = []
    for fd in files:
        if fd.binary:
            raise _Invalid(f"binary patch for {fd.paths[0] if fd.paths else '?'}")
        if fd.copy:
            raise _Invalid("file copies are not supported")
        if fd.mode_change:
            raise _Invalid("file mode changes are not allowed")
        for raw in fd.paths:
            path = _repo_path(raw)
            if matches(path, policy.protected):
                raise _Invalid(f"{path} is a protected path")
            if matches(path, policy.lockfiles) and not patch.lockfile_fix:
                raise _Invalid(f"{path} is a lockfile and the failure is not about it")
            paths.append(path)
    if len(set(paths)) > policy.max_files:
        raise _Invalid(f"touches {len(set(paths))} files (cap {policy.max_files})")
    return tuple(dict.fromkeys(paths))


def _apply_all(files: Sequence[FileDiff], reader: Reader) -> dict[str, str | None]:
    results: dict[str, str | None] = {}

    def current(path: str) -> str | None:
        return results[path] if path in results else _text(reader, path)

    for fd in files:
        old = None if fd.old_path is None else _repo_path(fd.old_path)
        new = None if fd.new_path is None else _repo_path(fd.new_path)
        name = new or old or "?"
        before = "" if old is None else current(old)
        if before is None:
            raise _Invalid(f"{old} does not exist at the failing commit")
        if old is None and new is not None and current(new) is not None:
            raise _Invalid(f"{new} already exists; the patch would create it")
        if fd.rename and new is not None and current(new) is not None:
            raise _Invalid(f"rename target {new} already exists")
        try:
            after = apply_hunks(before, fd, name) if fd.hunks else before
        except ApplyError as exc:
            raise _Invalid(str(exc)) from None
        if new is None:
            if after:
                raise _Invalid(f"deleting {old} leaves lines the patch does not remove")
            results[name] = None
            continue
        if old is not None and old != new:
            results[old] = None
        results[new] = after
    return results


def validate(patch: Patch, reader: Reader, policy: PatchPolicy | None = None) -> Validated | Rejected:
    """`Validated` with the checked diff and the new contents, or `Rejected` with the reason."""
    policy = policy or PatchPolicy()
    try:
        if patch.edits:
            diff = _diff_from_edits(patch, reader)
        elif patch.diff is not None:
            diff = patch.diff
        else:
            raise _Invalid("the patch is empty")
        if len(diff.encode("utf-8")) > policy.max_bytes:
            raise _Invalid(f"{len(diff.encode('utf-8'))} bytes (cap {policy.max_bytes})")
        try:
            files = parse_diff(diff)
        except DiffError as exc:
            raise _Invalid(f"not a unified diff: {exc}") from None
        paths = _check_paths(files, patch, policy)
        changed = sum(1 for fd in files for h in fd.hunks for x in h.lines if x[0] in "+-")
        if changed > policy.max_changed_lines:
            raise _Invalid(f"{changed} changed lines (cap {policy.max_changed_lines})")
        results = _apply_all(files, reader)
    except (_Invalid, Unreadable) as exc:
        return Rejected(patch, str(exc))
    return Validated(patch, diff, paths, results)
