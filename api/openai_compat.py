"""OpenAI-compatible endpoints, so the `openai` SDK and chat front-ends can use the service.

`model` names a collection (GET /v1/models lists them; "rag" means the default collection) or
the request's extra `collection` field does. The last user message is the question; the answer
is RAG over that collection, with the sources in an extra `sources` field (in the final chunk
when streaming).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any, Literal

import anyio.to_thread
import msgspec
import numpy as np
from litestar import Controller, get, post
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from api.access import allowed_collection
from api.auth import Access
from api.services import Services
from api.streaming import END, EventStream, next_piece
from rag.answer import AnswerStream
from rag.errors import InvalidRequest
from rag.types import Answer

DEFAULT_MODEL = "rag"


class ContentPart(msgspec.Struct):
    type: str
    text: str | None = None


class ChatMessage(msgspec.Struct):
    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class ChatRequest(msgspec.Struct):
    """OpenAI's chat request; unknown OpenAI fields are accepted and ignored."""

    model: str
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]
    stream: bool = False
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=8192)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1, le=8192)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    collection: str | None = None
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class ModelOut(msgspec.Struct):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = "localrag"


class ModelsResponse(msgspec.Struct):
    data: list[ModelOut]
    object: str = "list"


class EmbeddingsRequest(msgspec.Struct):
    input: str | Annotated[list[str], msgspec.Meta(min_length=1, max_length=2048)]
    model: str | None = None
    # The openai SDK asks for base64 (little-endian float32) unless told otherwise.
    encoding_format: Literal["float", "base64"] | None = None


class EmbeddingOut(msgspec.Struct):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class EmbeddingsResponse(msgspec.Struct):
    data: list[EmbeddingOut]
    model: str
    usage: dict[str, int]
    object: str = "list"


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
    ) -> dict[str, Any] | ServerSentEvent:
        """RAG answer to the last user message, in OpenAI's chat completion format."""
        rag = services.rag
        target = data.collection or (None if data.model == DEFAULT_MODEL else data.model)
        collection = allowed_collection(rag, access, target)
        questions = [m.text() for m in data.messages if m.role == "user" and m.text().strip()]
        if not questions:
            raise InvalidRequest("no user message with text: the last user message is the question")
        stream = await anyio.to_thread.run_sync(
            partial(
                rag.stream,
                questions[-1],
                data.k,
                collection,
                max_tokens=data.max_completion_tokens or data.max_tokens,
                temperature=data.temperature,
            )
        )
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if data.stream:
            events = _chunks(stream, completion_id, data.model, services)
            return EventStream(events, headers={"Cache-Control": "no-cache"})
        answer = await anyio.to_thread.run_sync(stream.result)
        services.metrics.record_answer(answer)
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(answer),
            "sources": [s.to_dict() for s in answer.sources],
        }

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


def _usage(answer: Answer) -> dict[str, int]:
    prompt = answer.usage.get("prompt_tokens", 0)
    completion = answer.usage.get("completion_tokens", 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


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
    pieces = iter(stream)
    try:
        first = _chunk(completion_id, model, {"role": "assistant", "content": ""}, None)
        yield ServerSentEventMessage(data=json.dumps(first))
        while (piece := await anyio.to_thread.run_sync(next_piece, pieces)) is not END:
            chunk = _chunk(completion_id, model, {"content": piece}, None)
            yield ServerSentEventMessage(data=json.dumps(chunk))
        answer = await anyio.to_thread.run_sync(stream.result)
        services.metrics.record_answer(answer)
        last = _chunk(completion_id, model, {}, "stop")
        last["usage"] = _usage(answer)
        last["sources"] = [s.to_dict() for s in answer.sources]
        yield ServerSentEventMessage(data=json.dumps(last))
        yield ServerSentEventMessage(data="[DONE]")
    finally:
        with anyio.CancelScope(shield=True):
            if not stream.finished:
                services.metrics.cancelled.inc()
            await anyio.to_thread.run_sync(stream.close)
