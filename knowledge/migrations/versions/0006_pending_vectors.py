"""Knowledge base: failures recorded before their vector was computed.

`cimedic analyze` on a knowledge base with nothing to compare with records the failure in SQL only and
lists its vector id here, so that the embedding model (seconds and hundreds of MB to load) is loaded only
when a later query has something to compare with; that query embeds the pending failures first
(knowledge/base.py, `KnowledgeBase.flush_pending`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_pending_vectors",
        sa.Column("vector_id", sa.String(64), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("kb_pending_vectors")
