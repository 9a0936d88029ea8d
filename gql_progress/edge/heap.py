"""The garbage collector, for a server whose start-up builds a large heap that lives for ever.

After start-up a process holds ~190,000 tracked objects (the GraphQL schema, SQLAlchemy's
tables, the modules). A full collection walks all of them: 50-400 ms during which the process
answers nobody, which was most of the p99 latency (bench/RESULTS.md, ladder step 13). Frozen,
they are skipped by every later collection; cyclic garbage among them is never freed, which is
why only what start-up built is frozen, once per process.

The process-wide flag below is state on purpose: the collector itself is process-wide, and a test
process builds many apps, of which only the first one's start-up is frozen.
"""

from __future__ import annotations

import gc

# Young objects before a collection (CPython's default is 700): a request allocates thousands,
# and each young collection costs a few microseconds however little it finds.
YOUNG_THRESHOLD = 10_000

_frozen = False


def freeze_startup_heap() -> None:
    """Collect once, then keep what is left out of every later collection (once per process)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
