"""Prometheus metrics of the service beyond HTTP latency (which litestar's middleware records).

Each app has its own registry, so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rag.types import Answer, FileOutcome, FileStatus


class ServiceMetrics:
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.ingested_files = Counter(
            "localrag_ingest_files",
            "Files finished by ingestion jobs, by outcome.",
            ["status"],
            registry=self.registry,
        )
        self.ingested_chunks = Counter(
            "localrag_ingest_chunks", "Chunks stored by ingestion jobs.", registry=self.registry
        )
        self.ingest_failures = Counter(
            "localrag_ingest_failures", "Files that ingestion jobs could not ingest.",
            registry=self.registry,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "localrag_ingest_queue_depth",
            "Uploaded files waiting for or in ingestion.",
            registry=self.registry,
        )
        self.queue_depth.set_function(queue_depth)
        self.generated_tokens = Counter(
            "localrag_generated_tokens", "Answer tokens generated.", registry=self.registry
        )
        self.tokens_per_second = Histogram(
            "localrag_generation_tokens_per_second",
            "Decode speed of each generated answer.",
            buckets=(1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 250, 500),
            registry=self.registry,
        )
        self.first_token = Histogram(
            "localrag_generation_first_token_seconds",
            "Time from the question to the first answer token (retrieval included).",
            buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
            registry=self.registry,
        )
        self.cancelled = Counter(
            "localrag_generations_cancelled",
            "Streamed answers stopped because the client went away.",
            registry=self.registry,
        )
        self.not_found = Counter(
            "localrag_answers_not_found",
            "Questions answered 'not found' without calling the LLM.",
            registry=self.registry,
        )

    def record_outcome(self, outcome: FileOutcome) -> None:
        self.ingested_files.labels(str(outcome.status)).inc()
        self.ingested_chunks.inc(outcome.chunks)
        if outcome.status == FileStatus.FAILED:
            self.ingest_failures.inc()

    def record_answer(self, answer: Answer) -> None:
        if not answer.sources:
            self.not_found.inc()
            return
        self.generated_tokens.inc(answer.usage.completion_tokens)
        timings = answer.timings
        if timings.tokens_per_second:
            self.tokens_per_second.observe(timings.tokens_per_second)
        if timings.first_token_ms is not None:
            self.first_token.observe(timings.first_token_ms / 1000)
