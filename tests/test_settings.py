"""Settings come from GQL_PROGRESS_* variables; a bad value is one clear line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gql_progress.settings import Mode, SettingsError, load_settings

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("clean_env")


def _refusal(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    """Set the variables, load settings, and return the SettingsError message (asserting one line)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message
    assert "\n" not in message, message
    return message


def test_defaults_are_a_sqlite_file_in_the_working_directory_on_port_8000_in_development() -> None:
    settings = load_settings()

    assert settings.database_url == "sqlite+aiosqlite:///./gql_progress.db"
    assert settings.is_sqlite
    assert settings.port == 8000
    assert settings.mode is Mode.DEVELOPMENT
    assert not settings.production
    assert settings.cors_origins == []


def test_postgresql_url_gets_the_asyncpg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", "postgresql://u@h/db")

    settings = load_settings()

    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert not settings.is_sqlite


def test_sqlite_url_gets_the_aiosqlite_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", "sqlite:///x.db")

    assert load_settings().database_url == "sqlite+aiosqlite:///x.db"


def test_url_that_already_names_the_async_driver_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", "postgresql+asyncpg://u@h/db")

    assert load_settings().database_url == "postgresql+asyncpg://u@h/db"


def test_mysql_url_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_DATABASE_URL="mysql://u@h/db")

    assert "GQL_PROGRESS_DATABASE_URL" in message


@pytest.mark.parametrize("value", ["abc", "70000", "0"])
def test_bad_port_is_refused_with_one_line_naming_gql_progress_port(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_PORT=value)

    assert "GQL_PROGRESS_PORT" in message


def test_port_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_PORT", "9001")

    assert load_settings().port == 9001


def test_production_mode_is_recognised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_MODE", "production")

    settings = load_settings()

    assert settings.mode is Mode.PRODUCTION
    assert settings.production is True


def test_unknown_mode_is_refused_naming_gql_progress_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_MODE="banana")

    assert "GQL_PROGRESS_MODE" in message


def test_default_page_size_above_max_page_size_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_DEFAULT_PAGE_SIZE="50", GQL_PROGRESS_MAX_PAGE_SIZE="10")

    assert "GQL_PROGRESS_DEFAULT_PAGE_SIZE" in message
    assert "GQL_PROGRESS_MAX_PAGE_SIZE" in message


def test_default_page_size_equal_to_max_page_size_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DEFAULT_PAGE_SIZE", "10")
    monkeypatch.setenv("GQL_PROGRESS_MAX_PAGE_SIZE", "10")

    settings = load_settings()

    assert (settings.default_page_size, settings.max_page_size) == (10, 10)


def test_cors_origins_are_split_on_commas_and_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_CORS_ORIGINS", "https://a.example, https://b.example")

    assert load_settings().cors_origins == ["https://a.example", "https://b.example"]


def test_cli_with_a_bad_setting_exits_2_with_one_stderr_line_naming_the_variable() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("GQL_PROGRESS_")}
    env["PYTHONPATH"] = str(REPO)
    env["GQL_PROGRESS_PORT"] = "abc"

    result = subprocess.run(
        [sys.executable, "-m", "gql_progress", "migrate"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "GQL_PROGRESS_PORT" in lines[0]
    assert "Traceback" not in result.stderr


def test_rate_limits_default_to_60_a_minute_per_role_counted_in_memory() -> None:
    settings = load_settings()

    assert settings.rate_limit_enabled
    assert {settings.rate_limit_learner, settings.rate_limit_instructor, settings.rate_limit_admin} == {
        "60/minute"
    }
    assert settings.rate_limit_storage == "memory://"


@pytest.mark.parametrize("value", ["abc", "0/minute", "1/second;50/minute"])
def test_a_bad_rate_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_RATE_LIMIT_INSTRUCTOR=value)

    assert "GQL_PROGRESS_RATE_LIMIT_INSTRUCTOR" in message


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("redis://127.0.0.1:6379/0", "async+redis://127.0.0.1:6379/0"),
        ("async+rediss://:pw@cache:6380/2", "async+rediss://:pw@cache:6380/2"),
        ("redis+unix:///run/redis.sock?db=1", "async+redis+unix:///run/redis.sock?db=1"),
        ("async+memory://", "memory://"),
    ],
)
def test_rate_limit_storage_takes_memory_or_redis_uris_with_or_without_async(
    monkeypatch: pytest.MonkeyPatch, value: str, stored: str
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_RATE_LIMIT_STORAGE", value)

    assert load_settings().rate_limit_storage == stored


def test_an_unknown_rate_limit_storage_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_RATE_LIMIT_STORAGE="memcached://127.0.0.1:11211")

    assert "GQL_PROGRESS_RATE_LIMIT_STORAGE" in message


def test_the_active_time_window_is_60_seconds_unless_set_within_1_to_3600(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().active_time_window_seconds == 60
    monkeypatch.setenv("GQL_PROGRESS_ACTIVE_TIME_WINDOW_SECONDS", "15")
    assert load_settings().active_time_window_seconds == 15

    for bad in ("0", "3601", "a minute"):
        assert "GQL_PROGRESS_ACTIVE_TIME_WINDOW_SECONDS" in _refusal(
            monkeypatch, GQL_PROGRESS_ACTIVE_TIME_WINDOW_SECONDS=bad
        )


def test_replica_urls_are_split_on_commas_and_get_the_asyncpg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", "postgresql://u@primary/db")
    monkeypatch.setenv("GQL_PROGRESS_DB_REPLICA_URLS", " postgresql://u@r1/db, postgres://u@r2:6432/db ,")

    settings = load_settings()

    assert settings.db_replica_urls == ["postgresql+asyncpg://u@r1/db", "postgresql+asyncpg://u@r2:6432/db"]
    assert (settings.db_replica_max_lag_seconds, settings.db_replica_check_seconds) == (5.0, 1.0)


def test_no_replicas_by_default() -> None:
    assert load_settings().db_replica_urls == []


@pytest.mark.parametrize(
    ("env", "said"),
    [
        # SQLite has no replicas.
        ({"GQL_PROGRESS_DB_REPLICA_URLS": "postgresql://u@r1/db"}, "needs a PostgreSQL"),
        # Not PostgreSQL; the URL (it may hold a password) is not quoted back.
        ({"GQL_PROGRESS_DB_REPLICA_URLS": "mysql://u:s3cret@r1/db"}, "URL 1 is not a postgresql:// URL"),
        ({"GQL_PROGRESS_DB_REPLICA_URLS": "postgresql://u@r1/db,r2"}, "URL 2 is not a postgresql:// URL"),
        ({"GQL_PROGRESS_DB_REPLICA_URLS": "postgresql://u@r1/db,postgres://u@r1/db"}, "twice"),
        ({"GQL_PROGRESS_DB_REPLICA_URLS": "postgresql://u@primary/db"}, "names the primary"),
        (
            {
                "GQL_PROGRESS_DB_REPLICA_URLS": "postgresql://u@r1/db",
                "GQL_PROGRESS_DB_REPLICA_MAX_LAG_SECONDS": "1",
            },
            "must exceed GQL_PROGRESS_DB_REPLICA_CHECK_SECONDS",
        ),
        ({"GQL_PROGRESS_DB_REPLICA_CHECK_SECONDS": "0"}, "GQL_PROGRESS_DB_REPLICA_CHECK_SECONDS"),
        ({"GQL_PROGRESS_DB_REPLICA_MAX_LAG_SECONDS": "-1"}, "GQL_PROGRESS_DB_REPLICA_MAX_LAG_SECONDS"),
    ],
)
def test_bad_replica_settings_are_refused_in_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], said: str
) -> None:
    if "needs a PostgreSQL" not in said:
        monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", "postgresql://u@primary/db")

    message = _refusal(monkeypatch, **env)

    assert said in message
    assert "GQL_PROGRESS_DB_REPLICA_" in message
    assert "s3cret" not in message


# --- behind a transaction pooler (README "Behind PgBouncer") -------------------------------------

POOLER = "postgresql://app@pgbouncer:6432/progress"
DIRECT = "postgresql://app@postgres:5432/progress"


def test_prepared_statements_are_on_unless_behind_a_transaction_pooler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", POOLER)
    direct = load_settings()
    assert direct.prepared_statements_in_effect
    assert direct.listen_url_in_effect == "postgresql+asyncpg://app@pgbouncer:6432/progress"

    monkeypatch.setenv("GQL_PROGRESS_DB_POOLER", "transaction")
    monkeypatch.setenv("GQL_PROGRESS_DB_LISTEN_URL", DIRECT)
    pooled = load_settings()

    assert not pooled.prepared_statements_in_effect
    assert pooled.listen_url_in_effect == "postgresql+asyncpg://app@postgres:5432/progress"


def test_a_transaction_pooler_without_a_listen_url_is_refused_saying_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_DATABASE_URL=POOLER, GQL_PROGRESS_DB_POOLER="transaction")

    assert "GQL_PROGRESS_DB_LISTEN_URL is required with GQL_PROGRESS_DB_POOLER=transaction" in message


def test_a_transaction_pooler_needs_no_listen_url_when_nothing_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GQL_PROGRESS_DATABASE_URL", POOLER)
    monkeypatch.setenv("GQL_PROGRESS_DB_POOLER", "transaction")
    monkeypatch.setenv("GQL_PROGRESS_LIVE_UPDATES_ENABLED", "false")
    monkeypatch.setenv("GQL_PROGRESS_API_KEY_CACHE_SECONDS", "0")

    assert not load_settings().prepared_statements_in_effect


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"GQL_PROGRESS_DB_LISTEN_URL": POOLER},
            "GQL_PROGRESS_DB_LISTEN_URL is GQL_PROGRESS_DATABASE_URL",
        ),
        (
            {"GQL_PROGRESS_DB_LISTEN_URL": DIRECT, "GQL_PROGRESS_DB_PREPARED_STATEMENTS": "true"},
            "GQL_PROGRESS_DB_PREPARED_STATEMENTS=true cannot work with GQL_PROGRESS_DB_POOLER=transaction",
        ),
        ({"GQL_PROGRESS_DB_LISTEN_URL": "sqlite:///x.db"}, "GQL_PROGRESS_DB_LISTEN_URL"),
        (
            {"GQL_PROGRESS_DB_LISTEN_URL": DIRECT, "GQL_PROGRESS_DB_POOLER": "statement"},
            "GQL_PROGRESS_DB_POOLER",
        ),
    ],
    ids=["listen-url-is-the-pooler", "prepared-statements-forced-on", "listen-on-sqlite", "unknown-pooler"],
)
def test_pooler_settings_that_cannot_work_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    env = {"GQL_PROGRESS_DATABASE_URL": POOLER, "GQL_PROGRESS_DB_POOLER": "transaction", **env}

    assert says in _refusal(monkeypatch, **env)


def test_pooler_settings_on_sqlite_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    message = _refusal(monkeypatch, GQL_PROGRESS_DB_POOLER="transaction", GQL_PROGRESS_DB_LISTEN_URL=DIRECT)

    assert "apply to PostgreSQL, not SQLite" in message
