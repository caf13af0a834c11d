"""`rag search`, `rag ask` and `rag eval`: questions to the documents, and how well search does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, cast

import click

from rag import SearchFilter
from rag.answer.stream import AnswerStream
from rag.cli.output import (
    answer_mode_option,
    collection_option,
    emit_json,
    engine,
    json_option,
    k_option,
    user_errors,
)
from rag.search.options import SearchMode
from rag.types import Answer, Passage


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


@click.command()
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
        passages = engine(ctx).search(
            query,
            k,
            collection,
            mode=cast(SearchMode | None, mode),
            group_by_document=by_document,
            where=where,
        )
    if as_json:
        emit_json({"results": [p.to_dict() for p in passages]})
        return
    for rank, passage in enumerate(passages, start=1):
        click.secho(f"{rank}. {_where(passage)}  (similarity {passage.similarity:.3f})", bold=True)
        click.echo(f"   {passage.text[:300].replace(chr(10), ' ')}")


@click.command("eval")
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
        report = evaluate(engine(ctx), dataset, split, cast(SearchMode | None, mode), keep=keep)
    if as_json:
        emit_json(report.to_dict())
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


@click.command()
@click.argument("question")
@k_option
@collection_option
@answer_mode_option
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
        stream = engine(ctx).stream(question, k, collection, mode=chosen)
        if as_json:
            emit_json(stream.result().to_dict())
            return
        show_answer(stream)


def show_answer(stream: AnswerStream) -> Answer:
    """Print the answer as it streams, then the check, the evidence and the sources."""
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
    context = answer.context
    if context is not None and context.dropped:
        click.echo(
            f"({len(context.dropped)} more passages did not fit the model's context of "
            f"{context.context_size} tokens)",
            err=True,
        )
    if context is not None and context.history_dropped:
        click.echo(
            f"({context.history_dropped} earliest turns of the conversation did not fit)",
            err=True,
        )
    return answer
