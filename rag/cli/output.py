"""What every command shares: the JSON printer, the one place library errors become exit codes,
the common options, and the engine the root command opened.

Exit codes: 0 success; 1 a failure the user must look at (some files failed, a model is
missing, nothing found); 2 a usage error (bad option, empty question, unknown collection name).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from rag.core import RAG
from rag.errors import InvalidRequest, RagError
from rag.jsonable import to_jsonable

EXIT_FAILED = 1
EXIT_USAGE = 2


def emit_json(payload: Any) -> None:
    """Print one JSON object: a dict, or a library value (dataclass, Struct) as its contract."""
    click.echo(json.dumps(to_jsonable(payload), ensure_ascii=False))


@contextmanager
def user_errors() -> Iterator[None]:
    """Map library errors to a one-line message and an exit code, in one place."""
    try:
        yield
    except InvalidRequest as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except RagError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("interrupted; everything reported as done so far is saved", err=True)
        sys.exit(130)


def engine(ctx: click.Context) -> RAG:
    """The library facade the root command opened for this invocation."""
    rag: RAG = ctx.obj
    return rag


collection_option = click.option(
    "--collection",
    "-c",
    default=None,
    help="Collection name (default: RAG_COLLECTION or 'default').",
)
answer_mode_option = click.option(
    "--mode",
    type=click.Choice(["generative", "extractive"]),
    help="Who answers: the LLM, or quotes of the passages (default: RAG_ANSWER_MODE).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
k_option = click.option(
    "--k",
    "-k",
    type=click.IntRange(1, 100),
    default=None,
    help="How many passages to retrieve (default: RAG_TOP_K or 5).",
)
