"""Tables keep their structure: every value beside its row label and column headers, in PDFs
(laid out by the test like a 10-Q), HTML, DOCX, XLSX and CSV; long tables split by rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.chunk import chunk_elements
from ingest.embed import Embedder
from ingest.parse import parse_file
from rag import RAG


def write_income_statement_pdf(path: Path, rows: int = 0) -> Path:
    """A 10-Q style statement: title, unit, a header centred over two quarter columns, dates,
    `$` signs apart from their figures, right-aligned numbers; `rows` extra rows make it long."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Condensed Consolidated Statements of Operations", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    pdf.cell(0, 6, "(In millions)", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    def row(label: str, first: str, second: str, dollar: bool = False) -> None:
        y = pdf.get_y()
        pdf.set_xy(10, y)
        pdf.cell(90, 5, label)
        for x, value in ((110, first), (150, second)):
            if dollar:
                pdf.set_xy(x, y)
                pdf.cell(5, 5, "$")
            pdf.set_xy(x + 5, y)
            pdf.cell(25, 5, value, align="R")
        pdf.set_xy(10, y + 5)

    y = pdf.get_y()
    pdf.set_xy(110, y)
    pdf.cell(70, 5, "Three Months Ended", align="C")
    pdf.set_xy(110, y + 5)
    pdf.cell(30, 5, "June 25, 2022", align="C")
    pdf.set_xy(150, y + 5)
    pdf.cell(30, 5, "June 26, 2021", align="C")
    pdf.set_xy(10, y + 12)
    row("Net sales:", "", "")
    row("Products", "63,355", "63,948", dollar=True)
    row("Services", "19,604", "17,486")
    row("Total net sales", "82,959", "81,434", dollar=True)
    row("Cost of sales", "47,074", "46,179")
    for number in range(rows):
        row(f"Other line item {number}", f"{number},{number:03d}", f"{number + 1},000")
    pdf.output(str(path))
    return path


def table_text(path: Path) -> str:
    return "\n".join(e.text for e in parse_file(path).elements if e.category == "Table")


def test_pdf_table_rows_carry_their_column_headers(tmp_path: Path) -> None:
    path = write_income_statement_pdf(tmp_path / "10q.pdf")
    elements = parse_file(path).elements
    table = next(e for e in elements if e.category == "Table")
    lines = table.text.splitlines()
    assert lines == [
        "Net sales:",  # a row-group heading stays a line of its own
        "Products — June 25, 2022: $63,355; June 26, 2021: $63,948",
        "Services — June 25, 2022: 19,604; June 26, 2021: 17,486",
        "Total net sales — June 25, 2022: $82,959; June 26, 2021: $81,434",
        "Cost of sales — June 25, 2022: 47,074; June 26, 2021: 46,179",
    ]
    # The unit, and the header line every column shares, lead the table as its caption.
    assert table.lead == "(In millions) — Three Months Ended"
    assert table.section == "Condensed Consolidated Statements of Operations"


def test_html_table_with_spanned_headers_and_dollar_cells(tmp_path: Path) -> None:
    path = tmp_path / "statement.html"
    path.write_text(
        "<html><body><h2>Balance sheet</h2><table>"
        "<tr><td></td><td colspan='2'>December 31, 2022</td>"
        "<td colspan='2'>December 31, 2021</td></tr>"
        "<tr><td>Cash and equivalents</td><td>$</td><td>1,200</td><td>$</td><td>950</td></tr>"
        "<tr><td>Inventories</td><td></td><td>(300</td><td>)</td><td>280</td></tr>"
        "</table></body></html>"
    )
    lines = table_text(path).splitlines()
    assert "Cash and equivalents — December 31, 2022: $1,200; December 31, 2021: $950" in lines
    assert "Inventories — December 31, 2022: (300); December 31, 2021: 280" in lines


def test_docx_and_xlsx_tables_keep_headers(tmp_path: Path) -> None:
    import docx
    from openpyxl import Workbook

    document = docx.Document()
    document.add_paragraph("Office rents")
    table = document.add_table(rows=3, cols=3)
    for r, values in enumerate(
        [["Office", "Rent", "Size"], ["Bergen", "12,000", "300"], ["Oslo", "20,000", "450"]]
    ):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    document.save(str(tmp_path / "rents.docx"))
    lines = table_text(tmp_path / "rents.docx").splitlines()
    assert "Office: Oslo — Rent: 20,000; Size: 450" in lines

    book = Workbook()
    sheet = book.active
    for values in (["Region", "Q1", "Q2"], ["North", 10, 12], ["South", 7, 9]):
        sheet.append(values)
    book.save(str(tmp_path / "regions.xlsx"))
    assert "Region: South — Q1: 7; Q2: 9" in table_text(tmp_path / "regions.xlsx").splitlines()


def test_pptx_table_keeps_headers_on_its_slide(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[5]).shapes.title.text = "Intro"
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Fleet"
    shape = slide.shapes.add_table(3, 3, Inches(1), Inches(2), Inches(6), Inches(2))
    for r, values in enumerate(
        [
            ["Vessel", "Built", "Tonnage"],
            ["Nordlys", "1994", "11,200"],
            ["Polarlys", "1996", "11,341"],
        ]
    ):
        for c, value in enumerate(values):
            shape.table.cell(r, c).text = value
    deck.save(str(tmp_path / "fleet.pptx"))
    table = next(e for e in parse_file(tmp_path / "fleet.pptx").elements if e.category == "Table")
    assert table.page == 2
    assert "Vessel: Polarlys — Built: 1996; Tonnage: 11,341" in table.text.splitlines()


def test_csv_with_ragged_rows_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,role\nAnn,skipper\nOla,cook,extra\nKari,mate\n")
    assert table_text(path).splitlines() == [
        "name: Ann — role: skipper",
        "name: Ola — role: cook; extra",
        "name: Kari — role: mate",
    ]


def test_a_long_table_is_split_by_rows_with_its_caption_in_every_part(
    tmp_path: Path, embedder: Embedder
) -> None:
    path = write_income_statement_pdf(tmp_path / "long.pdf", rows=40)
    elements = parse_file(path).elements
    chunks = chunk_elements(elements, embedder.count_tokens, 120)
    table_chunks = [c for c in chunks if "Table" in c.element_types]
    assert len(table_chunks) > 3
    assert all("(In millions) — Three Months Ended" in c.text for c in table_chunks)
    assert all(embedder.count_tokens(c.text) <= 120 for c in chunks)
    rows = [line for c in table_chunks for line in c.text.splitlines() if " — " in line]
    labels = [line.split(" — ")[0] for line in rows]
    assert labels.count("Total net sales") == 1
    assert [f"Other line item {n}" for n in range(40)] == [
        label for label in labels if label.startswith("Other")
    ]


@pytest.mark.parametrize("table_rows", [True, False])
def test_search_finds_a_figure_by_its_row_and_column(
    tmp_path: Path, embedder: Embedder, table_rows: bool
) -> None:
    from rag import Settings

    folder = tmp_path / "docs"
    folder.mkdir()
    path = write_income_statement_pdf(folder / "10q.pdf")
    settings = Settings(home=tmp_path / "home", table_rows=table_rows)
    with RAG(settings=settings, embedder=embedder) as rag:
        rag.ingest([path], collection="t")
        passage = rag.search(
            "total net sales in the quarter ended June 25, 2022", k=1, collection="t"
        )[0]
    if table_rows:
        assert "Total net sales — June 25, 2022: $82,959" in passage.text
        assert "Three Months Ended" in passage.text
    else:  # flattened, the figure is there but nothing says which quarter it belongs to
        assert "82,959" in passage.text and "June 25, 2022: $82,959" not in passage.text
