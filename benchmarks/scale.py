"""Ray against one machine, same files, same cores: ingest time per stage, and search quality
of a sharded collection against one store.

    python -m benchmarks.scale --json                 # all 5,183 SciFact abstracts
    python -m benchmarks.scale --docs 1000            # a quicker look (queries whose relevant
                                                      # abstracts are all in the subset)

The abstracts are written as text files (title, blank line, text) and ingested twice into fresh
collections: on this machine into one store, and with `--ray` (a local Ray started for the run,
as `rag ingest --ray` does) into 4 shards. Printed: seconds and chunks/s per stage, the Ray
run's time over the single-machine time (target <= 1.3 on the same cores), and nDCG@10 of the
test queries on both collections (target: within 0.005). Nothing here is tuned: the shard
count and settings are the defaults, but for keyword search on FTS5 in both collections (what
is compared is sharding, not two BM25 engines).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.ingest import SCIFACT
from rag import RAG, Settings
from rag.evaluate import read_qrels, read_queries, run_queries, score
from rag.types import IngestReport


def write_abstracts(dataset: Path, target: Path, keep: set[str] | None) -> int:
    target.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(dataset / "corpus.jsonl", encoding="utf-8") as corpus:
        for line in corpus:
            record = json.loads(line)
            if keep is not None and record["_id"] not in keep:
                continue
            text = f"{record['title']}\n\n{record['text']}"
            (target / f"{record['_id']}.txt").write_text(text, encoding="utf-8")
            written += 1
    return written


def subset(dataset: Path, split: str, docs: int | None) -> tuple[set[str] | None, set[str]]:
    """The abstracts to ingest (None: all) and the queries to score on them."""
    qrels = read_qrels(dataset, split)
    if docs is None:
        return None, set(qrels)
    keep: set[str] = set()
    queries: set[str] = set()
    for query, relevant in qrels.items():
        if len(keep | set(relevant)) > docs // 2:
            break
        keep |= set(relevant)
        queries.add(query)
    with open(dataset / "corpus.jsonl", encoding="utf-8") as corpus:
        for line in corpus:
            if len(keep) >= docs:
                break
            keep.add(json.loads(line)["_id"])
    return keep, queries


def stage_rates(report: IngestReport) -> dict[str, Any]:
    chunks = report.chunks
    stages = {k: round(v, 1) for k, v in vars(report.stages).items()}
    return {
        "seconds": round(report.seconds, 1),
        "chunks": chunks,
        "chunks_per_s": round(chunks / report.seconds, 1),
        "stage_seconds": stages,
        "stage_chunks_per_s": {
            name: round(chunks / spent, 1) for name, spent in vars(report.stages).items() if spent
        },
    }


def ndcg(rag: RAG, collection: str, dataset: Path, split: str, queries: set[str]) -> float:
    qrels = {q: r for q, r in read_qrels(dataset, split).items() if q in queries}
    texts = read_queries(dataset, set(qrels))

    def search(text: str) -> list[tuple[str, float]]:
        passages = rag.search(text, 100, collection, group_by_document=True)
        return [(Path(p.path).stem, p.score) for p in passages]

    run, _ = run_queries(search, texts)
    return score(qrels, run)["nDCG@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--split", default="test")
    parser.add_argument("--docs", type=int, default=None, help="Abstracts to use (default all).")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    keep, queries = subset(args.dataset, args.split, args.docs)
    with tempfile.TemporaryDirectory(prefix="rag-scale-") as tmp:
        files = Path(tmp) / "abstracts"
        count = write_abstracts(args.dataset, files, keep)
        # Keywords on FTS5 in both (as tests/test_shards.py does): from 1,000 chunks one store
        # ranks keywords on tantivy, a different BM25, while shards below
        # RAG_SHARD_KEYWORD_MIN_CHUNKS rescore on FTS5; what is compared here is sharding.
        settings = Settings(home=Path(tmp) / "home", keyword_index_min_chunks=100_000)
        with RAG(settings=settings) as rag:
            rag.embedder.warm_up()  # model load outside both timings
            started = time.monotonic()
            one = rag.ingest([files], "one")
            one_s = time.monotonic() - started
            started = time.monotonic()
            sharded = rag.ingest([files], "sharded", ray=True, shards=args.shards)
            ray_s = time.monotonic() - started
            one_ndcg = ndcg(rag, "one", args.dataset, args.split, queries)
            sharded_ndcg = ndcg(rag, "sharded", args.dataset, args.split, queries)
    result = {
        "files": count,
        "cpus": os.cpu_count(),
        "queries": len(queries),
        "single_machine": stage_rates(one),
        "ray": {**stage_rates(sharded), "shards": args.shards},
        "ray_over_single_time": round(ray_s / one_s, 3),
        "ndcg@10_one_store": round(one_ndcg, 4),
        "ndcg@10_sharded": round(sharded_ndcg, 4),
        "ndcg@10_difference": round(sharded_ndcg - one_ndcg, 4),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{count} files on {result['cpus']} CPUs")
    for name in ("single_machine", "ray"):
        part = result[name]
        print(f"  {name}: {part['seconds']} s, {part['chunks_per_s']} chunks/s")
        print(f"    stage seconds: {part['stage_seconds']}")
    print(f"  Ray time / single-machine time: {result['ray_over_single_time']}")
    print(
        f"  nDCG@10 ({args.split}, {len(queries)} queries): one store "
        f"{result['ndcg@10_one_store']}, {args.shards} shards {result['ndcg@10_sharded']} "
        f"(difference {result['ndcg@10_difference']:+.4f})"
    )


if __name__ == "__main__":
    main()
