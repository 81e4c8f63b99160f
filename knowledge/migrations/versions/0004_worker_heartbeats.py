"""Worker liveness rows read by /readyz (webhooks/heartbeat.py); created only where missing, as 0003 does.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if "worker_heartbeats" in sa.inspect(bind).get_table_names():
        return
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(120), primary_key=True),
        sa.Column("beat_at", sa.Float, nullable=False),
        sa.Column("every_s", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeats")
