"""Incremental ingest: JSONL records, pruning, parallel parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import RAG, FileStatus
from tests.documents import write_markdown


def _write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _record(record_id: str, text: str, **metadata: str) -> bytes:
    return json.dumps({"id": record_id, "text": text, "metadata": metadata}).encode()


def test_jsonl_records_are_loaded_and_bad_lines_named(rag: RAG, tmp_path: Path) -> None:
    source = _write_jsonl(
        tmp_path / "export.jsonl",
        [
            _record("r1", "The invoice was paid on 3 May.", title="Invoices"),
            _record("r2", "The van needs new tyres before winter."),
            b"{not json",
            json.dumps({"text": "no id here"}).encode(),
            json.dumps({"id": "r5", "text": "   "}).encode(),
            b"[1, 2, 3]",
            '{"id": "r7", "text": "caf\xe9"}'.encode("latin-1"),
        ],
    )
    report = rag.ingest_jsonl(source)
    statuses = {f.path: f.status for f in report.files}
    assert statuses["record:r1"] == statuses["record:r2"] == FileStatus.INGESTED
    reasons = {f.path: f.reason for f in report.files if f.status == FileStatus.FAILED}
    assert reasons == {
        "line 3": "not valid JSON: Expecting property name enclosed in double quotes",
        "line 4": 'missing "id" (a string)',
        "line 5 (id r5)": 'missing or empty "text"',
        "line 6": "expected a JSON object",
        "line 7": "not UTF-8 text",
    }
    hit = rag.search("when was the invoice paid", k=1)[0]
    assert (hit.path, hit.section) == ("record:r1", "Invoices")


def test_jsonl_reload_skips_unchanged_and_replaces_changed(rag: RAG, tmp_path: Path) -> None:
    first = _write_jsonl(tmp_path / "a.jsonl", [_record("r1", "Alpha text."), _record("r2", "B.")])
    rag.ingest_jsonl(first)
    second = _write_jsonl(
        tmp_path / "b.jsonl",
        [
            _record("r1", "Alpha text."),
            _record("r2", "Beta is now about boats."),
        ],
    )
    report = rag.ingest_jsonl(second)
    assert {f.path: f.status for f in report.files} == {
        "record:r1": FileStatus.UNCHANGED,
        "record:r2": FileStatus.INGESTED,
    }
    assert len(rag.documents()) == 2
    assert "boats" in rag.search("boats", k=1)[0].text


def test_prune_removes_documents_whose_files_are_gone(rag: RAG, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("a.md", "b.md", "c.md"):
        write_markdown(folder / name)
    other = write_markdown(tmp_path / "elsewhere.md")
    rag.ingest([folder, other])
    (folder / "b.md").unlink()
    other.unlink()

    report = rag.ingest([folder], prune=True)
    pruned = [Path(f.path).name for f in report.files if f.status == FileStatus.PRUNED]
    assert pruned == ["b.md"]  # elsewhere.md is outside the pruned path: kept
    assert sorted(Path(d.path).name for d in rag.documents()) == ["a.md", "c.md", "elsewhere.md"]
    assert rag.check().consistent


@pytest.mark.slow
def test_parallel_parsing_in_worker_processes(rag: RAG, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"n{i:02d}.md").write_text(
            f"# Pump {i}\n\nPump {i} delivers {i * 10} litres a minute.", encoding="utf-8"
        )
    rag.settings = rag.settings.model_copy(update={"parse_workers": 2})
    report = rag.ingest([folder])
    assert report.count(FileStatus.INGESTED) == 12
    hit = rag.search("How many litres a minute does pump 7 deliver?", k=1)[0]
    assert Path(hit.path).name == "n07.md"
    assert rag.check().consistent
