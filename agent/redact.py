"""Secret redaction, the entry point the engine and the output layers import.

The implementation lives in `agent.redaction` (view without escapes, token and context rules, PEM blocks,
declared values and their encodings).

Why not a detector library: `detect-secrets` 1.5.0 (Yelp, PyPI; last release 2024-05) was evaluated as a
library. Its plugins report the secret *value* and a line number, not a position (we need spans to splice
placeholders in and to map them back through removed ANSI codes); with its default plugins, `scan_line` ran
at about 0.08 MB/s on ordinary log lines here and its entropy plugins flagged every git SHA, sha256 digest and
UUID; its private-key plugin flags the BEGIN line only (the whole block must go) and its GitHub plugin misses
fine-grained ``github_pat_`` tokens. What would remain useful is a handful of regexes, not worth a dependency,
so the patterns live here, each citing the issuer's documentation.
"""

from agent.redaction import DEFAULT_REDACTOR, Finding, Redactor, placeholder, redact

__all__ = ["DEFAULT_REDACTOR", "Finding", "Redactor", "placeholder", "redact"]
