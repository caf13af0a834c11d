"""The `rag` command: a thin shell over the library. Each command maps to one RAG method.

Exit codes: 0 success; 1 a failure the user must look at (some files failed, a model is
missing, nothing found); 2 a usage error (bad option, empty question, unknown collection name).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, cast

import click

from index.filters import SearchFilter
from rag.config import Settings
from rag.core import RAG
from rag.errors import InvalidRequest, RagError
from rag.format_files import load_format_registry
from rag.retrieve import SearchMode
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
    if not verbose:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_own_messages)
    with user_errors():
        settings = Settings()
    ctx.obj = RAG(home, settings=settings)
    ctx.call_on_close(ctx.obj.close)


_OWN_LOGGERS = ("rag", "ingest", "index", "api")


def _own_messages(record: logging.LogRecord) -> bool:
    """Without -v, warnings from the libraries underneath (a parser's remark about an odd
    table cell in some file) stay out of the user's terminal; errors and ours always show."""
    own = record.name.split(".")[0] in _OWN_LOGGERS
    return own or record.levelno >= logging.ERROR


# -- ingest -------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar on a terminal (files/s, chunks/s, ETA, failures); periodic lines otherwise."""

    def __init__(self, enabled: bool, interval_s: float = 10.0) -> None:
        self._enabled = enabled
        self._interactive = enabled and sys.stderr.isatty()
        self._interval_s = interval_s
        self._bar: Any = None
        self._started = time.monotonic()
        self._last_line = self._started
        self._total = 0
        self._done = self._chunks = self._failed = 0

    def start(self, total: int) -> None:
        self._total = total
        self._started = self._last_line = time.monotonic()
        if self._interactive:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total or None,
                unit="file",
                desc="ingesting",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def file_parsed(self, path: str, chunks: int) -> None:
        pass

    def file_done(self, outcome: FileOutcome) -> None:
        self._done += 1
        self._chunks += outcome.chunks if outcome.status == FileStatus.INGESTED else 0
        self._failed += outcome.status == FileStatus.FAILED
        if outcome.reason and outcome.status != FileStatus.UNCHANGED:
            label = "note" if outcome.status == FileStatus.INGESTED else str(outcome.status)
            line = f"{label}: {outcome.path}: {outcome.reason}"
            if self._bar is not None:
                self._bar.write(line, file=sys.stderr)
            else:
                click.echo(line, err=True)
        elapsed = max(time.monotonic() - self._started, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix(
                chunks_per_s=f"{self._chunks / elapsed:.0f}", failed=self._failed, refresh=False
            )
            self._bar.update(1)
        elif self._enabled and time.monotonic() - self._last_line >= self._interval_s:
            self._last_line = time.monotonic()
            of_total = f"/{self._total}" if self._total else ""
            click.echo(
                f"progress: {self._done}{of_total} files, {self._chunks} chunks, "
                f"{self._done / elapsed:.1f} files/s, {self._chunks / elapsed:.1f} chunks/s, "
                f"{self._failed} failed",
                err=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _summary(report: IngestReport) -> str:
    pruned = report.count(FileStatus.PRUNED)
    attachments = sum(f.attachments for f in report.files)
    ocr = (
        f"; {report.ocr_pages} page(s) read by OCR in {report.ocr_seconds:.1f}s"
        if report.ocr_pages
        else ""
    )
    return (
        f"{report.count(FileStatus.INGESTED)} ingested, {report.count(FileStatus.UNCHANGED)} "
        f"unchanged, {report.count(FileStatus.SKIPPED)} skipped, "
        f"{report.count(FileStatus.FAILED)} failed"
        + (f", {pruned} pruned" if pruned else "")
        + (f", {attachments} attachment(s) as documents" if attachments else "")
        + f"; {report.chunks} chunks in {report.seconds:.1f}s (collection {report.collection!r})"
        + ocr
    )


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--jsonl",
    "jsonl",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Load records instead of files: one {"id", "text", "metadata"} per line.',
)
@click.option(
    "--prune", is_flag=True, help="Also delete documents under PATHS whose files no longer exist."
)
@collection_option
@json_option
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[Path, ...],
    jsonl: Path | None,
    prune: bool,
    collection: str | None,
    as_json: bool,
) -> None:
    """Add files and folders (recursively) to a collection. Unchanged files are skipped.

    Exit status: 0 when every file was ingested, unchanged or skipped; 1 when some failed
    (each is named on stderr, the others are committed); 2 on usage errors.
    """
    if bool(paths) == bool(jsonl):
        raise click.UsageError("give either PATHS or --jsonl FILE")
    if prune and jsonl:
        raise click.UsageError("--prune applies to PATHS, not to --jsonl")
    progress = _Progress(enabled=not as_json)
    with user_errors():
        try:
            if jsonl:
                report = _open(ctx).ingest_jsonl(jsonl, collection, progress)
            else:
                report = _open(ctx).ingest(paths, collection, progress, prune=prune)
        finally:
            progress.close()
    if as_json:
        _emit_json(report.to_dict())
    else:
        click.echo(_summary(report))
    if report.failed:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.option("--repair", is_flag=True, help="Rebuild the vector index from SQLite if needed.")
@collection_option
@json_option
@click.pass_context
def check(ctx: click.Context, repair: bool, collection: str | None, as_json: bool) -> None:
    """Verify that the vector index holds exactly one vector per stored chunk.

    Exit status 0 when consistent (or repaired), 1 when not.
    """
    with user_errors():
        report = _open(ctx).check(collection, repair=repair)
    if as_json:
        _emit_json(report.to_dict())
    else:
        state = "consistent" if report.consistent else "INCONSISTENT"
        click.echo(
            f"collection {report.collection!r}: {state}; {report.documents} documents, "
            f"{report.chunks} chunks, {report.vectors} vectors in the saved index"
        )
        for problem in report.problems:
            click.echo(f"  problem: {problem}")
        if report.repaired:
            click.echo("  repaired: the index was rebuilt from SQLite and saved")
        elif not report.consistent:
            click.echo("  run `rag check --repair` to fix")
    if not report.consistent and not report.repaired:
        sys.exit(EXIT_FAILED)


# -- search and ask -----------------------------------------------------------------------


def _where(passage: Passage) -> str:
    return passage.path + (f", page {passage.page}" if passage.page is not None else "")


def _filter_from(
    documents: tuple[str, ...], path: str | None, types: tuple[str, ...], meta: tuple[str, ...]
) -> SearchFilter:
    metadata = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--meta")
        metadata[key] = value
    return SearchFilter(tuple(documents), path, tuple(types), metadata)


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--document/--path/--type/--meta: filters applied inside the search."""
    options = [
        click.option("--document", "documents", multiple=True, help="Only this document id."),
        click.option(
            "--path",
            "path_glob",
            default=None,
            help="Only documents whose path matches this glob, e.g. '*/contracts/*'.",
        ),
        click.option(
            "--type",
            "file_types",
            multiple=True,
            help="Only this file type (pdf, docx, markdown, ...).",
        ),
        click.option("--meta", multiple=True, help="Only documents with metadata KEY=VALUE."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command()
@click.argument("query")
@k_option
@collection_option
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "dense", "lexical"]),
    default=None,
    help="Retriever (default: RAG_SEARCH_MODE or hybrid).",
)
@click.option("--by-document", is_flag=True, help="Only the best passage of each document.")
@filter_options
@json_option
@click.pass_context
def search(
    ctx: click.Context,
    query: str,
    k: int | None,
    collection: str | None,
    mode: str | None,
    by_document: bool,
    documents: tuple[str, ...],
    path_glob: str | None,
    file_types: tuple[str, ...],
    meta: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show the passages that best match QUERY (no LLM)."""
    where = _filter_from(documents, path_glob, file_types, meta)
    with user_errors():
        passages = _open(ctx).search(
            query,
            k,
            collection,
            mode=cast(SearchMode | None, mode),
            group_by_document=by_document,
            where=where,
        )
    if as_json:
        _emit_json({"results": [p.to_dict() for p in passages]})
        return
    for rank, passage in enumerate(passages, start=1):
        click.secho(f"{rank}. {_where(passage)}  (similarity {passage.similarity:.3f})", bold=True)
        click.echo(f"   {passage.text[:300].replace(chr(10), ' ')}")


@cli.command("eval")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True)
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default=None)
@click.option(
    "--keep", is_flag=True, help="Keep the evaluation collection, so the next run skips the ingest."
)
@json_option
@click.pass_context
def eval_command(
    ctx: click.Context, dataset: Path, split: str, mode: str | None, keep: bool, as_json: bool
) -> None:
    """Measure retrieval on a BEIR dataset: nDCG@10, recall@10/100, MRR@10, latency."""
    from rag.evaluate import evaluate

    with user_errors():
        report = evaluate(_open(ctx), dataset, split, cast(SearchMode | None, mode), keep=keep)
    if as_json:
        _emit_json(report.to_dict())
        return
    for key, value in report.to_dict().items():
        click.echo(f"{key:12s} {value}")


def _print_sources(answer: Answer) -> None:
    click.echo()
    click.secho("Sources:", bold=True)
    for source in answer.sources:
        mark = "*" if source.cited else " "
        click.echo(f" {mark}[{source.n}] {_where(source.passage)}")


def _print_check(answer: Answer, streamed: str) -> None:
    """Evidence quoted, then what the check found: never leave an unsupported figure unmarked
    on screen, since the streamed text was printed before the check ran."""
    if answer.answer.strip() != streamed.strip():
        click.echo()
        click.secho("After checking against your documents:", bold=True)
        click.echo(answer.answer)
    if answer.evidence:
        click.echo()
        click.secho("Evidence:", bold=True)
        for quote in answer.evidence:
            where = f"{Path(quote.path).name}" + (f", page {quote.page}" if quote.page else "")
            click.echo(f" [{quote.n}] {quote.text}  ({where})")
    flagged = [c for c in answer.claims if c.verdict == "unsupported"]
    if flagged:
        click.echo()
        click.secho("Not supported by the passages:", fg="red", bold=True)
        for claim in flagged:
            what = f" ({', '.join(claim.unsupported)} in no passage)" if claim.unsupported else ""
            click.secho(f" ✗ {claim.text}{what}", fg="red")


@cli.command()
@click.argument("question")
@k_option
@collection_option
@click.option(
    "--mode",
    type=click.Choice(["generative", "extractive"]),
    help="Who answers: the LLM, or quotes of the passages (default: RAG_ANSWER_MODE).",
)
@json_option
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    k: int | None,
    collection: str | None,
    mode: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from your documents, citing them like [1], with the evidence quoted and
    every sentence checked against the passages."""
    with user_errors():
        chosen = cast(Literal["generative", "extractive"] | None, mode)
        stream = _open(ctx).stream(question, k, collection, mode=chosen)
        if as_json:
            _emit_json(stream.result().to_dict())
            return
        pieces: list[str] = []
        for piece in stream:
            click.echo(piece, nl=False)
            pieces.append(piece)
        if not "".join(pieces).strip():
            click.echo("(the model gave no answer; try rephrasing, or a larger model)", nl=False)
        click.echo()
        answer = stream.result()
        _print_check(answer, "".join(pieces))
        _print_sources(answer)
        dropped = len((answer.context or {}).get("dropped", []))
        if dropped:
            click.echo(
                f"({dropped} more passages did not fit the model's context of "
                f"{answer.context['context_size']} tokens)",
                err=True,
            )


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
    """List, delete or upgrade collections; set their RAG prompt."""


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


@collections.command("add-sentences")
@click.argument("name", required=False)
@json_option
@click.pass_context
def collections_add_sentences(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Embed sentence vectors for chunks stored without them (collections ingested before
    they existed, or with RAG_SENTENCE_VECTORS=false), so hybrid search can use them.
    Safe to interrupt: the next run goes on where it stopped."""
    with user_errors():
        engine = _open(ctx)
        todo = engine.collection(name).count_chunks_without_sentences()
        with click.progressbar(
            length=todo,
            label="sentence vectors",
            file=sys.stderr,
            hidden=as_json or not sys.stderr.isatty(),
        ) as bar:
            filled = engine.add_sentence_vectors(name, progress=bar.update)
    if as_json:
        _emit_json({"collection": name or engine.settings.collection, "chunks": filled})
    else:
        click.echo(f"added sentence vectors to {filled} chunk{'' if filled == 1 else 's'}")


@collections.command("prompt")
@click.argument("name")
@click.option(
    "--set",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file with the parts to override: system, passage, question, not_found.",
)
@click.option("--reset", is_flag=True, help="Go back to the shared RAG prompt.")
@json_option
@click.pass_context
def collections_prompt(
    ctx: click.Context, name: str, source: Path | None, reset: bool, as_json: bool
) -> None:
    """Show, set or reset the RAG prompt a collection uses."""
    if source is not None and reset:
        raise click.UsageError("use --set FILE or --reset, not both")
    with user_errors():
        engine = _open(ctx)
        if source is not None or reset:
            prompt = engine.set_rag_prompt(source, name)
        else:
            prompt = engine.rag_prompt(name)
    if as_json:
        _emit_json(dataclasses.asdict(prompt))
        return
    for part, text in dataclasses.asdict(prompt).items():
        click.echo(f"[{part}]\n{text}\n")


@cli.command("formats")
@json_option
@click.pass_context
def formats(ctx: click.Context, as_json: bool) -> None:
    """List the prompt formats (built in and from RAG_PROMPT_FORMATS_FILE) and their stops."""
    with user_errors():
        registry = load_format_registry(_open(ctx).settings.prompt_formats_file)
    rows = {name: list(fmt.stop) for name, fmt in sorted(registry.formats.items())}
    if as_json:
        _emit_json({"formats": rows})
        return
    for name, stops in rows.items():
        click.echo(f"{name:18s} stops: {' '.join(stops)}")


def main() -> None:
    cli(prog_name="rag")
