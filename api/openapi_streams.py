"""Document the routes that answer JSON or, when asked to stream, server-sent events.

litestar renders a handler returning `Model | ServerSentEvent` as one JSON body that is "one of
Model or anything", which every answer matches twice (invalid under `oneOf`) and which leaves
the event stream's content type out. This rewrites those responses as two media types.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Schema

EVENT_STREAM = "text/event-stream"


# One server-sent event; `data` holds JSON text (see each route's description).
_EVENT = Schema(
    type=OpenAPIType.OBJECT,
    description="one server-sent event",
    properties={
        "event": Schema(type=OpenAPIType.STRING),
        "data": Schema(type=OpenAPIType.STRING),
        "id": Schema(type=OpenAPIType.STRING),
        "retry": Schema(type=OpenAPIType.INTEGER),
    },
    required=["data"],
)


def document_event_streams(app: Litestar, paths: tuple[str, ...]) -> None:
    schema = app.openapi_schema
    for path in paths:
        item = schema.paths.get(path) if schema.paths else None
        operation = item.post if item is not None else None
        if operation is None or not operation.responses:
            raise ValueError(f"no POST operation documented at {path}")
        response = operation.responses["200"]
        content = getattr(response, "content", None)
        if not content or "application/json" not in content:
            raise ValueError(f"{path} has no JSON success response to split")
        json_body = content["application/json"].schema
        if isinstance(json_body, Schema) and json_body.one_of:
            json_body = json_body.one_of[0]  # the model; the other member is the stream
        content["application/json"] = OpenAPIMediaType(schema=json_body)
        content[EVENT_STREAM] = OpenAPIMediaType(schema=_EVENT)
