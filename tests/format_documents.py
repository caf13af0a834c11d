"""Small real files of the formats beyond the basic ones, each holding one findable fact.

Legacy office files are made by LibreOffice from modern ones, e-books and OpenDocument text by
the pandoc inside pypandoc-binary, scans by rendering text to pixels: the parsers under test
read what those tools really write.
"""

from __future__ import annotations

import json
import mailbox
import shutil
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path

from tests import documents

# (file name, words to search for, the fact's text, the page/sheet/slide it is on)
FACTS: dict[str, tuple[str, str, int | None]] = {
    "minutes.doc": ("boiler replacement budget", "NOK 412,000", None),
    "roadmap.ppt": ("harbour crane", "crane 7 retires in 2029", 2),
    "stock.xls": ("anchor chain stock", "Anchor chain", 1),
    "ferry.rtf": ("ferry to Bodo", "07:15", None),
    "charter.odt": ("sailing club charter", "founded in 1911", None),
    "budget.ods": ("rope budget", "Mooring rope", 1),
    "pitch.odp": ("pitch deck lighthouse", "lighthouse museum", 1),
    "guide.epub": ("glacier hike guide", "crampons", None),
    "config.xml": ("backup retention days", "retention", None),
    "notes.rst": ("kayak rental", "kayak", None),
    "tasks.org": ("net mending", "mend the nets", None),
    "parts.tsv": ("propeller part number", "PX-9931", None),
    "crew.json": ("crew member Ingrid", "Ingrid", None),
    "log.ndjson": ("engine hours", "engine_hours", None),
    "mailbox.mbox": ("dry dock schedule", "dry dock", 2),
    "scan.png": ("tide table harbour", "TIDE", 1),
    "scan-pages.tiff": ("pilot boat", "PILOT", 2),
    "scanned-letter.pdf": ("insurance claim number", "CLAIM", 2),
}


def soffice_convert(source: Path, target_extension: str, folder: Path) -> Path:
    """LibreOffice's own conversion, as a user would run it."""
    program = shutil.which("soffice") or shutil.which("libreoffice")
    assert program, "LibreOffice is needed to write legacy office files"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                program,
                "--headless",
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--convert-to",
                target_extension,
                "--outdir",
                str(folder),
                str(source),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    return folder / f"{source.stem}.{target_extension}"


def write_legacy_files(folder: Path) -> None:
    """.doc, .ppt, .xls, .odp, .ods converted by LibreOffice from files python writes."""
    import docx
    from openpyxl import Workbook
    from pptx import Presentation

    work = folder / ".sources"
    work.mkdir(parents=True, exist_ok=True)
    document = docx.Document()
    document.add_heading("Board minutes", level=1)
    document.add_paragraph("The board approved a boiler replacement budget of NOK 412,000.")
    document.save(str(work / "minutes.docx"))

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Harbour plans"
    first.placeholders[1].text = "New quay lights."
    second = deck.slides.add_slide(deck.slide_layouts[1])
    second.shapes.title.text = "Equipment"
    second.placeholders[1].text = "Harbour crane 7 retires in 2029."
    deck.save(str(work / "roadmap.pptx"))

    pitch = Presentation()
    slide = pitch.slides.add_slide(pitch.slide_layouts[1])
    slide.shapes.title.text = "Pitch deck"
    slide.placeholders[1].text = "Turn the old lighthouse into a lighthouse museum."
    pitch.save(str(work / "pitch.pptx"))

    book = Workbook()
    sheet = book.active
    sheet.title = "Stock"
    sheet.append(["Item", "Quantity", "Store"])
    sheet.append(["Anchor chain", 14, "Tromso"])
    sheet.append(["Mooring rope", 30, "Bergen"])
    book.save(str(work / "stock.xlsx"))
    book.save(str(work / "budget.xlsx"))

    for name, target in (
        ("minutes.docx", "doc"),
        ("roadmap.pptx", "ppt"),
        ("pitch.pptx", "odp"),
        ("stock.xlsx", "xls"),
        ("budget.xlsx", "ods"),
    ):
        soffice_convert(work / name, target, folder)
    shutil.rmtree(work)


def write_pandoc_files(folder: Path) -> None:
    """.odt and .epub written by pandoc (pypandoc-binary), and plain-text markup formats."""
    import pypandoc

    pypandoc.convert_text(
        "# Sailing club\n\nThe sailing club charter says the club was founded in 1911.\n",
        "odt",
        format="md",
        outputfile=str(folder / "charter.odt"),
    )
    pypandoc.convert_text(
        "% Glacier guide\n\n# Glacier hike guide\n\nBring crampons and a helmet on the glacier.\n",
        "epub",
        format="md",
        outputfile=str(folder / "guide.epub"),
    )
    (folder / "ferry.rtf").write_text(
        r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard "
        r"The ferry to Bodo leaves at 07:15 from pier 4.\par}",
        encoding="ascii",
    )
    (folder / "notes.rst").write_text(
        "Rentals\n=======\n\nThe kayak rental opens in May; a kayak costs 300 a day.\n"
    )
    (folder / "tasks.org").write_text(
        "* Tasks\n\n** TODO mend the nets before the net mending fair\n"
    )
    (folder / "config.xml").write_text(
        "<config><backup><retention>Backup retention is 35 days.</retention></backup></config>"
    )


def write_data_files(folder: Path) -> None:
    (folder / "parts.tsv").write_text(
        "part\tname\tprice\nPX-9931\tpropeller\t1200\nPX-1000\tshaft\t800\n"
    )
    (folder / "crew.json").write_text(
        json.dumps([{"name": "Ingrid", "role": "skipper"}, {"name": "Ola", "role": "cook"}])
    )
    (folder / "log.ndjson").write_text(
        '{"day": 1, "engine_hours": 7}\n{"day": 2, "engine_hours": 9}\nnot json\n'
    )


def _mail(sender: str, subject: str, body: str, pdf: Path | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "board@example.com", subject
    message.set_content(body)
    if pdf is not None:
        message.add_attachment(
            pdf.read_bytes(), maintype="application", subtype="pdf", filename="report.pdf"
        )
    return message


def write_mailbox(folder: Path, attachment: Path) -> Path:
    """Two messages; the second carries a PDF attachment."""
    box = mailbox.mbox(str(folder / "mailbox.mbox"))
    try:
        box.add(_mail("a@example.com", "Hello", "Welcome aboard."))
        box.add(
            _mail(
                "yard@example.com",
                "Dry dock schedule",
                "The dry dock schedule is attached.",
                attachment,
            )
        )
    finally:
        box.close()
    return folder / "mailbox.mbox"


def write_eml_with_attachment(path: Path, attachment: Path) -> Path:
    message = _mail(
        "cfo@example.com", "Annual report", "Please find the annual report attached.", attachment
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(message))
    return path


def text_image(lines: list[str], size: tuple[int, int] = (1400, 900)):  # type: ignore[no-untyped-def]
    """A white page with black text, as a scanner would see it (about 150 dpi)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for number, line in enumerate(lines):
        draw.text((80, 80 + 70 * number), line, fill="black", font=font)
    return image


def write_scans(folder: Path) -> None:
    """A PNG, a two-page TIFF and a two-page PDF of page images (no text layer)."""
    text_image(["TIDE TABLE FOR THE HARBOUR", "High water at 06:40 and 19:05."]).save(
        folder / "scan.png"
    )
    first = text_image(["Page one of the fax.", "Nothing to see here."])
    second = text_image(["PILOT BOAT ROTA", "The pilot boat leaves at dawn."])
    first.save(folder / "scan-pages.tiff", save_all=True, append_images=[second])
    write_scanned_pdf(
        folder / "scanned-letter.pdf",
        [
            ["Dear customer,", "Thank you for your letter."],
            ["INSURANCE CLAIM NUMBER 88-2041", "Your claim was approved on 2 May."],
        ],
    )


def write_scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A PDF whose pages are only images of text, like a scanner's output."""
    from fpdf import FPDF

    pdf = FPDF()
    with tempfile.TemporaryDirectory() as work:
        for number, lines in enumerate(pages):
            image_path = Path(work) / f"page-{number}.png"
            text_image(lines, (1240, 1754)).save(image_path)
            pdf.add_page()
            pdf.image(str(image_path), x=0, y=0, w=210, h=297)
        pdf.output(str(path))
    return path


def write_every_format(folder: Path) -> Path:
    """One folder with a file of each format in FACTS."""
    folder.mkdir(parents=True, exist_ok=True)
    report = documents.write_two_page_pdf(folder / ".report-source.pdf")
    write_legacy_files(folder)
    write_pandoc_files(folder)
    write_data_files(folder)
    write_mailbox(folder, report)
    write_scans(folder)
    report.unlink()
    return folder
