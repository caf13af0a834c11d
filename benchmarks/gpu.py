"""The GPU path, measured: embedding, vector search and generation on an NVIDIA GPU.

    python -m benchmarks.gpu --json            # skips (exit 0, "skipped") without a GPU
    python -m benchmarks.gpu --vectors 1000000 10000000

- Embedding: the packaged MiniLM on torch fp16 on the GPU against the CPU runtime, chunks/s on
  the same 2,000 SciFact abstracts.
- FAISS: flat and IVF search p50 (one query at a time, as `rag search` runs) over synthetic
  sentence-like vectors (benchmarks/index.py draws them) on the GPU; IVF recall@10 against flat.
  Needs faiss-gpu (scripts/bootstrap.sh swaps it in for faiss-cpu on a GPU machine).
- llama.cpp: tokens/s of the packaged GGUF with every layer offloaded (n_gpu_layers=-1). Needs a
  CUDA build of llama-cpp-python: CMAKE_ARGS="-DGGML_CUDA=on" pip install llama-cpp-python
  (nvcc required; the registry has no CUDA wheel). A CPU build is reported as such.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from itertools import islice
from typing import Any

import numpy as np

from benchmarks.index import clustered_unit_vectors
from benchmarks.ingest import SCIFACT


def gpu_present() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def abstracts(count: int) -> list[str]:
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as corpus:
        return [f"{r['title']}\n\n{r['text']}" for r in map(json.loads, islice(corpus, count))]


def embedding(count: int) -> dict[str, Any]:
    from ingest.embed import SentenceTransformerEmbedder
    from ingest.embed_runtime import make_embedder
    from rag import Settings
    from rag.llm.model_paths import default_embed_model

    texts = abstracts(count)
    model = default_embed_model()
    rates = {}
    gpu = SentenceTransformerEmbedder(model, device="cuda", batch_size=128)  # fp16 on CUDA
    cpu = make_embedder(model, "onnx", Settings().onnx_cache)
    for name, embedder in (("gpu_fp16", gpu), ("cpu_onnx", cpu)):
        embedder.embed(texts[:64])  # load and warm up
        started = time.perf_counter()
        vectors = embedder.embed(texts)
        rates[name] = round(len(texts) / (time.perf_counter() - started), 1)
    agreement = float(np.mean(np.sum(gpu.embed(texts[:200]) * cpu.embed(texts[:200]), axis=1)))
    return {
        "texts": len(texts),
        "chunks_per_s": rates,
        "gpu_over_cpu": round(rates["gpu_fp16"] / rates["cpu_onnx"], 2),
        "mean_cosine_gpu_vs_cpu": round(agreement, 4),
        "dimension": int(vectors.shape[1]),
    }


def search(vectors: int, queries: int = 200, dim: int = 384) -> dict[str, Any]:
    import faiss

    from index.vectors import ivf_list_count

    rng = np.random.default_rng(0)
    centre = rng.normal(size=(2000, dim)).astype(np.float32)
    resources = faiss.StandardGpuResources()
    flat = faiss.GpuIndexFlatIP(resources, dim)
    lists = ivf_list_count(vectors)
    ivf = faiss.GpuIndexIVFFlat(resources, dim, lists, faiss.METRIC_INNER_PRODUCT)
    ivf.train(clustered_unit_vectors(min(vectors, 50 * lists), dim, centre, rng))
    ivf.nprobe = 32
    for start in range(0, vectors, 1_000_000):
        part = clustered_unit_vectors(min(1_000_000, vectors - start), dim, centre, rng)
        flat.add(part)
        ivf.add(part)
    probe = clustered_unit_vectors(queries, dim, centre, rng)
    timings: dict[str, list[float]] = {"flat": [], "ivf": []}
    found: dict[str, list[set[int]]] = {"flat": [], "ivf": []}
    for name, index in (("flat", flat), ("ivf", ivf)):
        index.search(probe[:1], 10)
        for query in probe:
            started = time.perf_counter()
            _, ids = index.search(query.reshape(1, -1), 10)
            timings[name].append((time.perf_counter() - started) * 1000)
            found[name].append({int(i) for i in ids[0]})
    recall = statistics.mean(
        len(a & b) / 10 for a, b in zip(found["flat"], found["ivf"], strict=True)
    )
    return {
        "vectors": vectors,
        "flat_p50_ms": round(statistics.median(timings["flat"]), 3),
        "ivf_p50_ms": round(statistics.median(timings["ivf"]), 3),
        "ivf_lists": lists,
        "ivf_nprobe": 32,
        "ivf_recall@10_vs_flat": round(recall, 3),
    }


def generation(tokens: int = 256) -> dict[str, Any]:
    import llama_cpp

    from rag.llm.model_paths import default_llm_model

    if not llama_cpp.llama_supports_gpu_offload():
        return {"skipped": "llama-cpp-python is a CPU build (CMAKE_ARGS=-DGGML_CUDA=on)"}
    llm = llama_cpp.Llama(default_llm_model(), n_gpu_layers=-1, n_ctx=2048, verbose=False)
    llm("Warm up.", max_tokens=8)
    started = time.perf_counter()
    out = llm("Write a long story about a lighthouse keeper.", max_tokens=tokens, temperature=0)
    produced = out["usage"]["completion_tokens"]
    return {
        "tokens": produced,
        "tokens_per_s": round(produced / (time.perf_counter() - started), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--vectors", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not gpu_present():
        result: dict[str, Any] = {"skipped": "no CUDA GPU visible to torch"}
    else:
        import faiss

        result = {"embedding": embedding(args.texts), "generation": generation()}
        if hasattr(faiss, "StandardGpuResources"):
            result["search"] = [search(n) for n in args.vectors]
        else:
            result["search"] = {"skipped": "faiss-cpu installed: pip install faiss-gpu==1.15.1"}
    print(json.dumps(result, indent=2 if not args.json else None))


if __name__ == "__main__":
    main()
