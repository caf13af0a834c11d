"""Every format beyond the basic ones, parsed by the real readers and found by a real search.

Legacy office files go through a real LibreOffice, e-books through the pandoc in
pypandoc-binary, scans through RapidOCR; the files are made by the tests (tests/format_documents).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.elements import ParseOptions
from ingest.embed import Embedder
from ingest.errors import EmptyDocument, MissingTool
from ingest.parse import parse_file
from rag import RAG, FileStatus, Settings
from tests import documents, format_documents
from tests.format_documents import FACTS

LEGACY = {"minutes.doc", "roadmap.ppt", "stock.xls", "budget.ods", "pitch.odp"}
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "unstructured-example-docs"


@pytest.mark.parametrize("name", sorted(FACTS))
def test_each_format_yields_its_fact_on_its_page(every_format: Path, name: str) -> None:
    _, fact, page = FACTS[name]
    parsed = parse_file(every_format / name, ParseOptions(ocr=True, threads=2))
    holding = [e for e in parsed.elements if fact.lower() in e.text.lower()]
    assert holding, [e.text for e in parsed.elements]
    if page is not None:
        assert holding[0].page == page


@pytest.fixture(scope="module")
def format_rag(
    every_format: Path,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: Embedder,
) -> Iterator[RAG]:
    settings = Settings(home=tmp_path_factory.mktemp("home"), parse_workers=2)
    with RAG(settings=settings, embedder=embedder) as engine:
        report = engine.ingest([every_format], collection="formats")
        assert not report.failed, report.failed
        engine.ingest_report = report  # type: ignore[attr-defined]
        yield engine


@pytest.mark.parametrize("name", sorted(FACTS))
def test_search_finds_each_format_on_its_page(format_rag: RAG, name: str) -> None:
    query, fact, page = FACTS[name]
    passages = format_rag.search(query, k=3, collection="formats")
    hits = [p for p in passages if Path(p.path).name.endswith(name) or name in p.path]
    assert hits, [(p.path, p.text[:80]) for p in passages]
    assert fact.lower() in hits[0].text.lower()
    if page is not None:
        assert hits[0].page == page


def test_ingest_report_counts_ocr_pages_and_attachments(format_rag: RAG) -> None:
    report = format_rag.ingest_report  # type: ignore[attr-defined]
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["scanned-letter.pdf"].ocr_pages == 2
    assert by_name["scan-pages.tiff"].ocr_pages == 2
    assert by_name["mailbox.mbox"].attachments == 1
    assert report.ocr_pages >= 5
    assert report.to_dict()["ocr_seconds"] > 0


def test_mail_attachments_are_documents_cited_through_their_mail(rag: RAG, tmp_path: Path) -> None:
    pdf = documents.write_two_page_pdf(tmp_path / "source.pdf")
    mail = format_documents.write_eml_with_attachment(tmp_path / "inbox" / "annual.eml", pdf)
    pdf.unlink()
    report = rag.ingest([mail.parent], collection="mail")
    assert [f.status for f in report.files] == [FileStatus.INGESTED]
    assert report.files[0].attachments == 1
    paths = sorted(d.path for d in rag.documents("mail"))
    assert paths == [str(mail), f"{mail} › report.pdf"]
    hit = rag.search("Aurora rocket launch code", k=1, collection="mail")[0]
    assert hit.path == f"{mail} › report.pdf"
    assert hit.page == 2
    attachment = next(d for d in rag.documents("mail") if d.path.endswith("report.pdf"))
    assert attachment.metadata["attached_to"] == report.files[0].document_id

    # A new version of the mail without the attachment drops it.
    documents.write_eml(mail)
    rag.ingest([mail], collection="mail")
    assert [d.path for d in rag.documents("mail")] == [str(mail)]
    # Deleting a mail deletes its attachments with it.
    pdf = documents.write_two_page_pdf(tmp_path / "source.pdf")
    format_documents.write_eml_with_attachment(mail, pdf)
    second = rag.ingest([mail], collection="mail")
    assert len(rag.documents("mail")) == 2
    rag.delete_document(second.files[0].document_id, "mail")
    assert rag.documents("mail") == []


def test_outlook_msg_with_attachment(rag: RAG) -> None:
    sample = CORPUS / "fake-email-attachment.msg"
    if not sample.exists():
        pytest.skip(f"{sample} is not here")
    report = rag.ingest([sample], collection="msg")
    assert report.files[0].status == FileStatus.INGESTED
    assert report.files[0].attachments == 1
    assert {Path(d.path).name for d in rag.documents("msg")} == {
        "fake-email-attachment.msg",
        "fake-email-attachment.msg › fake-attachment.txt",
    }


def test_legacy_office_without_libreoffice_says_what_to_install(
    every_format: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingTool, match=r"needs LibreOffice: install LibreOffice \(Debian"):
        parse_file(every_format / "minutes.doc")


def test_ocr_off_skips_scans_with_a_reason(every_format: Path) -> None:
    off = ParseOptions(ocr=False)
    with pytest.raises(MissingTool, match="OCR, which is off: set RAG_OCR=true"):
        parse_file(every_format / "scan.png", off)
    with pytest.raises(EmptyDocument, match=r"no text layer in 2 page\(s\) and OCR is off"):
        parse_file(every_format / "scanned-letter.pdf", off)


def test_a_docx_named_doc_is_read_as_docx(tmp_path: Path) -> None:
    path = documents.write_docx(tmp_path / "lease.docx").rename(tmp_path / "lease.doc")
    parsed = parse_file(path)
    assert any("Trondheim" in e.text for e in parsed.elements)
    assert parsed.notes == ["a .docx file named .doc: read as .docx"]
