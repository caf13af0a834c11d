"""The plain values the library returns: passages, answers and ingestion reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with where it came from and how well it matched the query.

    `score` ranks results (fused rank score in hybrid search); `similarity` is the cosine
    similarity of the chunk's embedding to the query, comparable across queries.
    """

    chunk_id: int
    document_id: str
    path: str
    page: int | None
    section: str | None
    score: float
    text: str
    similarity: float = 0.0
    ordinal: int = 0
    # The document's context line (file-name words, entity, period), searched with the chunk.
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "path": self.path,
            "page": self.page,
            "section": self.section,
            "score": round(self.score, 6),
            "similarity": round(self.similarity, 6),
            "text": self.text,
        }


@dataclass(frozen=True)
class Source:
    """A passage as the LLM saw it, numbered so that `[n]` in the answer points at it."""

    n: int
    passage: Passage
    cited: bool

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, **self.passage.to_dict(), "cited": self.cited}


@dataclass(frozen=True)
class Evidence:
    """A passage sentence, or a table row under its header row, quoted verbatim as the part of
    passage `[n]` that best answers the question."""

    n: int
    text: str
    path: str
    page: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Verdict(StrEnum):
    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"
    NO_CLAIM = "no_claim"


@dataclass(frozen=True)
class Claim:
    """One sentence of the answer and whether the passages back it: `evidence` is the passage
    sentence closest to it (in passage `n`); `unsupported` lists the figures and names in it
    that no passage holds."""

    text: str
    verdict: Verdict
    n: int | None = None
    evidence: str | None = None
    unsupported: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "verdict": str(self.verdict),
            "n": self.n,
            "evidence": self.evidence,
            "unsupported": list(self.unsupported),
        }


@dataclass(frozen=True)
class Answer:
    """`answer_mode` says what wrote `answer`: "generative" (the LLM), "extractive" (quotes of
    the evidence) or "none" (nothing relevant was found). `grounding` sums up the claims:
    "supported", "partly_supported", "unsupported" or "not_found"."""

    answer: str
    sources: list[Source]
    prompt_format: str
    usage: dict[str, int] = field(default_factory=dict)
    # What the model saw: context size, prompt tokens, passages used, trimmed and dropped.
    context: dict[str, Any] = field(default_factory=dict)
    # first_token_ms, total_ms, tokens_per_second of the generation (empty without one).
    timings: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    answer_mode: str = "none"
    grounding: str = "not_found"

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "answer_mode": self.answer_mode,
            "grounding": self.grounding,
            "evidence": [e.to_dict() for e in self.evidence],
            "claims": [c.to_dict() for c in self.claims],
            "sources": [s.to_dict() for s in self.sources],
            "prompt_format": self.prompt_format,
            "usage": dict(self.usage),
            "context": dict(self.context) or None,
            "timings": dict(self.timings),
        }


class FileStatus(StrEnum):
    INGESTED = "ingested"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    PRUNED = "pruned"


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file: its status, the reason (or a note), and what it produced.

    `ocr_pages` pages had no text layer and were read by OCR, in `ocr_seconds`; `attachments`
    documents were found inside it (a mail's attachments) and stored as documents of their own.
    """

    path: str
    status: FileStatus
    reason: str | None = None
    document_id: str | None = None
    chunks: int = 0
    ocr_pages: int = 0
    ocr_seconds: float = 0.0
    attachments: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": str(self.status)}


@dataclass(frozen=True)
class IngestReport:
    collection: str
    files: list[FileOutcome]
    seconds: float

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def failed(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == FileStatus.FAILED]

    @property
    def chunks(self) -> int:
        return sum(f.chunks for f in self.files)

    @property
    def ocr_pages(self) -> int:
        return sum(f.ocr_pages for f in self.files)

    @property
    def ocr_seconds(self) -> float:
        return sum(f.ocr_seconds for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "ingested": self.count(FileStatus.INGESTED),
            "unchanged": self.count(FileStatus.UNCHANGED),
            "skipped": self.count(FileStatus.SKIPPED),
            "failed": self.count(FileStatus.FAILED),
            "pruned": self.count(FileStatus.PRUNED),
            "chunks": self.chunks,
            "attachments": sum(f.attachments for f in self.files),
            "ocr_pages": self.ocr_pages,
            "ocr_seconds": round(self.ocr_seconds, 3),
            "seconds": round(self.seconds, 3),
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class DocumentInfo:
    """A stored document. `metadata` holds what was found in it (title, entity, period,
    period_end, year), what a JSONL record brought, and `attached_to` (the id of the mail
    an attachment came from)."""

    id: str
    path: str
    file_type: str
    chunks: int
    size_bytes: int
    content_hash: str
    ingested_at: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
