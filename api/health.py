"""Liveness, readiness and Prometheus metrics (public: no API key needed)."""

from __future__ import annotations

from litestar import Response, get
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from api.schemas import HealthResponse
from api.services import Services


@get("/healthz", tags=["health"], opt={"public": True})
async def healthz() -> HealthResponse:
    """The process is up."""
    return HealthResponse(status="ok")


@get("/readyz", tags=["health"], opt={"public": True})
async def readyz(services: Services) -> Response[HealthResponse]:
    """200 once the models are loaded; 503 while they load or if loading failed."""
    if not services.ready.is_set():
        return Response(HealthResponse(status="loading models"), status_code=503)
    if services.warm_up_error:
        status = f"models failed to load: {services.warm_up_error[0]}"
        return Response(HealthResponse(status=status), status_code=503)
    return Response(HealthResponse(status="ready"), status_code=200)


@get("/metrics", tags=["health"], opt={"public": True}, media_type=CONTENT_TYPE_LATEST)
async def metrics(services: Services) -> bytes:
    """Prometheus text format: HTTP latency per route, ingestion, generation, queue depth."""
    return generate_latest(REGISTRY) + generate_latest(services.metrics.registry)
