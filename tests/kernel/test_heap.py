"""``heap.settle``: a long-running process's start-up objects are frozen, and what it makes
afterwards is still collected, its young generation less often (run in a child process: freezing the test process would change
every later test)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc, weakref
from parvis.kernel import heap
heap.settle()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: only the collector frees it
alive = weakref.ref(a)
del a, b
gc.collect()
assert alive() is None, "a cycle made after settle() was not collected"
print("ok")
"""


def test_settle_freezes_the_start_up_heap_and_later_garbage_is_still_collected() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
