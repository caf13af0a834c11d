"""Where a search's time goes, stage by stage: for profiling (benchmarks.service)."""

from __future__ import annotations

import time
from collections import defaultdict


class StageClock:
    """Seconds per search stage, summed over every search it is passed to (one thread)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._last = time.perf_counter()

    def start(self) -> None:
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        """Charge the time since the last lap (or start) to `stage`."""
        now = time.perf_counter()
        self.seconds[stage] += now - self._last
        self._last = now

    def shares(self) -> dict[str, float]:
        """Each stage's share of the total, largest first."""
        total = sum(self.seconds.values()) or 1.0
        ordered = sorted(self.seconds.items(), key=lambda pair: pair[1], reverse=True)
        return {stage: seconds / total for stage, seconds in ordered}
