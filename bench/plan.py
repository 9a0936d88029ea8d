"""What gets measured, in which order, for how long.

The issue asks for warm-up + 3 × 15 s for every operation at concurrency 32 and 64, which is
7 operations × 2 concurrencies (+ the floor's 4 and PostGraphile's 8) × 50 s ≈ 20 minutes: over
the 10-minute budget. So the default plan keeps warm-up + 3 × 15 s (median reported) for the rows
the targets are about — Q1, M1 and MIX at c32, the floor's Q1 and M1 and PostGraphile's Q1 at
c32 — and runs everything else once for 10 s after a 3 s warm-up. ``--all-full`` runs the
issue's full plan; ``--quick`` one 5 s run of each (smoke test).
"""

from __future__ import annotations

from dataclasses import dataclass

GQL = "gql_progress"
FLOOR = "floor"
PEER = "PostGraphile"

# Per concurrency, in this order: reads first, then writes (M1/M2 change the data), the floor
# and PostGraphile right after gql_progress on the same operation so all see the same data.
ORDER: tuple[tuple[str, str], ...] = (
    (GQL, "Q0"),
    (PEER, "Q0"),
    (GQL, "Q1"),
    (PEER, "Q1"),
    (FLOOR, "Q1"),
    (GQL, "Q2"),
    (PEER, "Q2"),
    (GQL, "Q3"),
    (PEER, "Q3"),
    (GQL, "MIX"),
    (GQL, "M1"),
    (FLOOR, "M1"),
    (GQL, "M2"),
)
CONCURRENCIES = (32, 64)
FULL_ROWS = {
    (GQL, "Q1", 32),
    (GQL, "M1", 32),
    (GQL, "MIX", 32),
    (FLOOR, "Q1", 32),
    (FLOOR, "M1", 32),
    (PEER, "Q1", 32),
}


@dataclass(frozen=True)
class Step:
    server: str
    operation: str
    connections: int
    warmup_s: int
    runs: int
    run_s: int

    @property
    def seconds(self) -> int:
        return self.warmup_s + self.runs * self.run_s

    def label(self) -> str:
        return f"{self.runs}×{self.run_s}s" if self.runs > 1 else f"1×{self.run_s}s"


@dataclass(frozen=True)
class Timing:
    warmup_s: int
    runs: int
    run_s: int


FULL = Timing(warmup_s=5, runs=3, run_s=15)
SHORT = Timing(warmup_s=3, runs=1, run_s=10)
QUICK = Timing(warmup_s=1, runs=1, run_s=5)


def build(
    *,
    quick: bool = False,
    all_full: bool = False,
    operations: set[str] | None = None,
    concurrencies: tuple[int, ...] = CONCURRENCIES,
    peer: bool = True,
) -> list[Step]:
    steps = []
    for connections in concurrencies:
        for server, operation in ORDER:
            if operations is not None and operation not in operations:
                continue
            if server == PEER and not peer:
                continue
            if quick:
                timing = QUICK
            elif all_full or (server, operation, connections) in FULL_ROWS:
                timing = FULL
            else:
                timing = SHORT
            steps.append(Step(server, operation, connections, timing.warmup_s, timing.runs, timing.run_s))
    return steps


def describe(quick: bool, all_full: bool) -> str:
    if quick:
        return f"quick smoke run: every row warm-up {QUICK.warmup_s} s + 1 × {QUICK.run_s} s"
    full = f"warm-up {FULL.warmup_s} s + {FULL.runs} × {FULL.run_s} s, median run reported"
    if all_full:
        return f"every row {full}"
    return (
        f"Q1, M1, MIX at c32 (gql_progress, floor, PostGraphile): {full}; every other row warm-up "
        f"{SHORT.warmup_s} s + 1 × {SHORT.run_s} s (fewer, shorter runs to stay under 10 minutes)"
    )
