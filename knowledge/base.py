"""`KnowledgeBase`: the SQL store and the vector store working as one.

Consistency without a distributed transaction: the SQL store is the record of truth and a vector counts only
when its SQL row exists. Writes go vector first, SQL second; deletes go SQL first, vector second. An
interruption (Ctrl-C, crash) can therefore leave at most an orphan vector, which every query ignores and
`repair()` removes; it never leaves a failure that queries would show half-recorded.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import Connection, delete, func, select, update

from agent.models import Category, Diagnosis, JobContext, SimilarFailure
from knowledge.config import KnowledgeSettings, Scope
from knowledge.keys import record_values, scope_of, vector_id
from knowledge.schema import failures, feedback, occurrences, pending_vectors, resolutions
from knowledge.sqlstore import FailureDraft, SqlStore, insert_ignore
from knowledge.text import embed_text, iso, normalize, parse_time, utcnow

if TYPE_CHECKING:  # numpy, chromadb and torch load only when a vector is needed (issue 15)
    from knowledge.embedding import Embedder
    from knowledge.vectors import VectorStore

EXPORT_SCHEMA = "cimedic.kb-export/v1"
_log = logging.getLogger("cimedic.knowledge")
Progress = Callable[[int], None]


def fix_kind(fix: str) -> str:
    lowered = fix.lower()
    if lowered.startswith(("http://", "https://")):
        return "pr" if "/pull/" in lowered or "/merge_requests/" in lowered else "url"
    if ".." in fix:
        return "range"
    if 7 <= len(fix) <= 64 and all(c in "0123456789abcdef" for c in lowered):
        return "commit"
    return "text"


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError:
        return Category.UNKNOWN


# Up to this many vectors, a scoped query is answered exactly, over the scope's vectors held in memory.
EXACT_SCOPE = 10_000
# A neighbour given another category than the failure asked about ranks below those of the same category:
# unrelated failures' texts can be near (a pip resolver error and a TLS error both read as pip output, 0.85
# with MiniLM), so its similarity counts this much less against the cut-off and in the order. Dropping such
# neighbours outright lost matches wherever the category itself was unsure (a keyword-fallback answer): on
# bench/kb_retrieval.py, by the dataset's labels with the whole ranking scored, hit@3 0.960 -> 0.967 with
# every rule and 0.980 -> 0.990 without them; at the default cut-offs what is shown barely moves
# (docs/benchmarks.md, "Seen before across categories").
OTHER_CATEGORY_PENALTY = 0.4


@dataclass
class ForgetResult:
    occurrences: int = 0
    failures: int = 0
    resolutions: int = 0
    feedback: int = 0


@dataclass
class ImportResult:
    failures: int = 0
    occurrences: int = 0
    resolutions: int = 0
    feedback: int = 0
    skipped: int = 0


@dataclass
class _Hit:
    fingerprint: str
    similarity: float
    exact: bool
    rows: list[Any] = field(default_factory=list)


class KnowledgeBase:
    def __init__(
        self,
        sql: SqlStore,
        vectors: Callable[[], VectorStore],
        embedder: Embedder,
        settings: KnowledgeSettings | None = None,
    ) -> None:
        self.sql = sql
        self._vectors_factory = vectors
        self._vectors: VectorStore | None = None
        self._vectors_lock = threading.Lock()  # worker threads reach `vectors` first together
        self.embedder = embedder
        self.settings = settings or KnowledgeSettings()
        self._embedded = False  # has this process embedded anything yet (is the model loaded)?
        self._completed = False  # has `_complete_vectors` run?

    @property
    def vectors(self) -> VectorStore:
        """Opened on first use: stats, export and resolve never need Chroma."""
        if self._vectors is None:
            with self._vectors_lock:
                if self._vectors is None:
                    self._vectors = self._vectors_factory()
        return self._vectors

    def close(self) -> None:
        self.sql.close()

    def scoped(self, repo: str | None, *, strict: bool = False) -> ScopedKnowledgeBase:
        """A `KnowledgeLookup` whose `similar` is scoped to `repo` (`record` takes the repo from the job)."""
        return ScopedKnowledgeBase(self, repo, strict=strict)

    # -- recording ----------------------------------------------------------------------------------------

    def draft(self, diagnosis: Diagnosis, job: JobContext) -> FailureDraft:
        values, occurrence = record_values(diagnosis, job)
        return FailureDraft(values=values, occurrences=[occurrence])

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None:
        """Record one diagnosis (what `analyze` and the worker do after `similar`).

        When this process has not loaded the embedding model yet (`similar` found nothing to compare with),
        a new failure is recorded without its vector and listed as pending (`defer_vectors`): the next query
        that has something to compare with embeds it first (`flush_pending`). So `cimedic analyze` on an
        empty knowledge base never loads the model (issue 15: 10-13 s and 620 MB per run before).
        """
        defer = self.settings.defer_vectors and not self._embedded
        self._store_drafts([self.draft(diagnosis, job)], defer=defer)

    def record_many(
        self, items: Iterable[tuple[Diagnosis, JobContext]], *, progress: Progress | None = None
    ) -> int:
        """Record diagnoses in batches (one model call per batch); returns the number of new occurrences."""
        return self._store_drafts((self.draft(d, j) for d, j in items), progress=progress)

    def _store_drafts(
        self, drafts: Iterable[FailureDraft], *, progress: Progress | None = None, defer: bool = False
    ) -> int:
        added = 0
        batch: list[FailureDraft] = []
        size = max(self.settings.write_batch, 1)
        for draft in drafts:
            batch.append(draft)
            if len(batch) >= size:
                added += self._store_batch(batch, defer=defer)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            added += self._store_batch(batch, defer=defer)
            if progress:
                progress(len(batch))
        return added

    def _store_batch(self, batch: Sequence[FailureDraft], *, defer: bool = False) -> int:
        with self.sql.read() as conn:
            known = self.sql.existing_vector_ids(conn, [d.key for d in batch])
        new: dict[str, FailureDraft] = {}
        for draft in batch:
            if draft.key not in known:
                new.setdefault(draft.values["vector_id"], draft)
        if new and not defer:  # vectors first: an interruption here leaves only orphan vectors, which
            drafts = list(new.values())  # queries ignore
            embedded = self._embed([d.values["embed_text"] for d in drafts])
            self.vectors.upsert(
                list(new),
                embedded,
                [_vector_metadata(d.values["repo"], d.values["org"]) for d in drafts],
            )
        # A fixed order of row locks: two writers storing overlapping batches cannot deadlock on PostgreSQL.
        ordered = sorted(batch, key=lambda d: d.key)
        with self.sql.write() as conn:
            stored = self.sql.store(conn, ordered)
            if defer and new:  # in the same transaction as the rows they belong to
                conn.execute(
                    _ignoring_duplicates(conn, pending_vectors, "vector_id"), [{"vector_id": v} for v in new]
                )
            return stored

    def _embed(self, texts: Sequence[str]) -> Any:
        self._embedded = True
        return self.embedder.embed(texts)

    def flush_pending(self) -> int:
        """Embed the failures recorded without their vector (see `record`); returns how many were embedded.

        Safe to run from several processes at once: an upsert of the same vector twice is harmless, and the
        pending entry is removed only after its vector is stored (a crash in between re-embeds it next time).
        """
        with self.sql.read() as conn:
            pending = list(conn.execute(select(pending_vectors.c.vector_id)).scalars())
        done = 0
        for start in range(0, len(pending), 256):
            chunk = pending[start : start + 256]
            with self.sql.read() as conn:
                rows = conn.execute(
                    select(
                        failures.c.vector_id, failures.c.embed_text, failures.c.repo, failures.c.org
                    ).where(failures.c.vector_id.in_(chunk))
                ).all()
            if rows:  # a pending id without its row was forgotten meanwhile: nothing to embed
                self.vectors.upsert(
                    [r.vector_id for r in rows],
                    self._embed([r.embed_text for r in rows]),
                    [_vector_metadata(r.repo, r.org) for r in rows],
                )
                done += len(rows)
            with self.sql.write() as conn:
                conn.execute(delete(pending_vectors).where(pending_vectors.c.vector_id.in_(chunk)))
        return done

    def _has_candidates(self, scope: Scope, value: str | None, skip: set[str]) -> bool:
        """Whether any recorded failure could answer a query in scope: if none, no model, no Chroma."""
        conditions = [failures.c.occurrences >= 1]
        if skip:
            conditions.append(failures.c.fingerprint.not_in(sorted(skip)))
        scope_filter = self._scope_filter(scope, value)
        if scope_filter is not None:
            conditions.append(scope_filter)
        with self.sql.read() as conn:
            return conn.execute(select(failures.c.id).where(*conditions).limit(1)).first() is not None

    # -- answering ----------------------------------------------------------------------------------------

    def _scope(self, repo: str | None) -> tuple[Scope, str | None]:
        return scope_of(self.settings.scope, repo)

    def similar(self, diagnosis: Diagnosis, k: int = 3, *, repo: str | None = None) -> list[SimilarFailure]:
        """Exact fingerprint matches first, then nearest neighbours above the threshold, one per fingerprint.

        The very log being analysed (same source and fingerprint) never answers for itself. A neighbour
        given another category counts `OTHER_CATEGORY_PENALTY` less: it shows only when its text is far
        nearer than the cut-off asks, and below the neighbours of the same category.
        """
        if k <= 0:
            return []
        scope, value = self._scope(repo)
        results = self._exact(diagnosis, scope, value)
        if len(results) < k:
            text = embed_text(diagnosis)
            results += self._neighbours(
                text,
                k - len(results),
                scope,
                value,
                skip={diagnosis.fingerprint},
                category=diagnosis.category.value,
            )
        return results[:k]

    def search_text(
        self, text: str, k: int = 5, *, repo: str | None = None, threshold: float | None = None
    ) -> list[SimilarFailure]:
        """Nearest past failures to free text (an error message pasted by a user), at or above `threshold`
        (default `search_threshold`: a pasted line is shorter than a recorded failure's text, so it scores
        lower against its own kind than a whole diagnosis does; docs/benchmarks.md, "Retrieval quality")."""
        scope, value = self._scope(repo)
        cut = self.settings.search_threshold if threshold is None else threshold
        return self._neighbours(normalize(text), k, scope, value, skip=set(), threshold=cut)

    def _scope_filter(self, scope: Scope, value: str | None) -> Any:
        if scope == "repo":
            return failures.c.repo == value
        if scope == "org":
            return failures.c.org == value
        return None

    def _exact(self, diagnosis: Diagnosis, scope: Scope, value: str | None) -> list[SimilarFailure]:
        fp = diagnosis.fingerprint
        conditions = [occurrences.c.fingerprint == fp, occurrences.c.source != diagnosis.source]
        scope_filter = self._scope_filter(scope, value)
        if scope_filter is not None:
            conditions.append(scope_filter)
        base = (
            select(occurrences).join(failures, failures.c.id == occurrences.c.failure_id).where(*conditions)
        )
        with self.sql.read() as conn:
            count = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
            if not count:
                return []
            latest = conn.execute(base.order_by(occurrences.c.seen_at.desc()).limit(1)).one()
            failure = conn.execute(select(failures).where(failures.c.id == latest.failure_id)).one()
            resolution = self._resolutions(conn, [fp], value if scope == "repo" else None).get(fp)
        return [
            SimilarFailure(
                fingerprint=fp,
                similarity=1.0,
                exact=True,
                title=failure.title,
                category=_category(failure.category),
                source=latest.source,
                repo=latest.repo or None,
                job=latest.job,
                occurrences=int(count),
                last_seen=iso(latest.seen_at),
                resolution=resolution,
            )
        ]

    def _neighbours(
        self,
        text: str,
        k: int,
        scope: Scope,
        value: str | None,
        *,
        skip: set[str],
        threshold: float | None = None,
        category: str | None = None,
    ) -> list[SimilarFailure]:
        cut = self.settings.threshold if threshold is None else threshold
        if k <= 0 or not text or not self._has_candidates(scope, value, skip):
            return []
        self.flush_pending()
        self._complete_vectors()
        vector = self._embed([text])[0]
        # Several vectors can share a fingerprint (one per repo) and orphans may appear: ask for a margin,
        # a wider one when neighbours of other categories will be dropped.
        n = (k * 3 + len(skip) + 5) * (4 if category else 1)
        found = self._query(vector, n, scope, value)
        found = [(vid, 1.0 - dist) for vid, dist in found if 1.0 - dist >= cut]
        if not found:
            return []
        with self.sql.read() as conn:
            rows = {
                row.vector_id: row
                for row in conn.execute(
                    select(failures).where(failures.c.vector_id.in_([vid for vid, _ in found]))
                )
            }
            hits: dict[str, _Hit] = {}
            for vid, sim in found:
                row = rows.get(vid)
                if row is None or row.fingerprint in skip or row.occurrences < 1:
                    continue  # an orphan vector, or the failure being analysed
                score = sim
                if category is not None and row.category != category:
                    score = sim - OTHER_CATEGORY_PENALTY
                    if score < cut:
                        continue
                hit = hits.setdefault(row.fingerprint, _Hit(row.fingerprint, score, False))
                hit.similarity = max(hit.similarity, score)
                hit.rows.append(row)
            chosen = sorted(hits.values(), key=lambda h: -h.similarity)[:k]
            fixes = self._resolutions(
                conn, [h.fingerprint for h in chosen], value if scope == "repo" else None
            )
        out = []
        for hit in chosen:
            latest = max(hit.rows, key=lambda r: r.last_seen)
            out.append(
                SimilarFailure(
                    fingerprint=hit.fingerprint,
                    similarity=round(min(max(hit.similarity, 0.0), 1.0), 4),
                    exact=False,
                    title=latest.title,
                    category=_category(latest.category),
                    source=latest.last_source,
                    repo=latest.repo or None,
                    job=latest.last_job,
                    occurrences=sum(int(r.occurrences) for r in hit.rows),
                    last_seen=iso(latest.last_seen),
                    resolution=fixes.get(hit.fingerprint),
                )
            )
        return out

    def _query(self, vector: Any, n: int, scope: Scope, value: str | None) -> list[tuple[str, float]]:
        """The `n` nearest vectors in scope, as (id, cosine distance).

        - everything: Chroma's HNSW search.
        - a scope of up to `EXACT_SCOPE` failures (a repository; an org, usually): an exact search over the
          scope's vectors held in memory (`ScopeCache`), after listing the scope's vector ids from SQL (an
          index-only scan of `ix_kb_failures_repo_scope` / `ix_kb_failures_org_scope`).
        - a larger scope: Chroma's metadata-filtered search is far slower than its plain HNSW search at scale
          (measured at 100,000 vectors: p50 ~90 ms against ~1.5 ms, docs/benchmarks.md), so a wider unfiltered
          net goes first and its in-scope catch is kept; the filtered search runs only when the net may have
          missed in-scope vectors above the threshold (its farthest catch is still above it).
        """
        if scope == "all" or not value:
            return self.vectors.query(vector, n, None)
        column = failures.c.repo if scope == "repo" else failures.c.org
        with self.sql.read() as conn:
            result = conn.execute(
                select(failures.c.vector_id)
                .where(column == value)
                .order_by(failures.c.id)
                .limit(EXACT_SCOPE + 1)
            )
            # Plain strings need no result processing: the DBAPI cursor's fetchall lists 2,500 ids in ~1 ms
            # where SQLAlchemy's row objects took ~3 ms (measured on SQLite, this is on every scoped query).
            listed = [row[0] for row in result.cursor.fetchall()]
            result.close()
        if len(listed) <= EXACT_SCOPE:
            return self.vectors.nearest_in_scope((scope, value), listed, vector, n)
        wide_n = max(n * 8, 100)
        wide = self.vectors.query_meta(vector, wide_n)
        in_scope = [(vid, dist) for vid, dist, meta in wide if meta.get(scope) == value]
        complete = len(wide) < wide_n or 1.0 - wide[-1][1] < self.settings.threshold
        if len(in_scope) >= n or complete:
            return in_scope[:n]
        return self.vectors.query(vector, n, {scope: value})

    def _resolutions(self, conn: Connection, fingerprints: list[str], repo: str | None) -> dict[str, str]:
        """The newest fix per fingerprint, preferring one recorded for `repo`."""
        if not fingerprints:
            return {}
        rows = conn.execute(
            select(resolutions.c.fingerprint, resolutions.c.repo, resolutions.c.fix)
            .where(resolutions.c.fingerprint.in_(fingerprints))
            .order_by(resolutions.c.created_at.desc(), resolutions.c.id.desc())
        ).all()
        best: dict[str, tuple[bool, str]] = {}
        for fp, fix_repo, fix in rows:
            same = bool(repo) and fix_repo == repo
            if fp not in best or (same and not best[fp][0]):
                best[fp] = (same, fix)
        return {fp: fix for fp, (_, fix) in best.items()}

    # -- resolutions and feedback --------------------------------------------------------------------------

    def resolve(
        self,
        fingerprint: str,
        fix: str,
        *,
        repo: str | None = None,
        changed_files: Sequence[str] = (),
        note: str | None = None,
        when: datetime | None = None,
    ) -> bool:
        """Remember the fix (commit, range, PR or URL) that turned this failure green; False if known."""
        with self.sql.write() as conn:
            return insert_ignore(
                conn,
                resolutions,
                {
                    "fingerprint": fingerprint,
                    "repo": repo or "",
                    "fix": fix,
                    "kind": fix_kind(fix),
                    "changed_files": json.dumps(list(changed_files)),
                    "note": note,
                    "created_at": when or utcnow(),
                },
                ["fingerprint", "repo", "fix"],
            )

    def feedback(
        self,
        fingerprint: str,
        helpful: bool,
        *,
        source: str,
        repo: str | None = None,
        author: str = "",
        note: str | None = None,
    ) -> None:
        """A user's judgement of a diagnosis; the latest from the same author for the same log wins."""
        with self.sql.write() as conn:
            conn.execute(
                delete(feedback).where(
                    feedback.c.fingerprint == fingerprint,
                    feedback.c.source == source,
                    feedback.c.author == author,
                )
            )
            conn.execute(
                feedback.insert().values(
                    fingerprint=fingerprint,
                    repo=repo or "",
                    source=source,
                    author=author,
                    helpful=helpful,
                    note=note,
                    created_at=utcnow(),
                )
            )

    def last_source(self, fingerprint: str, *, repo: str | None = None) -> str | None:
        """Where this failure was seen last (in `repo` when given): the log a judgement most likely means."""
        query = select(failures.c.last_source).where(failures.c.fingerprint == fingerprint)
        if repo is not None:
            query = query.where(failures.c.repo == repo)
        with self.sql.read() as conn:
            row = conn.execute(query.order_by(failures.c.last_seen.desc()).limit(1)).first()
        return row[0] if row else None

    def find_fingerprints(self, prefix: str) -> list[str]:
        """Fingerprints starting with `prefix` (the CLI accepts a unique prefix, like git does for SHAs)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.sql.read() as conn:
            return list(
                conn.execute(
                    select(failures.c.fingerprint)
                    .where(failures.c.fingerprint.like(escaped + "%", escape="\\"))
                    .distinct()
                    .limit(10)
                ).scalars()
            )

    # -- reporting ----------------------------------------------------------------------------------------

    def stats(self, top: int = 10) -> dict[str, Any]:
        with self.sql.read() as conn:
            n_failures = conn.execute(select(func.count()).select_from(failures)).scalar_one()
            n_occurrences = conn.execute(select(func.count()).select_from(occurrences)).scalar_one()
            n_repos = conn.execute(select(func.count(func.distinct(failures.c.repo)))).scalar_one()
            n_fixes = conn.execute(select(func.count()).select_from(resolutions)).scalar_one()
            n_feedback = conn.execute(select(func.count()).select_from(feedback)).scalar_one()
            categories = {
                cat: {"failures": int(f), "occurrences": int(o or 0)}
                for cat, f, o in conn.execute(
                    select(failures.c.category, func.count(), func.sum(failures.c.occurrences))
                    .group_by(failures.c.category)
                    .order_by(func.count().desc())
                )
            }
            recurring = conn.execute(
                select(
                    failures.c.fingerprint,
                    func.min(failures.c.title),
                    func.min(failures.c.category),
                    func.sum(failures.c.occurrences).label("n"),
                    func.count(),
                    func.max(failures.c.last_seen),
                )
                .group_by(failures.c.fingerprint)
                .order_by(func.sum(failures.c.occurrences).desc(), failures.c.fingerprint)
                .limit(top)
            ).all()
            fixes = self._resolutions(conn, [r[0] for r in recurring], None)
            branches: dict[str, list[str]] = {}
            for fp, branch in conn.execute(
                select(occurrences.c.fingerprint, occurrences.c.branch)
                .where(
                    occurrences.c.fingerprint.in_([r[0] for r in recurring]),
                    occurrences.c.branch.is_not(None),
                )
                .distinct()
                .order_by(occurrences.c.branch)
            ):
                branches.setdefault(fp, []).append(branch)
        return {
            "failures": int(n_failures),
            "occurrences": int(n_occurrences),
            "repos": int(n_repos),
            "resolutions": int(n_fixes),
            "feedback": int(n_feedback),
            "categories": categories,
            "top": [
                {
                    "fingerprint": fp,
                    "title": title,
                    "category": cat,
                    "occurrences": int(n),
                    "repos": int(repos),
                    "last_seen": iso(last),
                    "branches": branches.get(fp, []),
                    "resolution": fixes.get(fp),
                }
                for fp, title, cat, n, repos, last in recurring
            ],
        }

    # -- export / import ----------------------------------------------------------------------------------

    def export(self, out: IO[str]) -> int:
        """Write the SQL store as JSONL (vectors are derived: import re-embeds). Returns lines written."""
        occ_cols = [c.name for c in occurrences.columns if c.name not in ("id", "failure_id")]
        fail_cols = [c.name for c in failures.columns if c.name not in ("id", "occurrences")]
        written = 1
        out.write(
            json.dumps({"type": "header", "schema": EXPORT_SCHEMA, "exported_at": iso(utcnow())}) + "\n"
        )
        with self.sql.read() as conn:
            occ_rows = conn.execution_options(yield_per=1000).execute(
                select(occurrences).order_by(occurrences.c.failure_id, occurrences.c.id)
            )
            pending = next(occ_rows, None)
            for row in conn.execution_options(yield_per=1000).execute(
                select(failures).order_by(failures.c.id)
            ):
                record: dict[str, Any] = {"type": "failure"}
                record.update({c: _jsonable(getattr(row, c)) for c in fail_cols})
                record["occurrences"] = []
                while pending is not None and pending.failure_id <= row.id:
                    if pending.failure_id == row.id:
                        record["occurrences"].append({c: _jsonable(getattr(pending, c)) for c in occ_cols})
                    pending = next(occ_rows, None)
                out.write(json.dumps(record) + "\n")
                written += 1
            for table, kind in ((resolutions, "resolution"), (feedback, "feedback")):
                cols = [c.name for c in table.columns if c.name != "id"]
                for row in conn.execute(select(table).order_by(table.c.id)):
                    out.write(
                        json.dumps({"type": kind, **{c: _jsonable(getattr(row, c)) for c in cols}}) + "\n"
                    )
                    written += 1
        return written

    def import_(self, lines: Iterable[str], *, progress: Progress | None = None) -> ImportResult:
        """Read an export back; idempotent (importing the same file twice changes nothing)."""
        result = ImportResult()
        time_fields = {"first_seen", "last_seen", "seen_at", "created_at"}

        def parse(record: dict[str, Any]) -> dict[str, Any]:
            return {k: (parse_time(v) if k in time_fields else v) for k, v in record.items() if k != "type"}

        def drafts() -> Iterator[FailureDraft]:
            for line in lines:
                if not line.strip():
                    continue
                record = json.loads(line)
                kind = record.get("type")
                if kind == "header":
                    if record.get("schema") != EXPORT_SCHEMA:
                        raise ValueError(f"not a {EXPORT_SCHEMA} file: {record.get('schema')}")
                elif kind == "failure":
                    values = parse(record)
                    occs = values.pop("occurrences", [])
                    values["vector_id"] = vector_id(values["fingerprint"], values["repo"])
                    result.failures += 1
                    yield FailureDraft(values=values, occurrences=[parse(o) for o in occs])
                elif kind == "resolution":
                    with self.sql.write() as conn:
                        result.resolutions += insert_ignore(
                            conn, resolutions, parse(record), ["fingerprint", "repo", "fix"]
                        )
                elif kind == "feedback":
                    with self.sql.write() as conn:
                        result.feedback += insert_ignore(
                            conn, feedback, parse(record), ["fingerprint", "source", "author"]
                        )
                else:
                    result.skipped += 1

        result.occurrences = self._store_drafts(drafts(), progress=progress)
        return result

    # -- retention ----------------------------------------------------------------------------------------

    def forget(
        self,
        *,
        repo: str | None = None,
        older_than: timedelta | None = None,
        fingerprint: str | None = None,
        now: datetime | None = None,
    ) -> ForgetResult:
        """Delete occurrences by repo, age or fingerprint, then failures left without any, in both stores."""
        if repo is None and older_than is None and fingerprint is None:
            raise ValueError("say what to forget: a repo, an age or a fingerprint")
        conditions = []
        if repo is not None:
            conditions.append(occurrences.c.repo == repo)
        if older_than is not None:
            conditions.append(occurrences.c.seen_at < (now or utcnow()) - older_than)
        if fingerprint is not None:
            conditions.append(occurrences.c.fingerprint == fingerprint)
        result = ForgetResult()
        with self.sql.write() as conn:  # SQL first: once committed, the vectors below are orphans at worst
            affected = list(
                conn.execute(select(occurrences.c.failure_id).where(*conditions).distinct()).scalars()
            )
            result.occurrences = conn.execute(delete(occurrences).where(*conditions)).rowcount or 0
            doomed: list[str] = []
            for start in range(0, len(affected), 500):
                chunk = affected[start : start + 500]
                left: dict[int, int] = dict(
                    conn.execute(
                        select(occurrences.c.failure_id, func.count())
                        .where(occurrences.c.failure_id.in_(chunk))
                        .group_by(occurrences.c.failure_id)
                    ).all()
                )
                empty = [fid for fid in chunk if fid not in left]
                if empty:
                    doomed += conn.execute(
                        select(failures.c.vector_id).where(failures.c.id.in_(empty))
                    ).scalars()
                    result.failures += conn.execute(delete(failures).where(failures.c.id.in_(empty))).rowcount
                for fid, n in left.items():
                    bounds = conn.execute(
                        select(func.min(occurrences.c.seen_at), func.max(occurrences.c.seen_at)).where(
                            occurrences.c.failure_id == fid
                        )
                    ).one()
                    conn.execute(
                        update(failures)
                        .where(failures.c.id == fid)
                        .values(occurrences=n, first_seen=bounds[0], last_seen=bounds[1])
                    )
            if repo is not None:
                result.resolutions += conn.execute(
                    delete(resolutions).where(resolutions.c.repo == repo)
                ).rowcount
                result.feedback += conn.execute(delete(feedback).where(feedback.c.repo == repo)).rowcount
            if fingerprint is not None and repo is None:
                result.resolutions += conn.execute(
                    delete(resolutions).where(resolutions.c.fingerprint == fingerprint)
                ).rowcount
                result.feedback += conn.execute(
                    delete(feedback).where(feedback.c.fingerprint == fingerprint)
                ).rowcount
        if doomed:
            self.vectors.delete(doomed)
        return result

    def repair(self) -> tuple[int, int]:
        """Remove orphan vectors and re-embed failures whose vector is missing: (removed, re-embedded)."""
        self.flush_pending()  # pending vectors are not missing, only late
        with self.sql.read() as conn:
            known = dict(conn.execute(select(failures.c.vector_id, failures.c.id)).all())
        orphans = [vid for vid in self.vectors.iter_ids() if vid not in known]
        if orphans:
            self.vectors.delete(orphans)
        return len(orphans), self._embed_missing(list(known))

    def _embed_missing(self, ids: Sequence[str]) -> int:
        """Embed the failures among `ids` whose vector this embedder's collection lacks; returns how many."""
        present = self.vectors.existing(ids)
        missing = [vid for vid in ids if vid not in present]
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            with self.sql.read() as conn:
                rows = conn.execute(
                    select(
                        failures.c.vector_id, failures.c.embed_text, failures.c.repo, failures.c.org
                    ).where(failures.c.vector_id.in_(chunk))
                ).all()
            if rows:
                self.vectors.upsert(
                    [r.vector_id for r in rows],
                    self._embed([r.embed_text for r in rows]),
                    [_vector_metadata(r.repo, r.org) for r in rows],
                )
        return len(missing)

    def _complete_vectors(self) -> None:
        """Once per process, before the first comparison: embed what another embedder recorded.

        Each embedder has its own collection (`knowledge.config.collection_name`), so a failure recorded by a
        process with another model (the service's transformer, the command line's static embedding, both on
        one database) has no vector here yet. A count tells whether any is missing; then they are embedded
        with this process's model, so every comparison is between vectors of one embedder.
        """
        if self._completed:
            return
        self._completed = True
        with self.sql.read() as conn:
            stored = conn.execute(select(func.count()).select_from(failures)).scalar_one()
            pending = conn.execute(select(func.count()).select_from(pending_vectors)).scalar_one()
        if self.vectors.count() >= stored - pending:
            return
        with self.sql.read() as conn:
            ids = list(conn.execute(select(failures.c.vector_id)).scalars())
        added = self._embed_missing(ids)
        _log.info("embedded %d failures recorded with another model (%s)", added, self.embedder.name)


def _ignoring_duplicates(conn: Connection, table: Any, key: str) -> Any:
    """INSERT ... ON CONFLICT (key) DO NOTHING, for SQLite and PostgreSQL alike."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=[key])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=[key])


def _vector_metadata(repo: str, org: str | None) -> dict[str, str]:
    """What Chroma keeps beside a vector: only what a scoped search filters on. Every extra metadata key is
    one more row in Chroma's SQLite metadata table per vector, and the SQL store holds the rest anyway."""
    return {"repo": repo, "org": org or ""}


def _jsonable(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


class ScopedKnowledgeBase:
    """`KnowledgeLookup` for one repository: what the pipeline is handed.

    Not strict (the CLI's choice): if a store fails mid-run (a Chroma server gone, a locked database), the
    analysis still prints, with a warning on the log, instead of dying on its optional part.
    """

    def __init__(self, kb: KnowledgeBase, repo: str | None, *, strict: bool = False) -> None:
        self.kb = kb
        self.repo = repo
        self.strict = strict

    def similar(self, diagnosis: Diagnosis, k: int = 3) -> list[SimilarFailure]:
        try:
            return self.kb.similar(diagnosis, k, repo=self.repo)
        except Exception as exc:
            if self.strict:
                raise
            _log.warning("knowledge base lookup failed, continuing without it: %s", exc)
            return []

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None:
        if job.repo is None and self.repo is not None:
            job = job.model_copy(update={"repo": self.repo})
        try:
            self.kb.record(diagnosis, job)
        except Exception as exc:
            if self.strict:
                raise
            _log.warning("knowledge base could not record %s: %s", diagnosis.fingerprint, exc)
