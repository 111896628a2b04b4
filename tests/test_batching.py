"""Group commit (`bot.batching.GroupCommit`): items that arrive together are stored together, and a batch that
fails fails only the items it must."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.batching import GroupCommit


class Store:
    """A `store_many` that records its calls and refuses any batch holding a "bad" item, or every batch while the
    database is "down"."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.down = False

    async def store_many(self, items: Sequence[str]) -> list[str]:
        self.calls.append(list(items))
        await asyncio.sleep(0)  # a transaction awaits: items submitted meanwhile queue for the next batch
        if self.down:
            raise ConnectionRefusedError("the database is down")
        if "bad" in items:
            raise ValueError("a value the database refuses")
        return [f"stored {item}" for item in items]


def _not_a_connection_error(error: Exception) -> bool:
    return not isinstance(error, ConnectionError)


async def test_items_submitted_together_are_stored_in_batches_and_a_lone_item_waits_for_nothing() -> None:
    store = Store()
    commit = GroupCommit(store.store_many, max_batch=3)
    outcomes = await asyncio.gather(*(commit.store(item) for item in "abcde"))
    assert outcomes == [f"stored {item}" for item in "abcde"]
    assert store.calls == [["a", "b", "c"], ["d", "e"]]  # at most max_batch to a transaction
    assert await commit.store("f") == "stored f"
    assert store.calls[-1] == ["f"]


async def test_an_item_that_cant_be_stored_fails_only_itself() -> None:
    store = Store()
    commit = GroupCommit(store.store_many, max_batch=10, item_specific=_not_a_connection_error)
    first = asyncio.create_task(commit.store("first"))
    await asyncio.sleep(0)  # the first flushes alone; the rest arrive while it runs
    outcomes = await asyncio.gather(*(commit.store(item) for item in ("x", "bad", "y")), return_exceptions=True)
    assert await first == "stored first"
    assert outcomes[0] == "stored x" and outcomes[2] == "stored y"
    assert isinstance(outcomes[1], ValueError)
    # The failed batch stored nothing, so its items were stored again one by one.
    assert store.calls == [["first"], ["x", "bad", "y"], ["x"], ["bad"], ["y"]]


async def test_while_the_database_is_down_a_batch_fails_at_once_without_a_retry_per_item() -> None:
    store = Store()
    store.down = True
    commit = GroupCommit(store.store_many, max_batch=10, item_specific=_not_a_connection_error)
    blocker = asyncio.create_task(commit.store("first"))
    await asyncio.sleep(0)
    outcomes = await asyncio.gather(*(commit.store(item) for item in "xyz"), return_exceptions=True)
    assert all(isinstance(outcome, ConnectionRefusedError) for outcome in outcomes)
    with pytest.raises(ConnectionRefusedError):
        await blocker
    assert store.calls == [["first"], ["x", "y", "z"]]


async def test_without_a_judge_of_errors_a_failed_batch_fails_every_item_in_it() -> None:
    store = Store()
    commit = GroupCommit(store.store_many, max_batch=10)
    blocker = asyncio.create_task(commit.store("first"))
    await asyncio.sleep(0)
    outcomes = await asyncio.gather(*(commit.store(item) for item in ("x", "bad")), return_exceptions=True)
    assert await blocker == "stored first"
    assert all(isinstance(outcome, ValueError) for outcome in outcomes)
    assert store.calls == [["first"], ["x", "bad"]]


async def test_a_store_that_miscounts_its_outcomes_fails_its_own_batch_and_the_next_is_served() -> None:
    calls: list[list[str]] = []

    async def drops_the_last(items: Sequence[str]) -> list[str]:
        calls.append(list(items))
        await asyncio.sleep(0)
        return [f"stored {item}" for item in items][: max(1, len(items) - 1)]

    commit = GroupCommit(drops_the_last, max_batch=10, item_specific=_not_a_connection_error)
    first = asyncio.create_task(commit.store("first"))
    await asyncio.sleep(0)
    outcomes = await asyncio.gather(*(commit.store(item) for item in "xy"), return_exceptions=True)
    assert await first == "stored first"
    # Its transaction may have committed: no retry one by one, just an error for the batch's own items.
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert await commit.store("later") == "stored later"
    assert calls == [["first"], ["x", "y"], ["later"]]
