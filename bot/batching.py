"""Group commit: items that arrive together are stored together, in one transaction per batch.

On SQLite, with one writer at a time, a write transaction per item is what bounds a burst: each holds the write
lock for several statements, and under load each statement waits for a turn of the busy event loop. A batch holds
it about as long as one item would (multi-row statements), so the cost is paid per batch, not per item. Pure asyncio:
the grading loops (`bot.pipeline`) and the storage layer use it alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupCommit(Generic[Item, Outcome]):
    """Stores items in batches through `store_many` (one transaction per call), one outcome per item.

    The first item starts a flush at once: no timer, so a lone item waits for nothing. Items that arrive while
    a flush runs wait for it and then go together, at most `max_batch` to a flush. When a flush raises, every
    item in it gets that error; except that when `item_specific(error)` says it may be a single item's own
    (bad data rather than a database that can't be reached, say), the batch's items are stored again one by one,
    so an item that can't be stored fails only itself, never the items it happened to arrive with.
    """

    def __init__(
        self,
        store_many: Callable[[Sequence[Item]], Awaitable[list[Outcome]]],
        max_batch: int,
        *,
        item_specific: Callable[[Exception], bool] = lambda error: False,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.store_many = store_many
        self.max_batch = max_batch
        self.item_specific = item_specific
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._flushing: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def store(self, item: Item) -> Outcome:
        outcome: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, outcome))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_all(), name="group-commit")
        return await outcome

    async def _flush_all(self) -> None:
        try:
            while self._waiting:
                self._flushing, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                try:
                    outcomes = await self.store_many([item for item, _ in self._flushing])
                except Exception as error:
                    if len(self._flushing) > 1 and self.item_specific(error):
                        await self._store_one_by_one()  # the failed transaction stored none of them
                    else:
                        self._fail_all(error)
                    continue
                if len(outcomes) != len(self._flushing):  # a bug in store_many, whose transaction may have committed
                    self._fail_all(_miscount(outcomes, self._flushing))
                    continue
                for (_, future), outcome in zip(self._flushing, outcomes, strict=True):
                    _resolve(future, outcome)
        finally:  # only left early when cancelled (shutdown): nothing will store what is left
            for _, future in self._flushing + self._waiting:
                future.cancel()
            self._flushing, self._waiting = [], []
            self._flusher = None

    def _fail_all(self, error: Exception) -> None:
        for _, future in self._flushing:
            _fail(future, error)

    async def _store_one_by_one(self) -> None:
        for item, future in self._flushing:
            try:
                outcomes = await self.store_many([item])
            except Exception as error:
                _fail(future, error)
                continue
            if len(outcomes) == 1:
                _resolve(future, outcomes[0])
            else:
                _fail(future, _miscount(outcomes, [item]))


def _miscount(outcomes: Sequence[object], items: Sequence[object]) -> RuntimeError:
    # Only this batch's items fail: the loop that serves everyone else goes on.
    return RuntimeError(f"store_many returned {len(outcomes)} outcomes for {len(items)} items")


def _resolve(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():  # its waiter was cancelled: stored all the same
        future.set_result(outcome)


def _fail(future: asyncio.Future[Outcome], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
