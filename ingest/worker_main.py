"""A parse worker process: runs the tasks `ingest.workers.WorkerPool` sends it, one at a time.

Started as `python -m ingest.worker_main FD PARENT_PID`; it imports only what its tasks
need, never the parent's `__main__`. It exits when its socket closes or its parent is gone.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any


def _watch_parent(parent_pid: int) -> None:
    """Exit as soon as the parent is gone (killed with SIGKILL, say): re-parented, our
    parent pid changes. The socket would tell too, but only once the current task ends."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(0.5)


def serve(connection: Connection) -> None:
    functions: dict[tuple[str, str], Any] = {}
    while True:
        try:
            data = connection.recv_bytes()
        except (EOFError, OSError):
            return
        call, item = pickle.loads(data)
        try:
            if call not in functions:
                functions[call] = getattr(importlib.import_module(call[0]), call[1])
            reply: tuple[str, Any] = ("ok", functions[call](item))
        except Exception as exc:  # reported as the task's failure; the worker carries on
            reply = ("error", f"unexpected parser error: {type(exc).__name__}: {exc}")
        connection.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def main(argv: list[str]) -> None:
    fd, parent_pid = int(argv[0]), int(argv[1])
    # Ctrl-C reaches the whole process group; the parent decides, and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    serve(Connection(fd))


if __name__ == "__main__":
    main(sys.argv[1:])
