"""Alembic environment: the URL comes from the caller's config or DATABASE_URL."""

import os

from alembic import context
from sqlalchemy import pool

from certseal.db import make_engine
from certseal.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
if not url:
    raise RuntimeError("no database URL: set DATABASE_URL or pass one in the Alembic config")


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    engine.pool = pool.NullPool(engine.pool._creator)  # one-shot connection for migrations
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=True, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
