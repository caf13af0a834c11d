"""Where an ingest run's time goes, stage by stage, so the slow one is named, not guessed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

from rag.types import IngestStages

STAGES = tuple(f.name for f in fields(IngestStages))


class StageClock:
    """Seconds per stage of one run (`IngestStages` names them); used from one thread."""

    def __init__(self) -> None:
        self._seconds = dict.fromkeys(STAGES, 0.0)

    def add(self, stage: str, seconds: float) -> None:
        self._seconds[stage] += seconds

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def report(self) -> IngestStages:
        return IngestStages(**self._seconds)
