"""What a fix is before it is checked: edits read off a log by a fix-it rule, or a model's diff.

A fix-it names a place (file, line, maybe column) and a change the tool printed; it cannot carry diff
context, which only the files at the failing commit have. So a rule's patch is a list of `Edit`s that
`agent.fixes.validate` turns into a unified diff against those files, checking on the way that the file
still says what the log quoted. A model's patch is a diff already and is checked as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FixSource = Literal["rule", "llm"]


@dataclass(frozen=True)
class Edit:
    """Replace `old` with `new` at `line` (1-based) of `path`, as the tool's log named them.

    - `column` set (1-based): `old` must stand at that column; `old` may be empty (an insertion there).
    - `column` None: `old` must occur exactly once on the line as a whole word.
    - `line` 0: the tool did not say which line; it is the only one that matches the regex `check`.
    - `whole_line`: `old` is the whole line's text (as the tool printed it) or, when `check` is set,
      the line must match that regular expression instead; `new` lines replace it
      (`new_lines=()` deletes it). With `insert`, the `new_lines` go before the line and nothing is
      removed.
    """

    path: str
    line: int
    old: str = ""
    new: str = ""
    column: int | None = None
    whole_line: bool = False
    new_lines: tuple[str, ...] = ()
    insert: bool = False
    check: str | None = None


@dataclass(frozen=True)
class Patch:
    """One candidate fix. `rule`: the fix-it rule id (rule patches) or the model name (LLM patches)."""

    source: FixSource
    title: str
    rule: str | None = None
    edits: tuple[Edit, ...] = ()
    diff: str | None = None
    log_line: int | None = None  # the log line that printed the fix-it
    lockfile_fix: bool = False  # the fix is about a lockfile, so it may touch one
