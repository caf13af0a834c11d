"""Chunks know their document: two companies' look-alike quarterly reports, told apart by the
context line (file name, entity, period) searched with every chunk; the period is metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.filters import SearchFilter
from ingest.embed import Embedder
from rag import RAG, Settings


def write_quarterly_report(path: Path, company: str, revenue: str, period: str) -> Path:
    """A two-page filing: a cover naming the registrant and period, then a body that only
    ever says "the Company", as real ones do."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(
        0,
        7,
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION\nFORM 10-Q\n"
        f"QUARTERLY REPORT for the quarterly period ended {period}\n"
        f"{company}\n(Exact name of registrant as specified in its charter)",
    )
    pdf.add_page()
    pdf.multi_cell(
        0,
        7,
        "Results of Operations\n"
        f"Net revenue of the Company for the quarter was {revenue} million, driven by demand "
        "for its products in all regions. The Company expects demand to continue.",
    )
    pdf.output(str(path))
    return path


@pytest.fixture(scope="module")
def filings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("filings")
    write_quarterly_report(folder / "report-a.pdf", "ACME ROBOTICS INC.", "512", "June 30, 2022")
    write_quarterly_report(folder / "report-b.pdf", "GLOBEX CORPORATION", "333", "June 30, 2023")
    return folder


@pytest.fixture(scope="module")
def with_context(
    filings: Path, tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[RAG]:
    with RAG(settings=Settings(home=tmp_path_factory.mktemp("home")), embedder=embedder) as rag:
        rag.ingest([filings], collection="filings")
        yield rag


@pytest.mark.parametrize(
    ("question", "file", "figure"),
    [
        ("What was Globex net revenue for the quarter?", "report-b.pdf", "333"),
        ("What was Acme Robotics net revenue for the quarter?", "report-a.pdf", "512"),
    ],
)
def test_the_company_is_found_though_the_chunk_never_names_it(
    with_context: RAG, question: str, file: str, figure: str
) -> None:
    hit = with_context.search(question, k=1, collection="filings")[0]
    assert Path(hit.path).name == file
    assert figure in hit.text and hit.page == 2
    assert "Globex" not in hit.text and "ACME" not in hit.text  # passages stay as written


def test_what_was_found_is_document_metadata_for_filters(with_context: RAG) -> None:
    by_name = {Path(d.path).name: d.metadata for d in with_context.documents("filings")}
    assert by_name["report-a.pdf"]["entity"] == "ACME ROBOTICS INC."
    assert by_name["report-a.pdf"]["period"] == "quarterly period ended June 30, 2022"
    assert by_name["report-a.pdf"]["period_end"] == "2022-06-30"
    assert by_name["report-b.pdf"]["year"] == "2023"
    hits = with_context.search(
        "net revenue", k=5, collection="filings", where=SearchFilter(metadata={"year": "2023"})
    )
    assert hits and {Path(h.path).name for h in hits} == {"report-b.pdf"}


def test_context_off_leaves_chunks_without_it(
    filings: Path, tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(home=tmp_path / "home", document_context=False)
    with RAG(settings=settings, embedder=embedder) as rag:
        rag.ingest([filings], collection="plain")
        assert all(not d.metadata for d in rag.documents("plain"))
