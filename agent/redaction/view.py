"""A view of a text with terminal escapes and invisible characters removed, and the way back.

A token printed as ``ghp_abc\\x1b[0mdef...`` or with a zero-width space inside is still a token to anyone who
reads the log: terminals drop the escape, browsers draw nothing for U+200B. The detectors therefore run on a
*view* with those characters taken out, and every span they report is mapped back to the original string, so
the redacted output keeps everything else (colours included) exactly as it was.
"""

from __future__ import annotations

import re
from bisect import bisect_right

# Removed from the view:
# - CSI sequences, ECMA-48 §5.4: ESC [ parameter bytes 0x30-0x3F, intermediate bytes 0x20-0x2F, one final byte
#   0x40-0x7E (colours, cursor moves: what CI runners and test tools emit);
# - OSC sequences, ECMA-48 §8.3.89: ESC ] ... terminated by BEL or ST (ESC \\), e.g. OSC 8 hyperlinks; kept
#   to one line so an unterminated one cannot swallow the rest of the log;
# - charset designations ESC ( B and the like (ECMA-35), and other two-byte ESC Fe sequences;
# - invisible format characters: U+200B ZERO WIDTH SPACE, U+200C ZWNJ, U+200D ZWJ, U+2060 WORD JOINER,
#   U+FEFF ZERO WIDTH NO-BREAK SPACE (BOM).
_ESCAPES = r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\r\n]*(?:\x07|\x1b\\)?|[()*+][0-~]|[@-Z\\-_])"
HIDDEN_RE = re.compile(_ESCAPES + r"|[\u200b-\u200d\u2060\ufeff]")
# Starting with the literal ESC lets re skip ahead with its fast prefix scan: most logs have escapes but no
# zero-width characters, and then this one is used (~10x faster than HIDDEN_RE).
ESCAPES_RE = re.compile(_ESCAPES)
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


def has_hidden(text: str) -> bool:
    """Whether `text` contains anything `HIDDEN_RE` would remove (cheap: plain `in` scans)."""
    return "\x1b" in text or _has_zero_width(text)


def _has_zero_width(text: str) -> bool:
    # For pure ASCII / Latin-1 strings CPython answers `in` for a wider character without scanning.
    return not text.isascii() and any(ch in text for ch in _ZERO_WIDTH)


def _hidden_re(text: str) -> re.Pattern[str]:
    return HIDDEN_RE if _has_zero_width(text) else ESCAPES_RE


def strip_hidden(text: str) -> str:
    """`text` without terminal escapes and zero-width characters."""
    return _hidden_re(text).sub("", text) if has_hidden(text) else text


class TextView:
    """`view` is `original` minus hidden pieces; `span_to_original` maps view spans back.

    The mapping is stored per kept run (not per character), so building it costs one regex pass over the
    hidden pieces, and a lookup is a binary search.
    """

    __slots__ = ("_ansi_starts", "_ansi_texts", "_orig_starts", "_view_starts", "original", "view")

    def __init__(self, original: str) -> None:
        self.original = original
        self._view_starts: list[int] = []
        self._orig_starts: list[int] = []
        self._ansi_starts: list[int] = []
        self._ansi_texts: list[str] = []
        if not has_hidden(original):
            self.view = original
            return
        parts: list[str] = []
        view_len = 0
        prev = 0
        for m in _hidden_re(original).finditer(original):
            if m.start() > prev:
                self._view_starts.append(view_len)
                self._orig_starts.append(prev)
                parts.append(original[prev : m.start()])
                view_len += m.start() - prev
            if original[m.start()] == "\x1b":
                self._ansi_starts.append(m.start())
                self._ansi_texts.append(m.group())
            prev = m.end()
        if prev < len(original) or not self._view_starts:
            self._view_starts.append(view_len)
            self._orig_starts.append(prev)
            parts.append(original[prev:])
        self.view = "".join(parts)

    @property
    def identity(self) -> bool:
        return self.view is self.original

    def _char_to_original(self, pos: int) -> int:
        i = bisect_right(self._view_starts, pos) - 1
        return self._orig_starts[i] + (pos - self._view_starts[i])

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the non-empty view span [start, end) to the original span from its first to its last char."""
        if self.identity:
            return start, end
        return self._char_to_original(start), self._char_to_original(end - 1) + 1

    def escapes_within(self, start: int, end: int) -> str:
        """The terminal escapes inside original[start:end], concatenated.

        Re-emitted after a placeholder so that a colour switched inside a secret still applies afterwards.
        """
        if not self._ansi_starts:
            return ""
        i = bisect_right(self._ansi_starts, start - 1)
        out: list[str] = []
        while i < len(self._ansi_starts) and self._ansi_starts[i] < end:
            out.append(self._ansi_texts[i])
            i += 1
        return "".join(out)
