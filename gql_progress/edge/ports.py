"""Whether the server can listen where it is told to, said in one line before uvicorn tries (its
own refusal is a traceback ending in make's "Error 3")."""

from __future__ import annotations

import errno
import socket

# Where to look for a free port to suggest instead of a busy one.
_SUGGESTION_RANGE = 50


def listen_problem(host: str, port: int) -> str | None:
    """None when host:port can be bound now, else what is wrong and what to run instead.

    Another program may still take the port between this test and uvicorn's bind; then
    uvicorn's own error is shown.
    """
    refused = _bind(host, port)
    if refused is None:
        return None
    if refused.errno != errno.EADDRINUSE:
        return f"cannot listen on {host}:{port}: {refused.strerror or refused}"
    candidates = range(port + 1, min(port + _SUGGESTION_RANGE, 65536))
    other = next((p for p in candidates if _bind(host, p) is None), 8080)
    return (
        f"port {port} is in use on {host}: pick another, e.g. PORT={other} make run (or serve --port {other})"
    )


def _bind(host: str, port: int) -> OSError | None:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as sock:
            # As uvicorn (asyncio) binds: a port whose closed connections linger is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        return exc
    return None
