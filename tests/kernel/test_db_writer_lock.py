"""SQLite writers of several processes (web workers, ``parvis worker``) queue on one lock."""

from __future__ import annotations

import multiprocessing
import time

from sqlalchemy import text

from parvis.kernel.db import Database, WriterLock


def _hold(lock: WriterLock, held, release) -> None:  # runs in a forked child, with the parent's lock
    with lock:
        held.set()
        release.wait(5)


def test_a_writer_of_another_process_waits_for_the_lock(tmp_path):
    path = str(tmp_path / "parvis.db.writer-lock")
    mine = WriterLock(path)
    with mine:  # opened before the fork: the child must not share this open file
        pass
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    child = context.Process(target=_hold, args=(mine, held, release))
    child.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        context.Process(target=lambda: (time.sleep(0.4), release.set())).start()
        with mine:
            waited = time.monotonic() - started
        assert waited >= 0.3, "the lock did not keep a writer of another process out"
    finally:
        release.set()
        child.join(10)
        mine.close()


def _write(url: str, start, count: int) -> None:
    db = Database(url)
    start.wait(10)
    for n in range(count):
        with db.transaction() as session:
            session.execute(text("INSERT INTO t (who) VALUES (:who)"), {"who": n})
    db.dispose()


def test_processes_writing_at_once_all_commit_without_busy_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'parvis.db'}"
    db = Database(url)
    with db.transaction() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who INTEGER)"))
    # spawned, not forked: a fork copies whatever threads of this worker hold (a browser test's
    # Playwright driver ran beside it once and the children hung); the writers share only the file
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_write, args=(url, start, 200)) for _ in range(3)]
    for w in writers:
        w.start()
    start.set()
    for w in writers:
        w.join(60)
    assert [w.exitcode for w in writers] == [0, 0, 0]
    with db.read() as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 600
    assert (tmp_path / "parvis.db.writer-lock").exists()
    db.dispose()
