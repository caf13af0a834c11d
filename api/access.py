"""Request-scoped helpers shared by the route modules: the caller's access and collections."""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.params import Parameter

from api.auth import Access
from rag import RAG

CollectionParam = Annotated[
    str | None, Parameter(query="collection", description="Collection name (default: 'default').")
]


def provide_access(request: Request) -> Access:
    access = getattr(request.state, "access", None)
    return access if isinstance(access, Access) else Access(None)


def allowed_collection(rag: RAG, access: Access, name: str | None) -> str:
    """The collection a request means (the default when unnamed), if its key may use it."""
    resolved = rag.collection_name(name)
    access.check(resolved)
    return resolved
