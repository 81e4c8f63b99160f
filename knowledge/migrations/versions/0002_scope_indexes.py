"""Knowledge base: covering indexes for listing a repository's or an org's vector ids.

A scoped query lists the scope's vector ids on every call; without an index on `repo` that was a scan of
the whole table (~50 ms at 100,000 failures on SQLite). With (repo, id, vector_id) and (org, id, vector_id)
the list comes from the index alone, in insertion order, and a new row lands at the end of its scope's range.
The org index replaces the plain `org` one, which it covers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_kb_failures_repo_scope", "kb_failures", ["repo", "id", "vector_id"])
    op.create_index("ix_kb_failures_org_scope", "kb_failures", ["org", "id", "vector_id"])
    op.drop_index("ix_kb_failures_org", table_name="kb_failures")


def downgrade() -> None:
    op.create_index("ix_kb_failures_org", "kb_failures", ["org"])
    op.drop_index("ix_kb_failures_org_scope", table_name="kb_failures")
    op.drop_index("ix_kb_failures_repo_scope", table_name="kb_failures")
