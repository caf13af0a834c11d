"""What the request handlers share: the RAG engine, the job queue, metrics, readiness."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from api.job_runner import JobRunner
from api.jobs import JobStore
from api.metrics import ServiceMetrics
from rag.core import RAG


@dataclass
class Services:
    rag: RAG
    jobs: JobStore
    runner: JobRunner
    metrics: ServiceMetrics
    ready: threading.Event = field(default_factory=threading.Event)
    warm_up_error: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, rag: RAG) -> Services:
        jobs = JobStore(rag.settings.home / "jobs.sqlite")
        metrics = ServiceMetrics(jobs.queue_depth)
        runner = JobRunner(rag, jobs, on_outcome=metrics.record_outcome)
        return cls(rag, jobs, runner, metrics)

    def start(self) -> None:
        """Run at start-up (the app's lifespan, not its factory): forget jobs finished longer
        ago than RAG_JOB_RETENTION_DAYS, then take up queued work."""
        retention = timedelta(days=self.rag.settings.job_retention_days)
        self.jobs.forget_finished(datetime.now(UTC) - retention)
        self.runner.start()

    def warm_up(self) -> None:
        """Load the models; /readyz turns 200 when done (or reports why not)."""
        try:
            self.rag.warm_up()
        except Exception as exc:
            self.warm_up_error.append(str(exc))
            raise
        finally:
            self.ready.set()

    def close(self) -> None:
        self.runner.stop()
        self.jobs.close()
