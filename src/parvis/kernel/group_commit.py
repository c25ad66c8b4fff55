"""Group commit: requests that write at the same moment share one transaction.

A web process answering many small writes at once (sensors updating an attribute each) spends
most of each write on what every transaction costs: the writer lock, the commit's ``fsync``,
the reactions' look-ups. ``GroupCommit`` queues the writes that arrive while a transaction is
running and hands them to the next one together. Each request still gets its own answer after
its transaction has committed (nothing is acknowledged before it is durable), and a write that
fails on its own (an entity that does not exist) fails alone: the write function returns its
error in its place instead of raising. An error of the transaction itself (the database gone)
fails every write of that group.

A lone request waits for nothing: the first write of a quiet moment starts its transaction at
once; only writes arriving during a transaction are grouped, and one transaction runs at a time
per event loop, on PostgreSQL too: two side by side (tried) made smaller groups (3.4 writes a
commit against 4.4), and each group's fixed statements cost more CPU than the waits they
overlapped (``docs/sensors-write-performance.md``).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio.to_thread

T = TypeVar("T")
R = TypeVar("R")


class _Queue(Generic[T, R]):
    def __init__(self) -> None:
        self.items: list[tuple[T, asyncio.Future[R]]] = []
        self.running = False  # a transaction of this queue is under way
        self.tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references


class GroupCommit(Generic[T, R]):
    """``await group(item)``: ``write(items)`` runs in a worker thread on the writes queued
    together (at most ``most``) and returns one result per item, in order, or an exception in
    the place of an item that failed; that exception is raised to its caller."""

    def __init__(self, write: Callable[[list[T]], list[R | BaseException]], most: int = 200) -> None:
        self.write = write
        self.most = most
        # one queue per event loop (each web process has one; tests may start several)
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[T, R]] = (
            weakref.WeakKeyDictionary())

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[R] = loop.create_future()
        queue.items.append((item, future))
        if not queue.running:
            queue.running = True
            task = loop.create_task(self._drain(queue))
            queue.tasks.add(task)
            task.add_done_callback(queue.tasks.discard)
        return await future

    async def _drain(self, queue: _Queue[T, R]) -> None:
        try:
            while queue.items:
                group, queue.items = queue.items[:self.most], queue.items[self.most:]
                try:
                    results = await anyio.to_thread.run_sync(self.write, [item for item, _f in group])
                    if len(results) != len(group):
                        raise RuntimeError(f"{len(results)} results for {len(group)} writes")
                except BaseException as exc:  # the transaction failed: so did each of its writes
                    for _item, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_item, future), result in zip(group, results, strict=False):
                    if future.done():  # its request was cancelled (the client went away)
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            queue.running = False
