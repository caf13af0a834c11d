"""The embedding runtimes side by side: same texts, same model, torch against ONNX Runtime.

    python -m benchmarks.embed_runtime --split train          # choose on train
    python -m benchmarks.embed_runtime --split test --json    # report once

Embeds the SciFact corpus (title and abstract, cut at the model's window) with each runtime,
then reports per runtime: seconds to embed it, dense-only nDCG@10 of the split's queries, and
the cosine of its vectors to torch's (mean and minimum), plus the speed ratio to torch in the
same run. Dense retrieval alone isolates what the runtime changes; `benchmarks.retrieval
--runtime onnx` measures the whole pipeline.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import print_figures
from ingest.embed import Embedder
from ingest.embed_runtime import make_embedder
from rag import Settings
from rag.evaluate import read_qrels, read_queries, score
from rag.llm.model_paths import default_embed_model

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"


def read_corpus(folder: Path, limit: int | None) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with open(folder / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            if limit is not None and len(ids) >= limit:
                break
            row = json.loads(line)
            ids.append(str(row["_id"]))
            texts.append(f"{row.get('title', '')}\n{row['text']}".strip())
    return ids, texts


def dense_ndcg(
    ids: list[str], docs: np.ndarray, queries: np.ndarray, query_ids: list[str], qrels: Any
) -> float:
    scores = queries @ docs.T
    run = {}
    for row, query_id in enumerate(query_ids):
        top = np.argsort(-scores[row])[:100]
        run[query_id] = {ids[j]: float(scores[row, j]) for j in top}
    return score(qrels, run)["nDCG@10"]


def measure(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    embedder.embed(texts[:64])  # warm-up: model load and first-batch allocation are not timed
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    return vectors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--split", default="train")
    parser.add_argument("--limit", type=int, default=None, help="Only the first N documents.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    ids, texts = read_corpus(args.dataset, args.limit)
    qrels = read_qrels(args.dataset, args.split)
    queries = read_queries(args.dataset, set(qrels))
    query_ids, query_texts = list(queries), list(queries.values())
    result: dict[str, Any] = {"documents": len(texts), "queries": len(queries)}
    reference: np.ndarray | None = None
    torch_s = 0.0
    with tempfile.TemporaryDirectory(prefix="rag-onnx-") as cache:
        for runtime in ("torch", "onnx"):
            embedder = make_embedder(default_embed_model(), runtime, Path(cache))
            vectors, seconds = measure(embedder, texts)
            ndcg = dense_ndcg(ids, vectors, embedder.embed(query_texts), query_ids, qrels)
            result[f"{runtime}_embedder"] = type(embedder).__name__
            result[f"{runtime}_embed_s"] = round(seconds, 2)
            result[f"{runtime}_dense_ndcg@10"] = round(ndcg, 4)
            if reference is None:
                reference, torch_s = vectors, seconds
            else:
                cosine = (vectors * reference).sum(axis=1)
                result[f"{runtime}_cosine_mean"] = round(float(cosine.mean()), 4)
                result[f"{runtime}_cosine_min"] = round(float(cosine.min()), 4)
                result[f"{runtime}_speed_over_torch"] = round(torch_s / seconds, 2)
    result["settings_default_runtime"] = Settings().embed_runtime
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
