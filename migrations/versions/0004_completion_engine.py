"""The completion engine: event log, certificates, video thresholds, quiz pass scores, grants.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:54:27.321373
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "LESSON_COMPLETED",
                "LESSON_UNCOMPLETED",
                "COURSE_COMPLETED",
                "CERTIFICATE_ISSUED",
                "PROGRESS_RESET",
                "COMPLETION_GRANTED",
                name="event_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("lesson_id", sa.Integer(), nullable=True),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_course_id_id"), "events", ["course_id", "id"], unique=False)
    op.create_index(op.f("ix_events_type_id"), "events", ["type", "id"], unique=False)
    op.create_index(op.f("ix_events_user_id_id"), "events", ["user_id", "id"], unique=False)

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_certificates_course_id_courses"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_certificates_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("code", name=op.f("uq_certificates_code")),
        sa.UniqueConstraint("user_id", "course_id", name=op.f("uq_certificates_user_id_course_id")),
    )
    op.create_index(op.f("ix_certificates_course_id"), "certificates", ["course_id"], unique=False)

    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_completion_threshold", sa.Float(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_courses_video_completion_threshold_range"),
            "video_completion_threshold IS NULL"
            " OR (video_completion_threshold > 0 AND video_completion_threshold <= 100)",
        )

    with op.batch_alter_table("lesson_progress", schema=None) as batch_op:
        batch_op.add_column(sa.Column("granted_by_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("grant_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_lesson_progress_granted_by_user_id_users"),
            "users",
            ["granted_by_user_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pass_score", sa.Float(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_lessons_pass_score_range"), "pass_score IS NULL OR pass_score BETWEEN 0 AND 100"
        )


def downgrade() -> None:
    with op.batch_alter_table("lessons", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_lessons_pass_score_range"), type_="check")
        batch_op.drop_column("pass_score")

    with op.batch_alter_table("lesson_progress", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_lesson_progress_granted_by_user_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("grant_reason")
        batch_op.drop_column("granted_by_user_id")

    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_courses_video_completion_threshold_range"), type_="check")
        batch_op.drop_column("video_completion_threshold")

    op.drop_index(op.f("ix_certificates_course_id"), table_name="certificates")

    op.drop_table("certificates")
    op.drop_index(op.f("ix_events_user_id_id"), table_name="events")
    op.drop_index(op.f("ix_events_type_id"), table_name="events")
    op.drop_index(op.f("ix_events_course_id_id"), table_name="events")

    op.drop_table("events")
