"""Python's cyclic garbage collector, where crisis-sim builds many long-lived objects at once
(loading a scenario, analysis, starting the app). Nothing here imports more than ``gc``, so the
app's start can use it before anything heavy is imported."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (restored after); used while a
    file is loaded, by ``scoring.analysis`` and while the app starts. Loading builds millions
    of small objects and no reference cycles (dicts, lists, text, marks); each time the
    allocations pile up the collector walks the whole growing heap, which cost about 40% of
    loading a 50,000-scene file. Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
