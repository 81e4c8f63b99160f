"""What of a diagnosis is embedded and stored, and small helpers over repo names and times."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from agent.models import Diagnosis, LogLine

# Volatile tokens that differ between two runs of the same failure; replacing them keeps the vectors of
# reruns close. The fingerprint (agent engine) already ignores them; this is the same idea for the text.
_VOLATILE = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), " "),
    (re.compile(r"\b[0-9a-f]{12,}\b", re.IGNORECASE), "<hex>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE),
        "<uuid>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|seconds)\b"), "<duration>"),
    (re.compile(r"[ \t]+"), " "),
]

MAX_EMBED_CHARS = 2000  # all-MiniLM-L6-v2 reads 256 word pieces; more text only costs tokenizer time


def lines_text(lines: list[LogLine]) -> str:
    return "\n".join(line.text for line in lines)


def normalize(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return "\n".join(part.strip() for part in text.splitlines() if part.strip())


def embed_text(diagnosis: Diagnosis) -> str:
    """The redacted focus text (the lines that state the error), or the title when there is no focus."""
    text = lines_text(diagnosis.focus) or lines_text(diagnosis.excerpt[:5]) or diagnosis.title
    return normalize(text)[:MAX_EMBED_CHARS]


def org_of(repo: str | None) -> str | None:
    """'owner/name' -> 'owner'; GitLab 'group/sub/name' -> 'group' (the top-level namespace)."""
    if not repo or "/" not in repo:
        return None
    return repo.split("/", 1)[0]


def utcnow() -> datetime:
    """Naive UTC: SQLite stores no offset, so every time in the SQL store is naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=0).isoformat() + "Z"
