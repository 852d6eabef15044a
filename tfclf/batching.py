"""`MicroBatcher`: concurrent requests' texts gathered into one model call, on one thread.

Used by `tfclf.serve`; it knows nothing of HTTP, so any asyncio front end can use it.
"""

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
from typing import Any, Callable


class MicroBatcher:
    """Gathers the texts of concurrent requests into one `predict_fn` call on a single thread.

    A batch closes `wait_ms` after its oldest request arrived, or as soon as `max_batch` texts
    wait; a request's texts are never split across batches (one larger than `max_batch` runs
    alone). The single-thread executor means the model never runs concurrently with itself.

    Attributes:
        requests, texts, batches: counters of submitted requests, submitted texts, model calls.
        largest_batch: the most texts one model call received.
    """

    def __init__(self, predict_fn: Callable[[list[str]], Any], *, max_batch: int = 64, wait_ms: float = 5.0):
        self._fn = predict_fn
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfclf-model")
        self._pending: collections.deque = collections.deque()  # (texts, future, arrival time)
        self._pending_texts = 0
        self._worker: asyncio.Task | None = None
        self._wakeup: asyncio.Event | None = None
        self._full: asyncio.Event | None = None
        self.requests = self.texts = self.batches = self.largest_batch = 0

    def stats(self) -> dict:
        return {"requests": self.requests, "texts": self.texts, "batches": self.batches,
                "largest_batch": self.largest_batch, "max_batch": self.max_batch, "batch_wait_ms": self.wait_s * 1000}

    async def run(self, fn: Callable, *args, **kwargs):
        """Runs `fn` on the model thread (for work that is not batched, such as LIME)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def submit(self, texts: list[str]):
        """The model's output rows for `texts`, computed in a batch with other requests' texts."""
        loop = asyncio.get_running_loop()
        if self._worker is None:  # started lazily: the events and task belong to the serving loop
            self._wakeup, self._full = asyncio.Event(), asyncio.Event()
            self._worker = loop.create_task(self._work())
        future = loop.create_future()
        self._pending.append((texts, future, loop.time()))
        self._pending_texts += len(texts)
        self.requests += 1
        self.texts += len(texts)
        self._wakeup.set()
        if self._pending_texts >= self.max_batch:
            self._full.set()
        return await future

    def _take(self) -> list:
        batch, n = [], 0
        while self._pending and (not batch or n + len(self._pending[0][0]) <= self.max_batch):
            texts, future, _ = item = self._pending.popleft()
            self._pending_texts -= len(texts)
            if not future.done():  # a client that hung up needs no prediction
                batch.append(item)
                n += len(texts)
        if not self._pending:
            self._wakeup.clear()
        if self._pending_texts < self.max_batch:
            self._full.clear()
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            remaining = self._pending[0][2] + self.wait_s - loop.time() if self._pending else 0
            if remaining > 0 and self._pending_texts < self.max_batch:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._full.wait(), remaining)
            batch = self._take()
            if not batch:
                continue
            texts = [t for item in batch for t in item[0]]
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(texts))
            try:
                out = await loop.run_in_executor(self._executor, self._fn, texts)
            except asyncio.CancelledError:
                self._fail(batch, RuntimeError("the server is shutting down"))
                raise
            except Exception as err:  # every request of the batch learns of the failure
                self._fail(batch, err)
                continue
            start = 0
            for item_texts, future, _ in batch:
                if not future.done():
                    future.set_result(out[start:start + len(item_texts)])
                start += len(item_texts)

    @staticmethod
    def _fail(batch, err: BaseException) -> None:
        for _, future, _ in batch:
            if not future.done():
                future.set_exception(err)

    async def aclose(self) -> None:
        """Stops the worker; requests still waiting fail instead of hanging."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._fail(self._pending, RuntimeError("the server is shutting down"))
        self._pending.clear()
        self._pending_texts = 0
        self._executor.shutdown(wait=False, cancel_futures=True)
