"""Parse workers: separate processes that parse files, each task under a time limit.

Why not `multiprocessing` or `concurrent.futures`: their spawned workers re-import the caller's
`__main__` module, so a plain script that ingests a folder without an
`if __name__ == "__main__":` guard runs itself again in every worker and the run dies with
`BrokenProcessPool`; one worker that segfaults breaks the whole pool; a parser stuck in C code
cannot be stopped; and workers outlive a parent killed with SIGKILL. These workers are plain
`python -m ingest.worker_main` processes talking over a socket pair, so:

- they never import the caller's modules (scripts, notebooks and `python -c` all work);
- a worker that dies (segfault, out-of-memory kill) fails only the file it was parsing, with
  the signal as the reason, and a new worker takes its place;
- a file that takes longer than the time limit is abandoned: its worker is killed and replaced;
- a worker whose parent is gone exits within a second (it watches its parent's pid).

Results come back in the order the items went in, with a bounded number in flight, so memory
stays flat however many files there are.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskFailure:
    """Why a task produced no result: its worker died or ran out of time."""

    reason: str


class _Worker:
    """One worker process and its end of the socket pair."""

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair()
        env = dict(os.environ)
        # The worker imports this package the way the parent did, whatever its working folder.
        env["PYTHONPATH"] = os.pathsep.join(p for p in [_package_root(), *sys.path] if p)
        # Processes are the parallelism: one thread each for onnxruntime, torch and BLAS.
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
        # Parsers print to stdout and stderr (pandoc's warnings, say): that must not mix into
        # `rag ingest --json` output or the user's terminal. Failures come back as values.
        chatter = None if log.isEnabledFor(logging.DEBUG) else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.worker_main", str(child_end.fileno()), str(os.getpid())],
            pass_fds=(child_end.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=chatter if chatter is not None else sys.stderr,
            stderr=chatter,
            env=env,
            close_fds=True,
        )
        child_end.close()
        self.connection = Connection(os.dup(parent_end.fileno()))
        parent_end.close()
        self.task: int | None = None
        self.deadline = 0.0

    def send(self, sequence: int, call: tuple[str, str], item: Any, timeout_s: float) -> None:
        self.connection.send_bytes(pickle.dumps((call, item), protocol=pickle.HIGHEST_PROTOCOL))
        self.task = sequence
        self.deadline = time.monotonic() + timeout_s

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def death(self) -> str:
        code = self.process.wait(timeout=5)
        if code < 0:
            try:
                return f"the parser crashed ({signal.Signals(-code).name})"
            except ValueError:
                return f"the parser crashed (signal {-code})"
        return f"the parser process exited with status {code}"


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WorkerPool(Generic[T, R]):
    """`map(fn, items)` over worker processes; with 0 workers it runs in this process.

    `fn` must be a module-level function (it is looked up by name in the worker). A task whose
    worker dies or overruns `timeout_s` yields `on_failure(item, TaskFailure)` instead.
    """

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        on_failure: Callable[[T, TaskFailure], R],
        max_in_flight: int | None = None,
    ) -> None:
        self.workers = workers
        self._timeout_s = timeout_s
        self._on_failure = on_failure
        self.max_in_flight = max_in_flight or max(1, workers * 4)
        self._pool: list[_Worker] = []

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        if self.workers <= 0:
            for item in items:
                yield fn(item)
            return
        call = (fn.__module__, fn.__qualname__)
        source = iter(items)
        waiting: deque[tuple[int, T]] = deque()
        held: dict[int, T] = {}
        done: dict[int, R] = {}
        next_in = next_out = 0
        exhausted = False
        while True:
            while not exhausted and len(held) < self.max_in_flight:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                held[next_in] = item
                waiting.append((next_in, item))
                next_in += 1
            while next_out in done:
                held.pop(next_out, None)
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not held:
                return
            self._dispatch(waiting, call)
            self._collect(held, done)

    def _dispatch(self, waiting: deque[tuple[int, T]], call: tuple[str, str]) -> None:
        while len(self._pool) < self.workers and len(self._pool) < len(waiting) + self._busy():
            self._pool.append(_Worker())
        for worker in self._pool:
            if worker.task is None and waiting:
                sequence, item = waiting.popleft()
                try:
                    worker.send(sequence, call, item, self._timeout_s)
                except OSError:  # the worker died while idle: replace it, try again later
                    waiting.appendleft((sequence, item))
                    self._replace(worker)

    def _busy(self) -> int:
        return sum(1 for w in self._pool if w.task is not None)

    def _collect(self, held: dict[int, T], done: dict[int, R]) -> None:
        busy = [w for w in self._pool if w.task is not None]
        if not busy:
            return
        remaining = min(w.deadline for w in busy) - time.monotonic()
        ready = wait([w.connection for w in busy], timeout=max(0.0, min(remaining, 1.0)))
        for worker in busy:
            sequence = worker.task
            assert sequence is not None
            if worker.connection in ready:
                try:
                    status, payload = pickle.loads(worker.connection.recv_bytes())
                except (EOFError, OSError):
                    reason = worker.death()
                    log.warning("parse worker died on %s: %s", held[sequence], reason)
                    done[sequence] = self._on_failure(held[sequence], TaskFailure(reason))
                    self._replace(worker)
                    continue
                worker.task = None
                if status == "ok":
                    done[sequence] = payload
                else:
                    done[sequence] = self._on_failure(held[sequence], TaskFailure(payload))
            elif time.monotonic() > worker.deadline:
                reason = (
                    f"parsing took longer than {self._timeout_s:.0f} s and was stopped "
                    "(RAG_PARSE_TIMEOUT)"
                )
                done[sequence] = self._on_failure(held[sequence], TaskFailure(reason))
                self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.stop()
        self._pool.remove(worker)

    def close(self) -> None:
        """Stop every worker now; tasks in flight are dropped."""
        for worker in self._pool:
            worker.stop()
        self._pool.clear()

    def __enter__(self) -> WorkerPool[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
