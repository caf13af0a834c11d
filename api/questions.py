"""Search and ask: the read path, over JSON or server-sent events."""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from litestar import Controller, post
from litestar.response import ServerSentEvent

from api.access import allowed_collection
from api.auth import Access
from api.schemas import (
    AskRequest,
    AskResponse,
    SearchRequest,
    SearchResponse,
    ask_response,
    passage_out,
)
from api.services import Services
from api.streaming import answer_sse


class QueryController(Controller):
    path = "/v1"
    tags = ["questions"]

    @post("/search", sync_to_thread=True, status_code=200)
    def search(self, data: SearchRequest, services: Services, access: Access) -> SearchResponse:
        """Passages that best match the query, best first (no LLM)."""
        rag = services.rag
        passages = rag.search(
            data.query,
            data.k,
            allowed_collection(rag, access, data.collection),
            mode=data.mode,
            group_by_document=data.group_by_document,
            where=data.filter.to_filter() if data.filter else None,
        )
        return SearchResponse(results=[passage_out(p) for p in passages])

    @post(
        "/ask",
        status_code=200,
        response_description='The answer as JSON; with `"stream": true`, server-sent '
        'events instead: `token` events ({"text"}), then one `done` event holding this '
        "same JSON body (or an `error` event).",
    )
    async def ask(
        self, data: AskRequest, services: Services, access: Access
    ) -> AskResponse | ServerSentEvent:
        """An answer generated from the best passages, with numbered sources."""
        rag = services.rag
        collection = allowed_collection(rag, access, data.collection)
        where = data.filter.to_filter() if data.filter else None
        # Retrieval and prompt fitting happen before the first byte, so their errors are
        # ordinary JSON error responses even when streaming.
        stream = await anyio.to_thread.run_sync(
            partial(
                rag.stream,
                data.question,
                data.k,
                collection,
                where=where,
                mode=data.mode,
                history=[{"role": t.role, "content": t.content} for t in data.history or []],
            )
        )
        if data.stream:
            metrics = services.metrics
            return answer_sse(stream, metrics.record_answer, metrics.cancelled.inc)
        answer = await anyio.to_thread.run_sync(stream.result)
        services.metrics.record_answer(answer)
        return ask_response(answer)
