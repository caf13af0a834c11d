"""OpenAI-compatible endpoints, so the `openai` SDK and chat front-ends can use the service.

`model` names a collection (GET /v1/models lists them; "rag" means the default collection) or
the request's extra `collection` field does. The last user message is the question, the user and
assistant messages before it its conversation (a follow-up is searched with it, and it goes into
the prompt; system messages are ignored: the collection's prompt is used); the answer is RAG over
that collection, with the sources in an extra `sources` field (in the final chunk
when streaming).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from functools import partial
from typing import Any

import anyio.to_thread
import numpy as np
from litestar import Controller, get, post
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from api.access import allowed_collection
from api.auth import Access
from api.openai_schemas import (
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatRequest,
    ChatUsage,
    EmbeddingOut,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ModelOut,
    ModelsResponse,
)
from api.schemas import source_out
from api.services import Services
from api.streaming import EventStream, pieces_in_threads
from rag import Answer, AnswerStream, InvalidRequest
from rag.answer.grounding import unsupported_notice
from rag.jsonable import to_jsonable

DEFAULT_MODEL = "rag"


class OpenAIController(Controller):
    path = "/v1"
    tags = ["openai-compatible"]

    @get("/models", sync_to_thread=True)
    def models(self, services: Services, access: Access) -> ModelsResponse:
        """Each collection is a model; `rag` is the default collection."""
        names = access.visible(services.rag.collections())
        return ModelsResponse(data=[ModelOut(id=n) for n in [DEFAULT_MODEL, *names]])

    @post("/chat/completions", status_code=200)
    async def chat_completions(
        self, data: ChatRequest, services: Services, access: Access
    ) -> ChatCompletion | ServerSentEvent:
        """RAG answer to the last user message, with the conversation before it, in OpenAI's
        chat completion format."""
        rag = services.rag
        target = data.collection or (None if data.model == DEFAULT_MODEL else data.model)
        collection = allowed_collection(rag, access, target)
        asked = [i for i, m in enumerate(data.messages) if m.role == "user" and m.text().strip()]
        if not asked:
            raise InvalidRequest("no user message with text: the last user message is the question")
        history = [
            {"role": m.role, "content": m.text()}
            for m in data.messages[: asked[-1]]
            if m.role in ("user", "assistant")
        ]
        stream = await anyio.to_thread.run_sync(
            partial(
                rag.stream,
                data.messages[asked[-1]].text(),
                data.k,
                collection,
                max_tokens=data.max_completion_tokens or data.max_tokens,
                temperature=data.temperature,
                history=history,
            )
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if data.stream:
            events = _chunks(stream, completion_id, data.model, services)
            return EventStream(events, headers={"Cache-Control": "no-cache"})
        answer = await anyio.to_thread.run_sync(stream.result)
        services.metrics.record_answer(answer)
        return ChatCompletion(
            id=completion_id,
            created=int(time.time()),
            model=data.model,
            choices=[ChatChoice(0, AssistantMessage(answer.answer))],
            usage=_usage(answer),
            sources=[source_out(s) for s in answer.sources],
            answer_mode=answer.answer_mode,
            grounding=answer.grounding,
            evidence=answer.evidence,
            claims=answer.claims,
        )

    @post("/embeddings", sync_to_thread=True, status_code=200)
    def embeddings(self, data: EmbeddingsRequest, services: Services) -> EmbeddingsResponse:
        """Vectors from the collection's embedding model (normalized)."""
        texts = [data.input] if isinstance(data.input, str) else data.input
        embedder = services.rag.embedder
        vectors = embedder.embed(texts)

        def encoded(vector: np.ndarray) -> list[float] | str:
            if data.encoding_format == "base64":
                return base64.b64encode(vector.astype("<f4").tobytes()).decode()
            return [float(x) for x in vector]

        return EmbeddingsResponse(
            data=[EmbeddingOut(i, encoded(v)) for i, v in enumerate(vectors)],
            model=embedder.name,
            usage={"prompt_tokens": 0, "total_tokens": 0},
        )


def _usage(answer: Answer) -> ChatUsage:
    used = answer.usage
    return ChatUsage(
        used.prompt_tokens, used.completion_tokens, used.prompt_tokens + used.completion_tokens
    )


def _chunk(
    completion_id: str, model: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


async def _chunks(
    stream: AnswerStream, completion_id: str, model: str, services: Services
) -> AsyncIterator[ServerSentEventMessage]:
    first = _chunk(completion_id, model, {"role": "assistant", "content": ""}, None)
    yield ServerSentEventMessage(data=json.dumps(first))
    async with aclosing(pieces_in_threads(stream, services.metrics.cancelled.inc)) as pieces:
        async for piece in pieces:
            chunk = _chunk(completion_id, model, {"content": piece}, None)
            yield ServerSentEventMessage(data=json.dumps(chunk))
    answer = await anyio.to_thread.run_sync(stream.result)
    services.metrics.record_answer(answer)
    notice = unsupported_notice(answer.claims, answer.grounding, answer.answer)
    if notice is not None:
        # The streamed text was written before the check; what it found is added, not hidden.
        chunk = _chunk(completion_id, model, {"content": f"\n\n{notice}"}, None)
        yield ServerSentEventMessage(data=json.dumps(chunk))
    last = _chunk(completion_id, model, {}, "stop")
    last["usage"] = to_jsonable(_usage(answer))
    checked = answer.to_dict()
    for key in ("sources", "answer_mode", "grounding", "evidence", "claims"):
        last[key] = checked[key]
    yield ServerSentEventMessage(data=json.dumps(last))
    yield ServerSentEventMessage(data="[DONE]")
