"""PEM / OpenSSH / PGP private key blocks, which span many lines.

RFC 7468 (textual encodings): a block is ``-----BEGIN <label>-----``, base64 lines, ``-----END <label>-----``.
Private-key labels: "PRIVATE KEY" (PKCS #8), "ENCRYPTED PRIVATE KEY", "RSA/EC/DSA PRIVATE KEY" (legacy
OpenSSL), "OPENSSH PRIVATE KEY"; PGP armor (RFC 4880 §6.2) uses "PGP PRIVATE KEY BLOCK" with "Key: value"
headers. Markers stay visible (they say a key was printed, which helps the reader); everything between them is
redacted line by line, so line numbers do not move.

The block is followed with a tiny state machine, the same for a whole text and for line-at-a-time
callers (`Redactor.redact_lines`): the state is a `Block` (body lines seen, the line prefix learned from the
BEGIN line), or None outside a block.

Logs put a prefix before every line of a printed key: pytest (`E   `), BuildKit (`#12 0.345 `), diffs
(`+ `), compose and tables (`  | `), runners (`[stderr] `, timestamps). Whatever stands before the BEGIN
marker on its line is taken as that prefix, with its digits and blanks generalised (BuildKit's and the
timestamps' numbers change from line to line) and cut at every blank (`E   ValueError: -----BEGIN` has
body lines prefixed `E   ` only); a body line is key material once a prefix is stripped from it.
A block ends at its END marker; if the log was truncated and END never comes, it ends at the first line
that does not look like key material, and after `MAX_BODY_LINES` at the latest (an RSA-8192 key in PEM is
about 100 lines), so a missing END cannot swallow the rest of a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KIND = "private-key"
MAX_BODY_LINES = 200

BEGIN_LITERAL = "-----BEGIN "
BEGIN_RE = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
END_RE = re.compile(r"-----END [A-Z0-9 ]{0,40}-----")
LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
# What may stand before the key material on a line: indentation and the ISO-8601 timestamp GitHub Actions puts
# in front of every line of a raw job log.
_PREFIX_RE = re.compile(r"[ \t]*(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z[ \t]+)?[ \t]*")
# A body line: base64 (RFC 7468 §3), an RFC 1421 / OpenPGP armor header (RFC 4880 §6.2:
# "Proc-Type: 4,ENCRYPTED", "DEK-Info: ...", "Comment: ..."), blank, or an earlier redaction of such a
# line (so redacting twice changes nothing). Only the known header names: "Error: ..." after a truncated
# key is not key material.
_BODY_RE = re.compile(
    r"[A-Za-z0-9+/=]+|(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset|MessageID): .*"
    r"|\[REDACTED:[a-z0-9-]+\]|"
)

_DIGITS_OR_BLANKS_RE = re.compile(r"\d+|[ \t]+")

Span = tuple[int, int]


@dataclass(frozen=True)
class Block:
    """Inside a private-key block: body lines seen so far and the learned line prefix (None: none)."""

    lines: int
    prefix: re.Pattern[str] | None


def _generalise(prefix: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _DIGITS_OR_BLANKS_RE.finditer(prefix):
        out.append(re.escape(prefix[pos : m.start()]))
        out.append(r"\d+" if m.group()[0].isdigit() else r"[ \t]+")
        pos = m.end()
    out.append(re.escape(prefix[pos:]))
    return "".join(out)


def learn_prefix(prefix: str) -> re.Pattern[str] | None:
    """A pattern for the prefix of a block's body lines, from what stands before its BEGIN marker."""
    if not prefix.strip():
        return None  # indentation only: `_PREFIX_RE` already strips it
    # Every cut just after a run of blanks, and the whole prefix; the longest that matches is stripped.
    cuts = {len(prefix)} | {m.end() for m in re.finditer(r"[ \t]+", prefix)}
    alternatives = [_generalise(prefix[:cut]) for cut in sorted(cuts, reverse=True) if prefix[:cut].strip()]
    return re.compile("|".join(f"(?:{a})" for a in alternatives)) if alternatives else None


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """(end of the line starting at `pos`, start of the next line)."""
    m = LINE_BREAK_RE.search(text, pos)
    return (m.start(), m.end()) if m else (len(text), len(text))


def _content(text: str, start: int, end: int, prefix: re.Pattern[str] | None = None) -> Span:
    """The span of text[start:end] without a log prefix (the learned one, if it matches) and whitespace."""
    if prefix is not None:
        learned = prefix.match(text, start, end)
        if learned is not None:
            start = learned.end()
    m = _PREFIX_RE.match(text, start, end)
    s = m.end() if m else start
    e = end
    while e > s and text[e - 1] in " \t":
        e -= 1
    return s, e


def _continue_block(text: str, pos: int, block: Block, spans: list[Span]) -> tuple[int, Block | None]:
    """Walk body lines from `pos`; returns where normal scanning resumes and the state afterwards."""
    count = block.lines
    while pos < len(text):
        eol, nxt = _line_at(text, pos)
        s, e = _content(text, pos, eol, block.prefix)
        end_marker = END_RE.search(text, s, e)
        if end_marker is not None:
            if end_marker.start() > s:
                spans.append((s, _content(text, s, end_marker.start())[1]))
            return end_marker.end(), None
        if not _BODY_RE.fullmatch(text, s, e):
            return pos, None  # not key material: the block was truncated; this line is scanned normally
        if e > s:
            spans.append((s, e))
        count += 1
        if count >= MAX_BODY_LINES:
            return nxt, None
        pos = nxt
    return pos, Block(count, block.prefix)


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def find_blocks(text: str, state: Block | None) -> tuple[list[Span], Block | None]:
    """Spans of private-key material in `text` given the state the previous chunk left; and the new state."""
    spans: list[Span] = []
    pos = 0
    if state is not None:
        pos, state = _continue_block(text, 0, state, spans)
    while state is None:
        p = text.find(BEGIN_LITERAL, pos)
        if p < 0:
            break
        m = BEGIN_RE.match(text, p)
        if m is None:
            pos = p + 1
            continue
        eol, nxt = _line_at(text, m.end())
        end_marker = END_RE.search(text, m.end(), eol)
        rest_end = end_marker.start() if end_marker else eol
        s, e = _content(text, m.end(), rest_end)
        if e > s:
            # Key material on the marker's own line: a one-line key with literal "\n" escapes (JSON, env
            # vars), or a truncated one. Everything up to END (or the end of the line) goes.
            spans.append((s, e))
            pos = end_marker.end() if end_marker else eol
            continue
        if end_marker is not None:
            pos = end_marker.end()
            continue
        prefix = learn_prefix(text[_line_start(text, p) : p])
        pos, state = _continue_block(text, nxt, Block(0, prefix), spans)
    return spans, state
