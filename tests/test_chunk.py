"""Chunking with the real MiniLM tokenizer: never over the model's window, never across pages."""

from __future__ import annotations

from ingest.chunk import chunk_elements
from ingest.embed import Embedder
from ingest.parse import Element


def test_model_reports_its_real_window(embedder: Embedder) -> None:
    # all-MiniLM-L6-v2 reads 256 word pieces, two of which are [CLS] and [SEP].
    assert embedder.max_tokens == 254
    assert embedder.dimension == 384


def test_long_text_is_split_within_the_token_limit(embedder: Embedder) -> None:
    sentence = "The pressure valve on line seven must be inspected every fortnight by staff. "
    text = sentence * 120
    chunks = chunk_elements(
        [Element(text, "NarrativeText", 1, None)], embedder.count_tokens, max_tokens=100
    )
    assert len(chunks) > 5
    assert all(embedder.count_tokens(c.text) <= 100 for c in chunks)
    assert all(c.token_count == embedder.count_tokens(c.text) for c in chunks)
    # Nothing is lost: every word of the input is in some chunk, in order.
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_one_huge_word_is_cut_not_dropped(embedder: Embedder) -> None:
    blob = "x" * 5000
    chunks = chunk_elements([Element(blob, "NarrativeText", None, None)], embedder.count_tokens, 64)
    assert all(embedder.count_tokens(c.text) <= 64 for c in chunks)
    assert "".join(c.text for c in chunks) == blob


def test_chunks_break_at_pages_and_sections(embedder: Embedder) -> None:
    elements = [
        Element("Handbook", "Title", 1, "Handbook"),
        Element("Office", "Title", 1, "Office"),
        Element("The office is in Bergen.", "NarrativeText", 1, "Office"),
        Element("Holidays", "Title", 1, "Holidays"),
        Element("25 days a year.", "NarrativeText", 1, "Holidays"),
        Element("More about holidays.", "NarrativeText", 2, "Holidays"),
    ]
    chunks = chunk_elements(elements, embedder.count_tokens, 200)
    assert [(c.text, c.page, c.section) for c in chunks] == [
        ("Handbook\n\nOffice\n\nThe office is in Bergen.", 1, "Office"),
        ("Holidays\n\n25 days a year.", 1, "Holidays"),
        ("Holidays\n\nMore about holidays.", 2, "Holidays"),
    ]
    assert chunks[0].element_types == ("Title", "NarrativeText")


def test_a_long_table_keeps_its_header_row_when_its_caption_is_cut(
    embedder: Embedder,
) -> None:
    # A 10-Q income statement: a long caption over four long column headers. Every part of the
    # split table must name all four columns, even where the caption has to give way.
    caption = (
        "PFIZER INC. AND SUBSIDIARY COMPANIES — CONDENSED CONSOLIDATED STATEMENTS OF INCOME — "
        "(UNAUDITED) (MILLIONS, EXCEPT PER SHARE DATA)"
    )
    header_row = (
        "| | Three Months Ended July 2, 2023 | Three Months Ended July 3, 2022 | "
        "Six Months Ended July 2, 2023 | Six Months Ended July 3, 2022 |"
    )
    rows = "\n".join(
        f"| Expense line {n} | {n},101 | {n},202 | {n},303 | {n},404 |" for n in range(40)
    )
    table = Element(rows, "Table", 4, None, lead=f"{caption}\n{header_row}")
    chunks = chunk_elements([table], embedder.count_tokens, max_tokens=150)
    assert len(chunks) > 3
    for chunk in chunks:
        assert embedder.count_tokens(chunk.text) <= 150
        assert header_row in chunk.text.split("\n")
        assert chunk.text.startswith("PFIZER")
    assert sum(c.text.count("| Expense line") for c in chunks) == 40
