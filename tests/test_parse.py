"""Real unstructured on real files of every supported format."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import CorruptDocument, EmptyDocument, UnsupportedFormat
from ingest.parse import SUPPORTED_EXTENSIONS, parse_file
from tests import documents


@pytest.mark.parametrize(
    ("name", "writer", "expected"),
    [
        ("report.pdf", documents.write_two_page_pdf, "PURPLE-42"),
        ("handbook.md", documents.write_markdown, "Bergen"),
        ("faq.html", documents.write_html, "1200 euros"),
        ("lease.docx", documents.write_docx, "Trondheim"),
        ("goals.pptx", documents.write_pptx, "Oslo"),
        ("suppliers.xlsx", documents.write_xlsx, "Nordic Frames"),
        ("migration.eml", documents.write_eml, "data centre"),
    ],
)
def test_each_format_yields_its_text(tmp_path: Path, name: str, writer, expected: str) -> None:
    elements = parse_file(writer(tmp_path / name)).elements
    assert any(expected in e.text for e in elements)


def test_text_and_csv(tmp_path: Path) -> None:
    txt, csv = documents.write_text_files(tmp_path)
    assert "two o'clock" in " ".join(e.text for e in parse_file(txt).elements)
    assert "helmet" in " ".join(e.text for e in parse_file(csv).elements)


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    elements = parse_file(documents.write_two_page_pdf(tmp_path / "report.pdf")).elements
    pages = {e.page for e in elements if "PURPLE-42" in e.text}
    assert pages == {2}
    assert {e.page for e in elements} == {1, 2}


def test_markdown_sections_follow_headings(tmp_path: Path) -> None:
    elements = parse_file(documents.write_markdown(tmp_path / "handbook.md")).elements
    holiday = next(e for e in elements if "25 days" in e.text)
    assert holiday.section == "Holidays"


def test_unsupported_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(UnsupportedFormat, match=r"\.wav.*supported: .*\.pdf"):
        parse_file(path)
    assert ".docx" in SUPPORTED_EXTENSIONS


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(b"")
    with pytest.raises(EmptyDocument, match="0 bytes"):
        parse_file(path)


def test_garbage_named_pdf_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(CorruptDocument, match="not a PDF"):
        parse_file(path)
