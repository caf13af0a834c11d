"""The tantivy keyword index of large collections: used only while current, following every
write, built at the size, rebuilt after a crash, copied into shard runs (real tantivy, SQLite,
FAISS; SciFact abstracts as text)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from index.keywords import KEYWORDS_DIR
from index.store import NewChunk, NewDocument
from ingest.embed import Embedder
from rag import RAG, Settings
from rag.collection import Collection, IndexPolicy

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
_DIM = 8


@pytest.fixture(scope="module")
def abstracts() -> list[tuple[str, str]]:
    """(title, text) of 120 SciFact abstracts."""
    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip(f"SciFact is not at {SCIFACT}")
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as lines:
        records = [json.loads(line) for line in islice(lines, 120)]
    return [(r["title"], r["title"] + ". " + r["text"]) for r in records]


def _policy(min_chunks: int) -> IndexPolicy:
    return IndexPolicy("auto", 250_000, 32, keyword_min_chunks=min_chunks)


def _open(folder: Path, min_chunks: int = 0) -> Collection:
    return Collection("kw", folder, "test-model", _DIM, _policy(min_chunks))


def _write(collection: Collection, number: int, text: str) -> None:
    vector = np.random.default_rng(number).normal(size=_DIM).astype(np.float32)
    vector /= np.linalg.norm(vector)
    chunk = NewChunk(0, text, None, None, ("NarrativeText",), len(text.split()), vector)
    collection.write_document(
        NewDocument(f"doc{number:04d}", f"/d/{number}.txt", "txt", text, 1), [chunk]
    )


def _top_document(collection: Collection, query: str) -> str | None:
    hits = collection.lexical_search(query, 5)
    if not hits:
        return None
    return collection.chunks([hits[0][0]])[0].document_id


def test_tantivy_answers_while_current_and_follows_replacements_and_deletes(
    tmp_path: Path, abstracts: list[tuple[str, str]]
) -> None:
    collection = _open(tmp_path)
    for number, (_, text) in enumerate(abstracts):
        _write(collection, number, text)
    collection.flush()
    assert collection.uses_keyword_index() and collection.check().keyword_index == "current"
    titles = [title for title, _ in abstracts[:40]]
    by_tantivy = [_top_document(collection, title) for title in titles]
    by_fts5 = [
        collection.chunks([collection.lexical_search(title, 1, fts5=True)[0][0]])[0].document_id
        for title in titles
    ]
    expected = [f"doc{n:04d}" for n in range(40)]
    assert sum(a == b for a, b in zip(by_tantivy, expected, strict=True)) >= 38
    assert sum(a == b for a, b in zip(by_fts5, expected, strict=True)) >= 38

    # A replaced document: until the ingest's end (flush) FTS5 answers, then tantivy, which
    # must have dropped the old text (same chunk id: ids are a hash of document and ordinal).
    _write(collection, 0, "A quokka census on Rottnest Island.")
    assert not collection.uses_keyword_index()
    assert _top_document(collection, "quokka") == "doc0000"
    collection.flush()
    assert collection.uses_keyword_index()
    assert _top_document(collection, "quokka") == "doc0000"
    # Query syntax is never syntax; a word the analyzer splits is two words, not a phrase.
    assert _top_document(collection, 'quokka_census AND "rottnest" -(island)^2') == "doc0000"
    assert _top_document(collection, titles[0]) != "doc0000"

    assert collection.delete_document("doc0001")
    collection.flush()
    assert collection.uses_keyword_index()
    assert _top_document(collection, titles[1]) != "doc0001"
    found = {i for i, _ in collection.lexical_search(titles[1], 200)}
    assert not found & {c.id for c in collection.document_chunks("doc0001")}
    assert collection.check().consistent
    collection.close()


def test_an_index_behind_the_store_is_not_used_and_repair_rebuilds_it(
    tmp_path: Path, abstracts: list[tuple[str, str]]
) -> None:
    collection = _open(tmp_path)
    for number, (_, text) in enumerate(abstracts[:30]):
        _write(collection, number, text)
    collection.close()

    # Another process writes a document and dies before its ingest ends (no flush).
    crash = textwrap.dedent(
        f"""
        import os, numpy as np
        from pathlib import Path
        from index.store import NewChunk, NewDocument
        from rag.collection import Collection, IndexPolicy
        c = Collection("kw", Path({str(tmp_path)!r}), "test-model", {_DIM},
                       IndexPolicy("auto", 250_000, 32, keyword_min_chunks=0))
        v = np.ones({_DIM}, dtype=np.float32) / np.sqrt({_DIM})
        chunk = NewChunk(0, "Wombats dig burrows.", None, None, ("NarrativeText",), 3, v)
        c.write_document(NewDocument("late", "/late.txt", "txt", "h", 1), [chunk])
        os._exit(0)
        """
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", crash], check=True, cwd=root)

    reader = _open(tmp_path)
    assert not reader.uses_keyword_index()
    assert _top_document(reader, "wombats") == "late"  # FTS5 sees the committed document
    report = reader.check()
    assert report.keyword_index == "behind" and not report.consistent
    repaired = reader.check(repair=True)
    assert repaired.keyword_index == "current"
    assert reader.uses_keyword_index() and _top_document(reader, "wombats") == "late"
    assert reader.check().consistent
    reader.close()


def test_the_index_is_built_at_the_size_and_dropped_below_half_of_it(
    tmp_path: Path, abstracts: list[tuple[str, str]]
) -> None:
    collection = _open(tmp_path, min_chunks=50)
    for number, (_, text) in enumerate(abstracts[:40]):
        _write(collection, number, text)
    collection.flush()
    assert collection.check().keyword_index == "none"
    assert not (tmp_path / KEYWORDS_DIR).exists()
    for number, (_, text) in enumerate(abstracts[40:60], start=40):
        _write(collection, number, text)
    collection.flush()
    assert collection.check().keyword_index == "current" and collection.uses_keyword_index()
    for number in range(15):  # 45 left: kept down to half the size
        collection.delete_document(f"doc{number:04d}")
    collection.flush()
    assert collection.check().keyword_index == "current" and collection.uses_keyword_index()
    for number in range(15, 40):  # 20 left
        collection.delete_document(f"doc{number:04d}")
    collection.flush()
    assert collection.check().keyword_index == "none" and not collection.uses_keyword_index()
    assert not (tmp_path / KEYWORDS_DIR).exists()
    collection.close()


def test_shard_runs_carry_each_shards_keyword_index(tmp_path: Path, embedder: Embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    animals = ["aardvark", "bonobo", "capybara", "dugong", "echidna", "fossa"]
    colours = ["amber", "brisk", "cobalt", "dusky", "ember", "frosty"]
    for animal, colour in zip(animals, colours, strict=True):
        (docs / f"{animal}.txt").write_text(f"Field notes: a {colour} {animal} seen at dawn.")
    # Shards of any size merge their own tantivy scores here (by default only from 100,000).
    settings = Settings(
        home=tmp_path / "home", keyword_index_min_chunks=0, shard_keyword_min_chunks=0
    )
    with RAG(settings=settings, embedder=embedder) as rag:
        rag.ingest([docs], "zoo", shards=2)
        assert rag.check("zoo").keyword_index == "current"
        hits = rag.search("cobalt", 1, "zoo", mode="lexical")
        assert hits and hits[0].path.endswith("capybara.txt")

        (docs / "capybara.txt").write_text("Field notes: a pangolin crossed the road.")
        report = rag.ingest([docs], "zoo")
        assert report.to_dict()["ingested"] == 1
        checked = rag.check("zoo")
        assert checked.consistent and checked.keyword_index == "current"
        hits = rag.search("pangolin", 1, "zoo", mode="lexical")
        assert hits and hits[0].path.endswith("capybara.txt")
        assert not rag.search("cobalt", 3, "zoo", mode="lexical")


def test_small_shards_rank_keywords_as_one_store_does_though_each_has_its_index(
    tmp_path: Path, embedder: Embedder, abstracts: list[tuple[str, str]]
) -> None:
    """Each shard's own statistics would rank differently from the collection's: below
    RAG_SHARD_KEYWORD_MIN_CHUNKS the shards' FTS5 answers, rescored with the whole
    collection's statistics, exactly as one store's FTS5."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for number, (_, text) in enumerate(abstracts):
        (docs / f"{number:04d}.txt").write_text(text, encoding="utf-8")
    one = Settings(home=tmp_path / "one", keyword_index_min_chunks=100_000)
    sharded = Settings(home=tmp_path / "four", keyword_index_min_chunks=0)
    with RAG(settings=one, embedder=embedder) as a, RAG(settings=sharded, embedder=embedder) as b:
        a.ingest([docs], "c")
        b.ingest([docs], "c", shards=4)
        shards = b.collection("c")._shards()  # type: ignore[union-attr]
        assert all(shard.keyword_index_chunks() for shard in shards)
        queries = [title for title, _ in abstracts[:40]]
        same = sum(
            [p.chunk_id for p in a.search(q, 5, "c", mode="lexical")]
            == [p.chunk_id for p in b.search(q, 5, "c", mode="lexical")]
            for q in queries
        )
        assert same == len(queries)
