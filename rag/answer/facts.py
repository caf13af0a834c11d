"""The checkable facts of a text: its figures (amounts, percentages, years, days) and names.

A small model's worst answers are fluent sentences around a figure or a name that no passage
holds ("The gross margin is 2.67%", "the NVIDIA Accounting System (NAES)"). Such words can be
checked against the passages without understanding the sentence: a figure is there or it is
not, once its writing is normalised (`1,577` = `1577` = `(1,577)`; `$82,959 million` =
`$82.959 billion` = the `82,959` of a table in millions), and so is a name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

_SCALES = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "mm": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "tn": 1e12,
}
_NUMBER = re.compile(
    r"(?<![\w.,])(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:(?P<ordinal>st|nd|rd|th)\b|(?P<percent>\s?%|\s?percent\b)"
    r"|\s?(?P<scale>thousand|million|billion|trillion|mn|mm|bn|tn|[kmb])\b)?"
    r"(?![\w])(?!-[A-Za-z])(?![.,]\d)",
    re.IGNORECASE,
)
_CITATION = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")
_WORD = re.compile(r"[A-Za-z][\w&'’-]*")
# Capitalised words that say nothing checkable (they start sentences or are the question's own).
_COMMON_WORDS = """
a an the this that these those it its i we you he she they there here in on at of for to by
with from as and or but if so no not yes according based per total net q fy however also
answer question passage passages source sources note
"""
_COMMON = frozenset(_COMMON_WORDS.split())
# Unit multipliers a table may leave to its header ("in millions"): a figure written in any of
# them matches.
_UNIT_STEPS = (1.0, 1e3, 1e6, 1e9, 1e-3, 1e-6, 1e-9)


@dataclass(frozen=True)
class Figure:
    """A number as written: `text`, its value with any scale word applied, and how precise it
    was written (`decimals`), so that `$1.6 billion` can stand for 1,577 million."""

    text: str
    value: float
    decimals: int
    unit: float
    percent: bool


def figures(text: str) -> list[Figure]:
    """The figures written in `text` (citation markers `[n]` are not figures).

    >>> [(f.text, f.value) for f in figures("Sales were $82,959 million [2], up 1.6% in 2022.")]
    [('82,959 million', 82959000000.0), ('1.6%', 1.6), ('2022', 2022.0)]
    >>> [f.text for f in figures("Q1 FY2023 10-Q, 27th of March")]
    ['27th']
    """
    found: list[Figure] = []
    for match in _NUMBER.finditer(_CITATION.sub(" ", text)):
        if _glued_to_word(match.string, match.start()):
            continue
        scale = (match.group("scale") or "").lower()
        if scale in {"m", "b", "k"} and not _money_before(match.string, match.start()):
            continue
        digits = match.group("number").replace(",", "")
        unit = _SCALES.get(scale, 1.0)
        found.append(
            Figure(
                text=match.group(0).strip(),
                value=float(digits) * unit,
                decimals=len(digits.split(".")[1]) if "." in digits else 0,
                unit=unit,
                percent=bool(match.group("percent")),
            )
        )
    return found


def _money_before(text: str, start: int) -> bool:
    """`$5m` is five million; `5 m` after no currency sign is five metres."""
    return bool(re.search(r"[$€£¥]\s?$", text[max(0, start - 2) : start]))


def _glued_to_word(text: str, start: int) -> bool:
    """`10-Q`, `Q1`, `FY2023`: identifiers, not figures (the name check covers them)."""
    return start > 0 and text[start - 1] == "-" and start > 1 and text[start - 2].isalpha()


def figure_supported(figure: Figure, known: Iterable[Figure]) -> bool:
    """Whether a passage figure says `figure`.

    Equal values match whatever the unit a table left to its header (`82,959` in millions =
    `$82.959 billion`). A figure written with a scale word or as a percentage with decimals
    also matches a passage figure that rounds to it (`$1.6 billion` for 1,577 million); a bare
    number must be exact: `83,000` is not `82,959`.

    >>> known = figures("Total net sales 82,959 and margin 43.26%, 1,577")
    >>> said = figures("$82.959 billion, 83,000, 43.3%, $1.6 billion")
    >>> [figure_supported(f, known) for f in said]
    [True, False, True, True]
    """
    for other in known:
        for step in _UNIT_STEPS:
            candidate = other.value * step
            if math.isclose(candidate, figure.value, rel_tol=1e-9, abs_tol=1e-9):
                return True
            if _rounds_to(candidate, figure):
                return True
    return False


def _rounds_to(candidate: float, figure: Figure) -> bool:
    if not (figure.unit != 1.0 or (figure.percent and figure.decimals >= 1)):
        return False
    shown = figure.value / figure.unit
    return math.isclose(round(candidate / figure.unit, figure.decimals), shown, abs_tol=1e-9)


def names(text: str) -> list[str]:
    """Words written as names: capitalised ones that do not merely start a sentence, and
    acronyms or words with inner capitals anywhere (NAES, iPhone).

    >>> names("The gross margin of Apple Inc. rose. NVIDIA said so; the NAES did not [1].")
    ['Apple', 'Inc', 'NVIDIA', 'NAES']
    """
    out: list[str] = []
    cleaned = _CITATION.sub(" ", text)
    for match in _WORD.finditer(cleaned):
        word = re.sub(r"['’]s$", "", match.group(0)).strip("'’-")
        if len(word) < 2 or word.lower() in _COMMON:
            continue
        inner_capital = any(c.isupper() for c in word[1:])
        if not (word[0].isupper() or inner_capital):
            continue
        if not inner_capital and _starts_sentence(cleaned, match.start()):
            continue
        out.append(word)
    return out


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘(*-•")
    return not before or before[-1] in ".!?:\n;"


def name_supported(name: str, known_text: str) -> bool:
    """Whether `name` appears in `known_text` as a word, whatever its case.

    >>> name_supported("Apple", "apple inc. reported"), name_supported("NAES", "the NAE system")
    (True, False)
    """
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", known_text, re.IGNORECASE) is not None
