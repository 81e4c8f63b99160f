"""Shared helpers for the knowledge-base tests (no tests here): diagnoses, throw-away databases."""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.models import Category, Diagnosis, JobContext, LogLine
from knowledge.base import KnowledgeBase
from knowledge.config import KnowledgeSettings
from knowledge.embedding import make_embedder
from knowledge.sqlstore import SqlStore
from knowledge.vectors import VectorStore, open_client

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def diag(
    fingerprint: str,
    focus: str,
    *,
    source: str = "job.log",
    category: Category = Category.TEST,
    title: str | None = None,
) -> Diagnosis:
    lines = [LogLine(line=i + 10, text=t) for i, t in enumerate(focus.splitlines())]
    return Diagnosis(
        source=source,
        category=category,
        confidence=0.9,
        title=title or focus.splitlines()[0],
        focus=lines,
        excerpt=lines,
        fingerprint=fingerprint,
    )


def job(repo: str | None = "acme/app", **kw: object) -> JobContext:
    return JobContext(ci_system="github", repo=repo, **kw)  # type: ignore[arg-type]


def postgres_reachable() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=1):
        return True
    return False


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not listening on 127.0.0.1:5432")
    import psycopg

    name = f"cimedic_kb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_kb(
    sql_url: str,
    *,
    chroma_path: Path | None = None,
    chroma_url: str | None = None,
    scope: str = "repo",
    threshold: float = 0.3,
    collection: str = "cimedic-failures",
) -> KnowledgeBase:
    """A knowledge base on real stores with the hashing embedder (the model is tested on its own)."""
    settings = KnowledgeSettings(model="hashing", scope=scope, threshold=threshold, collection=collection)  # type: ignore[arg-type]
    sql = SqlStore(sql_url)
    sql.migrate()

    def vectors() -> VectorStore:
        return VectorStore(open_client(path=chroma_path, url=chroma_url), settings.collection)

    return KnowledgeBase(sql, vectors, make_embedder("hashing"), settings)
