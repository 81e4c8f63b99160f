"""Values the caller declares secret, and the encoded forms in which they leak into logs.

A CI job rarely prints a secret as is: it shows up URL-encoded in a request line, or base64-encoded inside a
longer string (``Authorization: Basic base64(user:secret)``, a base64 docker ``config.json``, a Kubernetes
Secret manifest). GitHub Actions' runner masks base64 forms for this reason (actions/runner ADR 0297,
"Base64 Masking Trailing Characters"). Here the encodings are derived exactly:

base64 turns every 3 input bytes into 4 output chars. When the secret sits inside a longer string, it starts
at byte offset 0, 1 or 2 within a 3-byte group. For each offset k we encode ``k`` filler bytes + secret, then
keep only the output chars whose 6 bits come entirely from the secret: the first ``ceil(8k/6)`` chars carry
filler bits and the last partial char carries bits of whatever follows. The middle is what appears verbatim
in *any* base64 string containing the secret at that alignment. Both alphabets (RFC 4648 §4 standard and §5
URL-safe) are covered.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from agent.redaction.view import strip_hidden

# Shorter values are ignored: masking "ab" or "1234" would shred ordinary log text (and every placeholder),
# and such values give no protection anyway. The same floor applies to each encoded form.
MIN_SECRET_LENGTH = 4

_URLSAFE = str.maketrans("+/", "-_")


def base64_forms(value: str) -> set[str]:
    """The alignment-independent cores of `value`'s base64 encodings (standard and URL-safe)."""
    raw = value.encode("utf-8")
    forms: set[str] = set()
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + raw).decode("ascii").rstrip("=")
        total = k + len(raw)
        core = encoded[(8 * k + 5) // 6 : (8 * total) // 6]
        forms.add(core)
        forms.add(core.translate(_URLSAFE))
    return forms


def variants(secret: str) -> set[str]:
    """Every string whose presence in a log reveals `secret`: itself, its lines, its JSON-escaped, URL and
    base64 encodings."""
    value = strip_hidden(secret)
    values = {value}
    # A multi-line secret (a key, a JSON credential file) is printed line by line as often as whole, and a
    # line-at-a-time caller only ever sees one line.
    values.update(line.strip() for line in value.splitlines())
    out: set[str] = set()
    for v in values:
        if len(v) < MIN_SECRET_LENGTH:
            continue
        out.add(v)
        out.add(json.dumps(v)[1:-1])  # inside a JSON string (quotes, backslashes, non-ASCII escaped)
        out.add(json.dumps(v, ensure_ascii=False)[1:-1])
        out.add(quote(v, safe=""))
        out.add(quote(v))  # "/" left as is, as in paths
        out.add(quote_plus(v, safe=""))
        out.update(base64_forms(v))
    return {v for v in out if len(v) >= MIN_SECRET_LENGTH}


def find_all(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Spans of the leftmost non-overlapping occurrences of each needle, via `str.find` (C speed).

    Non-overlapping is enough: an occurrence that overlaps a redacted one is destroyed by that redaction.
    """
    spans: list[tuple[int, int]] = []
    for needle in needles:
        p = text.find(needle)
        while p >= 0:
            spans.append((p, p + len(needle)))
            p = text.find(needle, p + len(needle))
    return spans
