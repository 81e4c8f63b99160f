"""The service's tables (deliveries, leases, job results, published outputs, re-runs, installations, the
inbox cursor) and the audit log join the one migrated schema.

They were made by `metadata.create_all` in webhooks/store.py and actions/audit.py; a database that already has
them (created that way) keeps them as they are: each table is created only where it is missing. The
definitions are frozen here as of this revision, as migrations must be; the modules keep their own `Table`
objects for queries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _tables() -> list[sa.Table]:
    m = sa.MetaData()
    return [
        sa.Table(
            "gh_deliveries",
            m,
            sa.Column("delivery_id", sa.String(200), primary_key=True),
            sa.Column("event", sa.String(64), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("received_at", sa.Float, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
            sa.Column("not_before", sa.Float, nullable=False),
            sa.Column("lease_until", sa.Float, nullable=True),
            sa.Column("owner", sa.String(64), nullable=True),
            sa.Column("error", sa.Text, nullable=True),
            sa.Index("ix_gh_deliveries_status", "status", "updated_at"),
        ),
        sa.Table(
            "gh_locks",
            m,
            sa.Column("name", sa.String(300), primary_key=True),
            sa.Column("owner", sa.String(64), nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        ),
        sa.Table(
            "gh_job_results",
            m,
            sa.Column("repo", sa.String(200), primary_key=True),
            sa.Column("job_id", sa.BigInteger, primary_key=True),
            sa.Column("run_id", sa.BigInteger, nullable=False),
            sa.Column("run_attempt", sa.Integer, nullable=False),
            sa.Column("head_sha", sa.String(64), nullable=False),
            sa.Column("head_branch", sa.String(300), nullable=True),
            sa.Column("job_name", sa.String(500), nullable=False),
            sa.Column("workflow_name", sa.String(500), nullable=True),
            sa.Column("conclusion", sa.String(32), nullable=False),
            sa.Column("fingerprint", sa.String(200), nullable=True),
            sa.Column("signature", sa.String(64), nullable=True),
            sa.Column("verdict", sa.String(32), nullable=True),
            sa.Column("diagnosis", sa.Text, nullable=True),
            sa.Column("html_url", sa.Text, nullable=True),
            sa.Column("pull_requests", sa.Text, nullable=False),
            sa.Column("completed_at", sa.String(64), nullable=True),
            sa.Column("updated_at", sa.Float, nullable=False),
            sa.Index("ix_gh_job_results_sha", "repo", "head_sha"),
            sa.Index("ix_gh_job_results_fp", "repo", "fingerprint"),
            sa.Index("ix_gh_job_results_sig", "repo", "signature"),
            sa.Index("ix_gh_job_results_branch", "repo", "head_branch", "job_name"),
        ),
        sa.Table(
            "gh_published",
            m,
            sa.Column("target", sa.String(400), primary_key=True),
            sa.Column("remote_id", sa.BigInteger, nullable=True),
            sa.Column("body_hash", sa.String(64), nullable=True),
            sa.Column("state", sa.Text, nullable=True),
            sa.Column("updated_at", sa.Float, nullable=False),
        ),
        sa.Table(
            "gh_reruns",
            m,
            sa.Column("repo", sa.String(200), primary_key=True),
            sa.Column("run_id", sa.BigInteger, primary_key=True),
            sa.Column("run_attempt", sa.Integer, primary_key=True),
            sa.Column("job_id", sa.BigInteger, nullable=False),
            sa.Column("at", sa.Float, nullable=False),
        ),
        sa.Table(
            "gh_installations",
            m,
            sa.Column("installation_id", sa.BigInteger, primary_key=True),
            sa.Column("account", sa.String(200), nullable=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        ),
        sa.Table(
            "gh_installation_repos",
            m,
            sa.Column("installation_id", sa.BigInteger, primary_key=True),
            sa.Column("repo", sa.String(200), primary_key=True),
            sa.Column("active", sa.Boolean, nullable=False),
            sa.Column("updated_at", sa.Float, nullable=False),
        ),
        sa.Table(
            "gh_inbox_cursors",
            m,
            sa.Column("inbox_id", sa.String(64), primary_key=True),
            sa.Column("seq", sa.BigInteger, nullable=False),
        ),
        sa.Table(
            "cimedic_audit",
            m,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("at", sa.Float, nullable=False, index=True),
            sa.Column("repo", sa.String(200), nullable=False, index=True),
            sa.Column("action", sa.String(64), nullable=False),
            sa.Column("target", sa.String(400), nullable=False),
            sa.Column("outcome", sa.String(32), nullable=False),
            sa.Column("remote_id", sa.BigInteger, nullable=True),
            sa.Column("delivery_id", sa.String(200), nullable=True),
            sa.Column("detail", sa.Text, nullable=True),
        ),
    ]


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table in _tables():
        if table.name not in existing:
            table.create(bind)


def downgrade() -> None:
    for table in reversed(_tables()):
        op.drop_table(table.name)
