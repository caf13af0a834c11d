"""The MCP server, real, driven by the SDK's own client: `rag mcp` over stdio, and /mcp on
`rag serve` over streamable HTTP behind a scoped API key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from rag import RAG
from tests.servers import free_port, running_server

RAG_BIN = Path(sys.executable).parent / "rag"

pytestmark = pytest.mark.slow


@pytest.fixture
def home(settings, embedder, smollm, tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "norvex.md").write_text(
        "# Norvex Robotics\n\nNorvex Robotics is headquartered in Lyon. "
        "Its chief executive is Ada Moreau.\n"
    )
    (docs / "brightwater.md").write_text(
        "# Brightwater Foods\n\nBrightwater Foods makes frozen meals in Gdansk.\n"
    )
    with RAG(settings=settings, embedder=embedder, generator=smollm) as rag:
        rag.ingest([docs])
    return settings.home


def _session(home: Path, env: dict[str, str], use: Callable[[Client], Awaitable[Any]]) -> Any:
    params = StdioServerParameters(
        command=str(RAG_BIN),
        args=["mcp"],
        env={**os.environ, "RAG_HOME": str(home), "RAG_ANSWER_MODE": "extractive", **env},
    )

    async def main() -> Any:
        async with Client(params, read_timeout_seconds=240) as client:
            return await use(client)

    return anyio.run(main)


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def _error(result: Any) -> str:
    assert result.is_error
    return " ".join(part.text for part in result.content)


def test_the_tools_search_ask_and_list_over_stdio(home: Path) -> None:
    async def use(client: Client) -> dict[str, Any]:
        tools = await client.list_tools()
        found = await client.call_tool("search", {"query": "Who runs Norvex Robotics?", "k": 2})
        asked = await client.call_tool("ask", {"question": "Where is Norvex Robotics based?"})
        collections = await client.call_tool("list_collections", {})
        documents = await client.call_tool("list_documents", {})
        return {
            "tools": {tool.name for tool in tools.tools},
            "found": _data(found),
            "asked": _data(asked),
            "collections": _data(collections),
            "documents": _data(documents),
        }

    seen = _session(home, {}, use)
    assert {"search", "ask", "list_collections", "list_documents", "ingest"} <= seen["tools"]
    first = seen["found"]["passages"][0]
    assert Path(first["path"]).name == "norvex.md" and first["similarity"] > 0
    assert "Lyon" in seen["asked"]["answer"]
    assert Path(seen["asked"]["sources"][0]["path"]).name == "norvex.md"
    listed = seen["collections"]
    assert (listed.get("result") or listed) == [{"name": "default", "documents": 2}]
    paths = sorted(Path(d["path"]).name for d in seen["documents"]["documents"])
    assert paths == ["brightwater.md", "norvex.md"]


def test_documents_are_resources_and_bad_calls_say_what_to_fix(home: Path) -> None:
    async def use(client: Client) -> dict[str, Any]:
        documents = _data(await client.call_tool("list_documents", {}))["documents"]
        norvex = next(d for d in documents if d["path"].endswith("norvex.md"))
        text = await client.read_resource(f"rag://default/documents/{norvex['id']}")
        unknown = await client.call_tool("list_documents", {"collection_name": "nosuch"})
        empty = await client.call_tool("search", {"query": "   "})
        too_many = await client.call_tool("search", {"query": "Norvex", "k": 10**9})
        refused = await client.call_tool("ingest", {"paths": [str(home)]})
        return {
            "text": text.contents[0].text,
            "unknown": _error(unknown),
            "empty": _error(empty),
            "too_many": _error(too_many),
            "refused": _error(refused),
        }

    seen = _session(home, {}, use)
    assert "Ada Moreau" in seen["text"]
    assert "no collection named 'nosuch'" in seen["unknown"]
    assert "empty" in seen["empty"]
    assert "k must be between 1 and 100" in seen["too_many"]
    assert "RAG_MCP_INGEST_DIRS" in seen["refused"]


def test_ingest_reads_only_under_the_allowed_folders(home: Path, tmp_path: Path) -> None:
    allowed = tmp_path / "inbox"
    allowed.mkdir()
    (allowed / "memo.md").write_text("# Memo\n\nThe canteen closes at three on Fridays.\n")
    outside = tmp_path / "secret.md"
    outside.write_text("# Secret\n\nNot for the assistant.\n")

    async def use(client: Client) -> dict[str, Any]:
        added = await client.call_tool(
            "ingest", {"paths": [str(allowed)], "collection_name": "inbox"}
        )
        escaped = await client.call_tool("ingest", {"paths": [str(allowed / ".." / "secret.md")]})
        found = await client.call_tool(
            "search", {"query": "canteen", "collection_name": "inbox", "k": 1}
        )
        return {"added": _data(added), "escaped": _error(escaped), "found": _data(found)}

    seen = _session(home, {"RAG_MCP_INGEST_DIRS": json.dumps([str(allowed)])}, use)
    assert seen["added"]["ingested"] == 1 and seen["added"]["collection"] == "inbox"
    assert "not under an allowed folder" in seen["escaped"]
    assert Path(seen["found"]["passages"][0]["path"]).name == "memo.md"


def test_the_same_tools_on_rag_serve_behind_a_scoped_key(
    home: Path, settings, embedder, smollm, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "payroll.md").write_text("# Payroll\n\nSalaries are paid on the 25th.\n")
    with RAG(settings=settings, embedder=embedder, generator=smollm) as rag:
        rag.ingest([other], collection="payroll")
    env = {**os.environ, "RAG_HOME": str(home), "RAG_ANSWER_MODE": "extractive"}
    made = subprocess.run(
        [str(RAG_BIN), "keys", "add", "assistant", "--collection", "default", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    )  # fmt: skip
    key = json.loads(made.stdout)["key"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    async def use(client: Client) -> dict[str, Any]:
        collections = _data(await client.call_tool("list_collections", {}))
        found = _data(await client.call_tool("search", {"query": "Who runs Norvex?", "k": 1}))
        hidden = await client.call_tool("list_documents", {"collection_name": "payroll"})
        asked = _data(await client.call_tool("ask", {"question": "Where is Norvex based?"}))
        documents = _data(await client.call_tool("list_documents", {}))["documents"]
        norvex = next(d["id"] for d in documents if d["path"].endswith("norvex.md"))
        text = await client.read_resource(f"rag://default/documents/{norvex}")
        return {
            "collections": collections,
            "found": found,
            "hidden": _error(hidden),
            "asked": asked,
            "text": text.contents[0].text,
        }

    async def connect() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"}
        http = httpx2.AsyncClient(headers=headers, timeout=240)
        transport = streamable_http_client(f"{base}/mcp/", http_client=http)
        async with http, Client(transport) as client:
            return await use(client)

    with running_server([str(RAG_BIN), "serve", "--port", str(port)], f"{base}/healthz", env):
        assert httpx.post(f"{base}/mcp/", json={}, timeout=30).status_code == 401  # no key
        seen = anyio.run(connect)
    listed = seen["collections"]
    assert (listed.get("result") or listed) == [{"name": "default", "documents": 2}]
    assert Path(seen["found"]["passages"][0]["path"]).name == "norvex.md"
    assert "may not use collection 'payroll'" in seen["hidden"]
    assert "Lyon" in seen["asked"]["answer"]
    assert "Ada Moreau" in seen["text"]


def test_building_the_server_leaves_an_applications_logging_alone(tmp_path: Path) -> None:
    code = (
        "import logging\n"
        "from api.mcp_tools import build_mcp_server\n"
        "from rag import RAG\n"
        f"build_mcp_server(RAG({str(tmp_path / 'home')!r}))\n"
        "print(len(logging.getLogger().handlers), logging.getLogger().level)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert run.stdout.split() == ["0", str(30)]  # no handler added, the level still WARNING
