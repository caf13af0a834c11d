"""Optional packages, imported where a feature needs them and nowhere else.

A missing one raises `MissingDependency` naming the package and how to install it, the same way
for every optional part (the llama.cpp backend, the transformers backend, the OpenAI client's
HTTP library), instead of an ImportError from deep inside a backend.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rag.errors import MissingDependency


def require(module: str, *, package: str, feature: str, install: str) -> ModuleType:
    """The imported `module`, or MissingDependency saying what to install for `feature`.

    >>> require("json", package="json", feature="reading JSON", install="(built in)").__name__
    'json'
    >>> require("no_such_module", package="no-such", feature="a test", install="pip install it")
    Traceback (most recent call last):
    ...
    rag.errors.MissingDependency: a test needs no-such, which is not installed: pip install it
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(package, feature, install) from exc
