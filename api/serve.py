"""The `rag` command: the library's CLI plus `rag serve`, which lives here because it needs the API.

(The CLI proper is `rag.cli`; imports flow api -> rag, never back.)
"""

from __future__ import annotations

import click

from rag.cli import cli, user_errors


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; 0.0.0.0 exposes your documents to the network.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI schema at /schema)."""
    import uvicorn

    from api.app import create_app

    with user_errors():
        app = create_app(rag=ctx.obj)
        uvicorn.run(app, host=host, port=port, log_level="info")


def main() -> None:
    cli(prog_name="rag")
