"""One ingest run into a sharded collection: changed shards copied, written, then published.

The run holds the collection's write lock. A shard is copied (SQLite's online backup, then the
FAISS file) to a folder named for the next generation the first time the run changes it; an
untouched shard is read (to plan) but never copied or written. `publish` saves the copies'
indexes and writes the manifest naming them, in one rename: until then searches see the
previous generation whole.

A run that dies (killed driver, power cut) leaves its copies behind, each document in them
committed in its own transaction. The next run for the same published generation finds them
and goes on from there: what was committed is found unchanged and skipped.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from index.keywords import KEYWORDS_DIR
from index.store import DocumentRecord, NewChunk, NewDocument
from rag.collection import INDEX_FILE, STORE_FILE, Collection, IndexPolicy
from rag.errors import InvalidRequest, RagError
from rag.shards.layout import (
    Manifest,
    is_sharded,
    read_manifest,
    read_pending,
    remove_unpublished,
    shard_folder,
    shard_name,
    shard_of,
    write_manifest,
    write_pending,
)
from rag.shards.sharded import root_document_id
from rag.shards.writers import RemoteShard, ShardCopy, ShardStore

# Opens a shard copy for writing somewhere else (a writer actor: rag/shards/writers.py).
OpenWriter = Callable[[ShardCopy], ShardStore]

log = logging.getLogger(__name__)


class ShardRun:
    """What an ingest writes to (the same calls as a `Collection`), shard by shard.

    The shard count is the published collection's, else an interrupted run's, else `shards`
    (--shards), else `new_shards` (RAG_SHARDS)."""

    def __init__(
        self,
        name: str,
        folder: Path,
        shards: int | None,
        new_shards: int,
        embed_model: str,
        dimension: int,
        policy: IndexPolicy,
    ) -> None:
        self.name = name
        self.folder = folder
        self._embed_model = embed_model
        self._dimension = dimension
        self._policy = policy
        if shards is not None and shards < 1:
            raise InvalidRequest("--shards must be at least 1")
        published = read_manifest(folder)
        if published is None and (folder / STORE_FILE).exists():
            raise InvalidRequest(
                f"collection {name!r} is one store (ingested without --ray or --shards): "
                "ingest into it without them, or into a new collection with them"
            )
        if published is not None and shards not in (None, published.count):
            raise InvalidRequest(
                f"collection {name!r} has {published.count} shards, not {shards}: leave out "
                "--shards, or ingest into a new collection (shards are not re-split)"
            )
        self._published = published
        self._generation = (published.generation if published else 0) + 1
        pending = read_pending(folder, self._generation)
        if pending is not None and shards not in (None, pending):
            raise InvalidRequest(
                f"an interrupted run into collection {name!r} wrote {pending} shards: leave "
                "out --shards to finish it"
            )
        count = published.count if published is not None else (pending or shards or new_shards)
        self._count = count
        write_pending(folder, self._generation, count)
        # Open shards: a copy this run writes, or a published shard it only reads.
        self._working: dict[int, ShardStore] = {}
        self._reading: dict[int, Collection] = {}
        self._open_writer: OpenWriter | None = None
        for shard in range(count):
            if shard_folder(folder, shard_name(self._generation, shard)).is_dir():
                self._working[shard] = self._open_working(shard)
        if self._working:
            log.info(
                "collection %r: going on with %d shard copies an interrupted run left",
                name,
                len(self._working),
            )

    @property
    def shard_count(self) -> int:
        return self._count

    def _open_published(self, name: str) -> Collection:
        """A published shard, only read by this run: its FAISS file memory-mapped."""
        return Collection(
            self.name,
            shard_folder(self.folder, name),
            self._embed_model,
            self._dimension,
            self._policy,
            mapped=True,
        )

    def _open_working(self, shard: int) -> ShardStore:
        """The run's copy of a shard, opened here or by the writers (`start_writers`)."""
        copy = ShardCopy(
            self.name,
            shard_folder(self.folder, shard_name(self._generation, shard)),
            self._embed_model,
            self._dimension,
            self._policy,
            f"shard {shard} of collection {self.name!r}",
        )
        return copy.open_here() if self._open_writer is None else self._open_writer(copy)

    def start_writers(self, open_writer: OpenWriter) -> None:
        """From now on each copy is written by what `open_writer` opens (a process of its
        own); copies already open here are handed over. A new collection's shards (each will
        exist when it is published) are opened at once: their writers start while the first
        files are parsed."""
        self._open_writer = open_writer
        for shard, opened in list(self._working.items()):
            opened.close()
            self._working[shard] = self._open_working(shard)
        if self._published is None:
            for shard in range(self._count):
                self._write_shard(shard)

    def stop_writers(self) -> float:
        """Wait for the writers, close them, and open their copies here again; the seconds
        they spent writing. A writer's failure is raised once every copy is open here again
        (what the others committed is saved; nothing is published)."""
        self._open_writer = None
        seconds = 0.0
        failure: RagError | None = None
        for shard, opened in list(self._working.items()):
            try:
                opened.close()
            except RagError as exc:
                failure = failure or exc
            if isinstance(opened, RemoteShard):
                seconds += opened.write_seconds
            self._working[shard] = self._open_working(shard)
        if failure is not None:
            raise failure
        return seconds

    def _read_shard(self, shard: int) -> ShardStore | None:
        """The shard as this run sees it: its copy when it has one, else the published one."""
        if shard in self._working:
            return self._working[shard]
        if self._published is None:
            return None
        if shard not in self._reading:
            self._reading[shard] = self._open_published(self._published.shards[shard])
        return self._reading[shard]

    def _write_shard(self, shard: int) -> ShardStore:
        """The run's copy of the shard, made on first use."""
        if shard not in self._working:
            if self._published is not None:
                self._copy(shard, shard_name(self._generation, shard))
            self._working[shard] = self._open_working(shard)
        return self._working[shard]

    def _copy(self, shard: int, target_name: str) -> None:
        """Copy a published shard; the copy appears under its name only once complete."""
        assert self._published is not None
        source = shard_folder(self.folder, self._published.shards[shard])
        target = shard_folder(self.folder, target_name)
        staged = target.with_name(f"{target.name}.copying")
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True)
        reading = self._reading.pop(shard, None)
        if reading is not None:
            reading.close()
        src = sqlite3.connect(f"{(source / STORE_FILE).resolve().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(staged / STORE_FILE)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        if (source / INDEX_FILE).exists():
            shutil.copy2(source / INDEX_FILE, staged / INDEX_FILE)
        if (source / KEYWORDS_DIR).exists():  # followed write by write, not rebuilt
            shutil.copytree(source / KEYWORDS_DIR, staged / KEYWORDS_DIR)
        staged.rename(target)

    # -- what the ingest pipeline calls --------------------------------------------------

    def document_by_path(self, path: str) -> DocumentRecord | None:
        for shard in range(self._count):
            opened = self._read_shard(shard)
            found = opened.document_by_path(path) if opened is not None else None
            if found is not None:
                return found
        return None

    def documents(self) -> list[DocumentRecord]:
        found = []
        for shard in range(self._count):
            opened = self._read_shard(shard)
            if opened is not None:
                found += opened.documents()
        return sorted(found, key=lambda d: d.path)

    def attachments_of(self, document_id: str) -> list[DocumentRecord]:
        opened = self._read_shard(shard_of(document_id, self._count))
        return opened.attachments_of(document_id) if opened is not None else []

    def write_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> None:
        shard = shard_of(root_document_id(document), self._count)
        self._write_shard(shard).write_document(document, chunks)

    def delete_document(self, document_id: str) -> bool:
        for shard in range(self._count):
            opened = self._read_shard(shard)
            if opened is not None and opened.document(document_id) is not None:
                return self._write_shard(shard).delete_document(document_id)
        return False

    def flush(self) -> None:
        for opened in self._working.values():
            opened.flush()

    # -- the end -------------------------------------------------------------------------

    @property
    def changed(self) -> bool:
        return bool(self._working)

    def publish(self) -> Manifest | None:
        """Save the copies and name them in a new manifest; None when nothing changed (the
        published shards are left exactly as they were)."""
        if not self._working and self._published is not None:
            self.close()
            remove_unpublished(self.folder, self._published)
            return None
        names = []
        self.flush()
        for shard in range(self._count):
            if shard not in self._working and self._published is not None:
                names.append(self._published.shards[shard])
            else:
                self._write_shard(shard)  # a new collection: every shard exists, if empty
                names.append(shard_name(self._generation, shard))
        self.close()
        manifest = Manifest(
            generation=self._generation,
            shards=tuple(names),
            embed_model=self._embed_model,
            dimension=self._dimension,
            previous=self._published.shards if self._published else (),
        )
        write_manifest(self.folder, manifest)
        remove_unpublished(self.folder, manifest)
        return manifest

    def close(self) -> None:
        for opened in [*self._working.values(), *self._reading.values()]:
            opened.close()
        self._working, self._reading = {}, {}


def wants_shard_run(folder: Path, shards: int | None, ray: bool) -> bool:
    """Whether an ingest goes through a run: asked for (`--ray`, `--shards`), or the
    collection is sharded already."""
    return ray or shards is not None or is_sharded(folder)
