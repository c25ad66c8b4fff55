"""Group commit: writes arriving together share one call of the write function; each caller gets
its own result or its own error, and a failed call fails each of its writes."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from parvis.kernel.group_commit import GroupCommit


def run(coro: Any) -> Any:
    """``asyncio.run`` in a thread of its own: the browser tests may hold an event loop in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Recorder:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[list[int]] = []
        self.gate = gate

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(list(items))
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


def test_a_lone_write_runs_at_once_and_gets_its_result() -> None:
    write = Recorder()
    group = GroupCommit(write)
    assert run(group(4)) == 40
    assert write.calls == [[4]]


def test_writes_arriving_during_a_transaction_share_the_next_one() -> None:
    gate = threading.Event()
    write = Recorder(gate)
    group = GroupCommit(write)

    async def scenario() -> list[int | BaseException]:
        first = asyncio.ensure_future(group(0))
        await asyncio.sleep(0.05)  # the first write's transaction is running (held at the gate)
        others = [asyncio.ensure_future(group(i)) for i in (2, 3, 4)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(first, *others, return_exceptions=True)

    results = run(scenario())
    assert write.calls == [[0], [2, 3, 4]]
    assert results[0] == 0 and results[1] == 20 and results[3] == 40
    assert isinstance(results[2], ValueError) and str(results[2]) == "odd 3"  # fails alone


def test_groups_hold_at_most_the_limit() -> None:
    gate = threading.Event()
    write = Recorder(gate)
    group = GroupCommit(write, most=2)

    async def scenario() -> None:
        pending = [asyncio.ensure_future(group(i * 2)) for i in range(5)]
        await asyncio.sleep(0.05)
        gate.set()
        await asyncio.gather(*pending)

    run(scenario())
    assert [len(c) for c in write.calls] == [2, 2, 1]
    assert [i for c in write.calls for i in c] == [0, 2, 4, 6, 8]  # in arrival order


def test_a_failed_transaction_fails_each_of_its_writes_and_the_next_group_still_runs() -> None:
    calls: list[list[int]] = []

    def write(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return list(items)

    group = GroupCommit(write)

    async def scenario() -> tuple[list[object], int]:
        failed = await asyncio.gather(group(1), group(2), return_exceptions=True)
        return failed, await group(3)

    failed, later = run(scenario())
    assert calls == [[1, 2], [3]]
    assert all(isinstance(f, RuntimeError) for f in failed)
    assert later == 3


def test_a_write_function_answering_the_wrong_count_fails_the_group_rather_than_hanging() -> None:
    group = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 writes"):
        run(asyncio.wait_for(group(1), 5))


def test_writes_arriving_meanwhile_wait_for_the_running_transaction() -> None:
    gate = threading.Event()
    group = GroupCommit(Recorder(gate))

    async def scenario() -> bool:
        first = asyncio.ensure_future(group(0))
        await asyncio.sleep(0.05)
        try:
            await asyncio.wait_for(asyncio.shield(group(2)), 0.2)
            waited = False
        except TimeoutError:
            waited = True
        gate.set()
        await first
        return waited

    assert run(scenario()) is True
