"""The litestar application factory: `create_app(settings)` or `create_app(rag=...)`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig

from api.access import provide_access
from api.auth import KeyRing, key_guard
from api.collections import CollectionController
from api.documents import DocumentController, JobController
from api.errors import EXCEPTION_HANDLERS
from api.health import healthz, metrics, readyz
from api.mcp_http import mcp_mount
from api.openai_compat import OpenAIController
from api.openapi_streams import document_event_streams
from api.questions import QueryController
from api.services import Services
from api.web_page import web_assets, web_page
from rag.config import Settings
from rag.core import RAG


def key_ring_for(settings: Settings) -> KeyRing:
    return KeyRing(settings.api_keys_file or settings.home / "api_keys.json")


def create_app(settings: Settings | None = None, *, rag: RAG | None = None) -> Litestar:
    """Build the app. Models load in the background at start-up (see /readyz)."""
    engine = rag or RAG(settings=settings or Settings())
    owns_engine = rag is None
    services = Services.build(engine)
    keys = key_ring_for(engine.settings)
    mcp = mcp_mount(engine, with_keys=bool(keys))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up, args=(services,), daemon=True).start()
        services.start()
        try:
            yield
        finally:
            services.close()
            if owns_engine:
                engine.close()

    def provide_services() -> Services:
        return services

    upload_limit = int(engine.settings.max_file_mb * 1e6) + 1_000_000
    prometheus = PrometheusConfig(app_name="localrag", prefix="localrag", group_path=True)
    app = Litestar(
        route_handlers=[
            QueryController,
            DocumentController,
            JobController,
            CollectionController,
            OpenAIController,
            healthz,
            readyz,
            metrics,
            mcp.handler,
            web_page,
            web_assets(),
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "access": Provide(provide_access, sync_to_thread=False),
        },
        guards=[key_guard(keys)],  # type: ignore[list-item]
        middleware=[prometheus.middleware],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan, mcp.lifespan],
        request_max_body_size=upload_limit,
        openapi_config=OpenAPIConfig(
            title="localrag",
            version="0.1.0",
            description="Question answering over your own documents, run locally.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}] if keys else None,
        ),
    )
    document_event_streams(app, ("/v1/ask", "/v1/chat/completions"))
    return app


def _warm_up(services: Services) -> None:
    # A failure is reported by /readyz; requests get the loading error themselves.
    with contextlib.suppress(Exception):
        services.warm_up()
