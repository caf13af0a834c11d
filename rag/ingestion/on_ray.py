"""`rag ingest --ray`: the single-machine steps, run as a Ray Data pipeline.

    driver      walk, hash, skip unchanged            (plan_files, as on one machine)
    Ray tasks   parse + chunk, one CPU each           (ingest.prepare.prepare)
    Ray actors  embed, one GPU each when there are    (embed_documents; ActorPoolStrategy)
    driver      route each file to its shard's copy (DocumentWriter -> ShardRun), publish
    Ray actors  write the shard copies, one process each, on the driver's node (shards.writers)

Rows cross the cluster as pickled plain values (the same dataclasses the parse workers of a
single machine return). Ray retries the tasks and actor calls of a worker that dies; a file is
written by replacing its document, and chunk ids follow from the document, so a retried file
never leaves duplicates. Paths must be visible at the same place on every node (a shared
filesystem), or be in an object store (`s3://...`, `ingest.remote`), which each worker reads
itself: a worker that cannot see a local path fails that file with a reason saying so.

Privacy: Ray's usage statistics are off (RAY_USAGE_STATS_ENABLED=0, rag.runtime), no dashboard
is started, and the worker processes get the driver's offline switches.
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ingest.elements import ParseOptions
from ingest.embed import Embedder
from ingest.embed_runtime import EmbedRuntime, make_embedder
from ingest.offline import TELEMETRY_OPT_OUTS
from ingest.prepare import DocumentTask, PreparedDocument, prepare
from ingest.remote import RemoteLocation
from rag.errors import RagError
from rag.ingestion.committer import (
    DocumentWriter,
    EmbeddedDocument,
    NoProgress,
    Progress,
    embed_documents,
)
from rag.ingestion.pipeline import (
    IngestOptions,
    Source,
    candidate_files,
    plan_files,
    prune_missing,
)
from rag.ingestion.stages import StageClock
from rag.optional import require
from rag.shards.run import ShardRun
from rag.shards.writers import writer_actors
from rag.types import FileOutcome, FileStatus, IngestReport

# The environment the workers must share with the driver: offline hub switches, telemetry off.
_SHARED_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", *TELEMETRY_OPT_OUTS)
# With inputs in an object store, the workers of a cluster read them with the driver's AWS
# settings (keys, region, profile); other stores' workers use their nodes' own credentials.
_STORE_ENV_PREFIX = "AWS_"


_PARSE_MEMORY_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class EmbedSpec:
    """How each embedding actor loads its own copy of the collection's embedder."""

    model: str
    runtime: EmbedRuntime
    cache: Path
    batch_size: int
    sentence_vectors: bool
    pooled_sentences: bool


@dataclass(frozen=True)
class RayOptions:
    """Where to run: `address` None starts a local Ray for the run (stopped after it)."""

    address: str | None = None
    object_store_bytes: int = 500_000_000
    # Files per embedding call: many files' chunks are embedded together (less padding).
    batch_files: int = 64
    # Each shard copy written by a process of its own (False: by the driver).
    shard_writers: bool = True


def ingest_on_ray(
    target: ShardRun,
    embedder: Embedder,
    paths: Iterable[Source],
    options: IngestOptions,
    spec: EmbedSpec,
    ray_options: RayOptions,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest `paths` into `target` (a ShardRun) with the parsing and embedding on Ray."""
    started = time.monotonic()
    tracker = progress or NoProgress()
    roots = list(paths)
    candidates = list(candidate_files(roots))
    tracker.start(len(candidates))
    outcomes: list[FileOutcome] = []
    clock = StageClock()
    # With shard writers, write_s is their own seconds (summed over their processes, as embed
    # seconds are over the actors'): the driver's time in a write call is only the sending.
    writes_clock = StageClock() if ray_options.shard_writers else clock
    writer = DocumentWriter(target, outcomes, tracker, writes_clock)
    parse = ParseOptions(ocr=options.ocr, tables=options.table_rows, threads=1)
    tasks: list[DocumentTask] = []
    with clock.timing("plan_s"):
        for item in plan_files(target, embedder, candidates, options, parse):
            if isinstance(item, FileOutcome):
                writer.outcome(item)
            else:
                tasks.append(item)
    if tasks:
        with _stdout_to_stderr():
            remote = any(isinstance(root, RemoteLocation) for root in roots)
            started_ray = _connect(ray_options, remote)
            try:
                if ray_options.shard_writers:
                    target.start_writers(writer_actors())
                try:
                    for row in _pipeline(tasks, spec, ray_options).iter_rows():
                        _write(pickle.loads(row["done"]), writer, clock)
                        writer.save_now_and_then()
                finally:
                    if ray_options.shard_writers:
                        clock.add("write_s", target.stop_writers())
            finally:
                if started_ray:
                    import ray

                    ray.shutdown()
    if options.prune:
        prune_missing(target, roots, writer)
    writer.save_index()
    if writes_clock is not clock:
        clock.add("index_save_s", writes_clock.report().index_save_s)
    return IngestReport(target.name, outcomes, time.monotonic() - started, clock.report())


def _write(done: tuple[Any, dict[str, float]], writer: DocumentWriter, clock: StageClock) -> None:
    result, seconds = done
    for stage, spent in seconds.items():
        clock.add(stage, spent)
    if isinstance(result, EmbeddedDocument):
        writer.commit(result)
    else:
        writer.outcome(FileOutcome(result.task.path, FileStatus.FAILED, result.error))


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what Ray prints while it runs ("(raylet) A worker died ...") to stderr, at the
    file-descriptor level (some of it is not Python's): stdout stays the caller's, so
    `rag ingest --json` prints JSON alone."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _connect(ray_options: RayOptions, remote_inputs: bool) -> bool:
    """Join the cluster at the address, or start a local Ray; False when one is already up."""
    require(
        "ray.data",
        package="ray[data]",
        feature="ingesting with --ray",
        install="pip install 'localrag[ray]' (from a checkout: pip install -e '.[ray]')",
    )
    import ray

    if ray.is_initialized():
        return False
    env = {name: os.environ[name] for name in _SHARED_ENV if name in os.environ}
    if remote_inputs:
        env |= {k: v for k, v in os.environ.items() if k.startswith(_STORE_ENV_PREFIX)}
    try:
        if ray_options.address:
            ray.init(
                address=ray_options.address,
                runtime_env={"env_vars": env},
                log_to_driver=False,
            )
        else:
            ray.init(
                include_dashboard=False,
                object_store_memory=ray_options.object_store_bytes,
                log_to_driver=False,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = ray_options.address or "a local Ray"
        raise RagError(
            f"cannot start or reach {where}: {exc}; check the address (`ray status` on the "
            "head node prints it) or leave it out to run Ray on this machine"
        ) from exc
    return True


def _pipeline(tasks: list[DocumentTask], spec: EmbedSpec, ray_options: RayOptions) -> Any:
    import ray
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    cpus = int(ray.cluster_resources().get("CPU", 1))
    gpus = int(ray.cluster_resources().get("GPU", 0))
    # With GPUs: one actor per GPU. Without: a quarter of the cores' worth of actors, each
    # spreading its runtime's threads over its share of the cores (parsing needs the rest).
    actors = gpus or max(1, cpus // 4)
    threads = None if gpus else max(1, cpus // actors)
    rows = [{"task": pickle.dumps(task)} for task in tasks]
    return (
        ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * cpus)))
        # A parse task reserves memory for a large PDF. (A request unlike the actors' also
        # keeps parsing in tasks of its own, in parallel, rather than fused into the embedding
        # actors, where it would run one file at a time.) Ray runs a task again when its
        # worker dies (3 times by default).
        .map(_prepare_row, num_cpus=1, memory=_PARSE_MEMORY_BYTES)
        .map_batches(
            _EmbedFiles,
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=ray_options.batch_files,
            fn_constructor_kwargs={"spec": spec, "threads": threads},
            num_cpus=1,
            num_gpus=1 if gpus else 0,
            # Ray sets OMP_NUM_THREADS to a worker's CPU request (1): the embedder then ran 3.5x
            # slower with 2 threads asked of ONNX Runtime (7.7 vs 2.2 s for 200 texts here).
            runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}} if threads else None,
        )
    )


def _prepare_row(row: dict[str, Any]) -> dict[str, Any]:
    """Parse and chunk one file on a worker (the pure step parse workers run on one machine)."""
    task: DocumentTask = pickle.loads(row["task"])
    if task.text is None and task.source is None and not os.path.exists(task.path):
        prepared = PreparedDocument(
            task,
            [],
            f"not visible on Ray worker {socket.gethostname()}: every node must see the files "
            "at the same path (a shared filesystem mounted in the same place)",
        )
    else:
        prepared = prepare(task)
    return {"prepared": pickle.dumps(prepared)}


class _EmbedFiles:
    """A Ray actor holding one embedder: embeds a batch of prepared files' chunks together."""

    def __init__(self, spec: EmbedSpec, threads: int | None) -> None:
        self._spec = spec
        self._embedder = make_embedder(
            spec.model, spec.runtime, spec.cache, batch_size=spec.batch_size, threads=threads
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prepared: list[PreparedDocument] = [pickle.loads(b) for b in batch["prepared"]]
        good = [p for p in prepared if p.error is None]
        clock = StageClock()
        embedded = (
            embed_documents(
                self._embedder,
                good,
                self._spec.sentence_vectors,
                self._spec.pooled_sentences,
                clock,
            )
            if good
            else []
        )
        report = clock.report()
        seconds = {"embed_chunks_s": report.embed_chunks_s}
        seconds["embed_sentences_s"] = report.embed_sentences_s
        seconds["parse_s"] = sum(p.parse_seconds for p in good)
        seconds["chunk_s"] = sum(p.chunk_seconds for p in good)
        by_path = {e.prepared.task.path: e for e in embedded}
        out = []
        for index, item in enumerate(prepared):
            result: Any = by_path.get(item.task.path, item)
            # The batch's stage times ride on its first row only: summed once by the driver.
            out.append(pickle.dumps((result, seconds if index == 0 else {})))
        return {"done": np.array(out, dtype=object)}
