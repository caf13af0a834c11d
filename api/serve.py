"""`rag serve`, `rag mcp` and `rag keys`: the commands that need the API (imports flow
api -> rag)."""

from __future__ import annotations

import click

from rag.cli import cli, emit_json, user_errors

LOCALHOST = "127.0.0.1"


@cli.command()
@click.option(
    "--host",
    default=LOCALHOST,
    show_default=True,
    help="Address to bind. Other than localhost only with API keys (rag keys add).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI schema at /schema)."""
    import uvicorn

    from api.app import create_app, key_ring_for

    with user_errors():
        keys = key_ring_for(ctx.obj.settings)
        if not keys and host not in (LOCALHOST, "localhost", "::1"):
            click.echo(
                f"no API keys are configured, so the server listens on {LOCALHOST} only, not "
                f"{host}: create a key with `rag keys add NAME` to serve other machines",
                err=True,
            )
            host = LOCALHOST
        elif not keys:
            click.echo("no API keys configured: open to local clients only", err=True)
        app = create_app(rag=ctx.obj)
        uvicorn.run(app, host=host, port=port, log_level="info")


@cli.command("mcp")
@click.pass_context
def mcp_command(ctx: click.Context) -> None:
    """Serve your documents to an AI assistant over MCP (stdio): tools search, ask,
    list_collections, list_documents and ingest (only under RAG_MCP_INGEST_DIRS), each
    document's text as a resource. Give the assistant `rag mcp` as the server's command."""
    from api.mcp_tools import build_mcp_server

    with user_errors():
        rag = ctx.obj
        server = build_mcp_server(rag, rag.settings.mcp_ingest_dirs)
    server.run("stdio")


@cli.group()
def keys() -> None:
    """Manage the API keys `rag serve` accepts (stored hashed)."""


@keys.command("add")
@click.argument("name")
@click.option(
    "--collection",
    "collections",
    multiple=True,
    help="Limit the key to this collection (repeat for more); default: all.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def keys_add(ctx: click.Context, name: str, collections: tuple[str, ...], as_json: bool) -> None:
    """Create a key and print it once (only its hash is kept)."""
    from api.app import key_ring_for

    with user_errors():
        key = key_ring_for(ctx.obj.settings).add(name, collections)
    if as_json:
        emit_json({"name": name, "key": key, "collections": list(collections) or ["*"]})
    else:
        click.echo(key)
        click.echo("store it now: it cannot be shown again", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def keys_list(ctx: click.Context, as_json: bool) -> None:
    """Key names and the collections each may use (never the keys)."""
    from api.app import key_ring_for

    with user_errors():
        entries = key_ring_for(ctx.obj.settings).keys()
    if as_json:
        rows = [{"name": k.name, "collections": list(k.collections)} for k in entries]
        emit_json({"keys": rows})
        return
    for entry in entries:
        click.echo(f"{entry.name:20s} {', '.join(entry.collections)}")


@keys.command("delete")
@click.argument("name")
@click.pass_context
def keys_delete(ctx: click.Context, name: str) -> None:
    """Revoke a key (a running server stops accepting it at the next request)."""
    from api.app import key_ring_for

    with user_errors():
        if not key_ring_for(ctx.obj.settings).delete(name):
            raise click.ClickException(f"no API key named {name!r}")
    click.echo(f"deleted key {name}")


def main() -> None:
    cli(prog_name="rag")
