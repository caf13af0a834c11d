"""Which encoding a text file is in: UTF-8 when it decodes as such, else a careful guess."""

from __future__ import annotations

import codecs
from pathlib import Path


def detect_encoding(path: Path) -> tuple[str, str | None]:
    """The text encoding of a file, and a note when it is not UTF-8.

    Short legacy texts are ambiguous between Western code pages; charset detection often picks
    Central European cp1250 for what is far more often Western cp1252, so cp1252 wins when it
    decodes the bytes cleanly and the guess is another single-byte Latin page.
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return ("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"), None
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    guess = best.encoding if best is not None else "cp1252"
    if guess in _LATIN_CODEPAGES:
        try:
            data.decode("cp1252")
            guess = "cp1252"
        except UnicodeDecodeError:
            pass
    # charset_normalizer answers with Python's codec names (`utf_16`); lxml and other C
    # parsers know only the standard ones (`utf-16`): an XML file in UTF-16 failed with
    # "unknown encoding: 'b'utf_16''".
    guess = codecs.lookup(guess).name
    return guess, f"not UTF-8; read as {guess}"


_LATIN_CODEPAGES = {
    "cp1250",
    "cp1252",
    "cp1257",
    "latin_1",
    "iso8859_2",
    "iso8859_3",
    "iso8859_4",
    "iso8859_9",
    "iso8859_10",
    "iso8859_13",
    "iso8859_14",
    "iso8859_15",
    "iso8859_16",
    "mac_latin2",
    "mac_roman",
}
