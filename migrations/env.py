"""Alembic environment: the URL comes from the caller's config or DATABASE_URL."""

import os

from alembic import context

from certseal.db import make_engine
from certseal.models import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
if not url:
    raise RuntimeError("no database URL: set DATABASE_URL or pass one in the Alembic config")


def render_item(type_, obj, autogen_context):
    """Render our TypeDecorators as their plain column types: migrations must not import
    application code that later changes."""
    if type_ == "type" and hasattr(obj, "impl") and obj.__class__.__module__.startswith(
            ("ca.", "seal.", "certs.")):
        autogen_context.imports.add("import sqlalchemy as sa")
        return "sa." + repr(obj.impl)
    return False


def run_offline() -> None:
    context.configure(url=url, target_metadata=metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=True, compare_type=True,
                          render_item=render_item)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
