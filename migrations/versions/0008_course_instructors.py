"""Course instructors: who teaches which course (issue 7).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 14:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_instructors",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_instructors_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_course_instructors_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("course_id", "user_id", name=op.f("pk_course_instructors")),
    )
    op.create_index(op.f("ix_course_instructors_user_id"), "course_instructors", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_course_instructors_user_id"), table_name="course_instructors")
    op.drop_table("course_instructors")
