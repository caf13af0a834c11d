"""Tiny real documents of each supported format, written by the tests themselves."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

LAUNCH_CODE_FACT = "The launch code for the Aurora rocket is PURPLE-42."


def write_two_page_pdf(path: Path) -> Path:
    """Page 1 talks about bicycles; the launch code appears only on page 2."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(
        0,
        8,
        "Annual report. The company sells bicycles in Norway and Sweden. "
        "Revenue grew by twelve percent in the spring season.",
    )
    pdf.add_page()
    pdf.multi_cell(
        0,
        8,
        f"Rocket programme. {LAUNCH_CODE_FACT} "
        "The code must never be shared outside the launch team.",
    )
    pdf.output(str(path))
    return path


def write_markdown(path: Path) -> Path:
    path.write_text(
        "# Team handbook\n\n## Office\n\nThe office is in Bergen, on the third floor. "
        "The coffee machine is broken on Mondays.\n\n## Holidays\n\n"
        "Every employee gets 25 days of paid holiday per year.\n",
        encoding="utf-8",
    )
    return path


def write_html(path: Path) -> Path:
    path.write_text(
        "<html><body><h1>Product FAQ</h1><p>The Model X bicycle weighs 9 kilograms "
        "and costs 1200 euros.</p></body></html>",
        encoding="utf-8",
    )
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Lease agreement", level=1)
    document.add_paragraph("The lease of the warehouse in Trondheim ends on 31 March 2031.")
    document.save(str(path))
    return path


def write_pptx(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly goals"
    slide.placeholders[1].text = "Open a new shop in Oslo before the summer."
    deck.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Supplier", "Country"])
    sheet.append(["Nordic Frames", "Finland"])
    book.save(str(path))
    return path


def write_eml(path: Path) -> Path:
    message = EmailMessage()
    message["From"] = "anna@example.com"
    message["To"] = "team@example.com"
    message["Subject"] = "Server migration"
    message.set_content("The mail server moves to the new data centre on Friday evening.")
    path.write_bytes(bytes(message))
    return path


def write_text_files(folder: Path) -> list[Path]:
    txt = folder / "readme.txt"
    txt.write_text("The backup job runs every night at two o'clock.", encoding="utf-8")
    csv = folder / "prices.csv"
    csv.write_text("item,price\nhelmet,80\nlock,35\n", encoding="utf-8")
    return [txt, csv]


def write_mixed_folder(folder: Path) -> Path:
    """The acceptance corpus: Markdown, DOCX, HTML and a two-page PDF."""
    folder.mkdir(parents=True, exist_ok=True)
    write_markdown(folder / "handbook.md")
    write_docx(folder / "lease.docx")
    write_html(folder / "faq.html")
    write_two_page_pdf(folder / "report.pdf")
    return folder


def write_encrypted_pdf(path: Path, source: Path, user_password: str = "secret") -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(source))
    writer.encrypt(user_password=user_password, owner_password="owner")
    writer.write(str(path))
    return path


def write_truncated_pdf(path: Path, source: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_image_only_pdf(path: Path) -> Path:
    """A page with drawings and no text layer, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.output(str(path))
    return path


def write_zip_bomb_docx(path: Path, expanded_mb: int = 600) -> Path:
    """A real DOCX plus one entry of zeros that inflates to `expanded_mb` MB."""
    import zipfile

    base = write_docx(path.with_name("base-" + path.name))
    with (
        zipfile.ZipFile(base) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        with dst.open("word/media/filler.bin", "w") as filler:
            block = b"\0" * (1 << 20)
            for _ in range(expanded_mb):
                filler.write(block)
    base.unlink()
    return path
