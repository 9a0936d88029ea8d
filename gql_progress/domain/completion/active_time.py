"""Active time measured by the server: how much of the time between a learner's progress writes
on a lesson counts as time spent on it.

Each write through upsertProgress (the heartbeat, and a completion sent with it) adds the gap
since the record's previous such write when that gap is at most the heartbeat window, and nothing
when it is longer (an idle tab, a closed laptop, a request replayed later). The rule is SQL in the
write's own statement, evaluated inside the row lock, so it costs no statement and two concurrent
writes of one record are serialised: the second sees the first's clock and a gap of about 0.

The clock is the database's, never a client's or an application server's: every write of every
process reads the same clock, so neither a client's claims nor servers' clock skew can add time.
It is kept in whole seconds. The sum over a session then telescopes: with writes at clock values
c0 ≤ c1 ≤ … ≤ cn, each gap within the window, the record gains exactly cn − c0, whatever the
heartbeat interval, where summing fractional gaps rounded one by one would lose up to a second per
write. A clock that reads earlier than the stored one (a write that waited for the row lock
behind a later one, a clock stepped back) adds nothing and keeps the later value, so the record
never gains more than the wall-clock time its writes span.

Bulk completion, grantCompletion and resetProgress are not heartbeats: they add nothing and do
not move the clock (a reset deletes the records, active time included).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, and_, case, cast, func, literal_column, or_

from gql_progress.db.models import LessonProgress

DEFAULT_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 3600


def database_clock(dialect: str) -> ColumnElement[int]:
    """The database's clock in whole Unix seconds, fixed for the statement."""
    if dialect == "postgresql":
        # statement_timestamp(): the same value everywhere in the statement (clock_timestamp()
        # would differ between the gap and the stored clock).
        return cast(func.floor(func.extract("epoch", func.statement_timestamp())), BigInteger)
    # SQLite's 'now' is fixed for the duration of one statement's step.
    return cast(func.strftime("%s", literal_column("'now'")), BigInteger)


def first_write(dialect: str) -> dict[str, Any]:
    """The columns of a record a counted write creates: no active time yet, the clock started."""
    return {"active_seconds": literal_column("0", Integer), "activity_clock": database_clock(dialect)}


def counted_write(dialect: str, window_seconds: int) -> dict[str, ColumnElement[Any]]:
    """The ON CONFLICT DO UPDATE assignments of a counted write to an existing record."""
    stored = LessonProgress.__table__.c
    now = database_clock(dialect)
    # Rendered into the cached statement: one value per process (the setting).
    window = literal_column(str(int(window_seconds)), Integer)
    zero = literal_column("0", Integer)
    gap = now - stored.activity_clock
    # A null clock (no counted write yet) makes the gap null: the condition is then not true.
    added = case((and_(gap >= zero, gap <= window), gap), else_=zero)
    return {
        "active_seconds": stored.active_seconds + added,
        "activity_clock": case(
            (or_(stored.activity_clock.is_(None), now > stored.activity_clock), now),
            else_=stored.activity_clock,
        ),
    }
