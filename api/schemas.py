"""Request and response bodies of the HTTP API (msgspec Structs, so OpenAPI is generated)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from index.filters import SearchFilter
from rag.types import DocumentInfo

Question = Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
TopK = Annotated[int, msgspec.Meta(ge=1, le=100)]


class FilterIn(msgspec.Struct, forbid_unknown_fields=True):
    """Conditions applied inside the search; all given ones must hold."""

    document_ids: list[str] = []
    path_glob: str | None = None
    file_types: list[str] = []
    metadata: dict[str, str | int | float | bool] = {}

    def to_filter(self) -> SearchFilter:
        return SearchFilter(
            tuple(self.document_ids), self.path_glob, tuple(self.file_types), dict(self.metadata)
        )


class SearchRequest(msgspec.Struct, forbid_unknown_fields=True):
    query: Question
    k: TopK | None = None
    collection: str | None = None
    mode: Literal["hybrid", "dense", "lexical"] | None = None
    group_by_document: bool = False
    filter: FilterIn | None = None


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: Question
    k: TopK | None = None
    collection: str | None = None
    filter: FilterIn | None = None
    stream: bool = False
    # Who writes the answer for this question; default: the server's RAG_ANSWER_MODE.
    mode: Literal["generative", "extractive"] | None = None


class PassageOut(msgspec.Struct):
    document_id: str
    path: str
    page: int | None
    section: str | None
    score: float
    similarity: float
    text: str


class SourceOut(PassageOut):
    """A passage as numbered in the answer: `[n]` there points here."""

    n: int
    cited: bool


class SearchResponse(msgspec.Struct):
    results: list[PassageOut]


class DroppedPassage(msgspec.Struct):
    path: str
    page: int | None
    chunk_id: int


class ContextOut(msgspec.Struct):
    """What the model saw: passages are fitted to its context in rank order."""

    context_size: int
    prompt_tokens: int
    answer_tokens_reserved: int
    used: int
    last_trimmed: bool
    dropped: list[DroppedPassage]


class EvidenceOut(msgspec.Struct):
    """A passage sentence (or table row under its header row) quoted verbatim."""

    n: int
    text: str
    path: str
    page: int | None


class ClaimOut(msgspec.Struct):
    """One sentence of the answer: `supported` by passage `n`'s sentence `evidence`, or
    `unsupported` (`unsupported` lists its figures and names no passage holds), or `no_claim`."""

    text: str
    verdict: Literal["supported", "unsupported", "no_claim"]
    n: int | None
    evidence: str | None
    unsupported: list[str]


class AskResponse(msgspec.Struct):
    """`answer_mode`: "generative", "extractive", or "none" (nothing relevant found);
    `grounding`: "supported", "partly_supported", "unsupported", "not_found" or "unchecked"."""

    answer: str
    sources: list[SourceOut]
    prompt_format: str
    usage: dict[str, int]
    context: ContextOut | None
    timings: dict[str, float]
    answer_mode: str
    grounding: str
    evidence: list[EvidenceOut]
    claims: list[ClaimOut]


class JobFileOut(msgspec.Struct):
    name: str
    state: Literal["queued", "parsing", "embedding", "done", "failed"]
    outcome: str | None
    reason: str | None
    document_id: str | None
    chunks: int


class JobOut(msgspec.Struct):
    """An ingestion job: `progress` is the fraction of its files finished (done or failed)."""

    id: str
    collection: str
    state: Literal["queued", "running", "done"]
    created_at: str
    finished_at: str | None
    progress: float
    files: list[JobFileOut]
    status_url: str


class JobsResponse(msgspec.Struct):
    jobs: list[JobOut]


class DocumentOut(msgspec.Struct):
    id: str
    path: str
    file_type: str
    chunks: int
    size_bytes: int
    content_hash: str
    ingested_at: str
    metadata: dict[str, Any] = {}


CollectionName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class CollectionIn(msgspec.Struct, forbid_unknown_fields=True):
    name: CollectionName


class CollectionOut(msgspec.Struct):
    name: str
    documents: int


class CollectionsResponse(msgspec.Struct):
    collections: list[CollectionOut]


class DocumentsResponse(msgspec.Struct):
    documents: list[DocumentInfo]


class HealthResponse(msgspec.Struct):
    status: str


class ErrorResponse(msgspec.Struct):
    status_code: int
    detail: str
