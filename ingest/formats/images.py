"""Images (PNG, JPEG, TIFF, BMP, HEIC, ...) read by OCR; each frame of a TIFF is a page."""

from __future__ import annotations

import time
from pathlib import Path

from ingest.elements import ParsedFile, ParseOptions
from ingest.errors import CorruptDocument, EmptyDocument, MissingTool
from ingest.layout import page_elements
from ingest.ocr import ocr_image

# More frames than this in one image file are not a document (an animation, a camera burst).
_MAX_FRAMES = 500


def read_image(path: Path, options: ParseOptions) -> ParsedFile:
    if not options.ocr:
        raise MissingTool("images are read by OCR, which is off: set RAG_OCR=true")
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if path.suffix.lower() in (".heic", ".heif", ".avif"):
        from pi_heif import register_heif_opener

        register_heif_opener()
    started = time.monotonic()
    pages = []
    try:
        with Image.open(path) as image:
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                if number > _MAX_FRAMES:
                    break
                pages.append(ocr_image(frame, options.threads))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptDocument(f"not a readable image: {exc}") from exc
    elements = page_elements(pages, tables=options.tables)
    if not elements:
        raise EmptyDocument("no text found in the image")
    return ParsedFile(elements, ocr_pages=len(pages), ocr_seconds=time.monotonic() - started)
