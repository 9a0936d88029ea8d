"""Courses that change: removed lessons, and whether earned completions survive a change.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CURRENT = sa.text("removed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.add_column(
            sa.Column("keep_completion_on_change", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("lessons") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
        # A removed lesson keeps its position; only current lessons need distinct ones.
        batch.drop_constraint("uq_lessons_course_id_position", type_="unique")
    op.create_index(
        "uq_lessons_course_id_position",
        "lessons",
        ["course_id", "position"],
        unique=True,
        postgresql_where=_CURRENT,
        sqlite_where=_CURRENT,
    )


def downgrade() -> None:
    op.drop_index("uq_lessons_course_id_position", table_name="lessons")
    # Removed lessons cannot keep their place once positions are unique again.
    op.execute("DELETE FROM lessons WHERE removed_at IS NOT NULL")
    with op.batch_alter_table("lessons") as batch:
        batch.create_unique_constraint("uq_lessons_course_id_position", ["course_id", "position"])
        batch.drop_column("removed_at")
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("keep_completion_on_change")
