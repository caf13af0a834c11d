"""Read text from page images with RapidOCR, offline.

The `rapidocr` wheel carries its PP-OCR detection and recognition models (ONNX, run by
onnxruntime), so OCR needs no download and no system package. It reads Latin scripts and
Chinese; other scripts come out poorly. Word boxes come back in image pixels and go through
the same layout analysis as a PDF's text layer, so scanned tables keep their columns too.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ingest.layout import Line, Word

# Recognised text below this confidence is noise (specks, stamps, a photo's texture).
_MIN_SCORE = 0.5


@lru_cache(maxsize=2)
def _engine(threads: int) -> Any:
    from rapidocr import RapidOCR

    return RapidOCR(
        params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


def warm_up(threads: int) -> None:
    _engine(threads)


def ocr_image(image: Any, threads: int = 1) -> list[Line]:
    """Lines of words read from a PIL image, top to bottom, in pixel coordinates."""
    import numpy as np

    rgb = np.asarray(image.convert("RGB"))
    result = _engine(threads)(rgb, return_word_box=True)
    if result is None or not result.txts:
        return []
    pieces: list[Line] = []
    word_results = result.word_results or ()
    for index, (box, text, score) in enumerate(
        zip(result.boxes, result.txts, result.scores, strict=False)
    ):
        if score < _MIN_SCORE or not str(text).strip():
            continue
        words = _words(word_results[index] if index < len(word_results) else (), box, text)
        if words:
            pieces.append(Line(words))
    return _rows(pieces)


def _words(word_boxes: Any, line_box: Any, text: str) -> list[Word]:
    """Each recognised word with its own box; the whole segment when words have none."""
    top, bottom = float(min(p[1] for p in line_box)), float(max(p[1] for p in line_box))
    size = (bottom - top) * 0.75
    words: list[Word] = []
    for item in word_boxes or ():
        word, _, points = item
        if not str(word).strip() or not points:
            continue
        xs = [float(p[0]) for p in points]
        words.append(Word(str(word), min(xs), max(xs), top, bottom, size))
    if words:
        return words
    xs = [float(p[0]) for p in line_box]
    return [Word(str(text), min(xs), max(xs), top, bottom, size)]


def _rows(pieces: list[Line]) -> list[Line]:
    """OCR segments on the same baseline (a table row's cells) joined into one line: each
    joins the recent row it overlaps most in height, if by half, and does not overlap across."""
    rows: list[Line] = []
    for piece in sorted(pieces, key=lambda p: (p.top + p.bottom) / 2):
        best, best_overlap = None, 0.0
        for index in range(len(rows) - 1, max(len(rows) - 8, 0) - 1, -1):
            row = rows[index]
            if (
                piece.x0 < row.x1
                and piece.x1 > row.x0
                and any(piece.x0 < w.x1 and piece.x1 > w.x0 for w in row.words)
            ):
                continue
            overlap = min(row.bottom, piece.bottom) - max(row.top, piece.top)
            ratio = overlap / max(min(row.bottom - row.top, piece.bottom - piece.top), 1.0)
            if ratio >= 0.5 and ratio > best_overlap:
                best, best_overlap = index, ratio
        if best is None:
            rows.append(piece)
        else:
            rows[best] = Line(sorted([*rows[best].words, *piece.words], key=lambda w: w.x0))
    return rows
