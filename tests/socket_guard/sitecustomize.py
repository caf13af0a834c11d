"""Loaded by every Python process of an offline test (PYTHONPATH), parse workers included:
records and refuses every attempt to open a network connection or resolve a host name.

pytest-socket guards the test process itself; this guards the processes it starts.
"""

from __future__ import annotations

import os
import socket
import traceback

_LOG = os.environ.get("RAG_TEST_SOCKET_LOG")


def _refuse(what: str, target: object) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            stack = "".join(traceback.format_stack(limit=8))
            log.write(f"{os.getpid()} {what} {target!r}\n{stack}\n")
    raise OSError(f"network access refused in an offline test: {what} {target!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family == socket.AF_UNIX:
        return _connect(self, address)
    _refuse("connect", address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family == socket.AF_UNIX:
        return _connect_ex(self, address)
    _refuse("connect", address)
    return 1


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
    _refuse("getaddrinfo", host)
    return []


if _LOG:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
