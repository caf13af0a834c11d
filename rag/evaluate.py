"""Retrieval quality on a BEIR-format dataset, through the same search path as /v1/search.

A BEIR folder holds `corpus.jsonl` ({"_id", "title", "text"}), `queries.jsonl` ({"_id", "text"})
and `qrels/<split>.tsv` (query-id, corpus-id, score). The corpus is ingested as records into a
collection (thrown away afterwards unless kept), every query of the split is searched for the
best 100 documents, and the ranking is scored with ir-measures.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.core import RAG
from rag.errors import InvalidRequest
from rag.search.options import SearchMode
from rag.types import IngestReport

RECORD_PREFIX = "record:"


@dataclass(frozen=True)
class EvalReport:
    dataset: str
    split: str
    mode: str
    queries: int
    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float
    p50_ms: float
    p95_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "split": self.split,
            "mode": self.mode,
            "queries": self.queries,
            "ndcg@10": round(self.ndcg_at_10, 4),
            "recall@10": round(self.recall_at_10, 4),
            "recall@100": round(self.recall_at_100, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2),
        }


def read_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    path = folder / "qrels" / f"{split}.tsv"
    if not path.is_file():
        raise InvalidRequest(f"no qrels for split {split!r}: expected {path}")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            parts = line.rstrip("\n").split("\t")
            if number == 0 and parts[0] == "query-id":
                continue
            if len(parts) >= 3:
                qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def read_queries(folder: Path, wanted: set[str]) -> dict[str, str]:
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if str(row["_id"]) in wanted:
                queries[str(row["_id"])] = row["text"]
    return queries


def write_corpus_records(corpus: Path, target: Path, limit: int | None = None) -> int:
    """BEIR corpus rows (the first `limit`) as our JSONL records; the title is the section."""
    count = 0
    with open(corpus, encoding="utf-8") as src, open(target, "w", encoding="utf-8") as out:
        for line in src:
            if limit is not None and count >= limit:
                break
            row = json.loads(line)
            metadata = {"title": row["title"]} if row.get("title") else {}
            record = {"id": str(row["_id"]), "text": row["text"], "metadata": metadata}
            out.write(json.dumps(record) + "\n")
            count += 1
    return count


def ingest_corpus(rag: RAG, folder: Path, collection: str) -> IngestReport:
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as tmp:
        records = Path(tmp) / "corpus.jsonl"
        write_corpus_records(folder / "corpus.jsonl", records)
        return rag.ingest_jsonl(records, collection)


def run_queries(
    search: Callable[[str], list[tuple[str, float]]], queries: dict[str, str]
) -> tuple[dict[str, dict[str, float]], list[float]]:
    """Each query's ranked documents (as descending scores) and its latency in ms."""
    run: dict[str, dict[str, float]] = {}
    latencies: list[float] = []
    for query_id, text in queries.items():
        started = time.perf_counter()
        ranked = search(text)
        latencies.append((time.perf_counter() - started) * 1000)
        run[query_id] = {doc: float(len(ranked) - rank) for rank, (doc, _) in enumerate(ranked)}
    return run, latencies


def score(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    import ir_measures
    from ir_measures import RR, R, nDCG

    measures = ir_measures.calc_aggregate([nDCG @ 10, R @ 10, R @ 100, RR @ 10], qrels, run)
    return {str(m): float(v) for m, v in measures.items()}


def evaluate(
    rag: RAG,
    folder: Path,
    split: str = "test",
    mode: SearchMode | None = None,
    collection: str | None = None,
    keep: bool = False,
) -> EvalReport:
    """Ingest the corpus (unchanged records are skipped), run the split's queries, score them."""
    folder = folder.expanduser()
    for needed in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / needed).is_file():
            raise InvalidRequest(f"{folder} is not a BEIR dataset: {needed} is missing")
    qrels = read_qrels(folder, split)
    queries = read_queries(folder, set(qrels))
    name = collection or f"eval-{folder.name}"
    ingest_corpus(rag, folder, name)
    searched_mode = mode or rag.settings.search_mode

    def search(text: str) -> list[tuple[str, float]]:
        passages = rag.search(text, 100, name, mode=searched_mode, group_by_document=True)
        return [(p.path.removeprefix(RECORD_PREFIX), p.score) for p in passages]

    try:
        run, latencies = run_queries(search, queries)
    finally:
        if not keep and collection is None:
            rag.delete_collection(name)
    metrics = score(qrels, run)
    return EvalReport(
        dataset=folder.name,
        split=split,
        mode=searched_mode,
        queries=len(queries),
        ndcg_at_10=metrics["nDCG@10"],
        recall_at_10=metrics["R@10"],
        recall_at_100=metrics["R@100"],
        mrr_at_10=metrics["RR@10"],
        p50_ms=statistics.median(latencies),
        p95_ms=float(np.percentile(latencies, 95)),
    )
