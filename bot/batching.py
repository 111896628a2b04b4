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
    item in it gets that error, as if each had been stored alone.
    """

    def __init__(self, store_many: Callable[[Sequence[Item]], Awaitable[list[Outcome]]], max_batch: int) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.store_many = store_many
        self.max_batch = max_batch
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
                    for _, future in self._flushing:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), outcome in zip(self._flushing, outcomes, strict=True):
                    if not future.done():  # its waiter was cancelled: stored all the same
                        future.set_result(outcome)
        finally:  # only left early when cancelled (shutdown): nothing will store what is left
            for _, future in self._flushing + self._waiting:
                future.cancel()
            self._flushing, self._waiting = [], []
            self._flusher = None
