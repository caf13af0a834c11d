"""The `rag` group: opens the library for one invocation and gathers the command groups."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from rag.cli.chat import chat
from rag.cli.ingest import check, ingest
from rag.cli.manage import collections, documents, formats
from rag.cli.output import user_errors
from rag.cli.questions import ask, eval_command, search
from rag.config import Settings
from rag.core import RAG

_OWN_LOGGERS = ("rag", "ingest", "index", "api")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(path_type=Path),
    default=None,
    help="Data folder (default: RAG_HOME or the per-user data dir).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="localrag")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, verbose: int) -> None:
    """Ask questions about your own documents, answered locally with citations."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_own_messages)
    with user_errors():
        settings = Settings()
    ctx.obj = RAG(home, settings=settings)
    ctx.call_on_close(ctx.obj.close)


def _own_messages(record: logging.LogRecord) -> bool:
    """Without -v, warnings from the libraries underneath (a parser's remark about an odd
    table cell in some file) stay out of the user's terminal; errors and ours always show."""
    own = record.name.split(".")[0] in _OWN_LOGGERS
    return own or record.levelno >= logging.ERROR


for _command in (ingest, check, search, eval_command, ask, chat, documents, collections, formats):
    cli.add_command(_command)
