"""Which document a chunk comes from, in words the search can match, found without an LLM.

A chunk from the middle of a 10-Q says "the Company", never "Apple", and nothing in it names
the quarter; twenty filings of five companies then look alike to both the embedding and BM25.
Every chunk is therefore searched together with one short line about its document: the file
name split into words, the title, and, when the first pages state them, the entity and the
period ("Apple Inc. | quarterly period ended June 25, 2022 (FY2022)"). The line is stored
beside the chunk, not in its text, so passages shown to people and to the LLM stay as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

from ingest.elements import Element, ParsedFile

# How much of the document's start is searched for its entity and period.
_LEAD_CHARS = 6000
_MAX_CONTEXT_CHARS = 200
_MAX_TITLE_CHARS = 100
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_DATE = rf"(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+(?:19|20)\d\d"
_PERIOD = re.compile(
    rf"\b((?:fiscal\s+)?(?:year|quarter|quarterly\s+period|period|(?:three|six|nine|twelve|"
    rf"3|6|9|12)\s+months|(?:13|26|39|52|53)\s+weeks)\s+ended\s+({_DATE}))",
    re.IGNORECASE,
)
_REPORT_DATE = re.compile(rf"\bDate of Report[^:]*:\s*({_DATE})", re.IGNORECASE)
_REGISTRANT = re.compile(r"\(?\s*Exact name of registrant", re.IGNORECASE)
_SUFFIXES = (
    "Inc|INC|Incorporated|INCORPORATED|Corporation|CORPORATION|Corp|CORP|Company|COMPANY|Co|CO|"
    "LLC|L\\.L\\.C|Ltd|LTD|Limited|LIMITED|plc|PLC|N\\.V|S\\.A|AG|SE|Group|GROUP|Holdings|HOLDINGS"
)
# Capitalised words (each with a letter: not "1-9595") ending in a corporate suffix.
_COMPANY = re.compile(
    rf"(?:(?:[A-Z0-9&][\w.&'’-]*)?[A-Z][\w.&'’-]*,?\s+){{1,5}}(?:{_SUFFIXES})\b\.?"
    rf"(?:,?\s+(?:Inc|INC|Ltd|LTD|LLC)\b\.?)?"
)
_FILE_WORDS = re.compile(r"[_\-.\s]+")
# Where a file name's words split: after a number ("10Q" -> "10 Q", as the query "10-Q" is
# searched; "3M" stays), before a year ("FY2018" -> "FY 2018", as the query "FY2018" is).
_NAME_SPLIT = re.compile(r"(?<=\d\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=(?:19|20)\d\d(?!\d))")
_JUNK_TITLE = re.compile(r"^[\W\d_]+$|^\d{6,}")


@dataclass(frozen=True)
class DocumentContext:
    """What a document is: the pieces found, and the line searched with each chunk."""

    name: str
    title: str | None = None
    entity: str | None = None
    period: str | None = None
    period_end: date | None = None

    def line(self) -> str:
        """The parts that add something, de-duplicated, short enough to lead any chunk.

        >>> DocumentContext("3M 2018 10 K", "Form 10-K", "3M COMPANY", "fiscal year ended "
        ...     "December 31, 2018", date(2018, 12, 31)).line()
        '3M 2018 10 K | 3M COMPANY | fiscal year ended December 31, 2018 (FY2018)'
        >>> DocumentContext("minutes 2023", "Board meeting, 4 May").line()
        'minutes 2023 | Board meeting, 4 May'
        """
        parts: list[str] = []
        period = self.period
        if period and self.period_end and "year" in period.lower():
            period = f"{period} (FY{self.period_end.year})"
        # A cover page's title is mostly boilerplate ("UNITED STATES SECURITIES AND EXCHANGE
        # COMMISSION"): it only earns its tokens where no entity or period was found.
        title = self.title if not (self.entity or period) else None
        for part in (self.name, self.entity, period, title):
            if part and not any(part.lower() in seen.lower() for seen in parts):
                parts.append(part)
        return " | ".join(parts)[:_MAX_CONTEXT_CHARS]

    def metadata(self) -> dict[str, Any]:
        """What goes into the document's metadata, where search filters can use it."""
        found: dict[str, Any] = {}
        if self.title:
            found["title"] = self.title
        if self.entity:
            found["entity"] = self.entity
        if self.period:
            found["period"] = self.period
        if self.period_end:
            found["period_end"] = self.period_end.isoformat()
            found["year"] = str(self.period_end.year)
        return found


def document_context(shown_name: str, parsed: ParsedFile) -> DocumentContext:
    """The context of a parsed file named `shown_name` (a file name, or `mail.msg › a.pdf`)."""
    lead = _lead_text(parsed.elements)
    period, period_end = _period(lead)
    return DocumentContext(
        name=name_words(shown_name),
        title=_title(parsed),
        entity=_entity(lead),
        period=period,
        period_end=period_end,
    )


def name_words(shown_name: str) -> str:
    """A file name as words, split where search queries split them: a query for "Q2 FY2024
    10-Q" looks for "q2", "fy2024", "2024", "10" and "q".

    >>> name_words("mail.msg › Q3-report_final.pdf")
    'mail › Q3 report final'
    >>> name_words("BESTBUY_2024Q2_10Q.pdf")
    'BESTBUY 2024 Q2 10 Q'
    >>> name_words("3M_FY2018_10K.pdf")
    '3M FY 2018 10 K'
    """
    parts = [PurePath(part.strip()) for part in shown_name.split("›")]
    words = [
        " ".join(w for w in _FILE_WORDS.split(p.stem if p.suffix else p.name) if w) for p in parts
    ]
    return _NAME_SPLIT.sub(" ", " › ".join(w for w in words if w))


def _lead_text(elements: list[Element]) -> str:
    text: list[str] = []
    size = 0
    for element in elements:
        if element.category == "Table":
            continue
        text.append(element.text)
        size += len(element.text) + 1
        if size > _LEAD_CHARS:
            break
    return "\n".join(text)[:_LEAD_CHARS]


def _title(parsed: ParsedFile) -> str | None:
    title = str(parsed.properties.get("title") or "").strip()
    if title and not _JUNK_TITLE.search(title):
        return title[:_MAX_TITLE_CHARS]
    first_page = next((e.page for e in parsed.elements), None)
    for element in parsed.elements:
        if element.page != first_page:
            break
        if element.category == "Title" and 2 <= len(element.text.split()) <= 16:
            return element.text[:_MAX_TITLE_CHARS]
    return None


def _entity(lead: str) -> str | None:
    """The company an SEC filing's cover names: the company name nearest before the phrase
    "(Exact name of registrant as specified in its charter)", else just after it."""
    match = _REGISTRANT.search(lead)
    if not match:
        return None
    # Cover pages are forms: "BEST ________ BUY CO., INC." is a name across a fill-in line.
    before = re.sub(r"_{2,}", " ", lead[max(0, match.start() - 300) : match.start()])
    after = re.sub(r"_{2,}", " ", lead[match.end() : match.end() + 200])
    names = [m.group(0) for m in _COMPANY.finditer(before)]
    if not names:
        names = [m.group(0) for m in _COMPANY.finditer(after)][:1]
    if not names:
        return None
    words = " ".join(names[-1].split()).strip(" ,").split()
    if words[-1].isupper():
        # An upper-case name does not start with the address before it ("Penn Avenue South").
        while len(words) > 2 and not words[0].isupper():
            words = words[1:]
    name = " ".join(words)
    return name if any(ch.isalpha() for ch in name) else None


def _period(lead: str) -> tuple[str | None, date | None]:
    match = _PERIOD.search(lead)
    if match:
        return " ".join(match.group(1).split()), _parse_date(match.group(2))
    match = _REPORT_DATE.search(lead)
    if match:
        return f"report dated {' '.join(match.group(1).split())}", _parse_date(match.group(1))
    return None, None


def _parse_date(text: str) -> date | None:
    cleaned = re.sub(r"[.,]", "", " ".join(text.split())).replace("Sept ", "Sep ")
    for pattern in ("%B %d %Y", "%b %d %Y"):
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    return None
