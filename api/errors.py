"""Library errors to HTTP responses, mapped in one place."""

from __future__ import annotations

from litestar import Request, Response
from litestar.exceptions import HTTPException

from rag.errors import (
    CollectionBusy,
    CollectionNotFound,
    DocumentNotFound,
    EmptyCollection,
    InvalidRequest,
    LLMServerError,
    MissingDependency,
    ModelNotFound,
    RagError,
)

_STATUS: tuple[tuple[type[RagError], int], ...] = (
    (InvalidRequest, 400),
    (CollectionNotFound, 404),
    (DocumentNotFound, 404),
    (EmptyCollection, 409),
    (CollectionBusy, 409),
    (ModelNotFound, 503),
    (MissingDependency, 503),
    (LLMServerError, 502),
)


def status_for(error: RagError) -> int:
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


def rag_error_handler(_: Request, exc: RagError) -> Response[dict[str, object]]:
    status = status_for(exc)
    return Response({"status_code": status, "detail": str(exc)}, status_code=status)


def http_error_handler(_: Request, exc: HTTPException) -> Response[dict[str, object]]:
    body: dict[str, object] = {"status_code": exc.status_code, "detail": exc.detail}
    extra = getattr(exc, "extra", None)
    if extra:
        body["extra"] = extra
    return Response(body, status_code=exc.status_code)


EXCEPTION_HANDLERS = {RagError: rag_error_handler, HTTPException: http_error_handler}
