"""A write that is one statement, committed in its own implicit transaction (Database.write_alone).

Sent alone, such a write costs one round trip, where a transaction costs three (BEGIN, the
statement, COMMIT). Some writes are one statement only in the common case: a heartbeat that turns
out to complete its lesson must go on, in the same transaction, to the enrollment and the events.
Which case it is, only the statement itself learns (from the row it writes), and by then an
implicit transaction would commit. So such a statement is sent *refusing* the rare case: a
RETURNING expression divides by zero when the returned row says more must follow, which aborts
the statement, and with it everything it wrote and the notices it queued; the caller then runs
the write in an explicit transaction as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, case, literal

# division_by_zero: what the refusal raises.
_REFUSED = "22012"


class NeedsTransaction(Exception):
    """The statement refused to commit alone (see ``refusing``): nothing was written."""


def refusing(statement: Any, more_follows: ColumnElement[bool]) -> Any:
    """``statement`` (an INSERT/UPDATE … RETURNING) refusing to commit a row where ``more_follows``.

    The divisor depends on the row, so PostgreSQL cannot fold it away when planning (a constant
    1/0 would fail every execution)."""
    divisor = case((more_follows, 0), else_=1)
    return statement.returning((literal(1, Integer) // divisor).label("committed_alone"))


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` is the refusal. A genuine division by zero in the statement reads as one
    too, and harmlessly: the transaction that follows runs the same statement and raises it."""
    return getattr(error, "sqlstate", None) == _REFUSED
