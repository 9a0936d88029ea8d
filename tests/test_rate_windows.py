"""The in-process moving windows (gql_progress/edge/rate_windows.py) against `limits`' own MemoryStorage:
the same admissions and the same window counts for any sequence of operations, and idle keys swept."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits.aio.storage import MemoryStorage

from gql_progress.edge.rate_windows import SWEEP_INTERVAL_SECONDS, LocalWindows

LIMIT, WINDOW = 5, 60

# (key, cost, seconds to let pass before the operation)
operations = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 7), st.sampled_from([0, 0, 1, 7, 30, 59, 60, 61])),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(operations)
async def test_admissions_and_windows_are_those_of_limits_memory_storage(
    steps: list[tuple[str, int, int]],
) -> None:
    clock = [1_000_000.0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: clock[0])
        ours, reference = LocalWindows(), MemoryStorage()
        for key, cost, wait in steps:
            clock[0] += wait
            admitted = await ours.acquire_entry(key, LIMIT, WINDOW, amount=cost)
            expected = await reference.acquire_entry(key, LIMIT, WINDOW, amount=cost)
            assert admitted == expected
            start, counted = await ours.get_moving_window(key, LIMIT, WINDOW)
            reference_start, reference_counted = await reference.get_moving_window(key, LIMIT, WINDOW)
            assert counted == reference_counted
            # With nothing counted, `limits` answers the time of some expired operation (or now):
            # ours says now, so RateLimit-Reset is a whole window, as for a key never used.
            assert start == (reference_start if counted else clock[0])


async def test_idle_keys_are_swept_once_their_window_has_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    windows = LocalWindows()
    for i in range(1000):
        await windows.acquire_entry(f"key{i}", LIMIT, WINDOW)
    assert len(windows) == 1000

    clock[0] += max(WINDOW, SWEEP_INTERVAL_SECONDS) + 1
    await windows.acquire_entry("active", LIMIT, WINDOW)

    assert len(windows) == 1
    assert await windows.get_moving_window("key1", LIMIT, WINDOW) == (clock[0], 0)
