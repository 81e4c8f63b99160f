"""Ctrl-C during a long `cimedic kb import` leaves the two stores consistent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agent.config import Settings
from knowledge import open_knowledge_base
from knowledge.config import KnowledgeSettings
from knowledge.schema import failures, occurrences

pytestmark = pytest.mark.slow
RECORDS = 200_000


def _written(db: Path) -> int:
    """Bytes in the database and its journal: grows as batches commit, readable while the writer locks."""
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def test_ctrl_c_during_import_leaves_the_stores_consistent(tmp_path: Path) -> None:
    dump = tmp_path / "big.jsonl"
    with dump.open("w") as out:
        out.write(json.dumps({"type": "header", "schema": "cimedic.kb-export/v1"}) + "\n")
        for i in range(RECORDS):
            seen = "2026-01-01T00:00:00Z"
            text = f"error {i} in m{i}"
            occ = {"key": f"k{i}", "fingerprint": f"fp{i}", "repo": "acme/app", "source": f"{i}.log"}
            occ |= {"category": "test", "confidence": 0.5, "seen_at": seen}
            record = {"type": "failure", "fingerprint": f"fp{i}", "repo": "acme/app", "org": "acme"}
            record |= {
                "category": "test",
                "title": text,
                "focus_text": text,
                "excerpt_text": "",
                "embed_text": text,
            }
            record |= {"first_seen": seen, "last_seen": seen, "occurrences": [occ]}
            out.write(json.dumps(record) + "\n")
    env = {**os.environ, "CIMEDIC_HOME": str(tmp_path / "home"), "CIMEDIC_KB_MODEL": "hashing"}
    env.pop("CIMEDIC_DATABASE_URL", None)
    env.pop("CIMEDIC_CHROMA_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from agent.cli import main; main()", "kb", "import", str(dump)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell that runs the suite in the background starts it with SIGINT ignored, and Python keeps an
        # ignored SIGINT ignored: give the child the default, as a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    db = tmp_path / "home" / "cimedic.db"
    deadline = time.monotonic() + 120
    # Wait until some batches are in, then press Ctrl-C. Progress is read off the file size, often: opening
    # the knowledge base to count took long enough for a fast machine to finish the import first, and a
    # count query waits on the writer's lock.
    start = None
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        size = _written(db)
        if size and start is None:
            start = size  # the empty schema
        if start is not None and size - start >= 300_000:
            break
    assert proc.poll() is None, "the import finished before it could be interrupted: make RECORDS larger"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "consistent" in err

    kb = open_knowledge_base(Settings(home=tmp_path / "home"), KnowledgeSettings(model="hashing"))
    with kb.sql.read() as conn:
        n_failures = conn.execute(select(func.count()).select_from(failures)).scalar_one()
        n_occ = conn.execute(select(func.count()).select_from(occurrences)).scalar_one()
        counted = conn.execute(select(func.sum(failures.c.occurrences))).scalar_one()
    assert 0 < n_failures < RECORDS and n_occ == n_failures == counted
    orphans, missing = kb.repair()
    assert missing == 0  # every recorded failure has its vector: writes go vector first
    assert kb.vectors.count() == n_failures  # after removing the orphans (if the interrupt left any)
    assert orphans >= 0
    kb.close()
