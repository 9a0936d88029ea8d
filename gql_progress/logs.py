"""Logging: the per-request id that ties a client's error to the server's log line, and the
two formats, JSON lines for a log pipeline and text for a terminal.

What never reaches a log: API keys and other bearer tokens, request bodies and variables (they
can hold learners' notes), and the values SQL statements bind (the engine hides them from its
error messages). The access-log record of each GraphQL request (observability.py) carries the
caller's ids, never their secret.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

from gql_progress.settings import LogFormat

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# Accept a caller's id (a proxy or platform backend correlating its own logs) only if it is tame.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s] %(message)s"


def new_request_id(incoming: str | None) -> str:
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return secrets.token_hex(16)  # as uuid4().hex reads, less building a UUID


def install_request_id_on_records() -> None:
    """Every log record carries ``request_id``, whichever handler or formatter shows it.

    A record factory rather than a handler filter: records reach handlers we do not own
    (uvicorn's, an operator's dictConfig, test capture), and all of them can print the id.
    """
    previous = logging.getLogRecordFactory()
    if not isinstance(previous, _RequestIdFactory):
        logging.setLogRecordFactory(_RequestIdFactory(previous))


class _RequestIdFactory:
    """A record factory that adds the request id to what ``previous`` makes (once: installing it
    again keeps the one in place)."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record


# What every LogRecord has; anything else on a record came from ``extra=`` and is a field of its
# JSON line. uvicorn adds color_message (its message with terminal colours) to its own records.
_RECORD_ATTRIBUTES = frozenset(
    [*vars(logging.LogRecord("", 0, "", 0, "", None, None)), "message", "asctime", "taskName"]
) | {"request_id", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: timestamp, level, logger, message, request_id, the record's extra
    fields, and ``exception`` (the formatted traceback) when it has one."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id in (None, "-") else request_id,
            "pid": record.process,  # which worker of `serve --workers N`
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra field orjson cannot encode is shown, not a reason to lose the line.
        return orjson.dumps(entry, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


class TextFormatter(logging.Formatter):
    """A line for a terminal; records made before the request-id factory was installed (uvicorn's
    first lines in a worker) show "-" instead of failing to format."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT, defaults={"request_id": "-"})


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format is LogFormat.JSON else TextFormatter()


def logging_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the server: every logger (ours, uvicorn's) through one
    handler on stderr in the chosen format. Given to uvicorn as its ``log_config``, which applies
    it in each worker process: a configuration made in the parent does not reach workers that
    ``--workers`` starts, and their records would otherwise fall through to Python's bare
    last-resort handler."""
    formatter_class = JsonFormatter if log_format is LogFormat.JSON else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{__name__}.{formatter_class.__name__}"}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": level},
        # uvicorn's loggers keep no handlers of their own and pass their records to the root's.
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            **{name: {"level": capped} for name, capped in _capped_levels(level).items()},
        },
    }


# Loggers that print what statements bind or return (aiosqlite's DEBUG lines show each call's
# parameters; SQLAlchemy's INFO and DEBUG ones, with echo, the SQL and the rows): never below
# WARNING, whatever GQL_PROGRESS_LOG_LEVEL says. The access log counts a request's statements.
_DATA_LOGGERS = ("sqlalchemy", "aiosqlite", "asyncpg")


def _capped_levels(level: str) -> dict[str, str]:
    capped = max(logging.getLevelName(level), logging.WARNING)
    return {name: logging.getLevelName(capped) for name in _DATA_LOGGERS}


def configure_logging(level: str, log_format: LogFormat = LogFormat.TEXT) -> None:
    """This process's logging (commands that run no uvicorn workers: ``deliver``)."""
    install_request_id_on_records()
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, capped in _capped_levels(level).items():
        logging.getLogger(name).setLevel(capped)
