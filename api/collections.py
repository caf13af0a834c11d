"""Collections: create, list, delete."""

from __future__ import annotations

from litestar import Controller, delete, get, post

from api.access import allowed_collection
from api.auth import Access
from api.schemas import CollectionIn, CollectionOut, CollectionsResponse
from api.services import Services
from rag.errors import InvalidRequest


class CollectionController(Controller):
    path = "/v1/collections"
    tags = ["collections"]

    @get("/", sync_to_thread=True)
    def list_collections(self, services: Services, access: Access) -> CollectionsResponse:
        rag = services.rag
        names = access.visible(rag.collections())
        return CollectionsResponse(
            collections=[CollectionOut(n, rag.collection(n).document_count()) for n in names]
        )

    @post("/", sync_to_thread=True, status_code=201)
    def create_collection(
        self, data: CollectionIn, services: Services, access: Access
    ) -> CollectionOut:
        rag = services.rag
        name = allowed_collection(rag, access, data.name)
        if name in rag.collections():
            raise InvalidRequest(f"collection {name!r} exists already")
        rag.collection(name, create=True)
        return CollectionOut(name, 0)

    @delete("/{name:str}", sync_to_thread=True)
    def delete_collection(self, name: str, services: Services, access: Access) -> None:
        """Delete a collection with all its documents."""
        services.rag.delete_collection(allowed_collection(services.rag, access, name))
