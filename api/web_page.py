"""The web page at `/`: one HTML file and its script and style, shipped in the package (no
build step, no CDN: it works offline). Public like /healthz: the page asks for an API key itself
when the server has keys and sends it with every API call."""

from __future__ import annotations

from pathlib import Path

from litestar import Response, get
from litestar.router import Router
from litestar.static_files import create_static_files_router

WEB = Path(__file__).parent / "web"


@get("/", opt={"public": True}, include_in_schema=False, media_type="text/html")
async def web_page() -> Response[bytes]:
    """The page: ask, upload, browse; everything else is its script talking to /v1."""
    return Response(
        (WEB / "index.html").read_bytes(),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": _POLICY},
    )


# Only the page's own script and style run: a document's text can never become code.
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "frame-src blob:"
)


def web_assets() -> Router:
    return create_static_files_router(
        path="/static", directories=[WEB / "static"], opt={"public": True}
    )
