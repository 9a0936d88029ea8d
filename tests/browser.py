"""Headless Chromium (Debian's package) driven over the DevTools protocol, with the network closed
except 127.0.0.1.

The protocol is JSON over a WebSocket, spoken here with the websockets client the subscription
tests already use: no browser-automation package, and no browser download besides apt's.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import websockets

WAIT_SECONDS = 15.0  # for what must happen; a passing test never waits this long

FLAGS = (
    "--headless",
    "--no-sandbox",  # as root in CI containers
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers' /dev/shm is often 64 MB
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,900",
    # No name resolves, and whatever bypasses the resolver meets a proxy nobody listens on: the
    # page gets only what this machine's server gives it.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def chromium_executable() -> str:
    """Debian's chromium, installed with apt when missing and running as root; otherwise the test
    is skipped (or fails, in CI)."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, env=env, capture_output=True, timeout=900).returncode != 0:
            # A fresh container has no package lists yet.
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=300)
            subprocess.run(install, env=env, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        if _ci():
            pytest.fail(
                "CI=true but chromium is missing and could not be installed (apt-get install chromium)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium, as root)")
    return found


class Page:
    """One tab, attached with a flat session: commands, and the events seen so far."""

    def __init__(self, browser: Browser, session_id: str) -> None:
        self._session_id = session_id
        self._browser = browser

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for event in self._browser.events if event.get("sessionId") == self._session_id]

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        return await self._browser.send(method, session_id=self._session_id, **params)

    async def evaluate(self, expression: str) -> Any:
        """The expression's value (JSON-able); a thrown exception fails the test."""
        reply = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            raise AssertionError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def until(self, expression: str, what: str, within: float = WAIT_SECONDS) -> Any:
        """The expression's first truthy value, polled."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        text = await self.evaluate("document.body && document.body.innerText")
        raise AssertionError(f"waited {within} s for {what}; the page shows:\n{text}")


class Browser:
    def __init__(self, socket: websockets.ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._socket:
            message = json.loads(raw)
            waiting = self._waiting.pop(message["id"], None) if "id" in message else None
            if waiting is None:
                self.events.append(message)
            elif "error" in message:
                waiting.set_exception(AssertionError(f"DevTools: {message['error']}"))
            else:
                waiting.set_result(message.get("result", {}))

    async def send(self, method: str, *, session_id: str | None = None, **params: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params}
        if session_id is not None:
            message["sessionId"] = session_id
        reply = asyncio.get_running_loop().create_future()
        self._waiting[message["id"]] = reply
        await self._socket.send(json.dumps(message))
        return await asyncio.wait_for(reply, WAIT_SECONDS)

    async def new_page(self) -> Page:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        page = Page(self, attached["sessionId"])
        for domain in ("Page", "Runtime", "Network", "Log"):
            await page.send(f"{domain}.enable")
        return page

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Browser]:
    """A headless Chromium with a throw-away profile; killed when the block ends."""
    with tempfile.TemporaryDirectory() as profile, tempfile.TemporaryFile() as log:
        process = await asyncio.create_subprocess_exec(
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",  # any free port, written to DevToolsActivePort
            "about:blank",
            stdout=log,
            stderr=log,
            # Its own process group: the renderer and helper processes end with it.
            start_new_session=True,
        )
        try:
            endpoint = await _devtools_endpoint(Path(profile) / "DevToolsActivePort", process, log)
            async with websockets.connect(endpoint, max_size=None) as socket:
                browser = Browser(socket)
                try:
                    yield browser
                finally:
                    await browser.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def _devtools_endpoint(path: Path, process: asyncio.subprocess.Process, log: Any) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.returncode is not None:
            break
        endpoint = _written_endpoint(path)
        if endpoint is not None:
            return endpoint
        await asyncio.sleep(0.05)
    log.seek(0)
    raise AssertionError(f"chromium did not start:\n{log.read().decode(errors='replace')}")


def _written_endpoint(path: Path) -> str | None:
    """Chromium writes its DevTools port and browser path there once it listens."""
    lines = path.read_text().splitlines() if path.exists() else []
    return f"ws://127.0.0.1:{lines[0]}{lines[1]}" if len(lines) >= 2 else None
