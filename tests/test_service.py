"""The service as operators and client tools meet it: API keys, the `openai` SDK, restarts."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from api.app import create_app, key_ring_for
from rag import RAG
from tests.documents import write_docx, write_markdown, write_two_page_pdf
from tests.servers import free_port, running_server

RAG_BIN = Path(sys.executable).parent / "rag"


@pytest.fixture
def keys(rag: RAG) -> dict[str, str]:
    ring = key_ring_for(rag.settings)
    return {"admin": ring.add("admin", ()), "team": ring.add("team", ("team",))}


@pytest.fixture
def secured(rag: RAG, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app=create_app(rag=rag)) as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_are_stored_hashed_and_required(
    secured: TestClient, rag: RAG, keys: dict[str, str], tmp_path: Path
) -> None:
    stored = (rag.settings.home / "api_keys.json").read_text()
    assert all(key not in stored for key in keys.values())
    assert (rag.settings.home / "api_keys.json").stat().st_mode & 0o077 == 0

    assert secured.get("/healthz").status_code == 200  # public
    assert secured.get("/readyz").status_code in (200, 503)
    missing = secured.post("/v1/search", json={"query": "x"})
    assert missing.status_code == 401
    assert "rag keys add" in missing.json()["detail"]
    assert secured.get("/v1/collections", headers=_bearer("rag_wrong")).status_code == 401

    files = [("data", ("lease.docx", write_docx(tmp_path / "l.docx").read_bytes(), "x/y"))]
    admin, team = _bearer(keys["admin"]), _bearer(keys["team"])
    for collection in ("team", "finance"):
        uploaded = secured.post(
            "/v1/documents",
            files=files,
            params={"collection": collection, "wait": "true"},
            headers=admin,
        )
        assert uploaded.status_code == 200, uploaded.text
    allowed = secured.post(
        "/v1/search", json={"query": "lease", "collection": "team"}, headers=team
    )
    assert allowed.status_code == 200 and allowed.json()["results"]
    denied = secured.post(
        "/v1/search", json={"query": "lease", "collection": "finance"}, headers=team
    )
    assert denied.status_code == 403
    assert "may not use collection 'finance'" in denied.json()["detail"]
    names = [c["name"] for c in secured.get("/v1/collections", headers=team).json()["collections"]]
    assert names == ["team"]
    assert secured.delete("/v1/collections/finance", headers=team).status_code == 403
    assert "finance" in rag.collections()

    # Revoking a key with `rag keys delete` takes effect without a restart.
    key_ring_for(rag.settings).delete("team")
    body = {"query": "lease", "collection": "team"}
    revoked = secured.post("/v1/search", json=body, headers=team)
    assert revoked.status_code == 401


def test_serve_without_keys_stays_on_localhost(tmp_path: Path) -> None:
    import subprocess

    port = free_port()
    server = subprocess.Popen(
        [str(RAG_BIN), "--home", str(tmp_path / "home"), "serve", "--host", "0.0.0.0",
         "--port", str(port)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        line = ""
        assert server.stderr is not None
        while "no API keys" not in line:
            assert time.monotonic() < deadline and server.poll() is None
            line = server.stderr.readline()
        assert "listens on 127.0.0.1 only" in line
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def live_server(tmp_path: Path, mixed_folder: Path) -> Iterator[str]:
    home = tmp_path / "home"
    port = free_port()
    env = {"RAG_HOME": str(home), "RAG_MAX_ANSWER_TOKENS": "48", "RAG_ANSWER_MODE": "generative"}
    base = f"http://127.0.0.1:{port}"
    with running_server([str(RAG_BIN), "serve", "--port", str(port)], f"{base}/healthz", env):
        files = [("data", (p.name, p.read_bytes(), "x/y")) for p in sorted(mixed_folder.iterdir())]
        uploaded = httpx.post(
            f"{base}/v1/documents",
            files=files,
            params={"collection": "docs", "wait": "true"},
            timeout=300,
        )
        assert uploaded.status_code == 200, uploaded.text
        yield base


@pytest.mark.slow
def test_the_official_openai_client_works_against_the_live_server(live_server: str) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0)
    assert {"rag", "docs"} <= {m.id for m in client.models.list()}

    question = "What is the launch code for the Aurora rocket?"
    completion = client.chat.completions.create(
        model="docs", messages=[{"role": "user", "content": question}]
    )
    assert "PURPLE-42" in (completion.choices[0].message.content or "")
    sources = completion.model_extra["sources"]  # type: ignore[index]
    assert Path(sources[0]["path"]).name == "report.pdf" and sources[0]["page"] == 2
    assert completion.usage is not None and completion.usage.completion_tokens > 0

    pieces, final = [], None
    for chunk in client.chat.completions.create(
        model="rag",
        messages=[{"role": "user", "content": question}],
        stream=True,
        extra_body={"collection": "docs"},
    ):
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.choices and chunk.choices[0].finish_reason == "stop":
            final = chunk
    assert len(pieces) > 2 and "PURPLE-42" in "".join(pieces)
    assert final is not None and final.model_extra["sources"]  # type: ignore[index]

    vectors = client.embeddings.create(model="any", input=["lease", "rocket"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 384

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


@pytest.mark.slow
def test_a_job_interrupted_by_a_restart_finishes_after_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "notes"
    folder.mkdir()
    paths = [write_markdown(folder / f"note-{n:02d}.md") for n in range(40)]
    paths.append(write_two_page_pdf(folder / "report.pdf"))
    env = {"RAG_HOME": str(home), "RAG_PARSE_WORKERS": "0"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [str(RAG_BIN), "serve", "--port", str(port)]
    with running_server(command, f"{base}/readyz", env) as server:
        files = [("data", (p.name, p.read_bytes(), "x/y")) for p in paths]
        job = httpx.post(f"{base}/v1/documents", files=files, timeout=60).json()
        deadline = time.monotonic() + 120
        while not any(f["state"] == "done" for f in job["files"]):
            assert time.monotonic() < deadline
            job = httpx.get(f"{base}/v1/jobs/{job['id']}", timeout=10).json()
        server.kill()  # no chance to finish: like a crash or a kill -9
        server.wait(timeout=30)
    assert job["state"] != "done", "the job finished before the restart; make it longer"
    done_before = sum(f["state"] == "done" for f in job["files"])

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_server([str(RAG_BIN), "serve", "--port", str(port)], f"{base}/readyz", env):
        deadline = time.monotonic() + 300
        while job["state"] != "done":
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
            job = httpx.get(f"{base}/v1/jobs/{job['id']}", timeout=10).json()
        documents = httpx.get(f"{base}/v1/documents", timeout=10).json()["documents"]
    assert [f["state"] for f in job["files"]] == ["done"] * len(paths)
    assert len(documents) == len(paths)
    assert 0 < done_before < len(paths)


@pytest.mark.slow
def test_a_client_that_disconnects_stops_its_generation(tmp_path: Path, mixed_folder: Path) -> None:
    prompt = tmp_path / "prompt.toml"
    prompt.write_text(
        'question = "{{ passages }}\\n\\nWrite a very long essay about: {{ question }}"\n'
    )
    env = {
        "RAG_HOME": str(tmp_path / "home"),
        "RAG_MAX_ANSWER_TOKENS": "1500",
        "RAG_ANSWER_MODE": "generative",
        "RAG_RAG_PROMPT_FILE": str(prompt),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running_server([str(RAG_BIN), "serve", "--port", str(port)], f"{base}/readyz", env):
        files = [("data", (p.name, p.read_bytes(), "x/y")) for p in sorted(mixed_folder.iterdir())]
        httpx.post(f"{base}/v1/documents", files=files, params={"wait": "true"}, timeout=300)
        body = {"question": "What is the launch code for the Aurora rocket?", "stream": True}
        for attempt in (1, 2):
            with httpx.stream("POST", f"{base}/v1/ask", json=body, timeout=120) as response:
                for line in response.iter_lines():
                    if line.startswith("event: token"):
                        break  # one token, then hang up
            deadline = time.monotonic() + 60
            expected = f"localrag_generations_cancelled_total {attempt}.0"
            while expected not in httpx.get(f"{base}/metrics", timeout=10).text:
                assert time.monotonic() < deadline, f"generation {attempt} was not stopped"
                time.sleep(0.2)
        # The model is free again: a plain search and a short answer still work.
        found = httpx.post(f"{base}/v1/search", json={"query": "launch code"}, timeout=60)
        assert found.status_code == 200
