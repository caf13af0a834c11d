"""The whole loop through the library facade, on real files with the real models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag import RAG, CollectionNotFound, DocumentNotFound, EmptyCollection, FileStatus
from rag.answer.stream import extract_citations
from rag.errors import InvalidRequest
from tests.documents import write_markdown, write_two_page_pdf


def test_question_answered_only_by_pdf_page_two_cites_that_page(
    rag: RAG, mixed_folder: Path
) -> None:
    report = rag.ingest([mixed_folder])
    assert report.count(FileStatus.INGESTED) == 4
    assert not report.failed

    answer = rag.ask("What is the launch code for the Aurora rocket?")
    top = answer.sources[0]
    assert Path(top.passage.path).name == "report.pdf"
    assert top.passage.page == 2
    assert top.n == 1
    assert answer.answer.strip()
    assert "PURPLE-42" in answer.answer
    assert answer.prompt_format == "gguf-template"
    assert answer.usage.prompt_tokens > 0


def test_search_returns_scored_passages_with_locations(rag: RAG, mixed_folder: Path) -> None:
    rag.ingest([mixed_folder])
    results = rag.search("When does the warehouse lease end?", k=3)
    assert len(results) == 3
    assert Path(results[0].path).name == "lease.docx"
    assert results[0].score >= results[1].score >= results[2].score
    holidays = rag.search("How many days of paid holiday?", k=1)[0]
    assert (Path(holidays.path).name, holidays.section) == ("handbook.md", "Holidays")


def test_stream_yields_pieces_then_the_cited_answer(rag: RAG, mixed_folder: Path) -> None:
    rag.ingest([mixed_folder])
    stream = rag.stream("Where is the office?")
    assert stream.passages  # sources are known before generation starts
    pieces = list(stream)
    assert len(pieces) > 1
    result = stream.result()
    assert result.answer == extract_citations("".join(pieces), len(stream.passages))[0]
    assert result.usage.completion_tokens == rag.generator.count_tokens("".join(pieces))


def test_reingest_skips_unchanged_and_replaces_changed(rag: RAG, tmp_path: Path) -> None:
    doc = write_markdown(tmp_path / "handbook.md")
    first = rag.ingest([doc])
    assert first.files[0].status == FileStatus.INGESTED
    again = rag.ingest([doc])
    assert again.files[0].status == FileStatus.UNCHANGED

    doc.write_text("# Handbook\n\nThe office moved to Tromsø in 2030.\n", encoding="utf-8")
    changed = rag.ingest([doc])
    assert changed.files[0].status == FileStatus.INGESTED
    texts = " ".join(p.text for p in rag.search("office", k=10))
    assert "Tromsø" in texts and "Bergen" not in texts
    assert len(rag.documents()) == 1


def test_bad_files_are_named_and_the_rest_ingested(rag: RAG, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_two_page_pdf(folder / "good.pdf")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "broken.pdf").write_bytes(b"this is not a pdf at all" * 10)
    (folder / "truncated.docx").write_bytes(b"PK\x03\x04garbage")
    (folder / "photo.png").write_bytes(b"\x89PNG....")  # a damaged image
    (folder / "song.wav").write_bytes(b"RIFF....WAVE")
    (folder / ".hidden.md").write_text("# secret", encoding="utf-8")

    report = rag.ingest([folder])
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["good.pdf"].status == FileStatus.INGESTED
    assert by_name["empty.txt"].status == FileStatus.FAILED
    assert "empty" in (by_name["empty.txt"].reason or "")
    assert by_name["broken.pdf"].status == FileStatus.FAILED
    assert "not a PDF" in (by_name["broken.pdf"].reason or "")
    assert by_name["truncated.docx"].status == FileStatus.FAILED
    assert by_name["photo.png"].status == FileStatus.FAILED
    assert "not a readable image" in (by_name["photo.png"].reason or "")
    assert by_name["song.wav"].status == FileStatus.SKIPPED
    assert ".hidden.md" not in by_name
    assert [d.path for d in rag.documents()] == [str((folder / "good.pdf").resolve())]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file_is_reported(rag: RAG, tmp_path: Path) -> None:
    path = write_markdown(tmp_path / "locked.md")
    path.chmod(0)
    report = rag.ingest([path])
    assert report.files[0].status == FileStatus.FAILED


def test_symlink_loop_is_reported_not_followed(rag: RAG, tmp_path: Path) -> None:
    folder = tmp_path / "loops"
    folder.mkdir()
    (folder / "a.md").symlink_to(folder / "b.md")
    (folder / "b.md").symlink_to(folder / "a.md")
    (folder / "sub").symlink_to(folder)  # a folder loop: never followed
    write_markdown(folder / "real.md")
    report = rag.ingest([folder])
    statuses = {Path(f.path).name: f.status for f in report.files}
    assert statuses == {
        "a.md": FileStatus.FAILED,
        "b.md": FileStatus.FAILED,
        "real.md": FileStatus.INGESTED,
    }


def test_named_unsupported_file_fails_with_reason(rag: RAG, tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_bytes(b"whatever")
    report = rag.ingest([path])
    assert report.files[0].status == FileStatus.FAILED
    assert "unsupported format .wav" in (report.files[0].reason or "")


def test_delete_document(rag: RAG, mixed_folder: Path) -> None:
    rag.ingest([mixed_folder])
    pdf = next(d for d in rag.documents() if d.path.endswith("report.pdf"))
    rag.delete_document(pdf.id)
    assert all(p.document_id != pdf.id for p in rag.search("launch code", k=20))
    with pytest.raises(DocumentNotFound):
        rag.delete_document(pdf.id)


def test_clear_errors_for_bad_questions_and_missing_collections(rag: RAG, tmp_path: Path) -> None:
    with pytest.raises(CollectionNotFound, match="rag ingest"):
        rag.ask("anything", collection="nope")
    with pytest.raises(InvalidRequest, match="invalid collection name"):
        rag.search("x", collection="../etc")
    rag.create_collection("empty")
    with pytest.raises(EmptyCollection, match="empty"):
        rag.ask("anything", collection="empty")
    rag.ingest([write_markdown(tmp_path / "a.md")])
    with pytest.raises(InvalidRequest, match="question is empty"):
        rag.ask("   ")


def test_data_survives_a_new_instance(settings, embedder, smollm, mixed_folder: Path) -> None:
    with RAG(settings=settings, embedder=embedder, generator=smollm) as first:
        first.ingest([mixed_folder], collection="kept")
    with RAG(settings=settings, embedder=embedder, generator=smollm) as second:
        assert second.collections() == ["kept"]
        assert len(second.documents("kept")) == 4
        hit = second.search("launch code", collection="kept")[0]
        assert (Path(hit.path).name, hit.page) == ("report.pdf", 2)


def test_the_report_says_where_the_ingest_time_went(rag: RAG, mixed_folder: Path) -> None:
    report = rag.ingest([mixed_folder], collection="stages")
    stages = report.stages
    assert stages.parse_s > 0 and stages.chunk_s > 0 and stages.plan_s > 0
    assert stages.embed_chunks_s > 0 and stages.embed_sentences_s > 0  # separate sentences
    assert stages.write_s > 0 and stages.index_save_s > 0
    main_process = (
        stages.plan_s
        + stages.embed_chunks_s
        + stages.embed_sentences_s
        + stages.write_s
        + stages.index_save_s
    )
    assert main_process <= report.seconds
    assert set(report.to_dict()["stages"]) == {
        "plan_s",
        "parse_s",
        "chunk_s",
        "embed_chunks_s",
        "embed_sentences_s",
        "write_s",
        "index_save_s",
    }
