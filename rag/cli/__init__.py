"""The `rag` command: a thin shell over the library, one module per command group
(`ingest`: ingest, check; `questions`: search, ask, eval; `manage`: documents, collections,
formats). `api/serve.py` adds `serve` and `keys`, which need the API."""

from rag.cli.output import EXIT_FAILED, EXIT_USAGE, emit_json, engine, user_errors
from rag.cli.root import cli

__all__ = ["EXIT_FAILED", "EXIT_USAGE", "cli", "emit_json", "engine", "user_errors"]
