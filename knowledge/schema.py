"""The SQL store's tables (SQLAlchemy Core). Alembic migrations in `knowledge/migrations` create them.

- `failures`: one row per (fingerprint, repo): what the failure is, its counters and the id of its vector.
- `occurrences`: one row per job that failed this way. `key` hashes (fingerprint, job identity, run attempt):
  the unique constraint makes a re-delivered job a no-op instead of a second count.
- `resolutions`: the fix that made the job green again (commit, range, PR), with the changed files.
- `feedback`: a user's verdict on a diagnosis (helpful or wrong).
- `cimedic_tickets`, `cimedic_notifications`: the tickets CI Medic filed and the chat messages it sent.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

failures = Table(
    "kb_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(128), nullable=False),
    # "" when the repo is unknown (local logs): NULLs would never collide in the unique constraint
    Column("repo", String(300), nullable=False, server_default=""),
    Column("org", String(200), nullable=True),
    Column("vector_id", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("rule", String(200), nullable=True),
    Column("title", Text, nullable=False),
    Column("focus_text", Text, nullable=False),
    Column("excerpt_text", Text, nullable=False),
    Column("embed_text", Text, nullable=False),
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),
    Column("occurrences", Integer, nullable=False, server_default="0"),
    Column("last_source", Text, nullable=True),
    Column("last_job", String(300), nullable=True),
    Column("last_url", Text, nullable=True),
    UniqueConstraint("fingerprint", "repo", name="uq_kb_failures_fingerprint_repo"),
    UniqueConstraint("vector_id", name="uq_kb_failures_vector_id"),
    # A scoped query lists the scope's vector ids from these indexes alone (knowledge/base.py); `id` before
    # `vector_id` keeps inserts at the end of each scope's range instead of at random places in the index.
    Index("ix_kb_failures_repo_scope", "repo", "id", "vector_id"),
    Index("ix_kb_failures_org_scope", "org", "id", "vector_id"),
    Index("ix_kb_failures_last_seen", "last_seen"),
)

occurrences = Table(
    "kb_occurrences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "failure_id",
        Integer,
        ForeignKey("kb_failures.id", ondelete="CASCADE", name="fk_kb_occurrences_failure"),
        nullable=False,
    ),
    Column("key", String(64), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("repo", String(300), nullable=False, server_default=""),
    Column("source", Text, nullable=False),
    Column("ci_system", String(20), nullable=True),
    Column("branch", String(300), nullable=True),
    Column("commit_sha", String(64), nullable=True),
    Column("workflow", String(300), nullable=True),
    Column("job", String(300), nullable=True),
    Column("job_id", BigInteger, nullable=True),
    Column("run_id", BigInteger, nullable=True),
    Column("run_attempt", Integer, nullable=True),
    Column("url", Text, nullable=True),
    Column("pull_requests", String(300), nullable=True),
    Column("category", String(32), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("verdict", String(20), nullable=True),
    Column("verdict_reason", Text, nullable=True),
    Column("verdict_link", Text, nullable=True),
    Column("seen_at", DateTime, nullable=False),
    UniqueConstraint("key", name="uq_kb_occurrences_key"),
    Index("ix_kb_occurrences_failure", "failure_id"),
    Index("ix_kb_occurrences_fingerprint", "fingerprint"),
    Index("ix_kb_occurrences_repo_seen", "repo", "seen_at"),
    Index("ix_kb_occurrences_seen", "seen_at"),
)

resolutions = Table(
    "kb_resolutions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(128), nullable=False),
    Column("repo", String(300), nullable=False, server_default=""),
    Column("fix", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("changed_files", Text, nullable=False, server_default="[]"),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("fingerprint", "repo", "fix", name="uq_kb_resolutions_fingerprint_repo_fix"),
    Index("ix_kb_resolutions_fingerprint", "fingerprint"),
)

feedback = Table(
    "kb_feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fingerprint", String(128), nullable=False),
    Column("repo", String(300), nullable=False, server_default=""),
    Column("source", Text, nullable=False),
    Column("author", String(200), nullable=False, server_default=""),
    Column("helpful", Boolean, nullable=False),
    Column("note", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    UniqueConstraint("fingerprint", "source", "author", name="uq_kb_feedback_fingerprint_source_author"),
)

# Tickets and chat notifications (issue 13; actions/tickets, actions/notify). Our own record is the first
# place a ticket is looked for: Jira Cloud's search is eventually consistent right after a create, so a label
# search alone would file a second ticket for a failure that recurs within seconds.
tickets = Table(
    "cimedic_tickets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tracker", String(20), nullable=False),  # jira | linear
    Column("repo", String(300), nullable=False, server_default=""),
    Column("fingerprint", String(128), nullable=False),
    # "" while a create is in doubt (it timed out): the next occurrence looks the ticket up before filing one
    Column("key", String(100), nullable=False, server_default=""),
    Column("url", Text, nullable=True),
    # the id we chose for a create (Linear accepts a client UUID): a create in doubt is looked up by it
    Column("draft_id", String(64), nullable=True),
    Column("job", String(300), nullable=True),  # the job it failed in: "green again" is matched on it
    Column("state", String(20), nullable=False),  # open | pending | green | closed
    Column("title", Text, nullable=False),
    Column("occurrences", Integer, nullable=False, server_default="0"),
    Column("last_job_url", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    UniqueConstraint("tracker", "repo", "fingerprint", name="uq_cimedic_tickets_tracker_repo_fingerprint"),
    Index("ix_cimedic_tickets_updated", "updated_at"),
)

notifications = Table(
    "cimedic_notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(20), nullable=False),  # slack | teams
    Column("repo", String(300), nullable=False, server_default=""),
    Column("fingerprint", String(128), nullable=False),
    Column("sent_at", DateTime, nullable=False),
    UniqueConstraint(
        "channel", "repo", "fingerprint", name="uq_cimedic_notifications_channel_repo_fingerprint"
    ),
)


# Failures whose vector is not computed yet (recorded while nothing could be compared with: migration 0006).
# A vector id listed here whose failure was forgotten meanwhile is simply dropped by the next flush.
pending_vectors = Table(
    "kb_pending_vectors",
    metadata,
    Column("vector_id", String(64), primary_key=True),
)
