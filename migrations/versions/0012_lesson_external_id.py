"""Lessons get the platform's own id (issue 18): lessons.external_id, optional, unique when set.

A nullable column and a unique index: both are metadata-only on PostgreSQL for an existing
table (no rewrite; the index build reads the table once) and need no table rebuild on SQLite.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lessons", sa.Column("external_id", sa.String(length=255), nullable=True))
    op.create_index("uq_lessons_external_id", "lessons", ["external_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_lessons_external_id", table_name="lessons")
    with op.batch_alter_table("lessons") as batch:
        batch.drop_column("external_id")
