"""How far an import or export is: a progress bar with rows/s on a terminal, plain log lines
(one every few seconds, and one per file at the end) anywhere else, such as a CI log."""

from __future__ import annotations

import time
from typing import TextIO

_WIDTH = 28


class Meter:
    def __init__(
        self, stream: TextIO, *, interactive: bool | None = None, every_seconds: float = 5.0
    ) -> None:
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self.every = every_seconds
        self.label = ""
        self.total: int | None = None
        self.rows = 0
        self.position = 0
        self.started = self.shown = time.monotonic()

    def start(self, label: str, total: int | None = None) -> None:
        """A new file: ``total`` is its size (the bar's 100%), when known."""
        self.label, self.total = label, total
        self.rows = self.position = 0
        self.started = self.shown = time.monotonic()

    def advance(self, rows: int, position: int | None = None) -> None:
        self.rows += rows
        if position is not None:
            self.position = position
        now = time.monotonic()
        if now - self.shown >= (0.1 if self.interactive else self.every):
            self.shown = now
            self._show(final=False)

    def finish(self, note: str = "") -> float:
        """End the file's line; returns its rows per second."""
        self._show(final=True, note=note)
        return self.rate

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.rows / elapsed if elapsed > 0 else 0.0

    def _show(self, *, final: bool, note: str = "") -> None:
        counts = f"{self.rows:,} rows  {self.rate:,.0f} rows/s"
        if note:
            counts += f"  {note}"
        if not self.interactive:
            self.stream.write(f"{self.label}: {counts}{' (done)' if final else ''}\n")
        else:
            fraction = 1.0 if final or not self.total else min(self.position / self.total, 1.0)
            filled = int(fraction * _WIDTH)
            bar = "#" * filled + "." * (_WIDTH - filled)
            self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%}  {counts}\x1b[K")
            if final:
                self.stream.write("\n")
        self.stream.flush()
