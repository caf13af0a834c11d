"""Pages as search units: a page's chunks scored together, and one passage per page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag import RAG
from rag.search.candidates import candidate_rankings
from rag.search.fusion import Ranking

WORDS = ["gasket", "housing", "pump", "valve", "flange", "bolt", "seal", "torque"]
_NEXT = {"new_x": "LMARGIN", "new_y": "NEXT"}


def _write_pdf(path: Path) -> Path:
    """Page 1: one short note on gaskets. Page 2: a long maintenance log, many chunks, every
    paragraph about gaskets too. Page 3: the cafeteria."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Note. The gasket of the pump housing was replaced in March.", **_NEXT)
    pdf.add_page()
    for day in range(1, 13):
        pdf.multi_cell(
            0,
            5,
            f"Log entry {day}. The gasket of the pump housing was checked; "
            + " ".join(WORDS[(day + i) % len(WORDS)] for i in range(12))
            + ". Nothing else was found by the maintenance crew on duty that day.",
            **_NEXT,
        )
    pdf.add_page()
    pdf.multi_cell(0, 6, "The cafeteria serves soup on Fridays and fish on Tuesdays.")
    pdf.output(str(path))
    return path


@pytest.fixture
def manual(rag: RAG, tmp_path: Path) -> RAG:
    rag.settings = rag.settings.model_copy(update={"chunk_tokens": 64})
    report = rag.ingest([_write_pdf(tmp_path / "manual.pdf")])
    assert not report.failed and report.chunks >= 5
    return rag


def _rankings(rag: RAG, query: str) -> dict[str, Ranking]:
    vector = rag.embedder.embed([query])[0]
    found = candidate_rankings(rag.collection(), vector, query, rag.search_options(5))
    return {ranking.name: ranking for ranking in found}


def test_a_page_is_scored_by_all_its_chunks(manual: RAG) -> None:
    rankings = _rankings(manual, "pump housing gasket")
    collection = manual.collection()
    records = {r.id: r for r in collection.chunks(rankings["dense"].ids())}
    page_two = [i for i, r in records.items() if r.page == 2]
    assert len(page_two) >= 3, "the log page should be cut into several chunks"

    # BM25 of the page: the lexical scores of its chunks summed, the same for each of them.
    lexical = dict(rankings["lexical"].hits)
    page_lexical = dict(rankings["page_lexical"].hits)
    expected = sum(score for i, score in lexical.items() if records[i].page == 2)
    assert all(page_lexical[i] == pytest.approx(expected) for i in page_two)

    # The page's vector: the mean of all its chunks' vectors, at unit length.
    every_page_two = [c.id for c in collection.document_chunks(records[page_two[0]].document_id)]
    vectors = collection.embeddings(every_page_two)
    mean = np.mean([vectors[c.id] for c in collection.chunks(every_page_two) if c.page == 2], 0)
    query = manual.embedder.embed(["pump housing gasket"])[0]
    similarity = float(mean @ query / np.linalg.norm(mean))
    page_dense = dict(rankings["page_dense"].hits)
    assert all(page_dense[i] == pytest.approx(similarity, abs=1e-5) for i in page_two)
    # The short note is a page of its own, scored by its one chunk.
    page_one = next(i for i, r in records.items() if r.page == 1)
    assert page_dense[page_one] == pytest.approx(dict(rankings["dense"].hits)[page_one], abs=1e-5)


def test_one_passage_per_page_unless_switched_off(manual: RAG) -> None:
    pages = [p.page for p in manual.search("pump housing gasket", k=3)]
    assert len(pages) == len(set(pages)) and {1, 2} <= set(pages)
    manual.settings = manual.settings.model_copy(update={"one_per_page": False})
    pages = [p.page for p in manual.search("pump housing gasket", k=3)]
    assert pages.count(2) >= 2


def test_unpaged_text_searches_exactly_as_without_pages(rag: RAG, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(
        "\n\n".join(f"Entry {i}: the {WORDS[i % 8]} of the pump was checked." for i in range(40)),
        encoding="utf-8",
    )
    rag.settings = rag.settings.model_copy(update={"chunk_tokens": 32})
    rag.ingest([tmp_path / "notes.txt"])
    assert "page_dense" not in _rankings(rag, "pump valve")
    with_pages = [(p.chunk_id, p.score) for p in rag.search("pump valve", k=5)]
    rag.settings = rag.settings.model_copy(update={"page_weight": 0.0, "one_per_page": False})
    assert [(p.chunk_id, p.score) for p in rag.search("pump valve", k=5)] == with_pages
