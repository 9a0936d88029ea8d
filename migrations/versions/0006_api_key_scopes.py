"""API keys: checksummed format, scopes, revocation (issue 6). Owned by the auth work.

Every key that exists keeps working with what its user's role allowed before: an admin's keys
get all three scopes, everyone else's progress:read and progress:write. All of them are marked
legacy_format (issued before the checksummed format).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 14:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEARNER_SCOPES = "progress:read progress:write"
_ADMIN_SCOPES = "progress:read progress:write admin"


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("scopes", sa.String(length=100), nullable=False, server_default=_LEARNER_SCOPES)
        )
        batch.add_column(sa.Column("legacy_format", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute(
        sa.text(
            "UPDATE api_keys SET scopes = :scopes"
            " WHERE user_id IN (SELECT id FROM users WHERE role = 'ADMIN')"
        ).bindparams(scopes=_ADMIN_SCOPES)
    )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("legacy_format")
        batch.drop_column("scopes")
