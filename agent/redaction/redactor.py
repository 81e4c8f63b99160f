"""`Redactor`: finds secrets in log text and replaces each with ``[REDACTED:<kind>]``.

Pipeline for one call:
1. build a view of the text without terminal escapes and zero-width characters (`view.TextView`);
2. collect hits on the view: token formats (`rules.SCAN_RULES`, whole-text regex scans), context patterns
   on the few lines holding a keyword (`rules.KEYWORD_RULES`), private-key blocks (`pem`), declared values
   and their encodings (`declared`);
3. map the hits back to the original text, drop their parts that lie inside an earlier placeholder (so
   redacting twice changes nothing), merge overlapping hits into their union (a partial redaction would
   leak the rest), and split them at line breaks so that line numbers never move;
4. splice placeholders in, re-emitting any terminal escapes that sat inside a secret.

The result never contains the secret values, and `Finding` never holds them either.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agent.redaction import pem
from agent.redaction.declared import find_all, variants
from agent.redaction.rules import (
    DECLARED,
    KEY_CHARS,
    KEYWORD_RULES,
    MAX_KEY_LENGTH,
    SCAN_RULES,
    SPECIFIC,
    KeywordRule,
    keyword_value_span,
)
from agent.redaction.view import TextView

PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
DECLARED_KIND = "secret"

# Each word that ends a key, with the keyword rules anchored on it.
_WORDS: dict[str, tuple[KeywordRule, ...]] = {}
for _rule in KEYWORD_RULES:
    for _word in _rule.words:
        _WORDS[_word] = (*_WORDS.get(_word, ()), _rule)

_Hit = tuple[int, int, int, str]  # start, end, priority, kind
# Up to this length (a line or a few) the scan rules' anchors are checked with `in` first: starting a regex
# scan costs more than a few substring tests. On long texts the regex scans are as fast as `in` would be.
_SHORT_TEXT = 4096
# Every literal some rule needs, lowercased: a short text in which none occurs (most log lines) has nothing
# for the rules to find, and one regex search over it answers that in a few microseconds.
_GATE = re.compile(
    "|".join(
        re.escape(a)
        for a in sorted(
            {a.lower() for r in SCAN_RULES for a in r.anchors} | set(_WORDS) | {pem.BEGIN_LITERAL.lower()},
            key=len,
            reverse=True,
        )
    )
)


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted span of the original text. Holds the kind and the position, never the value."""

    kind: str
    start: int
    end: int


def _lower(text: str) -> str:
    """`text.lower()` with the same length, so positions in it are positions in `text`.

    Only U+0130 (LATIN CAPITAL LETTER I WITH DOT ABOVE) lowercases to two code points (Unicode
    SpecialCasing.txt; checked over all code points on CPython 3.11).
    """
    if text.isascii():
        return text.lower()
    return text.replace("\u0130", "i").lower()


def _key_start(low: str, word_start: int, end: int) -> int:
    """Start of the key that ends at `end` (a run of key characters, at most MAX_KEY_LENGTH long)."""
    start = word_start
    floor = max(0, end - MAX_KEY_LENGTH)
    while start > floor and low[start - 1] in KEY_CHARS:
        start -= 1
    return start


def _keyword_hits(view: str, low: str, hits: list[_Hit]) -> None:
    """Hits of the keyword rules: found by their words in `low`, then matched around each occurrence.

    The separator and value are matched first (one anchored regex call that usually fails at once); the key
    is read back only then. After a hit the search resumes past its value, so a run of "token=token=..."
    stays linear.
    """
    for word, rules in _WORDS.items():
        p = low.find(word)
        while p >= 0:
            end = p + len(word)
            resume = end
            start = -1
            for rule in rules:
                m = rule.tail.match(view, end)
                if m is None:
                    continue
                if start < 0:
                    start = _key_start(low, p, end)
                    if start >= 3 and low.startswith("://", start - 3):
                        break  # a URL's user name; the url-password rule covers the password
                if rule.opener and (start == 0 or low[start - 1] != rule.opener):
                    continue
                key = low[start:end]
                if not rule.key_ok(key):
                    continue
                s, e, value = keyword_value_span(m)
                if e > s and rule.accept(value, m, key):
                    hits.append((s, e, rule.priority, rule.kind_of(key)))
                    resume = max(resume, e)
            p = low.find(word, resume)


def _subtract_placeholders(hits: list[_Hit], text: str) -> list[_Hit]:
    """Remove from each hit the parts inside an existing placeholder: they are not secrets any more."""
    if "[REDACTED:" not in text:
        return hits
    ph = [m.span() for m in PLACEHOLDER_RE.finditer(text)]
    if not ph:
        return hits
    ph_ends = [e for _, e in ph]
    out: list[_Hit] = []
    for s, e, prio, kind in hits:
        i = bisect_left(ph_ends, s + 1)  # first placeholder ending after s
        cur = s
        while i < len(ph) and ph[i][0] < e:
            ps, pe = ph[i]
            if ps > cur:
                out.append((cur, ps, prio, kind))
            cur = max(cur, pe)
            i += 1
        if cur < e:
            out.append((cur, e, prio, kind))
    return out


def _merge(hits: list[_Hit]) -> list[tuple[int, int, str]]:
    """Union of overlapping hits; the kind of a union is the one of its highest-priority hit."""
    hits.sort(key=lambda h: (h[0], -h[1]))
    merged: list[tuple[int, int, str]] = []
    cur_s, cur_e, cur_p, cur_k = hits[0]
    for s, e, p, k in hits[1:]:
        if s < cur_e:
            cur_e = max(cur_e, e)
            if p > cur_p:
                cur_p, cur_k = p, k
        else:
            merged.append((cur_s, cur_e, cur_k))
            cur_s, cur_e, cur_p, cur_k = s, e, p, k
    merged.append((cur_s, cur_e, cur_k))
    return merged


class Redactor:
    """Replaces secrets in log text with ``[REDACTED:<kind>]``.

    `secrets` are values the caller knows to be secret (CI secrets, tokens it holds); they are redacted
    verbatim, URL-encoded and in base64 at any alignment. Values shorter than
    `declared.MIN_SECRET_LENGTH` are ignored. Instances are immutable and safe to share between threads.

    Known limits: a declared value that is itself part of a placeholder (``REDACTED``, ``secret``) or that
    contains ``[``/``]`` can still be read in, or recombine with, the placeholders; values are matched
    exactly and in JSON-escaped, URL and base64 forms only (not hex, not shell-quoted); pattern rules see
    the view without escapes, so a token whose first character is swallowed by a malformed escape
    (``ESC [ 3ghp_...``) is missed by the patterns (declared values are also searched in the original).
    """

    __slots__ = ("_declared", "_needles")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        needles: set[str] = set()
        declared = 0
        for secret in secrets:
            forms = variants(secret)
            if forms:
                declared += 1
                needles |= forms
        self._declared = declared
        self._needles = tuple(sorted(needles, key=lambda v: (-len(v), v)))

    def __repr__(self) -> str:  # never show the values
        return f"Redactor(<{self._declared} declared secrets>)"

    # ---------------------------------------------------------------------------------------- public API

    def redact(self, text: str) -> str:
        """`text` (one line or many) with every secret replaced; line breaks and everything else kept."""
        return self._redact(text, None)[0]

    def redact_lines(self, lines: Iterable[str]) -> Iterator[str]:
        """Redact a stream of lines (with or without their line ends); private-key blocks may span lines.

        Each item must be whole lines (a line cut in two can hide a token from every pattern). The result
        equals `redact` on the joined text, except for declared secrets that span lines (their lines are
        matched one by one here).
        """
        state: pem.Block | None = None
        for line in lines:
            out, state = self._redact(line, state)
            yield out

    def findings(self, text: str) -> list[Finding]:
        """What `redact` would replace, as spans of `text` (for tests and audit; holds no secret value)."""
        return self._findings(TextView(text), None)[0]

    # ---------------------------------------------------------------------------------------- internals

    def _redact(self, text: str, state: pem.Block | None) -> tuple[str, pem.Block | None]:
        tv = TextView(text)
        found, state = self._findings(tv, state)
        if not found:
            return text, state
        out: list[str] = []
        prev = 0
        for f in found:
            out.append(text[prev : f.start])
            out.append(placeholder(f.kind))
            out.append(tv.escapes_within(f.start, f.end))
            prev = f.end
        out.append(text[prev:])
        return "".join(out), state

    def _findings(self, tv: TextView, state: pem.Block | None) -> tuple[list[Finding], pem.Block | None]:
        hits, state = self._hits(tv.view, state)
        if not tv.identity:
            hits = [(*tv.span_to_original(s, e), p, k) for s, e, p, k in hits]
            if self._needles:
                # Declared values are also looked for in the original: a malformed escape just before a
                # secret (ESC [ 3 followed by the secret) eats its first character in the view.
                hits.extend((s, e, DECLARED, DECLARED_KIND) for s, e in find_all(tv.original, self._needles))
        if not hits:
            return [], state
        original = tv.original
        hits = _subtract_placeholders(hits, original)
        if not hits:
            return [], state
        found: list[Finding] = []
        for start, end, kind in _merge(hits):
            seg = start
            for br in pem.LINE_BREAK_RE.finditer(original, start, end):
                if br.start() > seg:
                    found.append(Finding(kind, seg, br.start()))
                seg = br.end()
            if end > seg:
                found.append(Finding(kind, seg, end))
        return found, state

    def _hits(self, view: str, state: pem.Block | None) -> tuple[list[_Hit], pem.Block | None]:
        hits: list[_Hit] = []
        short = len(view) <= _SHORT_TEXT
        low = _lower(view)
        if short and state is None and not self._needles and _GATE.search(low) is None:
            return hits, None
        for rule in SCAN_RULES:
            if short:
                for anchor in rule.anchors:  # (a loop, not any(): no generator per rule and line)
                    if anchor in view:
                        break
                else:
                    continue
            for m in rule.pattern.finditer(view):
                s, e = m.span(rule.group)
                if m.start() > 0 and view[m.start() - 1] in rule.not_after:
                    continue
                if e > s and (rule.accept is None or rule.accept(m.group(rule.group))):
                    hits.append((s, e, rule.priority, rule.kind))
        _keyword_hits(view, low, hits)
        spans, state = pem.find_blocks(view, state)
        hits.extend((s, e, SPECIFIC, pem.KIND) for s, e in spans)
        if self._needles:
            hits.extend((s, e, DECLARED, DECLARED_KIND) for s, e in find_all(view, self._needles))
        return hits, state


DEFAULT_REDACTOR = Redactor()


def redact(text: str) -> str:
    """`DEFAULT_REDACTOR.redact(text)`: pattern-based redaction with no declared secrets."""
    return DEFAULT_REDACTOR.redact(text)
