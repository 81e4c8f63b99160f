"""Knowledge base: failures, occurrences, resolutions, feedback.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("repo", sa.String(300), nullable=False, server_default=""),
        sa.Column("org", sa.String(200), nullable=True),
        sa.Column("vector_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(200), nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("focus_text", sa.Text, nullable=False),
        sa.Column("excerpt_text", sa.Text, nullable=False),
        sa.Column("embed_text", sa.Text, nullable=False),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_source", sa.Text, nullable=True),
        sa.Column("last_job", sa.String(300), nullable=True),
        sa.Column("last_url", sa.Text, nullable=True),
        sa.UniqueConstraint("fingerprint", "repo", name="uq_kb_failures_fingerprint_repo"),
        sa.UniqueConstraint("vector_id", name="uq_kb_failures_vector_id"),
    )
    op.create_index("ix_kb_failures_org", "kb_failures", ["org"])
    op.create_index("ix_kb_failures_last_seen", "kb_failures", ["last_seen"])

    op.create_table(
        "kb_occurrences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "failure_id",
            sa.Integer,
            sa.ForeignKey("kb_failures.id", ondelete="CASCADE", name="fk_kb_occurrences_failure"),
            nullable=False,
        ),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("repo", sa.String(300), nullable=False, server_default=""),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("ci_system", sa.String(20), nullable=True),
        sa.Column("branch", sa.String(300), nullable=True),
        sa.Column("commit_sha", sa.String(64), nullable=True),
        sa.Column("workflow", sa.String(300), nullable=True),
        sa.Column("job", sa.String(300), nullable=True),
        sa.Column("job_id", sa.BigInteger, nullable=True),
        sa.Column("run_id", sa.BigInteger, nullable=True),
        sa.Column("run_attempt", sa.Integer, nullable=True),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("pull_requests", sa.String(300), nullable=True),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("verdict", sa.String(20), nullable=True),
        sa.Column("verdict_reason", sa.Text, nullable=True),
        sa.Column("verdict_link", sa.Text, nullable=True),
        sa.Column("seen_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("key", name="uq_kb_occurrences_key"),
    )
    op.create_index("ix_kb_occurrences_failure", "kb_occurrences", ["failure_id"])
    op.create_index("ix_kb_occurrences_fingerprint", "kb_occurrences", ["fingerprint"])
    op.create_index("ix_kb_occurrences_repo_seen", "kb_occurrences", ["repo", "seen_at"])
    op.create_index("ix_kb_occurrences_seen", "kb_occurrences", ["seen_at"])

    op.create_table(
        "kb_resolutions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("repo", sa.String(300), nullable=False, server_default=""),
        sa.Column("fix", sa.Text, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("changed_files", sa.Text, nullable=False, server_default="[]"),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("fingerprint", "repo", "fix", name="uq_kb_resolutions_fingerprint_repo_fix"),
    )
    op.create_index("ix_kb_resolutions_fingerprint", "kb_resolutions", ["fingerprint"])

    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("repo", sa.String(300), nullable=False, server_default=""),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False, server_default=""),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(
            "fingerprint", "source", "author", name="uq_kb_feedback_fingerprint_source_author"
        ),
    )


def downgrade() -> None:
    op.drop_table("kb_feedback")
    op.drop_table("kb_resolutions")
    op.drop_table("kb_occurrences")
    op.drop_table("kb_failures")
