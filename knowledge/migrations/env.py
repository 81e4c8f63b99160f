"""Alembic environment for the knowledge base's SQL store.

`knowledge.sqlstore.migrate()` runs the migrations in-process and hands over its own connection through
`config.attributes["connection"]` (the pattern from the Alembic cookbook, "Sharing a Connection across one or
more programmatic migration commands": https://alembic.sqlalchemy.org/en/latest/cookbook.html). Run from the
command line, `alembic -x url=postgresql+psycopg://... upgrade head` works too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from knowledge.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=... upgrade head")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
