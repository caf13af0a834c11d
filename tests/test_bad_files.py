"""Every kind of bad file is named with a one-line reason, and never stops or pollutes a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.elements import ParseOptions
from ingest.errors import CorruptDocument, EmptyDocument, EncryptedDocument
from ingest.parse import parse_file
from rag import RAG, FileStatus
from tests import documents


@pytest.fixture(scope="module")
def good_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return documents.write_two_page_pdf(tmp_path_factory.mktemp("pdf") / "good.pdf")


def test_password_protected_pdf(tmp_path: Path, good_pdf: Path) -> None:
    path = documents.write_encrypted_pdf(tmp_path / "locked.pdf", good_pdf)
    with pytest.raises(EncryptedDocument, match="password-protected"):
        parse_file(path)


def test_pdf_with_only_an_owner_password_is_readable(tmp_path: Path, good_pdf: Path) -> None:
    path = documents.write_encrypted_pdf(tmp_path / "owner.pdf", good_pdf, user_password="")
    assert any("PURPLE-42" in e.text for e in parse_file(path).elements)


def test_truncated_pdf_is_called_damaged(tmp_path: Path, good_pdf: Path) -> None:
    path = documents.write_truncated_pdf(tmp_path / "cut.pdf", good_pdf)
    with pytest.raises(CorruptDocument, match="damaged PDF"):
        parse_file(path)


def test_pdf_without_text_layer_or_legible_text(tmp_path: Path) -> None:
    path = documents.write_image_only_pdf(tmp_path / "scan.pdf")
    with pytest.raises(EmptyDocument, match="without a text layer, and OCR read nothing"):
        parse_file(path)
    with pytest.raises(EmptyDocument, match=r"no text layer in 1 page.*OCR is off"):
        parse_file(path, ParseOptions(ocr=False))


def test_zip_bomb_docx_is_refused_without_inflating(tmp_path: Path) -> None:
    path = documents.write_zip_bomb_docx(tmp_path / "bomb.docx")
    assert path.stat().st_size < 5_000_000
    with pytest.raises(CorruptDocument, match="zip bomb"):
        parse_file(path)


def test_legacy_encoded_text_is_read_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Café au lait for the naïve señor, größer.".encode("cp1252"))
    parsed = parse_file(path)
    assert "naïve señor" in parsed.elements[0].text
    assert parsed.notes == ["not UTF-8; read as cp1252"]


@pytest.mark.parametrize("suffix", [".xml", ".html", ".txt"])
def test_utf16_text_formats_are_read_and_noted(tmp_path: Path, suffix: str) -> None:
    body = "<report><title>Fjord survey</title><p>Tide height was 3.2 metres.</p></report>"
    text = '<?xml version="1.0" encoding="UTF-16"?>' + body if suffix == ".xml" else body
    path = tmp_path / f"survey{suffix}"
    path.write_bytes(text.encode("utf-16"))  # with its byte order mark, as Windows writes it
    parsed = parse_file(path)
    assert "Tide height was 3.2 metres." in " ".join(e.text for e in parsed.elements)
    assert parsed.notes == ["not UTF-8; read as utf-16"]


def test_a_run_over_every_kind_of_bad_file(rag: RAG, tmp_path: Path, good_pdf: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    documents.write_markdown(folder / "good.md")
    (folder / "zero.txt").write_bytes(b"")
    (folder / "garbage.pdf").write_bytes(bytes(range(256)) * 8)
    documents.write_truncated_pdf(folder / "truncated.pdf", good_pdf)
    documents.write_encrypted_pdf(folder / "encrypted.pdf", good_pdf)
    documents.write_zip_bomb_docx(folder / "bomb.docx")
    (folder / "legacy.txt").write_bytes("Prix: 5 €, déjà payé.".encode("cp1252"))
    rag.settings = rag.settings.model_copy(update={"max_file_mb": 0.5})
    (folder / "huge.txt").write_text("word " * 200_000, encoding="utf-8")

    report = rag.ingest([folder])
    by_name = {Path(f.path).name: f for f in report.files}
    expected = {
        "good.md": FileStatus.INGESTED,
        "legacy.txt": FileStatus.INGESTED,
        "zero.txt": FileStatus.FAILED,
        "garbage.pdf": FileStatus.FAILED,
        "truncated.pdf": FileStatus.FAILED,
        "encrypted.pdf": FileStatus.FAILED,
        "bomb.docx": FileStatus.FAILED,
        "huge.txt": FileStatus.FAILED,
    }
    assert {name: f.status for name, f in by_name.items()} == expected
    for name, outcome in by_name.items():
        if outcome.status == FileStatus.FAILED:
            assert outcome.reason and "\n" not in outcome.reason, name
    assert "limit" in (by_name["huge.txt"].reason or "")
    assert "read as cp1252" in (by_name["legacy.txt"].reason or "")
    # Failed files leave nothing behind: only the two good documents are stored and searchable.
    stored = sorted(Path(d.path).name for d in rag.documents())
    assert stored == ["good.md", "legacy.txt"]
    assert rag.check().consistent
