"""Where parse tasks run: in worker processes for big jobs, in-process for small ones.

Starting a worker costs a few seconds (it imports unstructured and loads spaCy), which only pays
off when there are many files. Workers are spawned, not forked: forking a process that has
already started torch or llama.cpp threads can deadlock.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from types import TracebackType
from typing import Any, TypeVar

from rag.runtime import configure_process

T = TypeVar("T")


def _worker_init() -> None:
    configure_process()
    # One thread per worker: the processes are the parallelism, and the embedding model in the
    # parent needs the cores too.
    import torch

    torch.set_num_threads(1)


class ParseExecutor:
    """`submit(fn, arg)` returns a Future; with 0 workers the call runs at once, in-process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Executor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_init,
            )

    @property
    def max_in_flight(self) -> int:
        """Tasks queued at once: enough to keep workers busy, few enough to bound memory."""
        return max(1, self.workers * 4)

    def submit(self, fn: Callable[[Any], T], arg: Any) -> Future[T]:
        if self._pool is not None:
            return self._pool.submit(fn, arg)
        future: Future[T] = Future()
        try:
            future.set_result(fn(arg))
        except BaseException as exc:
            future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        return future

    def __enter__(self) -> ParseExecutor:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=exc is None, cancel_futures=True)
