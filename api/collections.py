"""Collections: create, list, delete."""

from __future__ import annotations

from litestar import Controller, delete, get, post

from api.access import allowed_collection
from api.auth import Access
from api.schemas import CollectionIn, CollectionOut, CollectionsResponse
from api.services import Services


class CollectionController(Controller):
    path = "/v1/collections"
    tags = ["collections"]

    @get("/", sync_to_thread=True)
    def list_collections(self, services: Services, access: Access) -> CollectionsResponse:
        sizes = services.rag.collection_sizes()
        visible = access.visible(list(sizes))
        return CollectionsResponse(collections=[CollectionOut(n, sizes[n]) for n in visible])

    @post("/", sync_to_thread=True, status_code=201)
    def create_collection(
        self, data: CollectionIn, services: Services, access: Access
    ) -> CollectionOut:
        name = allowed_collection(services.rag, access, data.name)
        return CollectionOut(services.rag.create_collection(name), 0)

    @delete("/{name:str}", sync_to_thread=True)
    def delete_collection(self, name: str, services: Services, access: Access) -> None:
        """Delete a collection with all its documents."""
        services.rag.delete_collection(allowed_collection(services.rag, access, name))
