"""A saved FAISS index opened two ways: read into memory, or memory-mapped (published shards).

    python -m benchmarks.mapped_index PATH/vectors.faiss --json

Each way runs in a fresh process (so the resident memory is its own): seconds to open, query
p50 over random unit queries (the first ones fault pages in), and resident memory after them:
private (the process's own) and file pages (the page cache's, shared by every process mapping
the file, and given back by the kernel under memory pressure).
The page cache is shared: run it on a file read recently, as a serving machine has it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_ONE_WAY = """
import json, resource, statistics, sys, time
import numpy as np
from index.vectors import FaissIndex
path, mapped, queries = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
started = time.perf_counter()
index = FaissIndex.load(__import__("pathlib").Path(path), mapped=mapped)
opened = time.perf_counter() - started
if index.is_ivf:
    index.set_nprobe(32)
rng = np.random.default_rng(0)
times = []
for _ in range(queries):
    q = rng.normal(size=index.dimension).astype(np.float32)
    q /= np.linalg.norm(q)
    t = time.perf_counter()
    index.search(q, 100)
    times.append((time.perf_counter() - t) * 1000)
with open("/proc/self/status") as status:
    kb = {l.split(":")[0]: int(l.split()[1]) for l in status if l.startswith("Rss")}
print(json.dumps({
    "open_s": round(opened, 2),
    "p50_ms": round(statistics.median(times), 2),
    "private_mb": round(kb["RssAnon"] / 1024),
    "shared_file_mb": round(kb["RssFile"] / 1024),
}))
"""


def one_way(path: Path, mapped: bool, queries: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _ONE_WAY, str(path), "1" if mapped else "0", str(queries)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    read = one_way(args.path, False, args.queries)
    mapped = one_way(args.path, True, args.queries)
    result = {
        "file_mb": round(args.path.stat().st_size / 2**20),
        "read": read,
        "mapped": mapped,
        "private_read_over_mapped": round(read["private_mb"] / max(1, mapped["private_mb"]), 1),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
