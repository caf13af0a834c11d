"""`rag documents`, `rag collections` and `rag formats`: what is stored and how it is asked."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from rag.cli.output import collection_option, emit_json, engine, json_option, user_errors
from rag.prompts.format_files import load_format_registry


@click.group()
def documents() -> None:
    """List or delete the documents of a collection."""


@documents.command("list")
@collection_option
@json_option
@click.pass_context
def documents_list(ctx: click.Context, collection: str | None, as_json: bool) -> None:
    """List the documents in a collection."""
    with user_errors():
        docs = engine(ctx).documents(collection)
    if as_json:
        emit_json({"documents": docs})
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
            engine(ctx).delete_document(document_id, collection)
            click.echo(f"deleted {document_id}")


@click.group()
def collections() -> None:
    """List, delete or upgrade collections; set their RAG prompt."""


@collections.command("list")
@json_option
@click.pass_context
def collections_list(ctx: click.Context, as_json: bool) -> None:
    """List the collections under the data folder, with their documents and shards."""
    rag = engine(ctx)
    sizes, shards = rag.collection_sizes(), rag.collection_shards()
    if as_json:
        emit_json(
            {
                "collections": list(sizes),
                "details": [
                    {"name": name, "documents": sizes[name], "shards": shards[name]}
                    for name in sizes
                ],
            }
        )
    else:
        for name in sizes:
            click.echo(f"{name}  {sizes[name]} documents  {shards[name]} shard(s)")


@collections.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def collections_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a collection and everything in it."""
    if not yes:
        click.confirm(f"Delete collection {name!r} and all its documents?", abort=True)
    with user_errors():
        engine(ctx).delete_collection(name)
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
        library = engine(ctx)
        todo = library.chunks_without_sentence_vectors(name)
        with click.progressbar(
            length=todo,
            label="sentence vectors",
            file=sys.stderr,
            hidden=as_json or not sys.stderr.isatty(),
        ) as bar:
            filled = library.add_sentence_vectors(name, progress=bar.update)
    if as_json:
        emit_json({"collection": name or library.settings.collection, "chunks": filled})
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
        library = engine(ctx)
        if source is not None or reset:
            prompt = library.set_rag_prompt(source, name)
        else:
            prompt = library.rag_prompt(name)
    if as_json:
        emit_json(dataclasses.asdict(prompt))
        return
    for part, text in dataclasses.asdict(prompt).items():
        click.echo(f"[{part}]\n{text}\n")


@click.command("formats")
@json_option
@click.pass_context
def formats(ctx: click.Context, as_json: bool) -> None:
    """List the prompt formats (built in and from RAG_PROMPT_FORMATS_FILE) and their stops."""
    with user_errors():
        registry = load_format_registry(engine(ctx).settings.prompt_formats_file)
    rows = {name: list(fmt.stop) for name, fmt in sorted(registry.formats.items())}
    if as_json:
        emit_json({"formats": rows})
        return
    for name, stops in rows.items():
        click.echo(f"{name:18s} stops: {' '.join(stops)}")
