"""Server-sent events for a streamed answer: `token` events, then one `done` (or `error`) event.

The answer is generated in worker threads, one piece at a time, so the event loop stays free.
When the client goes away the response task is cancelled; the generation is then closed, which
frees the model for the next question.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import anyio.to_thread
from litestar.response import ServerSentEvent
from litestar.response.base import ASGIResponse
from litestar.response.sse import ServerSentEventMessage

from api.errors import status_for
from rag.answer.stream import AnswerStream
from rag.errors import RagError
from rag.types import Answer

_END = object()


def _next_piece(pieces: object) -> object:
    return next(pieces, _END)  # type: ignore[call-overload]


async def pieces_in_threads(
    stream: AnswerStream, on_cancel: Callable[[], None]
) -> AsyncGenerator[str, None]:
    """The answer's pieces, each generated in a worker thread so the event loop stays free.

    However the iteration ends (done, client gone, error), the generation is closed, and a
    generation left midway is reported to `on_cancel`. Use it inside `aclosing(...)`.
    """
    pieces = iter(stream)
    try:
        while (piece := await anyio.to_thread.run_sync(_next_piece, pieces)) is not _END:
            yield str(piece)
    finally:
        with anyio.CancelScope(shield=True):
            if not stream.finished:
                on_cancel()
            await anyio.to_thread.run_sync(stream.close)


async def answer_events(
    stream: AnswerStream, on_done: Callable[[Answer], None], on_cancel: Callable[[], None]
) -> AsyncIterator[ServerSentEventMessage]:
    try:
        async with aclosing(pieces_in_threads(stream, on_cancel)) as pieces:
            async for piece in pieces:
                yield ServerSentEventMessage(event="token", data=json.dumps({"text": piece}))
        answer = await anyio.to_thread.run_sync(stream.result)
        on_done(answer)
        yield ServerSentEventMessage(event="done", data=json.dumps(answer.to_dict()))
    except RagError as exc:
        body = {"status_code": status_for(exc), "detail": str(exc)}
        yield ServerSentEventMessage(event="error", data=json.dumps(body))


class EventStream(ServerSentEvent):
    """Server-sent events that keep their content type when the handler also returns JSON.

    litestar lets a handler's media type (JSON for `AskResponse | ServerSentEvent`) override
    a stream's own; this keeps `text/event-stream`.
    """

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


def answer_sse(
    stream: AnswerStream,
    on_done: Callable[[Answer], None] = lambda answer: None,
    on_cancel: Callable[[], None] = lambda: None,
) -> EventStream:
    events = answer_events(stream, on_done, on_cancel)
    return EventStream(events, headers={"Cache-Control": "no-cache"})
