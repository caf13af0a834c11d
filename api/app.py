"""The litestar application factory: `create_app(settings)` or `create_app(rag=...)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from api.controllers import DocumentController, QueryController, healthz
from api.errors import EXCEPTION_HANDLERS
from rag.config import Settings
from rag.core import RAG


def create_app(settings: Settings | None = None, *, rag: RAG | None = None) -> Litestar:
    """Build the app. The RAG instance is created (if not given) and warmed up at start-up."""
    engine = rag or RAG(settings=settings or Settings())
    owns_engine = rag is None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(engine.warm_up)
        app.state.rag = engine
        try:
            yield
        finally:
            if owns_engine:
                engine.close()

    def provide_rag() -> RAG:
        return engine

    upload_limit = int(engine.settings.max_file_mb * 1e6) + 1_000_000
    return Litestar(
        route_handlers=[QueryController, DocumentController, healthz],
        dependencies={"rag": Provide(provide_rag, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        request_max_body_size=upload_limit,
        openapi_config=OpenAPIConfig(
            title="localrag",
            version="0.1.0",
            description="Question answering over your own documents, run locally.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
    )
