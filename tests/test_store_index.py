"""SQLite store and FAISS index: atomic replacement, cheap deletes, rebuild after a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.store import ChunkRecord, NewChunk, NewDocument
from rag.collection import INDEX_FILE, Collection


def _chunks(count: int, seed: int, dim: int = 8) -> list[NewChunk]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        vector = rng.normal(size=dim).astype(np.float32)
        vector /= np.linalg.norm(vector)
        out.append(NewChunk(i, f"chunk {seed}-{i}", 1, None, ("NarrativeText",), 3, vector))
    return out


def _search(collection: Collection, vector: np.ndarray, k: int) -> list[tuple[ChunkRecord, float]]:
    hits = collection.dense_search(vector, k)
    records = {r.id: r for r in collection.chunks([i for i, _ in hits])}
    return [(records[i], score) for i, score in hits]


def _open(folder: Path) -> Collection:
    return Collection("test", folder, "test-model", 8)


def test_replacing_a_document_swaps_all_its_chunks(tmp_path: Path) -> None:
    collection = _open(tmp_path)
    first = _chunks(3, seed=1)
    collection.write_document(NewDocument("doc", "/a.txt", "text", "h1", 10), first)
    second = _chunks(2, seed=2)
    collection.write_document(NewDocument("doc", "/a.txt", "text", "h2", 12), second)

    hits = _search(collection, second[0].embedding, k=10)
    assert {record.text for record, _ in hits} == {"chunk 2-0", "chunk 2-1"}
    assert hits[0][0].text == "chunk 2-0"
    assert collection.document("doc").content_hash == "h2"
    assert collection.chunk_count() == 2


def test_delete_removes_vectors_and_rows(tmp_path: Path) -> None:
    collection = _open(tmp_path)
    collection.write_document(NewDocument("a", "/a.txt", "text", "h", 1), _chunks(2, seed=1))
    collection.write_document(NewDocument("b", "/b.txt", "text", "h", 1), _chunks(2, seed=2))
    assert collection.delete_document("a") is True
    assert collection.delete_document("a") is False
    hits = _search(collection, _chunks(1, seed=1)[0].embedding, k=10)
    assert {r.document_id for r, _ in hits} == {"b"}


def test_index_is_rebuilt_from_sqlite_when_it_is_stale(tmp_path: Path) -> None:
    collection = _open(tmp_path)
    collection.write_document(NewDocument("a", "/a.txt", "text", "h", 1), _chunks(2, seed=1))
    collection.flush()
    # A write whose index was never saved: what a crash after the SQLite commit leaves behind.
    collection.write_document(NewDocument("b", "/b.txt", "text", "h", 1), _chunks(2, seed=2))
    collection._store.close()  # no flush

    reopened = _open(tmp_path)
    probe = _chunks(1, seed=2)[0].embedding
    assert _search(reopened, probe, k=1)[0][0].document_id == "b"
    assert reopened._vectors.ids() == reopened._store.chunk_ids()


def test_unreadable_index_file_is_rebuilt(tmp_path: Path) -> None:
    collection = _open(tmp_path)
    collection.write_document(NewDocument("a", "/a.txt", "text", "h", 1), _chunks(3, seed=1))
    collection.close()
    (tmp_path / INDEX_FILE).write_bytes(b"not a faiss index")

    reopened = _open(tmp_path)
    assert _search(reopened, _chunks(1, seed=1)[0].embedding, k=3)[0][0].text == "chunk 1-0"


def test_a_second_process_view_follows_new_writes(tmp_path: Path) -> None:
    reader = _open(tmp_path)
    writer = _open(tmp_path)
    writer.write_document(NewDocument("a", "/a.txt", "text", "h", 1), _chunks(2, seed=1))
    writer.flush()
    hits = _search(reader, _chunks(1, seed=1)[0].embedding, k=1)
    assert hits and hits[0][0].document_id == "a"


def test_large_collection_switches_to_ivf_and_keeps_ids_and_deletes(tmp_path: Path) -> None:
    from rag.collection import IndexPolicy

    policy = IndexPolicy(kind="auto", ivf_min_vectors=10_000, nprobe=16)
    collection = Collection("big", tmp_path, "test-model", 8, policy)
    for doc in range(12):
        collection.write_document(
            NewDocument(f"d{doc}", f"/{doc}.txt", "text", "h", 1), _chunks(1000, seed=doc)
        )
    assert not collection._vectors.is_ivf
    collection.flush()
    assert collection._vectors.is_ivf
    probe = _chunks(1000, seed=7)[123].embedding
    record, score = _search(collection, probe, k=1)[0]
    assert (record.document_id, record.text, round(score, 4)) == ("d7", "chunk 7-123", 1.0)

    assert collection.delete_document("d7")
    assert all(r.document_id != "d7" for r, _ in _search(collection, probe, k=50))
    collection.close()

    reopened = Collection("big", tmp_path, "test-model", 8, policy)
    assert reopened._vectors.is_ivf
    assert reopened._vectors._index.nprobe == 16
    assert reopened.check().consistent
    assert reopened.chunk_count() == 11_000
