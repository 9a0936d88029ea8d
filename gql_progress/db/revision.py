"""Where the database's schema stands against the migrations this code carries.

Read at start-up (the server refuses a database that is behind: every request would fail on a
missing table or column), by /readyz, and by the `migrate` and `status` commands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from gql_progress.db.engine import Database
from gql_progress.db.migrate import scripts

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaRevision:
    current: tuple[str, ...]  # empty: no migration was ever applied
    expected: tuple[str, ...]  # the heads of this code's migrations
    known: bool  # every current revision is one of this code's

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.expected)

    @property
    def behind(self) -> bool:
        """Migrations of this code are missing from the database."""
        return self.known and not self.up_to_date

    @property
    def current_text(self) -> str:
        return ", ".join(self.current) or "none"

    @property
    def expected_text(self) -> str:
        return ", ".join(self.expected)

    def problem(self) -> str | None:
        """One line saying what is wrong and what to do, or None when the schema is current."""
        if self.up_to_date:
            return None
        if not self.known:
            # A newer release migrated it (a rollback of a deployment): this code may still
            # work, so the server starts and says so, rather than refusing.
            return (
                f"the database is at revision {self.current_text}, which this version of "
                f"gql-progress does not know (it expects {self.expected_text})"
            )
        if not self.current:
            return (
                f"the database is not migrated (this version needs revision {self.expected_text}): "
                "run gql-progress migrate"
            )
        return (
            f"the database is at revision {self.current_text}, this version needs "
            f"{self.expected_text}: run gql-progress migrate"
        )


def current_revisions(sync_conn: Connection) -> tuple[str, ...]:
    # Not Alembic's MigrationContext: it logs two INFO lines each time, and /readyz asks often.
    if not inspect(sync_conn).has_table(VERSION_TABLE):
        return ()
    rows = sync_conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
    return tuple(sorted(rows))


async def schema_revision(db: Database) -> SchemaRevision:
    """The database's revision against this code's; raises when the database cannot be read."""
    async with db.read() as conn:
        current = await conn.run_sync(current_revisions)
    directory = scripts()
    known = {script.revision for script in directory.walk_revisions()}
    return SchemaRevision(
        current=current,
        expected=tuple(sorted(directory.get_heads())),
        known=all(revision in known for revision in current),
    )


class SchemaBehind(RuntimeError):
    """The database lacks migrations this code needs: every request would fail."""


async def refuse_a_schema_behind(db: Database, logger: logging.Logger) -> None:
    """At start-up: raise SchemaBehind for a database that is behind; a database that cannot be
    reached yet is only logged (the server starts and /readyz reports it, as before)."""
    try:
        revision = await schema_revision(db)
    except (OSError, SQLAlchemyError) as exc:
        logger.warning("could not read the database's migration revision at start-up: %s", type(exc).__name__)
        return
    problem = revision.problem()
    if revision.behind:
        raise SchemaBehind(problem)
    if problem is not None:
        logger.warning(problem)
