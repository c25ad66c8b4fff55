"""SQLite WAL checkpoints, off the writers' path.

In WAL mode every commit appends the pages it changed to the write-ahead log; a *checkpoint*
copies them back into the database file. By default SQLite checkpoints inside the commit that
takes the log past 1,000 pages: that writer then copies and syncs the whole log while holding
the write lock, and a batch of a thousand sensor updates paid ~18 ms of its ~80 ms there, every
time, with every other writer waiting.

SQLite's documentation suggests the alternative used here: writers keep only a far larger
automatic threshold (``AUTOCHECKPOINT_PAGES``, the safety net), and one thread per process runs
a ``PASSIVE`` checkpoint every ``INTERVAL`` seconds. A passive checkpoint never blocks writers or
readers: it copies what no reader still needs and leaves the rest for the next round. Durability
is unchanged (a commit is durable once in the log, ``synchronous=FULL``); several processes
checkpointing the same file take turns on SQLite's own checkpoint lock.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref

log = logging.getLogger(__name__)

AUTOCHECKPOINT_PAGES = 16384  # 64 MB of 4 KB pages: only when the checkpointer falls behind
INTERVAL = 0.25  # seconds between passive checkpoints


class Checkpointer:
    """The databases of this process and the thread that checkpoints them.

    A database is held weakly (``add(owner, path)``): one that is disposed (``remove``) or
    forgotten by everyone is no longer checkpointed. Only the thread opens, uses and closes its
    connections: a database removed is closed there, on its next round, never under a
    checkpoint running on it."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._owners: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.rounds = 0  # rounds done (tests wait on it)
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        """In a forked child: none of the parent's threads are there, and a lock one of them held
        at the fork (the thread's own look at its databases) would stay held for ever."""
        self._lock = threading.Lock()
        self._thread = None

    def add(self, owner: object, path: str) -> None:
        with self._lock:
            self._owners[owner] = path
            alive = self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()
            if not alive:  # none yet, or a forked child (its parent's thread is not in it)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer", daemon=True)
                self._thread.start()

    def remove(self, owner: object) -> None:
        with self._lock:
            self._owners.pop(owner, None)

    def _paths(self) -> set[str] | None:
        """The paths to checkpoint; None (and the thread ends) when there are none."""
        with self._lock:
            paths = set(self._owners.values())
            if not paths:
                self._thread = None
                return None
            return paths

    def _run(self) -> None:
        connections: dict[str, sqlite3.Connection] = {}
        try:
            while True:
                time.sleep(self.interval)
                paths = self._paths()
                if paths is None:
                    return
                for path in list(connections):
                    if path not in paths:
                        connections.pop(path).close()
                for path in paths:
                    if not os.path.exists(f"{path}-wal"):  # not opened yet, or the database is gone
                        continue
                    try:
                        conn = connections.get(path)
                        if conn is None:
                            # mode=rw: a database removed meanwhile is not created again, empty
                            conn = connections[path] = sqlite3.connect(
                                f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=0)
                        # nothing to copy costs a read of the shared index: no need to skip idle logs
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    except sqlite3.Error as exc:  # busy, or the file is gone: try again next round
                        log.debug("checkpoint of %s skipped: %s", path, exc)
                self.rounds += 1
        finally:
            for conn in connections.values():
                conn.close()


checkpointer = Checkpointer()
