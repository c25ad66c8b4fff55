"""SQLite checkpoints happen beside the writers, not inside their commits."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import text

from parvis.kernel.checkpointer import AUTOCHECKPOINT_PAGES, checkpointer
from parvis.kernel.db import Database


def _rounds_later(n: int, timeout: float = 10.0) -> None:
    target = checkpointer.rounds + n
    deadline = time.monotonic() + timeout
    while checkpointer.rounds < target and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.rounds >= target, "the checkpointer did not run"


def test_a_large_commit_is_copied_into_the_database_file_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "city.db"
    db = Database(f"sqlite:///{path}")
    try:
        with db.transaction() as session:
            session.execute(text("CREATE TABLE readings (body BLOB)"))
        with db.transaction() as session:
            assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == AUTOCHECKPOINT_PAGES
            # ~2,000 pages: twice SQLite's default threshold, at which the commit itself would copy them
            session.execute(text("INSERT INTO readings VALUES (:b)"), {"b": os.urandom(8 * 1024 * 1024)})
        assert path.stat().st_size < 1024 * 1024  # the commit left its pages in the log
        deadline = time.monotonic() + 15
        while path.stat().st_size <= 8 * 1024 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert path.stat().st_size > 8 * 1024 * 1024  # the checkpointer copied them, no commit did
        with db.read() as session:
            assert session.execute(text("SELECT length(body) FROM readings")).scalar() == 8 * 1024 * 1024
    finally:
        db.dispose()


def test_a_database_removed_from_disk_is_not_created_again(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    db = Database(f"sqlite:///{path}")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE t (x)"))
    db.engine.dispose()  # the tests' way of losing a database: its folder is removed, not disposed
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    _rounds_later(1)  # the round that finds it gone, and forgets it
    time.sleep(0.6)
    assert not path.exists()
    db.dispose()


class _Owner:
    pass


def _add_in_child(path: str) -> None:
    checkpointer.add(_Owner(), path)  # the child's own database, as a forked worker's would be


def test_a_process_forked_while_the_checkpointer_looks_at_its_databases_can_open_one(tmp_path: Path) -> None:
    """A fork can land while the checkpointer's thread holds its lock (every 0.25 s it does):
    the child, which has no such thread, must not wait on that lock for ever."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    with checkpointer._lock:  # the thread's moment, made certain
        child = context.Process(target=_add_in_child, args=(str(tmp_path / "child.db"),))
        child.start()
    child.join(10)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and child.exitcode == 0
