"""The `rag` command: a thin shell over the library. Each command maps to one RAG method.

Exit codes: 0 success; 1 a failure the user must look at (some files failed, a model is
missing, nothing found); 2 a usage error (bad option, empty question, unknown collection name).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from rag.config import Settings
from rag.core import RAG
from rag.errors import InvalidRequest, RagError
from rag.types import Answer, FileOutcome, FileStatus, IngestReport, Passage

EXIT_FAILED = 1
EXIT_USAGE = 2


def _emit_json(payload: dict[str, Any]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


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


def _open(ctx: click.Context) -> RAG:
    rag: RAG = ctx.obj
    return rag


collection_option = click.option(
    "--collection",
    "-c",
    default=None,
    help="Collection name (default: RAG_COLLECTION or 'default').",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
k_option = click.option(
    "--k",
    "-k",
    type=click.IntRange(1, 100),
    default=None,
    help="How many passages to retrieve (default: RAG_TOP_K or 5).",
)


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
    with user_errors():
        settings = Settings()
    ctx.obj = RAG(home, settings=settings)
    ctx.call_on_close(ctx.obj.close)


# -- ingest -------------------------------------------------------------------------------


def _progress_reporter(as_json: bool) -> tuple[Callable[[FileOutcome], None], Callable[[], None]]:
    """A tqdm bar on a terminal; one line per file that needs attention otherwise."""
    interactive = sys.stderr.isatty() and not as_json
    bar: Any = None
    failures = 0
    if interactive:
        from tqdm import tqdm

        bar = tqdm(unit=" files", desc="ingesting", file=sys.stderr, dynamic_ncols=True)

    def on_file(outcome: FileOutcome) -> None:
        nonlocal failures
        if outcome.status in (FileStatus.FAILED, FileStatus.SKIPPED):
            failures += outcome.status == FileStatus.FAILED
            line = f"{outcome.status}: {outcome.path}: {outcome.reason}"
            if bar is not None:
                bar.write(line, file=sys.stderr)
            else:
                click.echo(line, err=True)
        if bar is not None:
            bar.set_postfix(chunks=outcome.chunks, failed=failures, refresh=False)
            bar.update(1)

    def close() -> None:
        if bar is not None:
            bar.close()

    return on_file, close


def _summary(report: IngestReport) -> str:
    return (
        f"{report.count(FileStatus.INGESTED)} ingested, {report.count(FileStatus.UNCHANGED)} "
        f"unchanged, {report.count(FileStatus.SKIPPED)} skipped, "
        f"{report.count(FileStatus.FAILED)} failed; {report.chunks} chunks in "
        f"{report.seconds:.1f}s (collection {report.collection!r})"
    )


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@collection_option
@json_option
@click.pass_context
def ingest(
    ctx: click.Context, paths: tuple[Path, ...], collection: str | None, as_json: bool
) -> None:
    """Add files and folders (recursively) to a collection. Unchanged files are skipped."""
    on_file, close = _progress_reporter(as_json)
    with user_errors():
        try:
            report = _open(ctx).ingest(paths, collection, on_file=on_file)
        finally:
            close()
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(_summary(report))
    if report.failed:
        sys.exit(EXIT_FAILED)


# -- search and ask -----------------------------------------------------------------------


def _where(passage: Passage) -> str:
    return passage.path + (f", page {passage.page}" if passage.page is not None else "")


@cli.command()
@click.argument("query")
@k_option
@collection_option
@json_option
@click.pass_context
def search(
    ctx: click.Context, query: str, k: int | None, collection: str | None, as_json: bool
) -> None:
    """Show the passages that best match QUERY (no LLM)."""
    with user_errors():
        passages = _open(ctx).search(query, k, collection)
    if as_json:
        _emit_json({"results": [p.to_dict() for p in passages]})
        return
    for rank, passage in enumerate(passages, start=1):
        click.secho(f"{rank}. {_where(passage)}  (score {passage.score:.3f})", bold=True)
        click.echo(f"   {passage.text[:300].replace(chr(10), ' ')}")


def _print_sources(answer: Answer) -> None:
    click.echo()
    click.secho("Sources:", bold=True)
    for source in answer.sources:
        mark = "*" if source.cited else " "
        click.echo(f" {mark}[{source.n}] {_where(source.passage)}")


@cli.command()
@click.argument("question")
@k_option
@collection_option
@json_option
@click.pass_context
def ask(
    ctx: click.Context, question: str, k: int | None, collection: str | None, as_json: bool
) -> None:
    """Answer QUESTION from your documents, citing them like [1]."""
    with user_errors():
        stream = _open(ctx).stream(question, k, collection)
        if as_json:
            _emit_json(stream.result().to_dict())
            return
        printed = False
        for piece in stream:
            click.echo(piece, nl=False)
            printed = printed or bool(piece.strip())
        if not printed:
            click.echo("(the model gave no answer; try rephrasing, or a larger model)", nl=False)
        click.echo()
        _print_sources(stream.result())


# -- documents and collections -------------------------------------------------------------


@cli.group()
def documents() -> None:
    """List or delete the documents of a collection."""


@documents.command("list")
@collection_option
@json_option
@click.pass_context
def documents_list(ctx: click.Context, collection: str | None, as_json: bool) -> None:
    """List the documents in a collection."""
    with user_errors():
        docs = _open(ctx).documents(collection)
    if as_json:
        _emit_json({"documents": [d.to_dict() for d in docs]})
        return
    for doc in docs:
        click.echo(f"{doc.id}  {doc.chunks:5d} chunks  {doc.file_type:8s} {doc.path}")
    click.echo(f"{len(docs)} documents", err=True)


@documents.command("delete")
@click.argument("document_ids", nargs=-1, required=True)
@collection_option
@click.pass_context
def documents_delete(
    ctx: click.Context, document_ids: tuple[str, ...], collection: str | None
) -> None:
    """Delete documents (and their chunks) by id."""
    with user_errors():
        for document_id in document_ids:
            _open(ctx).delete_document(document_id, collection)
            click.echo(f"deleted {document_id}")


@cli.group()
def collections() -> None:
    """List or delete collections."""


@collections.command("list")
@json_option
@click.pass_context
def collections_list(ctx: click.Context, as_json: bool) -> None:
    """List the collections under the data folder."""
    names = _open(ctx).collections()
    if as_json:
        _emit_json({"collections": names})
    else:
        for name in names:
            click.echo(name)


@collections.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def collections_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a collection and everything in it."""
    if not yes:
        click.confirm(f"Delete collection {name!r} and all its documents?", abort=True)
    with user_errors():
        _open(ctx).delete_collection(name)
    click.echo(f"deleted collection {name}")


def main() -> None:
    cli(prog_name="rag")
