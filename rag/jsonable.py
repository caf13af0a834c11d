"""One way library values become JSON: dataclasses and msgspec Structs by their fields, enums by
their value, paths as text. The CLI's `--json`, the SSE `done` event and the benchmarks use it, so
a result prints the same wherever it is printed."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

import msgspec


def _encode(value: Any) -> Any:
    if isinstance(value, PurePath):
        return str(value)
    raise NotImplementedError(f"cannot turn {type(value).__name__} into JSON")


def to_jsonable(value: Any) -> Any:
    """Plain dicts, lists, strings and numbers for `value`.

    >>> from rag.types import Claim, Verdict
    >>> to_jsonable(Claim("Sales rose.", Verdict.SUPPORTED, n=1))["verdict"]
    'supported'
    """
    return msgspec.to_builtins(value, enc_hook=_encode)
