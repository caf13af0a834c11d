"""Group parsed elements into chunks that fit the embedding model's token window.

A chunk never crosses a section title or a page break, so its section and page cite exactly,
and never holds more tokens than the embedding model reads (text past that is silently dropped
by the model, so it would be stored but never found).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ingest.elements import Element
from ingest.sentences import split_at_sentence_ends
from ingest.tokens import TokenCounter


@dataclass(frozen=True)
class Chunk:
    """A passage to embed and cite: its text, where it came from, and its size in model tokens."""

    ordinal: int
    text: str
    page: int | None
    section: str | None
    element_types: tuple[str, ...]
    token_count: int


@dataclass
class _Piece:
    text: str
    category: str
    page: int | None
    section: str | None
    tokens: int


def chunk_elements(
    elements: Sequence[Element],
    count_tokens: TokenCounter,
    max_tokens: int,
    repeat_headings: bool = True,
) -> list[Chunk]:
    """Pack elements in order into chunks of at most `max_tokens` tokens.

    >>> words = lambda text: len(text.split())
    >>> els = [Element("Intro", "Title", 1, "Intro"), Element("a b c", "NarrativeText", 1, "Intro"),
    ...        Element("d e", "NarrativeText", 2, "Intro")]
    >>> [(c.text, c.page) for c in chunk_elements(els, words, 10)]
    [('Intro\\n\\na b c', 1), ('Intro\\n\\nd e', 2)]
    """
    if max_tokens < 8:
        raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
    chunks: list[Chunk] = []
    current: list[_Piece] = []
    current_tokens = 0

    for piece in _pieces(elements, count_tokens, max_tokens):
        if current:
            joined_tokens = count_tokens(_join([*current, piece]))
            # A heading starts a new chunk, unless the chunk so far is only headings (a title
            # straight above a subtitle): those stay with the text they introduce.
            starts_section = piece.category == "Title" and any(
                p.category != "Title" for p in current
            )
            if starts_section or piece.page != current[0].page or joined_tokens > max_tokens:
                chunks.append(_make_chunk(len(chunks), current, current_tokens))
                current = []
            else:
                current.append(piece)
                current_tokens = joined_tokens
                continue
        current, current_tokens = _start_chunk(piece, count_tokens, max_tokens, repeat_headings)
    if current:
        chunks.append(_make_chunk(len(chunks), current, current_tokens))
    return chunks


def _start_chunk(
    piece: _Piece, count_tokens: TokenCounter, max_tokens: int, repeat_headings: bool
) -> tuple[list[_Piece], int]:
    """A new chunk, led by its section heading when it starts mid-section.

    A passage cut from the middle of a section reads, embeds and matches keywords better with
    the heading it sits under ("Battery and motor" above "...covered for three years").
    """
    if repeat_headings and piece.category != "Title" and piece.section:
        heading = _Piece(
            piece.section, "Title", piece.page, piece.section, count_tokens(piece.section)
        )
        tokens = count_tokens(_join([heading, piece]))
        if heading.tokens <= max_tokens // 4 and tokens <= max_tokens:
            return [heading, piece], tokens
    return [piece], piece.tokens


def _pieces(
    elements: Iterable[Element], count_tokens: TokenCounter, max_tokens: int
) -> Iterable[_Piece]:
    """Elements as pieces no larger than a chunk: long ones are split at sentences, then words.

    Split parts leave room for the section heading that will lead their chunk.
    """
    for element in elements:
        text = f"{element.lead}\n{element.text}" if element.lead else element.text
        tokens = count_tokens(text)
        if tokens <= max_tokens:
            yield _Piece(text, element.category, element.page, element.section, tokens)
            continue
        room = max_tokens
        if element.section:
            room -= min(count_tokens(element.section) + 2, max_tokens // 4)
        if element.category == "Table":
            parts = _split_table(element, count_tokens, room)
        else:
            parts = _split_text(element.text, count_tokens, room)
        for part in parts:
            yield _Piece(part, element.category, element.page, element.section, count_tokens(part))


def _split_table(element: Element, count_tokens: TokenCounter, max_tokens: int) -> list[str]:
    r"""A table cut between rows, its caption leading every part: a part of a table still says
    which table it is, and each row already carries its column headers.

    >>> words = lambda text: len(text.split())
    >>> table = Element("a — 2022: 1\nb — 2022: 2\nc — 2022: 3", "Table", 1, None, "Sales")
    >>> _split_table(table, words, 10)
    ['Sales\na — 2022: 1\nb — 2022: 2', 'Sales\nc — 2022: 3']
    """
    lead = _fit_lead(element.lead or "", count_tokens, max_tokens // 3)
    lead_tokens = count_tokens(lead) + 1 if lead else 0
    room = max_tokens - lead_tokens
    rows: list[str] = []
    for row in element.text.split("\n"):
        if count_tokens(row) <= room:
            rows.append(row)
        else:
            rows.extend(_split_words(row, count_tokens, room))
    packed = _pack(rows, count_tokens, room, sep="\n")
    return [f"{lead}\n{part}" if lead else part for part in packed]


def _fit_lead(lead: str, count_tokens: TokenCounter, budget: int) -> str:
    r"""A table's lead cut to `budget` tokens. A header row ("| | 2023 | 2022 |") names the
    columns of every row below it, so the caption above it gives way first.

    >>> words = lambda text: len(text.split())
    >>> _fit_lead("Statements of income of the company\n| | 2023 | 2022 |", words, 9)
    'Statements of\n| | 2023 | 2022 |'
    >>> _fit_lead("A caption much longer than the budget allows", words, 4)
    'A caption much longer'
    """
    if not lead or count_tokens(lead) <= budget:
        return lead
    caption, _, header_row = lead.rpartition("\n")
    header_tokens = count_tokens(header_row)
    if header_row.startswith("|") and header_tokens < budget:
        caption = _first_words(caption, count_tokens, budget - header_tokens - 1)
        return f"{caption}\n{header_row}" if caption else header_row
    return _first_words(lead, count_tokens, budget) or lead.split(maxsplit=1)[0]


def _first_words(text: str, count_tokens: TokenCounter, budget: int) -> str:
    """The longest run of `text`'s first words within `budget` tokens ("" if not one fits).
    A word is at least one token, so no more than `budget` words are ever counted."""
    words = text.split()[: max(budget, 0)]
    while words and count_tokens(" ".join(words)) > budget:
        words.pop()
    return " ".join(words)


def _split_text(text: str, count_tokens: TokenCounter, max_tokens: int) -> list[str]:
    parts: list[str] = []
    for sentence in split_at_sentence_ends(text):
        if count_tokens(sentence) <= max_tokens:
            parts.append(sentence)
        else:
            parts.extend(_split_words(sentence, count_tokens, max_tokens))
    return _pack(parts, count_tokens, max_tokens, sep=" ")


def _split_words(text: str, count_tokens: TokenCounter, max_tokens: int) -> list[str]:
    """Greedy word packing; a single word longer than the window is cut by characters."""
    out: list[str] = []
    line: list[str] = []
    for whole_word in text.split():
        word = whole_word
        while count_tokens(word) > max_tokens:
            cut = max(1, len(word) // 2)
            while cut > 1 and count_tokens(word[:cut]) > max_tokens:
                cut //= 2
            if line:
                out.append(" ".join(line))
                line = []
            out.append(word[:cut])
            word = word[cut:]
        if line and count_tokens(" ".join([*line, word])) > max_tokens:
            out.append(" ".join(line))
            line = []
        line.append(word)
    if line:
        out.append(" ".join(line))
    return out


def _pack(parts: list[str], count_tokens: TokenCounter, max_tokens: int, sep: str) -> list[str]:
    packed: list[str] = []
    for part in parts:
        if packed and count_tokens(packed[-1] + sep + part) <= max_tokens:
            packed[-1] = packed[-1] + sep + part
        else:
            packed.append(part)
    return packed


def _join(pieces: Sequence[_Piece]) -> str:
    return "\n\n".join(p.text for p in pieces)


def _make_chunk(ordinal: int, pieces: list[_Piece], tokens: int) -> Chunk:
    types = tuple(dict.fromkeys(p.category for p in pieces))
    # Under stacked headings the innermost one names the section the text is in.
    section = next((p.section for p in pieces if p.category != "Title"), pieces[-1].section)
    return Chunk(ordinal, _join(pieces), pieces[0].page, section, types, tokens)
