"""Where rate-limit windows are counted: this process's memory, or Redis through `limits`.

Both answer the two questions of a moving window (``limits``' MovingWindowSupport interface):
admit ``amount`` more operations if they fit in the last ``expiry`` seconds, and how many the
window holds since when.

In memory we keep our own store. ``limits``' async MemoryStorage (5.8) schedules an expiry pass
after every hit that walks every key with an ``asyncio.to_thread`` hop each: with ten thousand
learners' keys that is a thread round trip per key, again and again, about a quarter of the CPU
of a cheap request (cProfile of `python -m bench.cpu`, Q0). Here a key's entries are trimmed
when the key is used, and keys whose whole window has passed are dropped in one synchronous
sweep at most once a minute. Everything runs on the event loop without awaiting, so each
operation is atomic.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from typing import Protocol

# How often idle keys are swept away (seconds).
SWEEP_INTERVAL_SECONDS = 60.0


class WindowStore(Protocol):
    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool: ...

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]: ...


class LocalWindows:
    """Moving windows in this process: per key, the times of the operations still counted."""

    def __init__(self) -> None:
        self._entries: dict[str, deque[float]] = {}
        self._expiries: dict[str, int] = {}
        self._next_sweep = time.time() + SWEEP_INTERVAL_SECONDS

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        self._sweep(now)
        entries = self._entries.get(key)
        if entries is None:
            entries = self._entries[key] = deque()
        self._expiries[key] = expiry
        cutoff = now - expiry
        # An operation exactly `expiry` old still counts here, as in `limits` (its window
        # count below, like `limits`', does not count it).
        while entries and entries[0] < cutoff:
            entries.popleft()
        if len(entries) + amount > limit:
            return False
        entries.extend([now] * amount)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the oldest counted operation's time, how many are counted); (now, 0) when none."""
        now = time.time()
        entries = self._entries.get(key)
        if not entries:
            return now, 0
        first = bisect.bisect_right(entries, now - expiry)
        counted = len(entries) - first
        return (entries[first], counted) if counted else (now, 0)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL_SECONDS
        idle = [
            k for k, entries in self._entries.items() if not entries or entries[-1] < now - self._expiries[k]
        ]
        for key in idle:
            del self._entries[key]
            del self._expiries[key]

    def __len__(self) -> int:
        return len(self._entries)
