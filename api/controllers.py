"""HTTP handlers: translate requests to library calls and results to response bodies."""

from __future__ import annotations

import shutil
from functools import partial
from typing import Annotated

import anyio.to_thread
import msgspec
from litestar import Controller, delete, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import ServerSentEvent

from api.schemas import (
    AskRequest,
    AskResponse,
    DocumentsResponse,
    HealthResponse,
    IngestResponse,
    SearchRequest,
    SearchResponse,
)
from api.streaming import answer_sse
from api.uploads import upload_path
from rag.core import RAG
from rag.errors import InvalidRequest

CollectionParam = Annotated[
    str | None, Parameter(query="collection", description="Collection name (default: 'default').")
]


class QueryController(Controller):
    path = "/v1"
    tags = ["questions"]

    @post("/search", sync_to_thread=True, status_code=200)
    def search(self, data: SearchRequest, rag: RAG) -> SearchResponse:
        """Passages that best match the query, best first (no LLM)."""
        passages = rag.search(
            data.query,
            data.k,
            data.collection,
            mode=data.mode,
            group_by_document=data.group_by_document,
            where=data.filter.to_filter() if data.filter else None,
        )
        return msgspec.convert({"results": [p.to_dict() for p in passages]}, SearchResponse)

    @post(
        "/ask",
        status_code=200,
        response_description='The answer as JSON; with `"stream": true`, server-sent '
        'events instead: `token` events ({"text"}), then one `done` event holding this '
        "same JSON body (or an `error` event).",
    )
    async def ask(self, data: AskRequest, rag: RAG) -> AskResponse | ServerSentEvent:
        """An answer generated from the best passages, with numbered sources."""
        where = data.filter.to_filter() if data.filter else None
        # Retrieval and prompt fitting happen before the first byte, so their errors are
        # ordinary JSON error responses even when streaming.
        stream = await anyio.to_thread.run_sync(
            partial(rag.stream, data.question, data.k, data.collection, where=where)
        )
        if data.stream:
            return answer_sse(stream)
        answer = await anyio.to_thread.run_sync(stream.result)
        return msgspec.convert(answer.to_dict(), AskResponse)


class DocumentController(Controller):
    path = "/v1/documents"
    tags = ["documents"]

    @get("/", sync_to_thread=True)
    def list_documents(self, rag: RAG, collection: CollectionParam = None) -> DocumentsResponse:
        return DocumentsResponse(documents=rag.documents(collection))

    @post("/", sync_to_thread=True, status_code=201)
    def upload(
        self,
        data: Annotated[list[UploadFile], Body(media_type=RequestEncodingType.MULTI_PART)],
        rag: RAG,
        collection: CollectionParam = None,
    ) -> IngestResponse:
        """Upload one or more files and ingest them; per-file outcomes in the response."""
        if not data:
            raise InvalidRequest("no files in the upload: send them as multipart form fields")
        name = rag.collection(collection, create=True).name
        saved = []
        for upload in data:
            target = upload_path(rag.settings.home, name, upload.filename)
            with open(target, "wb") as out:
                shutil.copyfileobj(upload.file, out)
            saved.append(target)
        report = rag.ingest(saved, name)
        return msgspec.convert(report.to_dict(), IngestResponse)

    @delete("/{document_id:str}", sync_to_thread=True)
    def delete_document(
        self, document_id: str, rag: RAG, collection: CollectionParam = None
    ) -> None:
        rag.delete_document(document_id, collection)


@get("/healthz", tags=["health"])
async def healthz() -> HealthResponse:
    return HealthResponse(status="ok")
