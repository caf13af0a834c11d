"""Load on the HTTP service over loopback: many search clients, and search during generation.

    python -m benchmarks.service                       # 64 clients x 10 searches each
    python -m benchmarks.service --clients 64 --requests 10 --json

Starts `rag serve` on a free port over a throwaway collection of SciFact abstracts, then:
1. 64 concurrent `/v1/search` clients (bounded by request count and a time limit): errors,
   p50/p99 latency and throughput;
2. `/v1/search` p50 from one client with nothing else running (idle);
3. the same while a streamed `/v1/ask` is generating; prints the ratio to idle (target <= 2);
4. where a search's time goes: the same questions searched in-process, one at a time, each
   stage's share (embedding the query, FAISS, FTS5, best sentence, pages, fusion, reading the
   passages) and the in-process p50 beside the HTTP one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.report import print_figures
from rag import RAG
from rag.evaluate import read_qrels, read_queries, write_corpus_records
from rag.search.clock import StageClock
from rag.search.retrieve import search
from tests.servers import free_port, running_server

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"
RAG_BIN = Path(sys.executable).parent / "rag"


async def _search(client: httpx.AsyncClient, query: str) -> tuple[float, bool]:
    started = time.perf_counter()
    try:
        response = await client.post("/v1/search", json={"query": query, "k": 5})
        ok = response.status_code == 200
    except httpx.HTTPError:
        ok = False
    return (time.perf_counter() - started) * 1000, ok


async def many_clients(
    base: str, queries: list[str], clients: int, requests: int, limit_s: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + limit_s
    limits = httpx.Limits(max_connections=clients)

    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:

        async def one_client(number: int) -> None:
            nonlocal errors
            for i in range(requests):
                if time.monotonic() > deadline:
                    return
                ms, ok = await _search(client, queries[(number * requests + i) % len(queries)])
                latencies.append(ms)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(one_client(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
    }


async def sequential_p50(base: str, queries: list[str], count: int) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        latencies = [(await _search(client, q))[0] for q in queries[:count]]
    return statistics.median(latencies)


async def p50_while_generating(base: str, queries: list[str], count: int) -> tuple[float, int, int]:
    """Search p50 while a streamed answer is being generated; also how many tokens streamed."""
    streamed = 0

    async def ask() -> None:
        nonlocal streamed
        body = {"question": queries[0], "stream": True, "mode": "generative"}
        async with (
            httpx.AsyncClient(base_url=base, timeout=300) as client,
            client.stream("POST", "/v1/ask", json=body) as response,
        ):
            async for line in response.aiter_lines():
                if line.startswith("event: token"):
                    streamed += 1

    task = asyncio.create_task(ask())
    await asyncio.sleep(0.2)  # the request is in: prompt evaluation, then decoding
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for query in queries[1:]:
            if task.done() or len(latencies) >= count:
                break
            latencies.append((await _search(client, query))[0])
    await task
    if len(latencies) < 5:
        raise SystemExit("the answer finished too soon to measure; raise --answer-tokens")
    return statistics.median(latencies), len(latencies), streamed


def stage_profile(home: Path, queries: list[str]) -> dict[str, Any]:
    """Each search stage's share of the in-process search time, and its p50 per search."""
    rag = RAG(home)
    try:
        for query in queries[:10]:  # warm caches, as the server was
            rag.search(query)
        clock = StageClock()
        latencies: list[float] = []
        collection, options = rag.collection(), rag.search_options()
        for query in queries:
            started = time.perf_counter()
            search(collection, rag.embedder, query, options, clock=clock)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        rag.close()
    shares = {f"share_{stage}": round(share, 3) for stage, share in clock.shares().items()}
    return {"search_p50_in_process_ms": round(statistics.median(latencies), 1), **shares}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=10, help="Searches per client.")
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--corpus-limit", type=int, default=1000)
    parser.add_argument("--answer-tokens", type=int, default=512)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    qrels = read_qrels(SCIFACT, "test")
    queries = list(read_queries(SCIFACT, set(qrels)).values())
    with tempfile.TemporaryDirectory(prefix="rag-bench-service-") as tmp:
        home = Path(tmp) / "home"
        records = Path(tmp) / "corpus.jsonl"
        write_corpus_records(SCIFACT / "corpus.jsonl", records, args.corpus_limit)
        # A long answer, so that many searches run while it is generated.
        prompt = Path(tmp) / "prompt.toml"
        prompt.write_text(
            'question = "{{ passages }}\\n\\nWrite a long, detailed essay about: {{ question }}"\n'
        )
        env = {
            **os.environ,
            "RAG_RAG_PROMPT_FILE": str(prompt),
            "RAG_HOME": str(home),
            "RAG_MAX_ANSWER_TOKENS": str(args.answer_tokens),
            "RAG_MIN_SIMILARITY": "-1",
            "RAG_REPEAT_PENALTY": "1.0",
        }
        subprocess.run([str(RAG_BIN), "ingest", "--jsonl", str(records)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [str(RAG_BIN), "serve", "--port", str(port)]
        with running_server(command, f"{base}/readyz", env):
            asyncio.run(sequential_p50(base, queries, 10))  # warm caches
            load = asyncio.run(
                many_clients(base, queries, args.clients, args.requests, args.time_limit)
            )
            # The same questions as the searches run during generation below.
            idle = asyncio.run(sequential_p50(base, queries[1:], 200))
            busy, searched, streamed = asyncio.run(p50_while_generating(base, queries, 200))
        profile = stage_profile(home, queries[1:201])
    result = {
        **{f"load_{k}": v for k, v in load.items()},
        "search_p50_idle_ms": round(idle, 1),
        "search_p50_while_generating_ms": round(busy, 1),
        "searches_while_generating": searched,
        "tokens_streamed_meanwhile": streamed,
        "ratio_generating_over_idle": round(busy / idle, 2),
        **profile,
    }
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
