"""Active time measured by the server (issue 18): lesson_progress.active_seconds and activity_clock.

``active_seconds`` sums the gaps between a learner's progress writes on a lesson that were at
most the heartbeat window (GQL_PROGRESS_ACTIVE_TIME_WINDOW_SECONDS); ``activity_clock`` is the
database's clock, in Unix seconds, at the last such write (domain/completion/active_time.py).
Existing records start at 0 with no clock: their next write starts counting. On PostgreSQL both
columns are added without rewriting the table (a constant default, a nullable column), and
neither is indexed, so a heartbeat stays a HOT update.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lesson_progress") as batch:
        batch.add_column(sa.Column("active_seconds", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("activity_clock", sa.BigInteger(), nullable=True))
        batch.create_check_constraint(op.f("ck_lesson_progress_active_seconds_range"), "active_seconds >= 0")


def downgrade() -> None:
    with op.batch_alter_table("lesson_progress") as batch:
        batch.drop_constraint(op.f("ck_lesson_progress_active_seconds_range"), type_="check")
        batch.drop_column("activity_clock")
        batch.drop_column("active_seconds")
