"""The MCP server: the library's search, ask, listings and ingest as Model Context Protocol
tools, and each document's text as a resource, for AI assistants (`rag mcp` over stdio).

Built on the official SDK's `MCPServer`. A tool that fails (an unknown collection, an empty
question, a path outside the allowed folders) answers with the library's message as an MCP tool
error, so the assistant can read what to fix. The library is synchronous and may run a model:
each call runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial, wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from rag import RAG, InvalidRequest, SearchFilter
from rag.errors import CollectionNotFound, RagError
from rag.runtime import basic_config_blocked

T = TypeVar("T")
P = ParamSpec("P")

INSTRUCTIONS = (
    "Answers questions from the user's own documents, with citations. Use `search` to find "
    "passages (file, page, score), `ask` for an answer with numbered sources, "
    "`list_collections` and `list_documents` to see what is there."
)


def build_mcp_server(
    rag: RAG,
    ingest_dirs: Sequence[Path] = (),
    allows: Callable[[str], bool] = lambda _collection: True,
) -> MCPServer:
    """An MCP server over `rag`. `allows(collection)` says which collections the caller may
    use (all, over stdio); `ingest` accepts paths under `ingest_dirs` only (none: refused)."""
    with basic_config_blocked():  # the SDK configures the root logger otherwise
        server: MCPServer = MCPServer(
            "localrag", instructions=INSTRUCTIONS, log_level="WARNING", version="0.1.0"
        )
    allowed_roots = [Path(d).expanduser().resolve() for d in ingest_dirs]

    def collection(name: str | None) -> str:
        return _existing_collection(rag, allows, name)

    @server.tool()
    @_reported
    async def search(
        query: str,
        collection_name: str | None = None,
        k: int = 5,
        file_types: list[str] | None = None,
        path_glob: str | None = None,
    ) -> dict[str, Any]:
        """Passages of the user's documents that best match `query`, best first: each with
        its file, page, section, score, similarity and text. No LLM is involved."""
        _check_k(k)
        name = collection(collection_name)
        where = SearchFilter(file_types=tuple(file_types or ()), path_glob=path_glob)
        passages = await _in_thread(partial(rag.search, query, k, name, where=where))
        return {"collection": name, "passages": [p.to_dict() for p in passages]}

    @server.tool()
    @_reported
    async def ask(
        question: str,
        collection_name: str | None = None,
        k: int | None = None,
        history: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """An answer from the user's documents with numbered sources (`[n]` in the answer
        points at source n: file, page, text) and its check against them. `history`: the
        conversation before a follow-up question, [{"role": "user"|"assistant", "content"}]."""
        _check_k(k)
        name = collection(collection_name)
        answer = await _in_thread(partial(rag.ask, question, k, name, history=history))
        found = answer.to_dict()
        keys = ("answer", "answer_mode", "grounding", "evidence", "sources")
        return {"collection": name, **{key: found[key] for key in keys}}

    @server.tool()
    @_reported
    async def list_collections() -> list[dict[str, Any]]:
        """The collections of documents, with how many documents each holds."""
        sizes = await _in_thread(rag.collection_sizes)
        return [{"name": n, "documents": c} for n, c in sorted(sizes.items()) if allows(n)]

    @server.tool()
    @_reported
    async def list_documents(collection_name: str | None = None) -> dict[str, Any]:
        """The documents of a collection: id, path, file type and chunk count."""
        name = collection(collection_name)
        documents = await _in_thread(partial(rag.documents, name))
        return {
            "collection": name,
            "documents": [
                {"id": d.id, "path": d.path, "file_type": d.file_type, "chunks": d.chunks}
                for d in documents
            ],
        }

    @server.tool()
    @_reported
    async def ingest(paths: list[str], collection_name: str | None = None) -> dict[str, Any]:
        """Add files or folders on the server's machine to a collection (created if new).
        Only paths under the folders the operator allowed (RAG_MCP_INGEST_DIRS) are read."""
        if not allowed_roots:
            raise InvalidRequest(
                "ingesting over MCP is off: the operator can allow folders with "
                "RAG_MCP_INGEST_DIRS (a JSON list of paths)"
            )
        resolved = [Path(p).expanduser().resolve() for p in paths]
        outside = [str(p) for p in resolved if not any(p.is_relative_to(r) for r in allowed_roots)]
        if outside:
            roots = ", ".join(str(r) for r in allowed_roots)
            raise InvalidRequest(f"not under an allowed folder ({roots}): {', '.join(outside)}")
        name = _permitted_collection(rag, allows, collection_name)  # created when new
        report = await _in_thread(partial(rag.ingest, resolved, name))
        return dict(report.to_dict())

    @server.resource(
        "rag://{collection_name}/documents/{document_id}",
        mime_type="text/plain",
        description="A document's text, as its chunks were stored, in order.",
    )
    async def document_text(collection_name: str, document_id: str) -> str:
        try:
            name = collection(collection_name)
            return await _in_thread(partial(rag.document_text, document_id, name))
        except RagError as exc:
            raise ResourceError(str(exc)) from exc

    return server


def _permitted_collection(rag: RAG, allows: Callable[[str], bool], name: str | None) -> str:
    """The collection meant (the default when unnamed), if the caller may use it."""
    resolved = rag.collection_name(name)
    if not allows(resolved):
        raise InvalidRequest(f"this key may not use collection {resolved!r}")
    return resolved


def _existing_collection(rag: RAG, allows: Callable[[str], bool], name: str | None) -> str:
    """An existing collection the caller may use."""
    resolved = _permitted_collection(rag, allows, name)
    if resolved not in rag.collections():
        known = ", ".join(c for c in rag.collections() if allows(c)) or "none yet"
        raise CollectionNotFound(f"no collection named {resolved!r} (collections: {known})")
    return resolved


def _check_k(k: int | None, most: int = 100) -> None:
    """As over HTTP: between 1 and 100 passages."""
    if k is not None and not 1 <= k <= most:
        raise InvalidRequest(f"k must be between 1 and {most}, got {k}")


def _reported(tool: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """The library's own message for a bad call (the SDK would hide it as a crash)."""

    @wraps(tool)
    async def reporting(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await tool(*args, **kwargs)
        except RagError as exc:
            raise ToolError(str(exc)) from exc

    return reporting


async def _in_thread(call: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(call)
