"""Files in object stores (`s3://bucket/prefix`, `gs://`, `hdfs://`, `abfs://`), read through
pyarrow's filesystems: what a cluster's workers can all see without a shared mount.

A location is named by its URI without the query string (`s3://docs/reports/q3.pdf`): that is
what a document is stored and cited under. The query holds connection settings pyarrow reads
(`?endpoint_override=minio.local:9000&scheme=http&region=eu-west-1`); it travels with the run
to the workers that fetch the file, and is never written to the collection, since it may hold
keys. Credentials otherwise come from the store's usual environment (AWS_ACCESS_KEY_ID, ...).

Changes are found without downloading: an object whose size and modification time match the
stored document's is unchanged (as `aws s3 sync` decides). The worker that parses a changed
object downloads it once, into a temporary folder under its own name, and hashes it there.

>>> is_remote("s3://docs/a.pdf"), is_remote("/home/me/a.pdf"), is_remote("file:///a.pdf")
(True, False, False)
>>> location = RemoteLocation.parse("s3://docs/reports/?endpoint_override=localhost:9000")
>>> location.uri, location.below("2024/q3.pdf").full
('s3://docs/reports', 's3://docs/reports/2024/q3.pdf?endpoint_override=localhost:9000')
>>> location.below("2024/q3.pdf").name
'q3.pdf'
>>> RemoteLocation.parse("hdfs://namenode:8020/data").below("a.pdf").uri
'hdfs://namenode:8020/data/a.pdf'
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from ingest.errors import IngestError, first_line

# The schemes pyarrow.fs.FileSystem.from_uri opens as remote stores (file:// is a local path).
REMOTE_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")
_BLOCK = 1 << 20


class RemoteUnavailable(IngestError):
    """The object store could not be reached or read (or pyarrow is missing)."""


def is_remote(text: str) -> bool:
    """True for an object store URI this module reads; local paths and file:// are not."""
    scheme, separator, _ = text.partition("://")
    return bool(separator) and scheme.lower() in REMOTE_SCHEMES


@dataclass(frozen=True)
class RemoteLocation:
    """A file or folder in an object store: `uri` names it, `options` connects to it."""

    uri: str
    options: str = ""

    @classmethod
    def parse(cls, text: str) -> RemoteLocation:
        parts = urlsplit(text)
        path = parts.path.rstrip("/")
        return cls(f"{parts.scheme.lower()}://{parts.netloc}{path}", parts.query)

    @property
    def full(self) -> str:
        """The URI pyarrow opens: with the connection settings."""
        return f"{self.uri}?{self.options}" if self.options else self.uri

    @property
    def name(self) -> str:
        return PurePosixPath(urlsplit(self.uri).path).name or urlsplit(self.uri).netloc

    @property
    def scheme(self) -> str:
        return self.uri.partition("://")[0]

    def below(self, relative: str) -> RemoteLocation:
        """The location of a path relative to this one (its host, bucket or account kept)."""
        if not relative:
            return self
        return RemoteLocation(f"{self.uri.rstrip('/')}/{relative}", self.options)

    def holds(self, uri: str) -> bool:
        """Whether a stored document's URI is this location or below it."""
        return uri == self.uri or uri.startswith(self.uri.rstrip("/") + "/")


@dataclass(frozen=True)
class RemoteFile:
    """One object found under a location, with what planning needs to know without reading it."""

    location: RemoteLocation
    size: int
    modified: str  # ISO 8601, as the store reports it; "" when it reports none


def _pyarrow_fs(location: RemoteLocation) -> Any:
    try:
        from pyarrow import fs
    except ImportError as exc:
        raise RemoteUnavailable(
            f"reading {location.scheme}:// needs pyarrow, which is not installed: "
            "pip install 'localrag[remote]' (from a checkout: pip install -e '.[remote]')"
        ) from exc
    return fs


def open_store(location: RemoteLocation) -> tuple[Any, str]:
    """(pyarrow filesystem, path inside it), or RemoteUnavailable saying why."""
    fs = _pyarrow_fs(location)
    try:
        return fs.FileSystem.from_uri(location.full)
    except (OSError, ValueError) as exc:
        raise RemoteUnavailable(f"cannot open {location.uri}: {first_line(exc)}") from exc


def list_files(location: RemoteLocation) -> Iterator[tuple[RemoteFile, bool]]:
    """Each object at or below `location` with whether it was named itself (True) or found
    below (False), in a stable order. Hidden names (`.DS_Store`, `.git/`) below are skipped,
    as in a local folder. Raises RemoteUnavailable when the store cannot be listed, and
    FileNotFoundError when nothing is there."""
    fs = _pyarrow_fs(location)
    store, path = open_store(location)
    try:
        info = store.get_file_info(path)
        if info.type == fs.FileType.File:
            yield _found(location, "", info), True
            return
        if info.type == fs.FileType.NotFound:
            raise FileNotFoundError(f"{location.uri}: no such file or folder")
        below = store.get_file_info(fs.FileSelector(path, recursive=True))
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise RemoteUnavailable(f"cannot list {location.uri}: {first_line(exc)}") from exc
    for item in sorted(below, key=lambda i: i.path):
        relative = PurePosixPath(item.path).relative_to(path.rstrip("/") or "/")
        if item.type == fs.FileType.File and not any(p.startswith(".") for p in relative.parts):
            yield _found(location, str(relative), item), False


def _found(root: RemoteLocation, relative: str, info: Any) -> RemoteFile:
    modified = info.mtime.isoformat() if isinstance(info.mtime, datetime) else ""
    return RemoteFile(root.below(relative), int(info.size or 0), modified)


@contextmanager
def fetched(location: RemoteLocation) -> Iterator[tuple[Path, str]]:
    """The object downloaded into a temporary folder under its own name (parsers go by the
    extension), with its SHA-256; removed afterwards. RemoteUnavailable when it cannot be read."""
    store, path = open_store(location)
    folder = Path(tempfile.mkdtemp(prefix="rag-remote-"))
    try:
        local = folder / location.name
        digest = hashlib.sha256()
        try:
            with store.open_input_stream(path) as source, open(local, "wb") as target:
                for block in iter(lambda: source.read(_BLOCK), b""):
                    digest.update(block)
                    target.write(block)
        except OSError as exc:
            raise RemoteUnavailable(f"cannot read {location.uri}: {first_line(exc)}") from exc
        yield local, digest.hexdigest()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
