"""The objects a long-running process starts with, set aside from the garbage collector.

Python's cyclic collector walks every tracked object of the generation it collects; the oldest
generation holds everything imported and built at start-up (a web process: ~250,000 objects:
modules, routes, templates, SQLAlchemy's mappings). Writes that allocate many objects (a batch
of a thousand sensor entities decodes a thousand JSON documents) trigger those full walks often:
they cost a batch upsert a third of its time. ``settle`` freezes what exists once the process is
ready (``gc.freeze``): those objects are never walked again; everything made afterwards is
collected as before. The collector's thresholds are left alone: collecting the youngest
generation every 20,000 allocations instead of 700 saved a batch 2-3 ms in-process, but server
runs under load did not show it. Called by the entry points of long-running processes (``parvis
serve``, ``worker``, ``sensors listen``), not by ``create_app``, so that tests building hundreds
of applications keep collecting them.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what start-up left as garbage, then freeze the rest (see the module's notes)."""
    gc.collect()
    gc.freeze()
