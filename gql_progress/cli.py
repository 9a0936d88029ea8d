"""The gql-progress command: serve, migrate, status, seed-demo, create-user, create-api-key,
list-api-keys, revoke-api-key, deliver, import, export, export-schema, export-possible-types."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from gql_progress.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
DEFAULT_SCHEMA_PATH = Path("schema.graphql")
# Apollo Client's possibleTypes (docs/clients.md), checked for drift like the schema.
DEFAULT_POSSIBLE_TYPES_PATH = Path("possible-types.json")


def _run_with_db(settings: Settings, action: Callable[..., Awaitable[T]]) -> T:
    from gql_progress.db.engine import Database

    async def run() -> T:
        db = Database(
            settings.database_url,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            prepared_statements=settings.prepared_statements_in_effect,
            # On PostgreSQL the commands' writes (seed-demo) reach the servers' subscribers too.
            live_channel=settings.live_channel if settings.live_updates_enabled else None,
        )
        try:
            return await action(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from gql_progress.edge.http_protocol import HTTP_PROTOCOL
    from gql_progress.edge.metrics import clear_multiprocess_dir
    from gql_progress.edge.ports import listen_problem
    from gql_progress.logs import install_request_id_on_records, logging_config

    host, port = args.host or settings.host, args.port or settings.port
    if args.workers > 1 and settings.rate_limit_enabled and settings.rate_limit_storage == "memory://":
        # Everything else the workers share through the database; the rate-limit counts only
        # through Redis.
        print(
            f"gql-progress: warning: each of the {args.workers} workers counts rate limits alone "
            "(GQL_PROGRESS_RATE_LIMIT_STORAGE=memory://), so a key gets up to that many budgets; "
            "set it to a Redis URI to share one",
            file=sys.stderr,
        )
    # Both would otherwise end in uvicorn's traceback (a busy port, or the lifespan's refusal).
    refusal = listen_problem(host, port) or _schema_problem(settings) or _notice_problem(settings)
    if refusal is not None:
        print(f"gql-progress: {refusal}", file=sys.stderr)
        return 1
    install_request_id_on_records()
    clear_multiprocess_dir()  # PROMETHEUS_MULTIPROC_DIR, when set: this run's counts only
    uvicorn.run(
        "gql_progress.edge.app:create_app",
        factory=True,
        # httptools, each response's header block and body sent in one write (http_protocol.py).
        http=HTTP_PROTOCOL,
        host=host,
        port=port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        # Applied by uvicorn in every worker process (a configuration made here would not be).
        log_config=logging_config(settings.log_level, settings.log_format_in_effect),
        # Ours (gql_progress.access, one record per GraphQL request) replaces uvicorn's, which
        # prints the query string, where a GET request carries its variables.
        access_log=False,
        # SIGTERM: stop accepting, let requests in flight finish for this long, then cancel the
        # rest (their transactions roll back) and run the lifespan's shutdown.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return 0


def _schema_problem(settings: Settings) -> str | None:
    """A database behind this code's migrations, told in one line; an unreachable one is only
    warned about (the server starts and /readyz reports it until the database answers)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gql_progress.db.revision import schema_revision

    try:
        revision = _run_with_db(settings, schema_revision)
    except (OSError, SQLAlchemyError) as exc:
        print(
            f"gql-progress: warning: cannot read the database at {_safe_url(settings)}: "
            f"{_first_line(exc)}; starting anyway",
            file=sys.stderr,
        )
        return None
    problem = revision.problem()
    if problem is not None and not revision.behind:
        print(f"gql-progress: warning: {problem}", file=sys.stderr)
        return None
    return problem


def _notice_problem(settings: Settings) -> str | None:
    """A LISTEN address that the writes' notifications do not reach (the app refuses to start
    on it too), told in one line; an unreachable one is only warned about."""
    if settings.is_sqlite or not (settings.live_updates_enabled or settings.api_key_cache_seconds > 0):
        return None
    from gql_progress.db.engine import Database
    from gql_progress.db.listener import NOTICE_WAIT_SECONDS, asyncpg_dsn, misdirected, notices_arrive

    async def check(db: Database) -> bool:
        return await notices_arrive(
            asyncpg_dsn(settings.listen_url_in_effect), db.notify, NOTICE_WAIT_SECONDS
        )

    try:
        arrived = _run_with_db(settings, check)
    except Exception as exc:  # whatever it was, the server starts and its listener keeps trying
        print(
            f"gql-progress: warning: cannot check LISTEN: {_first_line(exc)}; starting anyway",
            file=sys.stderr,
        )
        return None
    return None if arrived else misdirected(NOTICE_WAIT_SECONDS)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.db import migrate
    from gql_progress.db.engine import Database
    from gql_progress.db.revision import schema_revision

    url = _safe_url(settings)
    try:
        target = migrate.target_revisions(args.revision)
    except ValueError as exc:
        print(f"gql-progress: {exc}", file=sys.stderr)
        return 1
    wanted = (", ".join(target) or "base") + (" (head)" if migrate.is_head(target) else "")

    def report(step: migrate.Step) -> None:
        print(f"  {'applied' if step.upgraded else 'reverted'} {step.revision}  {step.title}", flush=True)

    async def run(db: Database) -> int:
        try:
            before = await schema_revision(db)
        except Exception as exc:
            print(f"gql-progress: cannot read the database at {url}: {_first_line(exc)}", file=sys.stderr)
            return 1
        if not before.known:
            print(f"gql-progress: {before.problem()}; nothing was changed", file=sys.stderr)
            return 1
        if set(before.current) == set(target):
            print(f"database at {url} is already at {wanted}; nothing to do")
            return 0
        downgrading = migrate.is_downgrade(before.current, target)
        if downgrading and not args.downgrade:
            print(
                f"gql-progress: refusing to downgrade {url} from {before.current_text} to {wanted}: "
                "a downgrade drops tables and columns with their data; to do it anyway, run "
                f"gql-progress migrate {args.revision} --downgrade",
                file=sys.stderr,
            )
            return 1
        print(f"{'downgrading' if downgrading else 'upgrading'} {url} from {before.current_text} to {wanted}")
        action = migrate.downgrade if downgrading else migrate.upgrade
        try:
            await action(db, ",".join(target) or "base", on_step=report)
        except Exception as exc:
            # The run's steps share one transaction, which the failure rolled back: say where
            # the database is, as it says, rather than assume it.
            print(f"gql-progress: migrating failed: {_first_line(exc)}", file=sys.stderr)
            with contextlib.suppress(Exception):
                failed_at = (await schema_revision(db)).current_text
                print(f"gql-progress: the database is at {failed_at}", file=sys.stderr)
            return 1
        # What the database says, not what was asked.
        after = await schema_revision(db)
        head = " (head)" if migrate.is_head(after.current) else ""
        print(f"database at {url} is now at {after.current_text}{head}")
        return 0 if set(after.current) == set(target) else 1

    return _run_with_db(settings, run)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def cmd_status(settings: Settings, _: argparse.Namespace) -> int:
    from gql_progress.db.status import DatabaseStatus, database_status

    url = _safe_url(settings)
    try:
        status: DatabaseStatus = _run_with_db(settings, database_status)
    except Exception as exc:
        print(f"database  {url}")
        print(f"gql-progress: cannot read the database: {_first_line(exc)}", file=sys.stderr)
        return 1
    revision = status.revision
    if revision.up_to_date:
        state = "up to date"
    elif revision.behind:
        state = "behind: run gql-progress migrate"
    else:
        state = "unknown to this version"
    print(f"database  {url}")
    print(f"revision  {revision.current_text} (expected {revision.expected_text}: {state})")

    def count(value: int | None) -> str:
        return "-" if value is None else str(value)

    print(f"users     {count(status.users)}")
    print(f"courses   {count(status.courses)}")
    print(f"progress  {count(status.progress_rows)} lesson progress rows")
    return 0 if revision.up_to_date else 1


def cmd_seed_demo(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.demo import DEMO_CERTIFICATE_CODE, seed_demo

    if settings.production and not args.force:
        print("refusing to load demo data in production mode (use --force)", file=sys.stderr)
        return 2
    keys = _run_with_db(settings, seed_demo)
    print("Demo data is loaded. API keys (shown once; each run issues new ones):")
    print(f"  admin   (admin@example.com):   {keys.admin.secret}")
    print(f"  learner (learner@example.com): {keys.learner.secret}")
    print(f"  instructor (instructor@example.com, teaches intro-to-sql): {keys.instructor.secret}")
    print(f'Certificate to verify (no key needed): verifyCertificate(code: "{DEMO_CERTIFICATE_CODE}")')
    if not settings.production:  # which serves no GraphiQL
        from gql_progress.graphiql.page import graphiql_link

        # The key rides in the link's fragment, which the browser keeps to itself.
        print("GraphiQL as the learner (for another key, replace the part after #key=):")
        print(f"  {graphiql_link(settings.host, settings.port, keys.learner.secret)}")
    if settings.insights_in_effect:
        from gql_progress.insights.page import insights_link

        print("Insights (charts of intro-to-sql's analytics) as the instructor:")
        print(f"  {insights_link(settings.host, settings.port, keys.instructor.secret)}")
    return 0


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.db.models import UserRole
    from gql_progress.domain.catalog import create_user
    from gql_progress.domain.errors import DomainError, InvalidInput

    values = {
        "external_id": args.external_id,
        "email": args.email,
        "name": args.name,
        "role": UserRole(args.role),
    }
    try:
        row = _run_with_db(settings, lambda db: create_user(db, values))
    except InvalidInput as exc:
        details = "; ".join(f"{'.'.join(p.path)} {p.message}" for p in exc.problems)
        print(f"error: {details}", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"created user {row.email} (external id {row.external_id}, role {row.role})")
    return 0


def _api_key_command(settings: Settings, action: Callable[..., Awaitable[T]]) -> T | None:
    from gql_progress.domain.errors import DomainError, InvalidInput

    try:
        return _run_with_db(settings, action)
    except InvalidInput as exc:
        details = "; ".join(f"{'.'.join(p.path)} {p.message}" for p in exc.problems)
        print(f"error: {details}", file=sys.stderr)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
    return None


def cmd_create_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.auth.commands import create_key

    secret = _api_key_command(settings, lambda db: create_key(db, args.user, args.label, args.scope))
    if secret is None:
        return 1
    print(secret)
    print("Store it now: it is not shown again.", file=sys.stderr)
    return 0


def cmd_list_api_keys(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.auth.commands import list_keys

    lines = _api_key_command(settings, lambda db: list_keys(db, args.user, args.include_revoked))
    if lines is None:
        return 1
    print("\n".join(lines))
    return 0


def cmd_revoke_api_key(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.auth.commands import revoke_key
    from gql_progress.auth.credential_cache import CHANNEL
    from gql_progress.auth.credential_sync import confirmed_revocations
    from gql_progress.db.engine import Database
    from gql_progress.db.listener import asyncpg_dsn

    async def revoke(db: Database) -> str:
        if settings.is_sqlite:
            return await revoke_key(db, args.key)
        # Answered once every running server's key cache dropped the key, as the API answers.
        listen_dsn = asyncpg_dsn(settings.listen_url_in_effect)
        async with confirmed_revocations(db, CHANNEL, listen_dsn):
            return await revoke_key(db, args.key)

    done = _api_key_command(settings, revoke)
    if done is None:
        return 1
    print(done)
    return 0


def cmd_deliver(settings: Settings, args: argparse.Namespace) -> int:
    from gql_progress.db.engine import Database
    from gql_progress.webhooks.worker import DrainReport, WebhookWorker, WorkerConfig

    async def deliver(db: Database) -> DrainReport | None:
        worker = WebhookWorker(db, WorkerConfig.from_settings(settings))
        if args.once:
            return await worker.drain()
        # SIGTERM (a service manager stopping us) finishes the attempts in flight first.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, worker.stop)
        await worker.run()
        return None

    if not args.once:
        from gql_progress.logs import configure_logging

        configure_logging(settings.log_level, settings.log_format_in_effect)
    try:
        report = _run_with_db(settings, deliver)
    except KeyboardInterrupt:
        return 130
    if report is not None:
        print(f"delivered {report.delivered}, retrying later {report.retrying}, failed {report.failed}")
    return 0


def cmd_export_schema(_: Settings, args: argparse.Namespace) -> int:
    from gql_progress.api.schema import build_graphql_schema

    return _export(Path(args.path), build_graphql_schema().as_str() + "\n", args.check, "export-schema")


def cmd_export_possible_types(_: Settings, args: argparse.Namespace) -> int:
    from gql_progress.api.possible_types import possible_types_json
    from gql_progress.api.schema import build_graphql_schema

    text = possible_types_json(build_graphql_schema().as_str())
    return _export(Path(args.path), text, args.check, "export-possible-types")


def _export(path: Path, text: str, check: bool, command: str) -> int:
    """Write ``text`` to ``path`` or, with ``check``, fail unless the file already holds it."""
    if check:
        current = path.read_text() if path.exists() else ""
        if current != text:
            print(f"{path} is out of date with the code; run: gql-progress {command}", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gql-progress", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="overrides GQL_PROGRESS_HOST")
    serve.add_argument("--port", type=int, help="overrides GQL_PROGRESS_PORT")
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser(
        "migrate", help="upgrade the database to a revision (default: head), printing each step"
    )
    migrate.add_argument("revision", nargs="?", default="head", help="head, base or a revision id")
    migrate.add_argument(
        "--downgrade", action="store_true", help="allow going down to an older revision (drops data)"
    )
    migrate.set_defaults(handler=cmd_migrate)

    status = commands.add_parser(
        "status", help="the database, its revision against the expected one, and row counts"
    )
    status.set_defaults(handler=cmd_status)

    seed = commands.add_parser("seed-demo", help="load demo data and print demo API keys")
    seed.add_argument("--force", action="store_true", help="allow in production mode")
    seed.set_defaults(handler=cmd_seed_demo)

    user = commands.add_parser("create-user", help="create a user")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--external-id", required=True)
    user.add_argument("--role", choices=["LEARNER", "INSTRUCTOR", "ADMIN"], default="LEARNER")
    user.set_defaults(handler=cmd_create_user)

    key = commands.add_parser("create-api-key", help="create an API key for a user; prints it once")
    key.add_argument("--user", required=True, help="the user's email or external id")
    key.add_argument("--label", default="", help="a note on what the key is for")
    key.add_argument(
        "--scope",
        action="append",
        choices=["progress:read", "progress:write", "admin"],
        help="what the key may do (repeat for several); default: all that the user's role allows",
    )
    key.set_defaults(handler=cmd_create_api_key)

    keys = commands.add_parser("list-api-keys", help="list API keys (never their secrets)")
    keys.add_argument("--user", help="only this user's keys (email or external id)")
    keys.add_argument("--include-revoked", action="store_true", help="list revoked keys too")
    keys.set_defaults(handler=cmd_list_api_keys)

    revoke = commands.add_parser("revoke-api-key", help="revoke an API key; it is refused at once")
    revoke.add_argument("key", help="the key's id, as list-api-keys shows it, or its global id")
    revoke.set_defaults(handler=cmd_revoke_api_key)

    deliver = commands.add_parser(
        "deliver", help="deliver webhooks (as the server does unless GQL_PROGRESS_WEBHOOKS_ENABLED=false)"
    )
    deliver.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    deliver.set_defaults(handler=cmd_deliver)

    from gql_progress.transfer.commands import add_export_parser, add_import_parser

    add_import_parser(commands)
    add_export_parser(commands)

    export = commands.add_parser("export-schema", help="write schema.graphql from the code")
    export.add_argument("--check", action="store_true", help="fail if the file is stale")
    export.add_argument("--path", default=str(DEFAULT_SCHEMA_PATH))
    export.set_defaults(handler=cmd_export_schema)

    possible = commands.add_parser(
        "export-possible-types",
        help="write possible-types.json, the interfaces' and unions' members for client caches",
    )
    possible.add_argument("--check", action="store_true", help="fail if the file is stale")
    possible.add_argument("--path", default=str(DEFAULT_POSSIBLE_TYPES_PATH))
    possible.set_defaults(handler=cmd_export_possible_types)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"gql-progress: {exc}", file=sys.stderr)
        return 2
    result: int = args.handler(settings, args)
    return result
