"""A small SQLite file under `Settings.home`: the answer cache and the daily spend ledger.

The `agent` package must not import `knowledge`, so the LLM layer keeps its own state with the standard
library's `sqlite3`. Writers from several processes (CLI runs, worker threads) are serialized by SQLite's
own locking; WAL mode lets readers proceed during a write (https://www.sqlite.org/wal.html), and a busy
timeout makes a writer wait instead of failing (https://www.sqlite.org/c3ref/busy_timeout.html).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    created REAL NOT NULL,
    answer TEXT NOT NULL,
    PRIMARY KEY (fingerprint, model, prompt_version)
);
CREATE TABLE IF NOT EXISTS spend (
    day TEXT NOT NULL,
    repo TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (day, repo)
);
"""


def today() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Spent:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class LlmStore:
    """Cache and ledger. `path=None` keeps both in memory (tests, `--no-cache`)."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", timeout=10, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ---------------------------------------------------------------------------------------- cache
    def get_answer(self, fingerprint: str, model: str, prompt_version: str, max_age_days: int) -> str | None:
        oldest = time.time() - max_age_days * 86400
        with self._lock:
            row = self._db.execute(
                "SELECT answer FROM answers"
                " WHERE fingerprint=? AND model=? AND prompt_version=? AND created>=?",
                (fingerprint, model, prompt_version, oldest),
            ).fetchone()
        return str(row[0]) if row else None

    def put_answer(self, fingerprint: str, model: str, prompt_version: str, answer: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                (fingerprint, model, prompt_version, time.time(), answer),
            )
            self._db.commit()

    # ---------------------------------------------------------------------------------------- ledger
    def spent(self, *, repo: str | None = None, day: str | None = None) -> Spent:
        """Today's spend for one repo, or for all repos together when `repo` is None."""
        day = day or today()
        query = "SELECT COALESCE(SUM(calls),0), COALESCE(SUM(prompt_tokens),0),"
        query += " COALESCE(SUM(completion_tokens),0), COALESCE(SUM(cost_usd),0) FROM spend WHERE day=?"
        args: tuple[str, ...] = (day,)
        if repo is not None:
            query += " AND repo=?"
            args = (day, repo)
        with self._lock:
            row = self._db.execute(query, args).fetchone()
        return Spent(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    def add_spend(self, repo: str, prompt_tokens: int, completion_tokens: int, cost_usd: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO spend VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT(day, repo) DO UPDATE SET"
                " calls=calls+1, prompt_tokens=prompt_tokens+excluded.prompt_tokens,"
                " completion_tokens=completion_tokens+excluded.completion_tokens,"
                " cost_usd=cost_usd+excluded.cost_usd",
                (today(), repo, prompt_tokens, completion_tokens, cost_usd),
            )
            self._db.commit()
