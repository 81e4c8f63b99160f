"""Reading fix-its off a log: the changes compilers and linters print next to their errors.

The patterns are data (`agent/rules/fixits/*.yaml`, format in docs/fixes.md): a `match` regex for the line
that carries the fix-it, optional `near` regexes for lines around it that name the file and line (a Python
traceback's last `File "...", line N`, rustc's `--> path:line:col`) or the text to insert (gcc's
`+++ |+#include <...>`), and an `edit` kind saying what the named groups mean. The kinds are the few ways
tools print a fix; each is a small function below. rustc's suggestion block (`N - old` / `N + new`
lines after a `help:`) is read as the diff it is.

Harvesting never reads a file: a fix-it becomes `Edit`s, and `agent.fixes.validate` checks them against the
files at the failing commit. Log lines are the cleaned lines (`agent.logtext.clean_line`), numbered as the
Diagnosis numbers them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from agent.fixes.patch import Edit, Patch
from agent.logtext import clean_line
from agent.models import Category, Diagnosis

FIXITS_DIR = ("rules", "fixits")
MAX_PATCHES = 20
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Rows of an annotate-snippets suggestion (rustc, ruff): `N | ctx`, `N + new`, `N - old` or `- old`.
_SNIPPET_CTX = re.compile(r"^\s*(\d+) \|(?: (.*))?$")
_SNIPPET_ADD = re.compile(r"^\s*(\d+) \+(?: (.*))?$")
_SNIPPET_DEL = re.compile(r"^\s*(?:(\d+) )?-(?: (.*))?$")
_RUSTC_SEPARATOR = re.compile(r"^\s*\|\s*$")
_RUSTC_SHOWN = re.compile(r"^(\s*)(\d+) \| (.*)$")


class FixitError(ValueError):
    """A fix-it rules file is malformed; the message names the file and the rule."""


@dataclass(frozen=True)
class Near:
    direction: str  # "before" or "after" the matched line
    within: int
    pattern: re.Pattern[str]
    stop: re.Pattern[str] | None


@dataclass(frozen=True)
class Fixit:
    id: str
    tool: str
    title: str
    needle: str
    match: re.Pattern[str]
    near: tuple[Near, ...]
    edit: str
    text: str | None
    check: str | None
    lockfile: bool
    source: str


Groups = dict[str, str]


def _fill(template: str, groups: Mapping[str, str], escape: bool = False) -> str:
    def one(m: re.Match[str]) -> str:
        value = groups.get(m.group(1))
        if value is None:
            raise KeyError(m.group(1))
        return re.escape(value) if escape else value

    return _PLACEHOLDER.sub(one, template)


def _int(groups: Groups, name: str) -> int | None:
    value = groups.get(name)
    return int(value) if value else None


def _edit_replace(fixit: Fixit, groups: Groups, lines: Sequence[str], at: int) -> list[Edit] | None:
    line = _int(groups, "line")
    if line is None or not groups.get("old") or "new" not in groups:
        return None
    return [Edit(groups["path"], line, old=groups["old"], new=groups["new"], column=_int(groups, "col"))]


def _edit_insert_text(fixit: Fixit, groups: Groups, lines: Sequence[str], at: int) -> list[Edit] | None:
    line, col = _int(groups, "line"), _int(groups, "col")
    if col is None and "caret" in groups:
        col = len(groups["caret"]) + 1
    if line is None or col is None or fixit.text is None:
        return None
    return [Edit(groups["path"], line, old="", new=_fill(fixit.text, groups), column=col)]


def _edit_insert_line(fixit: Fixit, groups: Groups, lines: Sequence[str], at: int) -> list[Edit] | None:
    line = _int(groups, "line")
    if line is None or fixit.text is None:
        return None
    return [Edit(groups["path"], line, new_lines=(_fill(fixit.text, groups),), insert=True)]


def _edit_delete_line(fixit: Fixit, groups: Groups, lines: Sequence[str], at: int) -> list[Edit] | None:
    line = _int(groups, "line")
    if line is None or fixit.check is None:
        return None
    return [Edit(groups["path"], line, whole_line=True, check=_fill(fixit.check, groups, escape=True))]


def _rustc_inline(lines: Sequence[str], at: int) -> tuple[int, str, str] | None:
    """rustc's in-line form of a pure insertion: `N | new line` over a row of `+` under the added text.
    The old line is the new one without the marked characters: (N, old, new)."""
    row = _RUSTC_SHOWN.match(lines[at]) if at < len(lines) else None
    if row is None or at + 1 >= len(lines):
        return None
    marks = lines[at + 1]
    start = row.start(3)
    bar = row.start(3) - 2
    if len(marks) <= bar or marks[bar] != "|" or marks[:bar].strip() or "+" not in marks[start:]:
        return None
    under = marks[start:].ljust(len(row.group(3)))
    if set(under) - {"+", " "} or len(under) > len(row.group(3)):
        return None
    code = row.group(3)
    added = [mark == "+" for mark in under]
    # rustc trims whitespace off the marks: an inserted `mut ` is marked `+++`. A marked run between a
    # space and a space took its trailing space with it.
    for k in range(len(code) - 1):
        if added[k] and not added[k + 1] and code[k + 1] == " ":
            first = k
            while first > 0 and added[first - 1]:
                first -= 1
            if first == 0 or code[first - 1] == " ":
                added[k + 1] = True
    old = "".join(ch for ch, mark in zip(code, added, strict=True) if not mark)
    return int(row.group(2)), old, code


def _snippet_rows(lines: Sequence[str], at: int) -> list[tuple[str, int | None, str]] | None:
    """The rows of one suggestion block: ("ctx" | "add", new line number, text) or ("del", old number or
    None, text). None when the block has rows of another kind (elided `...`, in-line `~`) or offers more
    than one alternative."""
    rows: list[tuple[str, int | None, str]] = []
    for k in range(at, min(len(lines), at + 80)):
        text = lines[k]
        if _RUSTC_SEPARATOR.match(text):
            if not rows:
                continue
            follows = lines[k + 1] if k + 1 < len(lines) else ""
            if any(p.match(follows) for p in (_SNIPPET_CTX, _SNIPPET_ADD, _SNIPPET_DEL)):
                return None  # a second alternative: the tool is not sure which one
            return rows
        if m := _SNIPPET_ADD.match(text):
            rows.append(("add", int(m.group(1)), m.group(2) or ""))
        elif m := _SNIPPET_DEL.match(text):
            rows.append(("del", int(m.group(1)) if m.group(1) else None, m.group(2) or ""))
        elif m := _SNIPPET_CTX.match(text):
            rows.append(("ctx", int(m.group(1)), m.group(2) or ""))
        else:
            return None
    return None


def _edit_snippet_diff(fixit: Fixit, groups: Groups, lines: Sequence[str], at: int) -> list[Edit] | None:
    """The suggestion block after a `help:` line, in the annotate-snippets style rustc and ruff print: a
    diff between `|` bars whose `N | ctx` and `N + new` rows carry new-file numbers and whose `- old` rows
    carry the old number (rustc) or none (ruff). rustc prints a pure in-line insertion instead as the new
    line over `+` marks. A suggestion is shown against the unchanged file, so old and new numbering agree
    up to the block's first row."""
    path = groups["path"]
    k = at + 1
    if k < len(lines) and _RUSTC_SEPARATOR.match(lines[k]):
        inline = _rustc_inline(lines, k + 1)
        if inline is not None:
            if k + 3 < len(lines) and not _RUSTC_SEPARATOR.match(lines[k + 3]) and lines[k + 3].strip():
                return None
            number, before, after = inline
            return [Edit(path, number, old=before, whole_line=True, new_lines=(after,))]
    rows = _snippet_rows(lines, at + 1)
    if not rows or all(kind == "ctx" for kind, _, _ in rows):
        return None
    start: int | None = None
    for i, (kind, shown, _text) in enumerate(rows):
        if shown is not None:
            # A `- old` row counts on the old side, the others on the new side.
            side = [r for r in rows[:i] if (r[0] != "add" if kind == "del" else r[0] != "del")]
            start = shown - len(side)
            break
    if start is None:
        return None
    edits: list[Edit] = []
    old = start
    dels: list[tuple[int, str]] = []
    adds: list[str] = []
    run_at = start
    for kind, _, text in [*rows, ("ctx", None, "")]:
        if kind == "ctx":
            if dels:
                first, *rest = dels
                edits.append(Edit(path, first[0], old=first[1], whole_line=True, new_lines=tuple(adds)))
                edits += [Edit(path, n, old=t, whole_line=True) for n, t in rest]
            elif adds:
                edits.append(Edit(path, run_at, new_lines=tuple(adds), insert=True))
            dels, adds = [], []
            old += 1
            run_at = old
        elif kind == "del":
            if not dels and not adds:
                run_at = old
            dels.append((old, text))
            old += 1
        else:
            if not dels and not adds:
                run_at = old
            adds.append(text)
    return edits


def _edit_pin(fixit: Fixit, groups: Groups, lines: Sequence[str], at: int) -> list[Edit] | None:
    """pip names the versions the index has when the pinned one is missing: pin the newest final release
    among them (pre-releases and dev releases are skipped, as pip itself skips them by default,
    https://pip.pypa.io/en/stable/cli/pip_install/#pre-release-versions). The file's line is found by the
    requirement itself; the requirement name matches with PEP 503 normalization (`-`, `_`, `.` alike)."""
    finals = [v.strip() for v in groups.get("versions", "").split(",") if re.fullmatch(r"[\d.]+", v.strip())]
    name, old = groups.get("name"), groups.get("old")
    if not finals or not name or not old or finals[-1] == old:
        return None
    groups["new"] = finals[-1]  # for the title
    spelled = "[-_.]+".join(re.escape(part) for part in re.split(r"[-_.]+", name))
    locate = rf"(?i)^\s*{spelled}\s*==\s*{re.escape(old)}\s*(?:[;#].*)?$"
    return [Edit(groups["path"], 0, old=old, new=finals[-1], check=locate)]


EDITS: dict[str, Callable[[Fixit, Groups, Sequence[str], int], list[Edit] | None]] = {
    "replace": _edit_replace,
    "insert-text": _edit_insert_text,
    "insert-line": _edit_insert_line,
    "delete-line": _edit_delete_line,
    "snippet-diff": _edit_snippet_diff,
    "pin": _edit_pin,
}


def _near(fixit: Fixit, lines: Sequence[str], at: int) -> Groups | None:
    groups: Groups = {}
    for near in fixit.near:
        step = -1 if near.direction == "before" else 1
        found = None
        for k in range(at + step, at + step * (near.within + 1), step):
            if not 0 <= k < len(lines):
                break
            m = near.pattern.search(lines[k])
            if m is not None:
                found = m
                break
            if near.stop is not None and near.stop.search(lines[k]):
                break
        if found is None:
            return None
        groups.update({k: v for k, v in found.groupdict().items() if v is not None and k not in groups})
    return groups


def harvest(
    diagnosis: Diagnosis, log_lines: Sequence[str], fixits: Sequence[Fixit] | None = None
) -> list[Patch]:
    """Every fix-it the log prints, as rule patches in log order (at most MAX_PATCHES, duplicates once)."""
    rules = default_fixits() if fixits is None else fixits
    # Raw or already cleaned lines alike: a GitHub timestamp or `##[error]` prefix must not hide a fix-it.
    log_lines = [clean_line(x).text for x in log_lines]
    lockfile = diagnosis.category is Category.DEPENDENCY
    patches: list[Patch] = []
    seen: set[tuple[Edit, ...]] = set()
    for at, text in enumerate(log_lines):
        for fixit in rules:
            if fixit.needle not in text:
                continue
            m = fixit.match.search(text)
            if m is None:
                continue
            groups: Groups = {}
            for name, value in m.groupdict().items():
                # Python regexes cannot repeat a group name across alternatives: `line2` stands for `line`.
                if value is not None:
                    groups.setdefault(name.rstrip("0123456789"), value)
            extra = _near(fixit, log_lines, at)
            if extra is None:
                continue
            groups = {**extra, **groups}
            if "path" not in groups:
                continue
            try:
                edits = EDITS[fixit.edit](fixit, groups, log_lines, at)
            except KeyError:  # a placeholder's group sits in an alternative this line did not take
                continue
            if not edits or tuple(edits) in seen:
                continue
            seen.add(tuple(edits))
            try:
                title = _fill(fixit.title, groups)
            except KeyError:
                title = fixit.title
            patches.append(
                Patch(
                    "rule",
                    title,
                    fixit.id,
                    tuple(edits),
                    log_line=at + 1,
                    lockfile_fix=lockfile and fixit.lockfile,
                )
            )
            if len(patches) == MAX_PATCHES:
                return patches
            break
    return patches


def _compile(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise FixitError(f"{where}: a pattern must be a string")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise FixitError(f"{where}: bad regex: {exc}") from None


def _str(entry: Mapping[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise FixitError(f"{where}: {key!r} must be a non-empty string")
    return value


_KEYS = {"id", "title", "needle", "match", "near", "edit", "text", "check", "lockfile"}


def parse_fixits(text: str, source: str) -> list[Fixit]:
    """The fix-its of one rules file; raises FixitError naming the file and rule on any mistake."""
    data = yaml.safe_load(text)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("tool"), str)
        or not isinstance(data.get("fixits"), list)
    ):
        raise FixitError(f"{source}: expected a mapping with 'tool' and a 'fixits' list")
    out: list[Fixit] = []
    for n, entry in enumerate(data["fixits"], 1):
        where = f"{source}: fixit {n}"
        if not isinstance(entry, dict):
            raise FixitError(f"{where}: must be a mapping")
        if unknown := set(entry) - _KEYS:
            raise FixitError(f"{where}: unknown keys {sorted(unknown)}")
        fid = _str(entry, "id", where)
        where = f"{source}: {fid}"
        edit = _str(entry, "edit", where)
        if edit not in EDITS:
            raise FixitError(f"{where}: edit must be one of {sorted(EDITS)}")
        near: list[Near] = []
        for k, item in enumerate(entry.get("near") or [], 1):
            spot = f"{where}: near {k}"
            if not isinstance(item, dict) or item.get("direction") not in ("before", "after"):
                raise FixitError(f"{spot}: needs direction: before|after")
            within = item.get("within")
            if not isinstance(within, int) or within < 1:
                raise FixitError(f"{spot}: within must be a positive integer")
            stop = item.get("stop")
            near.append(
                Near(
                    item["direction"],
                    within,
                    _compile(item.get("pattern"), spot),
                    None if stop is None else _compile(stop, spot),
                )
            )
        assert fid is not None and edit is not None
        match = _compile(entry.get("match"), where)
        known = {g.rstrip("0123456789") for p in (match, *(n.pattern for n in near)) for g in p.groupindex}
        known |= {"new"} if edit == "pin" else set()  # the pin edit chooses the version itself
        for key in ("title", "text", "check"):
            unknown = set(_PLACEHOLDER.findall(str(entry.get(key) or ""))) - known
            if unknown:
                raise FixitError(f"{where}: {key} uses {sorted(unknown)}, which no pattern captures")
        out.append(
            Fixit(
                id=fid,
                tool=data["tool"],
                title=_str(entry, "title", where) or "",
                needle=_str(entry, "needle", where) or "",
                match=match,
                near=tuple(near),
                edit=edit,
                text=_str(entry, "text", where, required=False),
                check=_str(entry, "check", where, required=False),
                lockfile=bool(entry.get("lockfile", False)),
                source=source,
            )
        )
    return out


def load_fixits(files: Iterable[tuple[str, str]]) -> list[Fixit]:
    out: list[Fixit] = []
    seen: dict[str, str] = {}
    for name, text in sorted(files):
        for fixit in parse_fixits(text, name):
            if fixit.id in seen:
                raise FixitError(f"duplicate fixit id {fixit.id!r} in {name} and {seen[fixit.id]}")
            seen[fixit.id] = name
            out.append(fixit)
    return out


@functools.cache
def default_fixits() -> tuple[Fixit, ...]:
    """The packaged fix-it rules, loaded once."""
    root = resources.files("agent").joinpath(*FIXITS_DIR)
    files = [(e.name, e.read_text(encoding="utf-8")) for e in root.iterdir() if e.name.endswith(".yaml")]
    return tuple(load_fixits(files))
