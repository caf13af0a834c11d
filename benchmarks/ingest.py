"""Ingestion throughput against the raw embedding speed it is bounded by.

    python -m benchmarks.ingest                 # SciFact as JSONL records (5,183 abstracts)
    python -m benchmarks.ingest --files 500     # the first 500 abstracts as Markdown files
    python -m benchmarks.ingest --limit 1000 --json
    python -m benchmarks.ingest --files 1500 --format txt --peers   # + LangChain, LlamaIndex

It ingests the corpus into a throwaway collection, then, in the same run, times the raw
`SentenceTransformer.encode` of exactly the texts the ingest embedded (its chunks, and the
sentences of every chunk with more than one; same model, batch size and threads). The ratio
raw-encode time / ingest time says how much of the ingest is the unavoidable embedding work; the
target is >= 0.85. `--no-sentences` ingests without sentence vectors (RAG_SENTENCE_VECTORS=false).
`--peers` (with `--files`) also runs LangChain's and LlamaIndex's ingest of the same files with
the same model in the same run (benchmarks/peers.py, the `peers` extra) and prints our time over
the best peer's: what users compare.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.peers import peers_seconds
from benchmarks.report import print_figures
from ingest.sentences import own_sentences
from rag import RAG, Settings
from rag.collection import STORE_FILE
from rag.evaluate import write_corpus_records

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
DEFAULT_CORPUS = SCIFACT / "corpus.jsonl"


def write_files(corpus: Path, folder: Path, limit: int, suffix: str = "md") -> int:
    """The first `limit` abstracts as files: Markdown (title as a heading) or plain text."""
    folder.mkdir(parents=True, exist_ok=True)
    heading = "# " if suffix == "md" else ""
    count = 0
    with open(corpus, encoding="utf-8") as src:
        for line in src:
            if count >= limit:
                break
            row = json.loads(line)
            text = f"{heading}{row['title']}\n\n{row['text']}\n"
            (folder / f"{row['_id']}.{suffix}").write_text(text)
            count += 1
    return count


def embedded_texts(home: Path, collection: str, sentences: bool) -> tuple[int, list[str]]:
    """(chunk count, every text the ingest embedded): chunks, then multi-sentence chunks'
    sentences."""
    db = sqlite3.connect(home / "collections" / collection / STORE_FILE)
    try:
        chunks = [row[0] for row in db.execute("SELECT text FROM chunks ORDER BY id")]
    finally:
        db.close()
    extra = [piece for text in chunks for piece in own_sentences(text)] if sentences else []
    return len(chunks), chunks + extra


def searched_texts(home: Path, collection: str) -> list[str]:
    """Each chunk as the ingest embedded it: behind its document's context line."""
    db = sqlite3.connect(home / "collections" / collection / STORE_FILE)
    try:
        rows = db.execute("SELECT context, text FROM chunks ORDER BY id").fetchall()
    finally:
        db.close()
    return [f"{context}\n{text}" if context else text for context, text in rows]


def time_deletes(rag: RAG, collection: str, count: int) -> float:
    """Median milliseconds to delete one document (a transaction and an in-memory removal)."""
    times = []
    for document in rag.documents(collection)[:count]:
        started = time.perf_counter()
        rag.delete_document(document.id, collection)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000 if times else 0.0


def _peak_rss_mb(who: int) -> float:
    """Peak resident set size in MiB (Linux reports KiB) of this process or its ended children."""
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def run(
    corpus: Path,
    limit: int | None,
    files: int | None,
    batch_size: int,
    sentences: bool,
    runtime: str = "auto",
    pooling: str = "separate",
    suffix: str = "md",
    full_encode: bool = True,
    peers: bool = False,
) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(
            home=home,
            embed_batch_size=batch_size,
            sentence_vectors=sentences,
            embed_runtime=runtime,
            sentence_pooling=pooling,
        )
        with RAG(settings=settings) as rag:
            rag.warm_up(llm=False)  # model load is not ingest work
            if files:
                docs = write_files(corpus, Path(tmp) / "files", files, suffix)
                started = time.perf_counter()
                report = rag.ingest([Path(tmp) / "files"], collection="bench")
            else:
                source = Path(tmp) / "records.jsonl"
                docs = write_corpus_records(corpus, source, limit)
                started = time.perf_counter()
                report = rag.ingest_jsonl(source, collection="bench")
            ingest_s = time.perf_counter() - started
            peak_rss_mb = _peak_rss_mb(resource.RUSAGE_SELF)
            stages = report.to_dict()["stages"]
            model_path = rag.embedder.name
            runtime_used = type(rag.embedder).__name__
            chunks, texts = embedded_texts(home, "bench", sentences)
            # The product's own embedder on the chunks alone, in this process, nothing else.
            searched = searched_texts(home, "bench")
            started = time.perf_counter()
            rag.embedder.embed(searched)
            runtime_chunk_encode_s = time.perf_counter() - started
            delete_ms = time_deletes(rag, "bench", 50)
        # The parse workers have ended with the RAG: their largest resident size.
        worker_rss_mb = _peak_rss_mb(resource.RUSAGE_CHILDREN)
        peer_s = peers_seconds(Path(tmp) / "files", model_path, batch_size) if peers else {}

    model = SentenceTransformer(model_path, device=None)
    model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up, as the ingest had
    started = time.perf_counter()
    if full_encode:
        model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
    encode_s = time.perf_counter() - started
    started = time.perf_counter()
    model.encode(texts[:chunks], batch_size=batch_size, normalize_embeddings=True)
    chunk_encode_s = time.perf_counter() - started

    return {
        "embedder": runtime_used,
        "sentence_pooling": pooling,
        "mode": "files" if files else "jsonl",
        "documents": docs,
        "ingested": report.to_dict()["ingested"],
        "failed": report.to_dict()["failed"],
        "sentence_vectors": sentences,
        "chunks": chunks,
        "embedded_texts": len(texts),
        "ingest_s": round(ingest_s, 2),
        "raw_encode_s": round(encode_s, 2) if full_encode else None,
        "docs_per_s": round(docs / ingest_s, 1),
        "chunks_per_s": round(chunks / ingest_s, 1),
        "raw_encode_texts_per_s": round(len(texts) / encode_s, 1) if full_encode else None,
        "ratio_raw_encode_over_ingest": round(encode_s / ingest_s, 3) if full_encode else None,
        # The peers' reference: torch embedding each chunk once, nothing else.
        "raw_chunk_encode_s": round(chunk_encode_s, 2),
        "ingest_over_raw_chunk_encode": round(ingest_s / chunk_encode_s, 3),
        # Our runtime's encode of the same chunks once: the floor under the embed chunks stage.
        "runtime_chunk_encode_s": round(runtime_chunk_encode_s, 2),
        "delete_one_document_ms": round(delete_ms, 2),
        # Memory flatness: compare these between --files 500 and --files 5000.
        "peak_rss_mb": peak_rss_mb,
        "parse_worker_peak_rss_mb": worker_rss_mb,
        **{f"peer_{name}_s": seconds for name, seconds in peer_s.items()},
        **({"ingest_over_best_peer": round(ingest_s / min(peer_s.values()), 3)} if peer_s else {}),
        # Seconds per stage and their share of the wall time (parse and chunk are summed over
        # the parse workers, which run beside the main process).
        **{f"stage_{name}": seconds for name, seconds in stages.items()},
        **{
            f"share_{name.removesuffix('_s')}": round(seconds / ingest_s, 3)
            for name, seconds in stages.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="Only the first N records.")
    parser.add_argument(
        "--files",
        type=int,
        default=None,
        help="Ingest the first N abstracts as Markdown files instead.",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-sentences", action="store_true", help="Skip sentence vectors.")
    parser.add_argument("--runtime", choices=["auto", "onnx", "torch"], default="auto")
    parser.add_argument("--sentence-pooling", choices=["separate", "pooled"], default="separate")
    parser.add_argument("--format", choices=["md", "txt"], default="md", help="With --files.")
    parser.add_argument(
        "--chunks-only",
        action="store_true",
        help="Time the raw torch encode of the chunks only, not of every embedded text.",
    )
    parser.add_argument(
        "--peers", action="store_true", help="With --files: time LangChain and LlamaIndex too."
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.peers and not args.files:
        parser.error("--peers needs --files N (the peers read files)")
    result = run(
        args.corpus,
        args.limit,
        args.files,
        args.batch_size,
        not args.no_sentences,
        args.runtime,
        args.sentence_pooling,
        args.format,
        not args.chunks_only,
        args.peers,
    )
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
