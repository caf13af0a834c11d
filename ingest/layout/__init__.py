"""Layout analysis: words with boxes (a PDF's text layer, or OCR) -> titles, paragraphs, tables.

`lines` holds the values (words, lines in reading order), `table_finder` finds tables with
their headers and captions, `pages` reads whole pages into elements.
"""

from ingest.layout.lines import Line, Word, join_lines
from ingest.layout.pages import page_elements

__all__ = ["Line", "Word", "join_lines", "page_elements"]
