"""Where a sharded collection's files are, and the manifest that says which shards are live.

    collections/NAME/manifest.json          written last, atomically: the published shards
    collections/NAME/shards/g000003-s01/    one shard: chunks.sqlite + vectors.faiss

A shard folder is never changed once a run has published it, except in place by a document
delete or a single-machine ingest (both under the collection's write lock, each document in one
SQLite transaction, as for a single store). A run writes the shards it changes as copies named
for the next generation, and the manifest naming them is the publication.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.errors import RagError

MANIFEST_FILE = "manifest.json"
SHARDS_DIR = "shards"
# The shard count of a run not yet published, so a run that resumes it splits alike.
PENDING_FILE = "pending.json"
_FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    """The published state: which shard folder holds each shard, for which embedding model."""

    generation: int
    shards: tuple[str, ...]  # folder names under shards/, one per shard, in shard order
    embed_model: str
    dimension: int
    # The shards the manifest before this one named: kept one generation longer for searches
    # that still have them open, then removed by the next publication.
    previous: tuple[str, ...] = ()
    published_at: str = field(default="")

    @property
    def count(self) -> int:
        return len(self.shards)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "generation": self.generation,
            "shards": list(self.shards),
            "previous": list(self.previous),
            "embed_model": self.embed_model,
            "dimension": self.dimension,
            "published_at": self.published_at,
        }


def is_sharded(folder: Path) -> bool:
    return (folder / MANIFEST_FILE).exists()


def read_manifest(folder: Path) -> Manifest | None:
    """The collection's manifest, or None for a single-store (or new) collection."""
    path = folder / MANIFEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RagError(f"cannot read {path}: {exc}; `rag check` says what is wrong") from exc
    if data.get("format") != _FORMAT:
        raise RagError(f"{path} has format {data.get('format')!r}; this version reads {_FORMAT}")
    return Manifest(
        generation=int(data["generation"]),
        shards=tuple(data["shards"]),
        embed_model=str(data["embed_model"]),
        dimension=int(data["dimension"]),
        previous=tuple(data.get("previous", ())),
        published_at=str(data.get("published_at", "")),
    )


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Publish: the new manifest replaces the old in one rename, after its bytes are on disk."""
    stamped = {**manifest.to_json(), "published_at": datetime.now(UTC).isoformat()}
    path = folder / MANIFEST_FILE
    staged = path.with_name(f"{MANIFEST_FILE}.{os.getpid()}.tmp")
    with open(staged, "w", encoding="utf-8") as handle:
        json.dump(stamped, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staged, path)
    _sync_folder(folder)


def read_pending(folder: Path, generation: int) -> int | None:
    """The shard count an interrupted run for `generation` used, if one did."""
    try:
        data = json.loads((folder / SHARDS_DIR / PENDING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return int(data["shards"]) if data.get("generation") == generation else None


def write_pending(folder: Path, generation: int, shards: int) -> None:
    (folder / SHARDS_DIR).mkdir(parents=True, exist_ok=True)
    path = folder / SHARDS_DIR / PENDING_FILE
    path.write_text(json.dumps({"generation": generation, "shards": shards}), encoding="utf-8")


def _sync_folder(folder: Path) -> None:
    """Make a rename durable (the folder's entry), where the platform allows it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def shard_folder(folder: Path, name: str) -> Path:
    return folder / SHARDS_DIR / name


def shard_name(generation: int, shard: int) -> str:
    """
    >>> shard_name(3, 1)
    'g000003-s01'
    """
    return f"g{generation:06d}-s{shard:02d}"


def shard_of(document_id: str, count: int) -> int:
    """The shard a document (and its attachments: pass the file's id) lives in.

    Document ids are hex digests, so their leading bits spread evenly.

    >>> shard_of("ffffffffffffffff", 4), shard_of("000000000000001f", 4)
    (3, 1)
    """
    return int(document_id[:15], 16) % count


def remove_unpublished(folder: Path, manifest: Manifest) -> None:
    """Remove shard folders neither this manifest nor the one before it names (copies of an
    abandoned run, generations two publications old), and an abandoned run's note."""
    keep = set(manifest.shards) | set(manifest.previous)
    root = folder / SHARDS_DIR
    for entry in root.iterdir() if root.is_dir() else ():
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
    (root / PENDING_FILE).unlink(missing_ok=True)
