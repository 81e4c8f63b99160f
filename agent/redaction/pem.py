"""PEM / OpenSSH / PGP private key blocks, which span many lines.

RFC 7468 (textual encodings): a block is ``-----BEGIN <label>-----``, base64 lines, ``-----END <label>-----``.
Private-key labels: "PRIVATE KEY" (PKCS #8), "ENCRYPTED PRIVATE KEY", "RSA/EC/DSA PRIVATE KEY" (legacy
OpenSSL), "OPENSSH PRIVATE KEY"; PGP armor (RFC 4880 §6.2) uses "PGP PRIVATE KEY BLOCK" with "Key: value"
headers. Markers stay visible (they say a key was printed, which helps the reader); everything between them is
redacted line by line, so line numbers do not move.

The block is followed with a tiny state machine, the same for a whole text and for line-at-a-time
callers (`Redactor.redact_lines`): the state is the number of body lines seen, or None outside a block.
A block ends at its END marker; if the log was truncated and END never comes, it ends at the first line
that does not look like key material, and after `MAX_BODY_LINES` at the latest (an RSA-8192 key in PEM is
about 100 lines), so a missing END cannot swallow the rest of a log.
"""

from __future__ import annotations

import re

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

Span = tuple[int, int]


def _line_at(text: str, pos: int) -> tuple[int, int]:
    """(end of the line starting at `pos`, start of the next line)."""
    m = LINE_BREAK_RE.search(text, pos)
    return (m.start(), m.end()) if m else (len(text), len(text))


def _content(text: str, start: int, end: int) -> Span:
    """The span of text[start:end] without a log prefix and surrounding whitespace."""
    m = _PREFIX_RE.match(text, start, end)
    s = m.end() if m else start
    e = end
    while e > s and text[e - 1] in " \t":
        e -= 1
    return s, e


def _continue_block(text: str, pos: int, count: int, spans: list[Span]) -> tuple[int, int | None]:
    """Walk body lines from `pos`; returns where normal scanning resumes and the state afterwards."""
    while pos < len(text):
        eol, nxt = _line_at(text, pos)
        s, e = _content(text, pos, eol)
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
    return pos, count


def find_blocks(text: str, state: int | None) -> tuple[list[Span], int | None]:
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
        pos, state = _continue_block(text, nxt, 0, spans)
    return spans, state
