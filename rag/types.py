"""The plain values the library returns: passages, answers and ingestion reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

from rag.jsonable import to_jsonable


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


class Usage(msgspec.Struct, frozen=True):
    """Tokens the language model read and wrote for one answer (zero when none was called)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class Timings(msgspec.Struct, frozen=True, omit_defaults=True):
    """How long one answer took, in milliseconds; a stage that did not run is left out (no
    generation times for an extractive answer, no `check_ms` when nothing was checked)."""

    first_token_ms: float | None = None
    total_ms: float | None = None
    tokens_per_second: float | None = None
    check_ms: float | None = None


class DroppedPassage(msgspec.Struct, frozen=True):
    """A retrieved passage that did not fit the model's context."""

    path: str
    page: int | None
    chunk_id: int


class ContextReport(msgspec.Struct, frozen=True):
    """What the model saw: passages are fitted to its context in rank order; the first that does
    not fit is cut at a sentence boundary (`last_trimmed`), the rest are `dropped`."""

    context_size: int
    prompt_tokens: int
    answer_tokens_reserved: int
    used: int
    last_trimmed: bool
    dropped: list[DroppedPassage]
    # Earlier conversation turns in the prompt, and those left out for room (oldest first).
    history_used: int = 0
    history_dropped: int = 0


@dataclass(frozen=True)
class Answer:
    """`answer_mode` says what wrote `answer`: "generative" (the LLM), "extractive" (quotes of
    the evidence) or "none" (nothing relevant was found). `grounding` sums up the claims:
    "supported", "partly_supported", "unsupported" or "not_found"."""

    answer: str
    sources: list[Source]
    prompt_format: str
    usage: Usage = field(default_factory=Usage)
    # What the model saw (None when no model was called).
    context: ContextReport | None = None
    timings: Timings = field(default_factory=Timings)
    evidence: list[Evidence] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    answer_mode: str = "none"
    grounding: str = "not_found"

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "answer_mode": self.answer_mode,
            "grounding": self.grounding,
            "evidence": to_jsonable(self.evidence),
            "claims": to_jsonable(self.claims),
            "sources": [s.to_dict() for s in self.sources],
            "prompt_format": self.prompt_format,
            "usage": to_jsonable(self.usage),
            "context": to_jsonable(self.context),
            "timings": to_jsonable(self.timings),
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


@dataclass(frozen=True)
class IngestStages:
    """Seconds spent per stage of one ingest run. `parse_s` and `chunk_s` are summed over the
    parse workers (they run beside the main process, so they can exceed the wall time); the
    rest is the main process: planning (walk, hash, skip unchanged), the embedding passes for
    chunks and for sentences (0 when sentence vectors are pooled from the chunk pass), writing
    (SQLite transactions and the in-memory vector index) and saving the vector index file."""

    plan_s: float = 0.0
    parse_s: float = 0.0
    chunk_s: float = 0.0
    embed_chunks_s: float = 0.0
    embed_sentences_s: float = 0.0
    write_s: float = 0.0
    index_save_s: float = 0.0


@dataclass(frozen=True)
class IngestReport:
    collection: str
    files: list[FileOutcome]
    seconds: float
    stages: IngestStages = field(default_factory=IngestStages)

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
            "stages": {k: round(v, 3) for k, v in to_jsonable(self.stages).items()},
            "files": to_jsonable(self.files),
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
