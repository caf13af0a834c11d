"""Ingesting from an object store (`s3://bucket/prefix`) as from a folder, on one machine and
on Ray: what a cluster's workers read without a shared mount.

The store is moto's S3 server, a real HTTP server speaking the S3 protocol on 127.0.0.1, read
by pyarrow's real S3 client; nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.embed import Embedder
from rag import RAG, Settings
from rag.types import FileStatus
from tests.documents import LAUNCH_CODE_FACT, write_two_page_pdf
from tests.format_documents import write_eml_with_attachment
from tests.test_cli import run_rag

pytestmark = pytest.mark.slow

BUCKET = "docs"
# Ten text files: enough for the parse worker processes to run (each fetches its own files).
FACTS = [
    f"Turbine number {n} of the Zorblat plant delivered {400 + n} megawatts." for n in range(10)
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint (`127.0.0.1:PORT`) of an S3 server holding a small mixed folder."""
    from moto.server import ThreadedMotoServer
    from pyarrow import fs

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "test-key")
        env.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"{host}:{port}"
        client = fs.S3FileSystem(
            endpoint_override=endpoint, scheme="http", region="us-east-1",
            allow_bucket_creation=True,
        )  # fmt: skip
        client.create_dir(BUCKET)
        local = tmp_path_factory.mktemp("objects")
        pdf = write_two_page_pdf(local / "report.pdf")
        mail = write_eml_with_attachment(local / "board.eml", pdf)
        objects = {f"reports/turbine-{n}.txt": fact.encode() for n, fact in enumerate(FACTS)}
        objects |= {
            "reports/annual/report.pdf": pdf.read_bytes(),
            "reports/mail/board.eml": mail.read_bytes(),
            "reports/.DS_Store": b"\x00\x01",
            "reports/notes.xyz": b"not a document format",
            "elsewhere/other.txt": b"Not under the ingested prefix.",
        }
        for key, data in objects.items():
            _put(client, key, data)
        try:
            yield endpoint
        finally:
            server.stop()


def _put(client: Any, key: str, data: bytes) -> None:
    with client.open_output_stream(f"{BUCKET}/{key}") as out:
        out.write(data)


def _client(endpoint: str) -> Any:
    from pyarrow import fs

    return fs.S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1")


def _uri(endpoint: str, prefix: str = "reports") -> str:
    return f"s3://{BUCKET}/{prefix}?endpoint_override={endpoint}&scheme=http&region=us-east-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")


def _settings(home: Path) -> Settings:
    return Settings(home=home, parse_workers=2, ray_object_store_mb=200)


def test_an_s3_prefix_is_ingested_searched_updated_and_pruned_like_a_folder(
    store: str, aws_env: None, tmp_path: Path, embedder: Embedder
) -> None:
    from pyarrow import fs

    # A prefix of its own (a copy of reports/), since this test changes it.
    client = _client(store)
    for item in client.get_file_info(fs.FileSelector(f"{BUCKET}/reports", recursive=True)):
        if item.type == fs.FileType.File:
            copy = item.path.replace("/reports/", "/changing/")
            client.copy_file(item.path, copy)
    base = f"s3://{BUCKET}/changing"
    with RAG(settings=_settings(tmp_path / "home"), embedder=embedder) as rag:
        report = rag.ingest([_uri(store, "changing")])
        status = {o.path: o.status for o in report.files}
        expected = {f"{base}/turbine-{n}.txt" for n in range(10)}
        expected |= {f"{base}/annual/report.pdf"}
        expected |= {f"{base}/mail/board.eml"}
        assert {p for p, s in status.items() if s is FileStatus.INGESTED} == expected
        # An unknown format found under the prefix is skipped with its reason; hidden names
        # (.DS_Store) are not listed at all; nothing outside the prefix is read.
        assert status == {**dict.fromkeys(expected, FileStatus.INGESTED),
                          f"{base}/notes.xyz": FileStatus.SKIPPED}  # fmt: skip

        documents = {d.path: d for d in rag.documents()}
        # Stored under the URI without its query: connection settings are not kept.
        attachment = f"{base}/mail/board.eml › report.pdf"
        assert set(documents) == expected | {attachment}
        assert not any("endpoint" in json.dumps(d.metadata) for d in documents.values())
        first = documents[f"{base}/turbine-3.txt"]
        assert first.content_hash == hashlib.sha256(FACTS[3].encode()).hexdigest()

        hits = rag.search("Which turbine delivered 407 megawatts?", k=3)
        assert hits[0].path == f"{base}/turbine-7.txt"
        hits = rag.search("What is the launch code for the Aurora rocket?", k=3)
        assert hits[0].path.endswith("report.pdf") and hits[0].page == 2
        assert LAUNCH_CODE_FACT.split(" is ")[1].rstrip(".") in hits[0].text

        # Unchanged objects are known by their listing: nothing is parsed again.
        again = rag.ingest([_uri(store, "changing")])
        assert again.count(FileStatus.UNCHANGED) == len(expected)
        assert again.count(FileStatus.INGESTED) == 0

        # A rewritten object is ingested again; a deleted one is pruned.
        _put(client, "changing/turbine-3.txt", b"Turbine number 3 was rebuilt as a wave pump.")
        client.delete_file(f"{BUCKET}/changing/turbine-4.txt")
        changed = rag.ingest([_uri(store, "changing")], prune=True)
        assert changed.count(FileStatus.INGESTED) == 1
        assert {o.path for o in changed.files if o.status is FileStatus.PRUNED} == {
            f"{base}/turbine-4.txt"
        }
        assert rag.search("Which turbine became a wave pump?", k=1)[0].path.endswith(
            "turbine-3.txt"
        )
        assert rag.check().consistent


def test_an_unreachable_store_fails_its_location_and_prunes_nothing(
    store: str, aws_env: None, tmp_path: Path, embedder: Embedder
) -> None:
    with RAG(settings=_settings(tmp_path / "home"), embedder=embedder) as rag:
        one = f"s3://{BUCKET}/reports/turbine-1.txt?endpoint_override={store}&scheme=http"
        assert rag.ingest([one]).count(FileStatus.INGESTED) == 1

        missing = rag.ingest([_uri(store, "no/such/prefix")])
        assert [o.status for o in missing.files] == [FileStatus.FAILED]
        assert "no such file or folder" in (missing.files[0].reason or "")

        # A closed port: the location fails with the store's error, and --prune must not
        # read an outage as every file gone.
        closed = one.replace(store, "127.0.0.1:9")
        down = rag.ingest([closed + "&connect_timeout=1&request_timeout=1"], prune=True)
        assert [o.status for o in down.files] == [FileStatus.FAILED]
        assert "cannot" in (down.files[0].reason or "")
        assert len(rag.documents()) == 1


def test_without_pyarrow_the_location_fails_naming_the_extra(
    store: str, aws_env: None, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with RAG(settings=_settings(tmp_path / "home"), embedder=embedder) as rag:
        report = rag.ingest([_uri(store)])
    assert [o.status for o in report.files] == [FileStatus.FAILED]
    assert "pip install 'localrag[remote]'" in (report.files[0].reason or "")


def test_the_cli_takes_an_s3_uri(store: str, aws_env: None, tmp_path: Path) -> None:
    done = run_rag(tmp_path / "home", "ingest", _uri(store, "reports/annual"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ingested"] == 1
    missing_local = run_rag(tmp_path / "home", "ingest", str(tmp_path / "nowhere"))
    assert missing_local.returncode == 2 and "does not exist" in missing_local.stderr


@pytest.mark.skipif(importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
                    reason="the ray extra is not installed")  # fmt: skip
def test_ray_workers_read_the_store_and_store_what_one_machine_does(
    store: str, aws_env: None, tmp_path: Path, embedder: Embedder
) -> None:
    with RAG(settings=_settings(tmp_path / "one"), embedder=embedder) as rag:
        rag.ingest([_uri(store)])
        one = {d.path: (d.id, d.content_hash, d.chunks) for d in rag.documents()}
    with RAG(settings=_settings(tmp_path / "ray"), embedder=embedder) as rag:
        report = rag.ingest([_uri(store)], ray=True)
        assert not report.failed, [(o.path, o.reason) for o in report.files]
        on_ray = {d.path: (d.id, d.content_hash, d.chunks) for d in rag.documents()}
        assert rag.check().consistent
    assert on_ray == one and len(one) == 13
