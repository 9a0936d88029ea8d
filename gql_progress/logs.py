"""Logging set-up and the per-request id that ties a client's error to the server's log line."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

# Accept a caller's id (a proxy or platform backend correlating its own logs) only if it is tame.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id(incoming: str | None) -> str:
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def install_request_id_on_records() -> None:
    """Every log record carries ``request_id``, whichever handler or formatter shows it.

    A record factory rather than a handler filter: records reach handlers we do not own
    (uvicorn's, an operator's dictConfig, test capture), and all of them can print the id.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_adds_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    factory._adds_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(level: str) -> None:
    install_request_id_on_records()
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [request_id=%(request_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
