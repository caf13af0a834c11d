"""Libraries that call `logging.basicConfig` on import or construction (ONNX Runtime's
quantizer, the MCP SDK's server) would configure an embedding application's root logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


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
