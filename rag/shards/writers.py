"""A Ray run's shard copies written by one process each, beside the driver.

On one machine the driver wrote every shard itself, about 2,200 chunks/s on this VM's cores
(SQLite rows, FTS5, FAISS, the keyword index): past ~15 embedding nodes that single writer is
what bounds a run (README, *A throughput model*). Here each shard copy a run writes is held
open by its own Ray actor, placed on the driver's node (the collection is on its disk), and
the driver only routes each document to its shard's writer.

Writes travel in batches of documents (a Ray call costs about what writing a small document
does) and are sent without waiting: one caller and one actor, so Ray runs them in the order
they were sent, and a read (planning, a file's old attachments, `--prune`) sends the batch
first and so sees it. At most `max_in_flight` batches wait per shard, so a slow disk slows the
driver rather than filling memory. A writer that fails or dies fails the run: nothing is
published, each document it committed stays committed in the copy, and the next run goes on
from there (as after a killed driver).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from index.store import DocumentRecord, NewChunk, NewDocument
from rag.collection import Collection, IndexPolicy
from rag.errors import RagError


class ShardStore(Protocol):
    """What a run does with a shard copy: a `Collection`, or a writer actor standing for one."""

    def document_by_path(self, path: str) -> DocumentRecord | None: ...

    def document(self, document_id: str) -> DocumentRecord | None: ...

    def documents(self) -> list[DocumentRecord]: ...

    def attachments_of(self, document_id: str) -> list[DocumentRecord]: ...

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None: ...

    def delete_document(self, document_id: str) -> bool: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ShardCopy:
    """What opens a run's copy of one shard, wherever it is opened."""

    collection: str
    folder: Path
    embed_model: str
    dimension: int
    policy: IndexPolicy
    label: str  # "shard 2 of collection 'big'", for errors

    def open_here(self) -> Collection:
        return Collection(
            self.collection, self.folder, self.embed_model, self.dimension, self.policy
        )


class ShardWriter:
    """The actor: one shard copy open in its own process. Returns the seconds each write took."""

    def __init__(self, copy: ShardCopy) -> None:
        self._shard = copy.open_here()

    def write_documents(self, writes: list[tuple[NewDocument, list[NewChunk]]]) -> float:
        """Each document in its own transaction, as on one machine (a batch is only how they
        travel: a Ray call costs about what writing a small document does)."""
        started = time.perf_counter()
        for document, chunks in writes:
            self._shard.write_document(document, chunks)
        return time.perf_counter() - started

    def delete_document(self, document_id: str) -> bool:
        return self._shard.delete_document(document_id)

    def document_by_path(self, path: str) -> DocumentRecord | None:
        return self._shard.document_by_path(path)

    def document(self, document_id: str) -> DocumentRecord | None:
        return self._shard.document(document_id)

    def documents(self) -> list[DocumentRecord]:
        return self._shard.documents()

    def attachments_of(self, document_id: str) -> list[DocumentRecord]:
        return self._shard.attachments_of(document_id)

    def flush(self) -> None:
        self._shard.flush()

    def close(self) -> None:
        self._shard.close()


class RemoteShard:
    """A ShardWriter actor as the run sees it: a ShardStore whose writes do not wait."""

    def __init__(
        self, actor: Any, label: str, batch_documents: int = 32, max_in_flight: int = 4
    ) -> None:
        self._actor = actor
        self._label = label
        self._batch_documents = batch_documents
        self._max_in_flight = max_in_flight
        self._batch: list[tuple[NewDocument, list[NewChunk]]] = []
        self._in_flight: deque[Any] = deque()
        self.write_seconds = 0.0

    def _failed(self, exc: Exception) -> RagError:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return RagError(
            f"the writer of {self._label} failed: {reason}; nothing was published, and "
            "running the same command again goes on from what was committed"
        )

    def _submit(self, method: Any, *args: Any) -> Any:
        try:
            return method.remote(*args)
        except Exception as exc:  # Ray raises a bare Exception for a dead actor
            raise self._failed(exc) from exc

    def _get(self, ref: Any) -> Any:
        import ray

        try:
            return ray.get(ref)
        except (ray.exceptions.RayError, OSError) as exc:
            raise self._failed(exc) from exc

    def _send(self) -> None:
        """Send the batch (calls after it, reads included, run after it)."""
        if self._batch:
            batch, self._batch = self._batch, []
            self._in_flight.append(self._submit(self._actor.write_documents, batch))

    def _settle(self, keep: int = 0) -> None:
        while len(self._in_flight) > keep:
            self.write_seconds += self._get(self._in_flight.popleft())

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None:
        self._batch.append((document, list(chunks)))
        if len(self._batch) >= self._batch_documents:
            self._send()
            self._settle(keep=self._max_in_flight)

    def _ask(self, method: Any, *args: Any) -> Any:
        self._send()
        return self._get(self._submit(method, *args))

    def delete_document(self, document_id: str) -> bool:
        return bool(self._ask(self._actor.delete_document, document_id))

    def document_by_path(self, path: str) -> DocumentRecord | None:
        found: DocumentRecord | None = self._ask(self._actor.document_by_path, path)
        return found

    def document(self, document_id: str) -> DocumentRecord | None:
        found: DocumentRecord | None = self._ask(self._actor.document, document_id)
        return found

    def documents(self) -> list[DocumentRecord]:
        found: list[DocumentRecord] = self._ask(self._actor.documents)
        return found

    def attachments_of(self, document_id: str) -> list[DocumentRecord]:
        found: list[DocumentRecord] = self._ask(self._actor.attachments_of, document_id)
        return found

    def flush(self) -> None:
        self._ask(self._actor.flush)
        self._settle()

    def close(self) -> None:
        """Wait for every write, save, and end the actor (the copy is then closed on disk)."""
        import ray

        try:
            self._ask(self._actor.close)
            self._settle()
        finally:
            with contextlib.suppress(Exception):  # gone already
                ray.kill(self._actor)


def writer_actors() -> Callable[[ShardCopy], RemoteShard]:
    """Opens a shard copy in a writer actor on this (the driver's) node."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    actor_class = ray.remote(ShardWriter).options(
        # The driver's share of the node, as when it wrote itself: no CPU is reserved, so the
        # writers never wait behind parse tasks for a slot.
        num_cpus=0,
        max_restarts=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False),
    )

    def open_writer(copy: ShardCopy) -> RemoteShard:
        return RemoteShard(actor_class.remote(copy), copy.label)

    return open_writer
