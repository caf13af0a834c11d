"""Exact (flat) against approximate (IVF) FAISS search: recall@10 and latency, same run.

    python -m benchmarks.index                      # 200,000 vectors of 384 dims
    python -m benchmarks.index --vectors 500000 --json

The vectors are synthetic but shaped like sentence embeddings: unit vectors drawn around 2,000
topic centres, so that neighbours exist (uniform random vectors would make every index look
bad), with noise wider than the topics so that they overlap. Queries are new draws from the same
topics. Recall@10 is measured against the exact
top 10 of the flat index; latency is one query at a time, as `rag search` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

from index.vectors import FaissIndex, ivf_list_count


def clustered_unit_vectors(
    count: int, dim: int, centre: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Unit vectors around random topic centres, with noise larger than the centres' spread.

    Topics overlap heavily, as they do in real embeddings, so an approximate index has to work
    for its recall.
    """
    labels = rng.integers(0, len(centre), size=count)
    vectors = centre[labels] + rng.normal(scale=1.5, size=(count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def timed_search(index: FaissIndex, queries: np.ndarray, k: int) -> tuple[list[set[int]], float]:
    results, times = [], []
    for query in queries:
        started = time.perf_counter()
        ids, _ = index.search(query, k)
        times.append(time.perf_counter() - started)
        results.append({int(i) for i in ids})
    return results, statistics.median(times) * 1000


def run(vectors: int, dim: int, queries: int, nprobes: list[int]) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=(2000, dim)).astype(np.float32)
    data = clustered_unit_vectors(vectors, dim, centre, rng)
    # Queries are new draws from the same topics, not copies of stored vectors.
    probe = clustered_unit_vectors(queries, dim, centre, rng)
    ids = np.arange(1, vectors + 1, dtype=np.int64)

    flat = FaissIndex.create(dim)
    flat.add(ids, data)
    truth, flat_ms = timed_search(flat, probe, 10)

    lists = ivf_list_count(vectors)
    started = time.perf_counter()
    sample = data[rng.choice(vectors, size=min(vectors, 100_000), replace=False)]
    ivf = FaissIndex.create_ivf(sample, lists, nprobe=1)
    ivf.add(ids, data)
    build_s = time.perf_counter() - started
    rows = []
    for nprobe in nprobes:
        ivf.set_nprobe(nprobe)
        found, ivf_ms = timed_search(ivf, probe, 10)
        recall = statistics.mean(len(f & t) / len(t) for f, t in zip(found, truth, strict=True))
        rows.append(
            {
                "nprobe": nprobe,
                "recall@10": round(recall, 4),
                "p50_ms": round(ivf_ms, 3),
                "speedup_vs_flat": round(flat_ms / ivf_ms, 1),
            }
        )
    return {
        "vectors": vectors,
        "dim": dim,
        "queries": queries,
        "flat_p50_ms": round(flat_ms, 3),
        "ivf_lists": lists,
        "ivf_build_s": round(build_s, 1),
        "ivf": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.vectors, args.dim, args.queries, args.nprobe)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['vectors']} vectors x {result['dim']} dims, {result['queries']} queries")
    print(f"flat: p50 {result['flat_p50_ms']} ms/query (exact)")
    print(f"ivf: {result['ivf_lists']} lists, built in {result['ivf_build_s']} s")
    for row in result["ivf"]:
        print(
            f"  nprobe {row['nprobe']:3d}: recall@10 {row['recall@10']:.4f}, "
            f"p50 {row['p50_ms']} ms/query, {row['speedup_vs_flat']}x flat"
        )


if __name__ == "__main__":
    main()
