"""How fast a sharded run writes: the driver writing every shard itself, against one writer
process per shard (rag/shards/writers.py), same documents, same cores, same run.

    python -m benchmarks.shard_writes --json                   # 4,000 abstracts, 4 shards
    python -m benchmarks.shard_writes --documents 1000 --rounds 1

What is written is what an ingest writes after embedding: SciFact abstracts cut into chunks of
about 60 words (real text, so FTS5 and the keyword index do real work), each with a random unit
vector and one int8-coded vector per sentence (writing costs the same whatever the values). The
two ways alternate round by round, each into a fresh collection through `ShardRun` (copies,
then publish), timed from the first write to the published manifest. Printed: chunks/s of each
and writers / driver per round and over all rounds, the writers' start, and the rate at which
the driver hands chunks over to them (the ceiling of many writers on many cores).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.ingest import SCIFACT
from index.store import NewChunk, NewDocument
from rag.collection import IndexPolicy
from rag.config import Settings
from rag.ingestion.committer import document_id_for
from rag.shards.run import ShardRun

DIMENSION = 384
_WORDS_PER_CHUNK = 60


def documents(count: int, seed: int = 7) -> list[tuple[NewDocument, list[NewChunk]]]:
    rng = np.random.default_rng(seed)
    out = []
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as corpus:
        for _, line in zip(range(count), corpus, strict=False):
            record = json.loads(line)
            path = f"/bench/{record['_id']}.txt"
            words = f"{record['title']}. {record['text']}".split()
            chunks = []
            for ordinal, start in enumerate(range(0, len(words), _WORDS_PER_CHUNK)):
                text = " ".join(words[start : start + _WORDS_PER_CHUNK])
                sentences = max(1, len(re.findall(r"[.!?](\s|$)", text)))
                chunks.append(
                    NewChunk(
                        ordinal,
                        text,
                        None,
                        record["title"],
                        ("NarrativeText",),
                        len(text) // 4,
                        _unit(rng, 1)[0],
                        _unit(rng, sentences),
                        f"{record['_id']}.txt",
                    )
                )
            document = NewDocument(
                document_id_for(path), path, "text", record["_id"], len(" ".join(words))
            )
            out.append((document, chunks))
    return out


def _unit(rng: np.random.Generator, rows: int) -> np.ndarray:
    vectors = rng.standard_normal((rows, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def write_once(
    folder: Path, docs: list[tuple[NewDocument, list[NewChunk]]], shards: int, writers: bool
) -> tuple[float, float, float]:
    """(seconds to start the writers, seconds the driver spent handing the documents over,
    seconds from the first write to the published manifest).

    In an ingest the writers start while the first files are parsed and embedded; here their
    start is timed apart, then the writes."""
    from rag.shards.writers import writer_actors

    policy = IndexPolicy.from_settings(Settings())
    run = ShardRun("bench", folder, shards, shards, "bench-model", DIMENSION, policy)
    started = time.perf_counter()
    try:
        if writers:
            run.start_writers(writer_actors())
            run.documents()  # asks every shard's writer: waits until all are up
        ready = time.perf_counter()
        for document, chunks in docs:
            run.write_document(document, chunks)
        sent = time.perf_counter()
        if writers:
            run.stop_writers()
        run.publish()
    finally:
        run.close()
    return ready - started, sent - ready, time.perf_counter() - ready


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=4000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import ray

    from rag.runtime import configure_process

    configure_process()
    docs = documents(args.documents)
    chunks = sum(len(c) for _, c in docs)
    ray.init(include_dashboard=False, object_store_memory=300_000_000, log_to_driver=False)
    rounds: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="rag-shard-writes-") as scratch:
            for number in range(args.rounds):
                # Alternate which goes first: the machine's state drifts within a round too.
                order = (False, True) if number % 2 == 0 else (True, False)
                seconds, start, send = {}, 0.0, 0.0
                for writers in order:
                    folder = Path(scratch) / f"r{number}-{'writers' if writers else 'driver'}"
                    ready_s, sent_s, seconds[writers] = write_once(
                        folder, docs, args.shards, writers
                    )
                    if writers:
                        start, send = ready_s, sent_s
                rounds.append(
                    {
                        "writers_start_s": round(start, 2),
                        # The driver's own cost of routing: what bounds the writers together.
                        "driver_send_chunks_per_s": round(chunks / send, 1),
                        "driver_s": round(seconds[False], 2),
                        "writers_s": round(seconds[True], 2),
                        "driver_chunks_per_s": round(chunks / seconds[False], 1),
                        "writers_chunks_per_s": round(chunks / seconds[True], 1),
                        "speedup": round(seconds[False] / seconds[True], 3),
                    }
                )
                if not args.json:
                    print(f"round {number + 1}: {rounds[-1]}", flush=True)
    finally:
        ray.shutdown()
    driver = sum(r["driver_s"] for r in rounds)
    writers = sum(r["writers_s"] for r in rounds)
    result = {
        "documents": len(docs),
        "chunks": chunks,
        "shards": args.shards,
        "rounds": rounds,
        "driver_chunks_per_s": round(chunks * len(rounds) / driver, 1),
        "writers_chunks_per_s": round(chunks * len(rounds) / writers, 1),
        "speedup": round(driver / writers, 3),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
