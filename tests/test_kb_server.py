"""Two processes writing through one Chroma server (`chroma run`, started here) and one PostgreSQL database:
nothing is lost, nothing is counted twice. This is the configuration for several hosts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_kb_support import postgres_database

from agent.config import Settings
from knowledge import open_knowledge_base
from knowledge.config import KnowledgeSettings

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    log = open(tmp_path / "chroma.log", "w")  # noqa: SIM115
    server = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("chroma run did not start: " + (tmp_path / "chroma.log").read_text()[-2000:])
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_kb_support import diag, job
    from agent.config import Settings
    from knowledge import open_knowledge_base
    from knowledge.config import KnowledgeSettings

    me = sys.argv[1]
    kb = open_knowledge_base(
        Settings(home={home!r}, database_url={db!r}, chroma_url={url!r}),
        KnowledgeSettings(model="hashing", write_batch=8),
    )
    items = []
    for i in range(60):
        d = diag(f"own-{{me}}-{{i}}", f"error {{me}} number {{i}} in m{{i}}", source=f"{{me}}-{{i}}.log")
        items.append((d, job(job_id=(1 if me == "a" else 2) * 10**6 + i)))
    for i in range(15):  # the same failures seen by both writers, in different jobs
        items.append((diag(f"shared-{{i}}", f"shared failure {{i}} timeout", source=f"{{me}}-s{{i}}.log"),
                      job(job_id=10**9 + i * 2 + (me == "b"))))
    for i in range(10):  # the very same job delivered to both writers: must count once
        items.append((diag(f"dup-{{i}}", f"duplicate delivery {{i}}", source=f"dup-{{i}}.log"),
                      job(job_id=2 * 10**9 + i)))
    kb.record_many(items)
    print("done", me)
    """
)


def test_two_writers_through_a_chroma_server_lose_nothing(chroma_url: str, tmp_path: Path) -> None:
    with postgres_database() as db:
        settings = Settings(home=tmp_path / "home", database_url=db, chroma_url=chroma_url)
        kb = open_knowledge_base(settings, KnowledgeSettings(model="hashing"))  # migrates once, up front
        tests = str(Path(__file__).parent)
        script = WRITER.format(tests=tests, home=str(tmp_path / "home"), db=db, url=chroma_url)
        env = dict(os.environ)
        writers = [
            subprocess.Popen([sys.executable, "-c", script, me], env=env, stdout=subprocess.PIPE, text=True)
            for me in ("a", "b")
        ]
        outputs = [w.communicate(timeout=240)[0] for w in writers]
        assert [w.returncode for w in writers] == [0, 0], outputs

        stats = kb.stats(top=200)
        assert stats["failures"] == 60 * 2 + 15 + 10
        assert stats["occurrences"] == 60 * 2 + 15 * 2 + 10
        counts = {t["fingerprint"]: t["occurrences"] for t in stats["top"]}
        assert all(counts[f"shared-{i}"] == 2 for i in range(15))
        assert all(counts[f"dup-{i}"] == 1 for i in range(10))
        assert kb.vectors.count() == stats["failures"]
        assert kb.repair() == (0, 0)  # the two stores agree exactly
        print(json.dumps({"failures": stats["failures"], "occurrences": stats["occurrences"]}))
        kb.close()
