"""Hybrid search over a large synthetic collection: latency and bytes per chunk.

    python -m benchmarks.hybrid_scale --chunks 1000000 --json

The collection is written through the product's own store and index (`Collection`), with text
drawn word by word from the word frequencies of 2,000 SciFact abstracts (so BM25 meets a
natural mix of rare and common words), chunk vectors drawn around topic centres as in
`benchmarks.index`, and three sentence vectors per chunk near the chunk's (int8, as stored).
Above RAG_IVF_MIN_VECTORS the index is IVF, as in use. Then SciFact's queries are searched one
at a time with the real query embedder: hybrid (BM25 + dense + best sentence, the default) and
dense alone. Quality is not measured here (the text is not real): `benchmarks.index` gives IVF's
recall, `benchmarks.retrieval` the ranking's quality.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.index import clustered_unit_vectors
from benchmarks.ingest import SCIFACT
from index.keywords import KEYWORDS_DIR
from index.store import NewChunk, NewDocument
from rag import RAG, Settings
from rag.collection import Collection, IndexPolicy

_CHUNKS_PER_DOCUMENT = 100
_WORDS_PER_CHUNK = 45
_SENTENCES_PER_CHUNK = 3


def vocabulary() -> tuple[list[str], np.ndarray]:
    counts: collections.Counter[str] = collections.Counter()
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as corpus:
        for line in islice(corpus, 2000):
            record = json.loads(line)
            counts.update(
                re.findall(r"[a-z0-9]+", (record["title"] + " " + record["text"]).lower())
            )
    words = list(counts)
    weights = np.array([counts[w] for w in words], dtype=np.float64)
    return words, weights / weights.sum()


def build(collection: Collection, chunks: int, dim: int, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    words, weights = vocabulary()
    centre = rng.normal(size=(2000, dim)).astype(np.float32)
    started = time.perf_counter()
    for number in range(0, chunks, _CHUNKS_PER_DOCUMENT):
        count = min(_CHUNKS_PER_DOCUMENT, chunks - number)
        vectors = clustered_unit_vectors(count, dim, centre, rng)
        drawn = rng.choice(len(words), size=(count, _WORDS_PER_CHUNK), p=weights)
        rows = []
        for i in range(count):
            noise = rng.normal(scale=0.05, size=(_SENTENCES_PER_CHUNK, dim)).astype(np.float32)
            sentences = vectors[i] + noise
            sentences /= np.linalg.norm(sentences, axis=1, keepdims=True)
            text = " ".join(words[j] for j in drawn[i]) + "."
            rows.append(
                NewChunk(i, text, None, None, ("NarrativeText",), 60, vectors[i], sentences)
            )
        document = NewDocument(f"{number:016x}", f"/synthetic/{number}.txt", "txt", "x", 0)
        collection.write_document(document, rows)
    collection.flush()
    return time.perf_counter() - started


def timed(rag: RAG, queries: list[str], mode: str | None) -> float:
    return timed_call(lambda query: rag.search(query, 10, "synthetic", mode=mode), queries)  # type: ignore[arg-type]


def timed_call(search: Callable[[str], object], queries: list[str]) -> float:
    """Median milliseconds of `search` over the queries, one at a time."""
    times = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--fts5-queries", type=int, default=30, help="Queries timed on FTS5 (~1 s each at 1M)."
    )
    parser.add_argument("--home", type=Path, default=None, help="Keep the collection here.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rag-hybrid-scale-") as tmp:
        home = args.home or Path(tmp)
        settings = Settings(home=home)
        with RAG(settings=settings) as rag:
            folder = home / "collections" / "synthetic"
            dim = rag.embedder.dimension
            result: dict[str, Any] = {"chunks": args.chunks, "dim": dim}
            if not (folder / "chunks.sqlite").exists():
                writer = Collection(
                    "synthetic",
                    folder,
                    rag.embedder.name,
                    dim,
                    IndexPolicy.from_settings(settings),
                )
                result["build_s"] = round(build(writer, args.chunks, dim), 1)
                writer.close()
            with open(SCIFACT / "queries.jsonl", encoding="utf-8") as lines:
                queries = [json.loads(line)["text"] for line in islice(lines, args.queries)]
            if rag.check("synthetic").keyword_index != "current":
                # A collection written before keyword indexes existed (or one kept with --home).
                started = time.perf_counter()
                rag.check("synthetic", repair=True)
                result["keyword_index_build_s"] = round(time.perf_counter() - started, 1)
            rag.search(queries[0], 10, "synthetic")  # open, load the index, warm up
            collection = rag.collection("synthetic")
            assert isinstance(collection, Collection)
            result["index"] = "ivf" if collection._vectors.is_ivf else "flat"
            result["keyword_engine"] = "tantivy" if collection.uses_keyword_index() else "fts5"
            result["hybrid_p50_ms"] = round(timed(rag, queries, None), 1)
            result["dense_p50_ms"] = round(timed(rag, queries, "dense"), 1)
            result["lexical_p50_ms"] = round(timed(rag, queries, "lexical"), 1)
            # The two keyword engines alone, best 100 (the hybrid pool), same run.
            result["keyword_index_top100_p50_ms"] = round(
                timed_call(lambda q: collection.lexical_search(q, 100), queries), 1
            )
            result["fts5_top100_p50_ms"] = round(
                timed_call(
                    lambda q: collection.lexical_search(q, 100, fts5=True),
                    queries[: args.fts5_queries],
                ),
                1,
            )
            result["fts5_over_keyword_index"] = round(
                result["fts5_top100_p50_ms"] / result["keyword_index_top100_p50_ms"], 1
            )
            files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
            result["store_bytes_per_chunk"] = round(files.get("chunks.sqlite", 0) / args.chunks)
            result["index_bytes_per_chunk"] = round(files.get("vectors.faiss", 0) / args.chunks)
            keywords = folder / KEYWORDS_DIR
            result["keyword_index_bytes_per_chunk"] = round(
                sum(p.stat().st_size for p in keywords.rglob("*") if p.is_file()) / args.chunks
            )
            result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
