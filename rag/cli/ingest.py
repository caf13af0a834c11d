"""`rag ingest` and `rag check`: put documents in, and verify what is stored."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from ingest.remote import is_remote
from rag.cli.output import (
    EXIT_FAILED,
    collection_option,
    emit_json,
    engine,
    json_option,
    user_errors,
)
from rag.types import FileOutcome, FileStatus, IngestReport


class _FileOrStoreLocation(click.ParamType):
    """An existing local path, or an object store URI (`s3://bucket/prefix?...`) kept as given:
    whether it exists is for the ingest to find out (and report per location)."""

    name = "path"
    _local = click.Path(exists=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and is_remote(value):
            return value
        return self._local.convert(value, param, ctx)


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


@click.command()
@click.argument("paths", nargs=-1, type=_FileOrStoreLocation())
@click.option(
    "--jsonl",
    "jsonl",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Load records instead of files: one {"id", "text", "metadata"} per line.',
)
@click.option(
    "--prune", is_flag=True, help="Also delete documents under PATHS whose files no longer exist."
)
@click.option(
    "--ray",
    "ray",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Parse and embed on Ray: a local Ray started for the run, or the cluster at ADDRESS "
    "(write --ray=ADDRESS, or put --ray after PATHS). Files must be visible to every node at "
    "the same path, or be in an object store (s3://bucket/prefix). Needs the ray extra: "
    "pip install '.[ray]'.",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 256),
    default=None,
    help="Write a new collection as N shards (default with --ray: RAG_SHARDS, 4).",
)
@collection_option
@json_option
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[str | Path, ...],
    jsonl: Path | None,
    prune: bool,
    ray: str | None,
    shards: int | None,
    collection: str | None,
    as_json: bool,
) -> None:
    """Add files and folders (recursively) to a collection. Unchanged files are skipped.

    PATHS may be object store locations read through pyarrow (s3://bucket/prefix, gs://, hdfs://,
    abfs://), connection settings in the query (?endpoint_override=host:9000&scheme=http).

    Exit status: 0 when every file was ingested, unchanged or skipped; 1 when some failed
    (each is named on stderr, the others are committed); 2 on usage errors.
    """
    if bool(paths) == bool(jsonl):
        raise click.UsageError("give either PATHS or --jsonl FILE")
    if prune and jsonl:
        raise click.UsageError("--prune applies to PATHS, not to --jsonl")
    if jsonl and (ray or shards):
        raise click.UsageError("--ray and --shards apply to PATHS, not to --jsonl")
    progress = _Progress(enabled=not as_json)
    with user_errors():
        try:
            if jsonl:
                report = engine(ctx).ingest_jsonl(jsonl, collection, progress)
            else:
                report = engine(ctx).ingest(
                    paths,
                    collection,
                    progress,
                    prune=prune,
                    ray=(True if ray == "local" else ray) or False,
                    shards=shards,
                )
        finally:
            progress.close()
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(_summary(report))
    if report.failed:
        sys.exit(EXIT_FAILED)


@click.command()
@click.option(
    "--repair", is_flag=True, help="Rebuild the vector and keyword indexes from SQLite if needed."
)
@collection_option
@json_option
@click.pass_context
def check(ctx: click.Context, repair: bool, collection: str | None, as_json: bool) -> None:
    """Verify that the vector index holds exactly one vector per stored chunk (and that a large
    collection's keyword index reflects the store).

    Exit status 0 when consistent (or repaired), 1 when not.
    """
    with user_errors():
        report = engine(ctx).check(collection, repair=repair)
    if as_json:
        emit_json(report.to_dict())
    else:
        state = "consistent" if report.consistent else "INCONSISTENT"
        click.echo(
            f"collection {report.collection!r}: {state}; {report.documents} documents, "
            f"{report.chunks} chunks, {report.vectors} vectors in the saved index; "
            f"keyword index: {report.keyword_index}"
        )
        for problem in report.problems:
            click.echo(f"  problem: {problem}")
        if report.repaired:
            click.echo("  repaired: the indexes were rebuilt from SQLite and saved")
        elif not report.consistent:
            click.echo("  run `rag check --repair` to fix")
    if not report.consistent and not report.repaired:
        sys.exit(EXIT_FAILED)
