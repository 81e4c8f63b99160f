"""The one way the command line reports trouble: `cimedic: error: ...` / `cimedic: warning: ...` on stderr.

One prefix for every command (issue 15), so that a user, or a script grepping stderr, sees the same shape
whether the problem is a missing file, a malformed setting or an unreachable database.
"""

from __future__ import annotations

import sys

PROG = "cimedic"


def error(message: str) -> None:
    """One line: what went wrong. The caller decides the exit status (2 for a usage or setup problem)."""
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def warning(message: str) -> None:
    """One line: something optional was skipped, and the command goes on."""
    print(f"{PROG}: warning: {_one_line(message)}", file=sys.stderr)


def _one_line(message: str) -> str:
    # Library messages (SQLAlchemy's, psycopg's) span several lines and append a link to their docs; the
    # first non-empty line says what is wrong.
    for line in message.strip().splitlines():
        if line.strip():
            return line.strip()
    return message.strip() or "unknown error"
