"""Alembic environment: runs on a connection handed over by gql_progress.db.migrate."""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from gql_progress.db.models import Base
from gql_progress.settings import load_settings

target_metadata = Base.metadata

# `alembic upgrade head` from a shell reads alembic.ini: its logging section makes Alembic say
# which revision it runs. gql-progress migrate has no file and prints the steps itself.
if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # gql_progress.db.migrate's report of each revision applied, when it asked for one.
        on_version_apply=context.config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_settings() -> None:
    from gql_progress.db.engine import Database

    settings = load_settings()
    database = Database(settings.database_url, prepared_statements=settings.prepared_statements_in_effect)
    try:
        async with database.write() as conn:
            await conn.run_sync(run_on)
    finally:
        await database.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    # Plain `alembic upgrade head` from a shell uses GQL_PROGRESS_DATABASE_URL.
    asyncio.run(run_with_settings())
