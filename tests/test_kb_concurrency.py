"""The embedded Chroma store on first concurrent use (issue 10, item 11).

The service's worker threads share one knowledge base; the first look-ups used to open the Chroma client from
several threads at once and failed with `Could not connect to tenant default_tenant` or `'RustBindingsAPI'
object has no attribute 'bindings'`, and the look-ups and records were skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from test_kb_support import diag, job, open_kb

from knowledge.base import KnowledgeBase
from knowledge.vectors import open_client

THREADS = 8


def _at_once(work: Callable[[int], None]) -> list[BaseException]:
    """Run `work(i)` in THREADS threads released together; the exceptions they raised."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_threads_using_a_fresh_knowledge_base_at_once_lose_nothing(tmp_path: Path) -> None:
    for trial in range(3):  # the race was lost most of the time, not always
        kb = open_kb(f"sqlite:///{tmp_path / f'kb{trial}.db'}", chroma_path=tmp_path / f"chroma{trial}")
        # Recorded with its vector pending (nothing to compare with): Chroma is not opened yet.
        kb.record(diag("fp-seed", "ModuleNotFoundError: No module named 'seed'", source="s.log"), job())

        def work(i: int, kb: KnowledgeBase = kb) -> None:
            d = diag(f"fp-{i}", f"ModuleNotFoundError: No module named 'mod{i}'", source=f"{i}.log")
            kb.scoped("acme/app", strict=True).similar(d)
            kb.scoped("acme/app", strict=True).record(d, job(job_id=i))

        assert _at_once(work) == []
        assert kb.stats()["failures"] == THREADS + 1
        assert kb.repair() == (0, 0)  # every failure has its vector
        kb.close()


def test_clients_opened_at_once_on_one_path_are_one_client(tmp_path: Path) -> None:
    clients: list[object] = []

    def work(_i: int) -> None:
        client = open_client(path=tmp_path / "chroma")
        client.get_or_create_collection("cimedic-test", embedding_function=None).count()
        clients.append(client)

    assert _at_once(work) == []
    assert len({id(c) for c in clients}) == 1
