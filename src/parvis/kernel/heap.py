"""The objects a long-running process starts with, set aside from the garbage collector.

Python's cyclic collector walks every tracked object of the generation it collects; the oldest
generation holds everything imported and built at start-up (a web process: ~250,000 objects:
modules, routes, templates, SQLAlchemy's mappings). Writes that allocate many objects (a batch
of a thousand sensor entities decodes a thousand JSON documents) trigger those full walks often:
they cost a batch upsert a third of its time. ``settle`` freezes what exists once the process is
ready (``gc.freeze``): those objects are never walked again; everything made afterwards is
collected as before, the youngest generation every ``YOUNG_THRESHOLD`` allocations rather than
700. A batch of 1,000 entities makes tens of thousands of objects, nearly all of them freed
together when it is answered: at 700, dozens of collections a batch walked them while they were
still in use, on SQLite inside the one writer lock. Measured with `bench/ngsi.py`'s batches on
SQLite (alternated runs, 2026-11-30): 56,232-57,248 entity updates/s against 46,818-49,992
(earlier, while the lock was held ~35 ms a batch rather than ~20, the same change showed nothing
in servers). A collection of the young generation then walks at most that many objects (about a
millisecond). Called by the entry points of long-running processes (``parvis serve``,
``worker``, ``sensors listen``), not by ``create_app``, so that tests building hundreds of
applications keep collecting them as Python does by default.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations (less deallocations) between collections of the young generation


def settle() -> None:
    """Collect what start-up left as garbage, freeze the rest, and collect the young generation
    less often (see the module's notes)."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
