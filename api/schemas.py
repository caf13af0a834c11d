"""Request and response bodies of the HTTP API (msgspec Structs, so OpenAPI is generated)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from api.jobs import JobFile
from rag import (
    COLLECTION_NAME_PATTERN,
    MAX_QUERY_CHARS,
    Answer,
    Claim,
    ContextReport,
    DocumentInfo,
    Evidence,
    Passage,
    SearchFilter,
    Source,
    Timings,
    Usage,
)

Question = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUERY_CHARS)]
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


class Turn(msgspec.Struct, forbid_unknown_fields=True):
    """One earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str


class AskRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: Question
    k: TopK | None = None
    collection: str | None = None
    filter: FilterIn | None = None
    stream: bool = False
    # Who writes the answer for this question; default: the server's RAG_ANSWER_MODE.
    mode: Literal["generative", "extractive"] | None = None
    # The conversation before the question, oldest first: a follow-up is searched with it.
    history: list[Turn] | None = None


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


class AskResponse(msgspec.Struct):
    """`answer_mode`: "generative", "extractive", or "none" (nothing relevant found);
    `grounding`: "supported", "partly_supported", "unsupported", "not_found" or "unchecked"."""

    answer: str
    sources: list[SourceOut]
    prompt_format: str
    usage: Usage
    context: ContextReport | None
    timings: Timings
    answer_mode: str
    grounding: str
    evidence: list[Evidence]
    claims: list[Claim]


class JobOut(msgspec.Struct):
    """An ingestion job: `progress` is the fraction of its files finished (done or failed)."""

    id: str
    collection: str
    state: Literal["queued", "running", "done"]
    created_at: str
    finished_at: str | None
    progress: float
    files: list[JobFile]
    status_url: str


class JobsResponse(msgspec.Struct):
    jobs: list[JobOut]


CollectionName = Annotated[str, msgspec.Meta(pattern=COLLECTION_NAME_PATTERN)]


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


def passage_out(passage: Passage) -> PassageOut:
    """A passage in the shape `Passage.to_dict` defines (scores rounded, internals left out)."""
    return msgspec.convert(passage.to_dict(), PassageOut)


def source_out(source: Source) -> SourceOut:
    return msgspec.convert(source.to_dict(), SourceOut)


def ask_response(answer: Answer) -> AskResponse:
    """The answer's library types as they are; only sources are reshaped (flat, rounded)."""
    return AskResponse(
        answer=answer.answer,
        sources=[source_out(s) for s in answer.sources],
        prompt_format=answer.prompt_format,
        usage=answer.usage,
        context=answer.context,
        timings=answer.timings,
        answer_mode=answer.answer_mode,
        grounding=answer.grounding,
        evidence=answer.evidence,
        claims=answer.claims,
    )
