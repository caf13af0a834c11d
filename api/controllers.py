"""HTTP handlers: translate requests to library calls and results to response bodies."""

from __future__ import annotations

import shutil
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter

from api.schemas import (
    AskRequest,
    AskResponse,
    DocumentsResponse,
    HealthResponse,
    IngestResponse,
    SearchRequest,
    SearchResponse,
)
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

    @post("/ask", sync_to_thread=True, status_code=200)
    def ask(self, data: AskRequest, rag: RAG) -> AskResponse:
        """An answer generated from the best passages, with numbered sources."""
        where = data.filter.to_filter() if data.filter else None
        answer = rag.ask(data.question, data.k, data.collection, where=where)
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
