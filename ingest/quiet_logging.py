"""Libraries that call `logging.basicConfig` on import or construction (ONNX Runtime's
quantizer, the MCP SDK's server) would configure an embedding application's root logger; others
log harmless oddities by the hundred."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


def errors_only(names: Iterable[str]) -> None:
    """Each named library logger keeps its errors only, unless its level was set already (by
    the user, say). Idempotent."""
    for name in names:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)


@contextmanager
def basic_config_blocked() -> Iterator[None]:
    """Inside, `logging.basicConfig` is a no-op: the root logger holds a placeholder handler
    when it has none of its own (removed again on the way out)."""
    root = logging.getLogger()
    placeholder = None if root.handlers else logging.NullHandler()
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        yield
    finally:
        if placeholder is not None:
            root.removeHandler(placeholder)
