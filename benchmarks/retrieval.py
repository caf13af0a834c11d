"""Retrieval ablation on a BEIR dataset: what each component contributes, measured in one run.

    python -m benchmarks.retrieval --home /tmp/scifact-home --split test
    python -m benchmarks.retrieval --split train --grid     # tune fusion weights on train only

Each configuration goes through `rag eval`'s path (the /v1/search code). The corpus is ingested
once into `--home` (kept), later runs skip it.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

from benchmarks.ingest import SCIFACT
from ingest.embed import Embedder
from ingest.embed_runtime import make_embedder
from rag import RAG, Settings
from rag.evaluate import evaluate
from rag.llm.model_paths import default_embed_model

ABLATION: list[tuple[str, dict[str, Any]]] = [
    ("dense (MiniLM, FAISS)", {"search_mode": "dense"}),
    ("lexical (BM25: FTS5, or tantivy from 1,000 chunks)", {"search_mode": "lexical"}),
    (
        "hybrid, RRF k=60, equal weights",
        {
            "fusion": "rrf",
            "rrf_k": 60.0,
            "dense_weight": 1.0,
            "lexical_weight": 1.0,
            "sentence_weight": 0.0,
        },
    ),
    (
        "hybrid, normalized scores 0.5/0.5, no sentence vectors",
        {"dense_weight": 0.5, "lexical_weight": 0.5, "sentence_weight": 0.0},
    ),
    ("hybrid + best sentence, 0.3/0.4/0.3 (default)", {}),
]


def evaluate_with(
    args: argparse.Namespace, embedder: Embedder, overrides: dict[str, Any]
) -> dict[str, Any]:
    pooling = {"sentence_pooling": args.sentence_pooling}
    settings = Settings(home=args.home).model_copy(update={**pooling, **overrides})
    with RAG(settings=settings, embedder=embedder) as rag:
        report = evaluate(rag, args.dataset, args.split, collection=args.collection, keep=True)
        return report.to_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=SCIFACT)
    parser.add_argument("--home", type=Path, default=Path("/tmp/rag-eval-home"))
    parser.add_argument("--collection", default="eval-bench")
    parser.add_argument("--split", default="test")
    parser.add_argument("--grid", action="store_true", help="Search fusion parameters instead.")
    parser.add_argument("--runtime", choices=["torch", "onnx"], default="torch")
    parser.add_argument("--sentence-pooling", choices=["separate", "pooled"], default="separate")
    parser.add_argument("--default-only", action="store_true", help="Only the default row.")
    args = parser.parse_args()
    embedder = make_embedder(default_embed_model(), args.runtime, Settings().onnx_cache)

    if args.grid:
        # Fusion weights (dense, lexical, best sentence); run it on the train split only.
        for dense, sentence in itertools.product([0.2, 0.25, 0.3, 0.35], [0.2, 0.3, 0.4]):
            overrides = {
                "dense_weight": dense,
                "lexical_weight": round(1 - dense - sentence, 2),
                "sentence_weight": sentence,
            }
            result = evaluate_with(args, embedder, overrides)
            print(
                json.dumps(
                    {**overrides, "ndcg@10": result["ndcg@10"], "recall@100": result["recall@100"]}
                ),
                flush=True,
            )
        return

    print(f"{'configuration':52s} nDCG@10 R@10  R@100 MRR@10 p50 ms")
    for label, overrides in ABLATION[-1:] if args.default_only else ABLATION:
        r = evaluate_with(args, embedder, overrides)
        print(
            f"{label:52s} {r['ndcg@10']:.4f}  {r['recall@10']:.3f} {r['recall@100']:.3f} "
            f"{r['mrr@10']:.4f} {r['p50_ms']:.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
