"""A real `rag ingest` killed with SIGKILL mid-run loses nothing committed and resumes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from rag.collection import INDEX_FILE, LOCK_FILE, STORE_FILE
from tests.test_cli import RAG_BIN

pytestmark = pytest.mark.slow

FILES = 40


def _corpus(folder: Path) -> Path:
    folder.mkdir()
    for i in range(FILES):
        (folder / f"note-{i:02d}.md").write_text(
            f"# Note {i}\n\nMeasurement {i}: the reactor {i} ran at {100 + i} degrees on day {i}. "
            + "It was inspected by the night shift and found in order. " * 10,
            encoding="utf-8",
        )
    return folder


def _env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "RAG_HOME": str(home), "RAG_PARSE_WORKERS": "0", **extra}


def _committed(store: Path) -> int:
    if not store.exists():
        return 0
    db = sqlite3.connect(store)
    try:
        return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def _rag(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAG_BIN), *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_kill_9_mid_ingest_then_check_repair_and_resume(tmp_path: Path) -> None:
    home, docs = tmp_path / "home", _corpus(tmp_path / "docs")
    store = home / "collections" / "default" / STORE_FILE
    # Tiny embedding batches, so documents are committed one after another during the run.
    victim = subprocess.Popen(
        [str(RAG_BIN), "ingest", str(docs)],
        env=_env(home, RAG_INGEST_BATCH_CHUNKS="2"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while _committed(store) < 5:
        assert victim.poll() is None, "ingest ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    committed = _committed(store)
    assert 5 <= committed < FILES

    # Every committed document has all of its chunks (one transaction per document).
    db = sqlite3.connect(store)
    per_doc = dict(
        db.execute(
            "SELECT d.path, count(c.id) FROM documents d "
            "LEFT JOIN chunks c ON c.document_id = d.id "
            "GROUP BY d.id"
        ).fetchall()
    )
    db.close()
    assert all(count >= 1 for count in per_doc.values())

    # The index is saved at the end of a run (or each minute): this one died before that.
    assert not (home / "collections" / "default" / INDEX_FILE).exists()
    # So check finds chunks without vectors and exits 1, without touching anything ...
    checked = _rag(home, "check", "--json")
    report = json.loads(checked.stdout)
    assert checked.returncode == 1
    assert report["chunks"] == report["missing_vectors"] == sum(per_doc.values())
    assert not (home / "collections" / "default" / INDEX_FILE).exists()
    # ... and --repair fixes it for good.
    assert _rag(home, "check", "--repair").returncode == 0
    assert _rag(home, "check").returncode == 0

    # The next run skips what was committed and finishes the rest.
    resumed = _rag(home, "ingest", str(docs), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["unchanged"] == committed
    assert summary["ingested"] == FILES - committed
    assert _rag(home, "check").returncode == 0
    hit = json.loads(_rag(home, "search", "reactor 37 degrees", "--json", "--k", "1").stdout)
    assert Path(hit["results"][0]["path"]).name == "note-37.md"


def test_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    from filelock import FileLock

    home, docs = tmp_path / "home", _corpus(tmp_path / "docs")
    assert _rag(home, "ingest", str(docs / "note-00.md")).returncode == 0
    with FileLock(home / "collections" / "default" / LOCK_FILE, timeout=0):
        second = _rag(home, "ingest", str(docs))
    assert second.returncode == 1
    assert "another process is writing" in second.stderr
    assert _committed(home / "collections" / "default" / STORE_FILE) == 1
