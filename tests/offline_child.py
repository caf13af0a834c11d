"""The environment of a child process that has to go offline by itself: the switches a test run
sets are removed, and the socket guard (socket_guard/sitecustomize.py) refuses and records
every connection it, or any process it starts, attempts."""

from __future__ import annotations

import os
from pathlib import Path

GUARD = Path(__file__).resolve().parent / "socket_guard"
# Variables a test run sets that the product must not rely on: it has to go offline itself.
TEST_RUN_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "SCARF_NO_ANALYTICS", "DO_NOT_TRACK")


def offline_child_env(attempts: Path, *import_paths: Path) -> dict[str, str]:
    """This process's environment without the test run's switches, guarded, the connections
    it attempts recorded in `attempts` (created at the first one)."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_RUN_SWITCHES}
    env.update(
        PYTHONPATH=os.pathsep.join([str(GUARD), *map(str, import_paths)]),
        RAG_TEST_SOCKET_LOG=str(attempts),
    )
    return env
