"""Alembic environment: async engines for both SQLite and PostgreSQL; URL comes from the caller."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.storage.engine import SQLITE_BEGIN_OPTION, create_engine
from bot.storage.tables import metadata

config = context.config

# pg_advisory_xact_lock's key for "migrating this database": any constant, the same in every process.
MIGRATION_LOCK_KEY = 0x6D6F636B  # "mock"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTERs
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as connection:
        # One migrator at a time (every process starting with MOCKINTERVIEW_AUTO_MIGRATE migrates): take the lock in
        # the migration's own transaction, before Alembic reads alembic_version, so a second migrator waits here and
        # then finds the database already upgraded instead of applying the same revisions again. Alembic runs inside
        # this transaction (it sees one already begun) and the commit below releases the lock.
        if connection.dialect.name == "sqlite":
            await connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})  # the write lock, up front
            await connection.execute(text("SELECT 1"))
        else:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


url: str = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url") or ""
if context.is_offline_mode():
    context.configure(url=url, target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async(url))
