"""Credential notices: PostgreSQL tells every server process when a key or a user changes.

Each process keeps recently checked credentials for a short while (auth/credential_cache.py) and
LISTENs on ``gql_progress_credentials``; these triggers send it ``key:<hash>`` when an API key is
revoked, re-scoped, moved or deleted, ``user:<id>`` when a user changes or is deleted, and
``all`` when either table is truncated. Triggers rather than the application's own NOTIFY: a
revocation by an operator's SQL, or by another tool, reaches the caches too.

``UPDATE OF`` lists the columns a cached credential depends on, so the batched lastUsedAt write
(auth/authenticator.py) notifies nobody. SQLite has no NOTIFY (and no cache): nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = """
CREATE FUNCTION gql_progress_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gql_progress_credentials', 'key:' || OLD.key_hash);
    RETURN NULL;
END $$;

CREATE FUNCTION gql_progress_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gql_progress_credentials', 'user:' || OLD.id);
    RETURN NULL;
END $$;

CREATE FUNCTION gql_progress_credentials_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gql_progress_credentials', 'all');
    RETURN NULL;
END $$;
"""

_TRIGGERS = """
CREATE TRIGGER api_key_changed
    AFTER UPDATE OF key_hash, revoked_at, scopes, user_id OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION gql_progress_api_key_changed();
CREATE TRIGGER user_changed
    AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION gql_progress_user_changed();
CREATE TRIGGER api_keys_truncated
    AFTER TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION gql_progress_credentials_truncated();
CREATE TRIGGER users_truncated
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION gql_progress_credentials_truncated();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # One statement per call: the asyncpg driver prepares what it runs, one command at a time.
    for statement in _FUNCTIONS.split("END $$;"):
        if statement.strip():
            op.execute(statement + "END $$;")
    for statement in _TRIGGERS.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table in (
        ("api_key_changed", "api_keys"),
        ("user_changed", "users"),
        ("api_keys_truncated", "api_keys"),
        ("users_truncated", "users"),
    ):
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for function in ("api_key_changed", "user_changed", "credentials_truncated"):
        op.execute(f"DROP FUNCTION gql_progress_{function}()")
