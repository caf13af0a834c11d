"""The MCP server on `rag serve`: streamable HTTP at /mcp, behind the API keys.

The key guard runs on /mcp like on every route and leaves the caller's `Access` in the
connection state; the mounted SDK app runs each request's tools in tasks started from the
request's own task, so a context variable carries that `Access` to them. No caller known means
no collection allowed: a key scoped to some collections sees only those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, asgi
from litestar.handlers import ASGIRouteHandler
from litestar.types import Receive, Scope, Send
from mcp.server.transport_security import TransportSecuritySettings

from api.auth import Access
from api.mcp_tools import build_mcp_server
from rag import RAG

PATH = "/mcp"
_LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]

_caller: ContextVar[Access] = ContextVar("mcp_caller")


@dataclass(frozen=True)
class MountedMCP:
    """The route handler to add to the app, and the lifespan that runs the SDK's sessions."""

    handler: ASGIRouteHandler
    lifespan: Any


def mcp_mount(rag: RAG, with_keys: bool) -> MountedMCP:
    """/mcp for the app. Without keys the server is local only, so the SDK's DNS-rebinding
    check (Host and Origin must be local) stays on; with keys, the bearer key is the check."""
    server = build_mcp_server(rag, rag.settings.mcp_ingest_dirs, allows=_caller_allows)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=not with_keys,
        allowed_hosts=_LOCAL_HOSTS,
        allowed_origins=[f"http://{host}" for host in _LOCAL_HOSTS],
    )
    app = server.streamable_http_app(
        streamable_http_path="/",
        stateless_http=True,
        json_response=True,
        transport_security=security,
    )

    @asgi(PATH, is_mount=True, copy_scope=True)
    async def mcp_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        access = (scope.get("state") or {}).get("access")
        token = _caller.set(access if isinstance(access, Access) else _NOBODY)
        try:
            await app(scope, receive, send)  # type: ignore[arg-type]
        finally:
            _caller.reset(token)

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    return MountedMCP(mcp_endpoint, lifespan)


class _Nobody(Access):
    def allows(self, collection: str) -> bool:
        return False


_NOBODY = _Nobody(None)


def _caller_allows(collection: str) -> bool:
    return _caller.get(_NOBODY).allows(collection)
