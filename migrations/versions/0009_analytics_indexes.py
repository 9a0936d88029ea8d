"""Analytics indexes (issue 7): none needed, measured; the revision stays in the chain.

courseAnalytics reads a course's records through ix_lesson_progress_lesson_id and its cohort
through ix_enrollments_course_id, both already there: on the bench dataset (1.37 M progress rows)
a 50-lesson course with 2,500 enrollments answers in ~0.3 s once the statements name the lesson
ids as values (bench/RESULTS.md, "courseAnalytics"). The slow plans measured before were query
shapes, not missing indexes.

Not added, on purpose: indexes on lesson_progress.updated_at / last_accessed_at would let a
narrow platformAnalytics window skip the table scan, but every heartbeat writes both columns, so
each would turn every heartbeat into a non-HOT update that also rewrites every index of the row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 14:15:00.000000
"""

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
