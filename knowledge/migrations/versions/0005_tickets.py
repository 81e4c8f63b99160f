"""Tickets and notifications: our own map fingerprint → ticket key, and when a chat message last went out.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cimedic_tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tracker", sa.String(20), nullable=False),
        sa.Column("repo", sa.String(300), nullable=False, server_default=""),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("key", sa.String(100), nullable=False, server_default=""),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("draft_id", sa.String(64), nullable=True),
        sa.Column("job", sa.String(300), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_job_url", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(
            "tracker", "repo", "fingerprint", name="uq_cimedic_tickets_tracker_repo_fingerprint"
        ),
    )
    op.create_index("ix_cimedic_tickets_updated", "cimedic_tickets", ["updated_at"])
    op.create_table(
        "cimedic_notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("repo", sa.String(300), nullable=False, server_default=""),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(
            "channel", "repo", "fingerprint", name="uq_cimedic_notifications_channel_repo_fingerprint"
        ),
    )


def downgrade() -> None:
    op.drop_table("cimedic_notifications")
    op.drop_index("ix_cimedic_tickets_updated", table_name="cimedic_tickets")
    op.drop_table("cimedic_tickets")
