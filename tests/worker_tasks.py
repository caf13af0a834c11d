"""Tasks for the worker-pool tests: they run inside real parse worker processes."""

from __future__ import annotations

import os
import signal
import time


def double(value: int) -> int:
    return value * 2


def crash_on_odd(value: int) -> int:
    """Dies the way a parser's C code does (SIGSEGV) on odd numbers."""
    if value % 2:
        os.kill(os.getpid(), signal.SIGSEGV)
    return value * 2


def sleep_then_double(value: int) -> int:
    """Sleeps `value` seconds: a parser stuck on a file."""
    time.sleep(value)
    return value * 2


def worker_pid(_: int) -> int:
    return os.getpid()
