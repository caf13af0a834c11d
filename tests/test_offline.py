"""Nothing leaves the machine: ingestion opens no network connection, in this process or in
the parse workers, on the files the tests make and on the real robustness corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import disable_socket, enable_socket

from ingest.elements import ParseOptions
from ingest.parse import SUPPORTED_EXTENSIONS, parse_file
from tests.format_documents import FACTS
from tests.offline_child import GUARD, offline_child_env

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpora" / "unstructured-example-docs"
# A failure with one of these reasons is a defect, not a bad file.
_DEFECTS = ("the parser crashed", "exited with status", "unexpected parser error", "took longer")


def test_parsing_every_format_in_process_opens_no_socket(every_format: Path) -> None:
    disable_socket(allow_unix_socket=True)
    try:
        for name in sorted(FACTS):
            parse_file(every_format / name, ParseOptions(ocr=True, threads=2))
    finally:
        enable_socket()


def rag_ingest(folder: Path, home: Path, log: Path, *extra: str) -> dict[str, Any]:
    """`rag ingest --json` in a child process whose every process refuses the network."""
    env = offline_child_env(log, ROOT)
    env.update(RAG_HOME=str(home), RAG_SENTENCE_VECTORS="false")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rag"), "ingest", str(folder), *extra, "--json"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=3000,
    )
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_guard_catches_a_connection(tmp_path: Path) -> None:
    """The child-process guard is live: a connection attempt is refused and recorded."""
    log = tmp_path / "sockets.log"
    env = {**os.environ, "PYTHONPATH": str(GUARD), "RAG_TEST_SOCKET_LOG": str(log)}
    code = (
        "import socket\n"
        "try:\n socket.create_connection(('192.0.2.1', 80), 1)\n"
        "except OSError as e:\n print(e)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    assert "network access refused in an offline test" in done.stdout
    assert "192.0.2.1" in log.read_text()


@pytest.mark.slow
def test_rag_ingest_with_workers_opens_no_socket(every_format: Path, tmp_path: Path) -> None:
    log = tmp_path / "sockets.log"
    report = rag_ingest(every_format, tmp_path / "home", log)
    assert not log.exists(), log.read_text()[:3000]
    assert report["failed"] == 0, report["files"]
    assert report["ingested"] == len(FACTS)


@pytest.mark.slow
def test_the_robustness_corpus_offline(tmp_path: Path) -> None:
    """unstructured's own 245 test documents: no connection, no crash, no traceback, no hang,
    and every file in a supported format ingested or failed for a true reason."""
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is not here")
    log = tmp_path / "sockets.log"
    report = rag_ingest(CORPUS, tmp_path / "home", log)
    assert not log.exists(), log.read_text()[:3000]
    files = report["files"]
    failures = {Path(f["path"]).name: f["reason"] for f in files if f["status"] == "failed"}
    assert not [r for r in failures.values() if any(d in r for d in _DEFECTS)], failures
    skipped = [Path(f["path"]) for f in report["files"] if f["status"] == "skipped"]
    assert not [p for p in skipped if p.suffix.lower() in SUPPORTED_EXTENSIONS], skipped
    assert report["ingested"] >= 220, failures
