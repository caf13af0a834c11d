"""The litestar app through its real test client, over the real library and models."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.jobs import JobStore
from rag import RAG
from tests.documents import write_docx, write_two_page_pdf


@pytest.fixture
def client(rag: RAG) -> Iterator[TestClient]:
    with TestClient(app=create_app(rag=rag)) as test_client:
        yield test_client


def _upload(client: TestClient, *paths: Path, collection: str | None = None, wait: bool = True):
    files = [("data", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    params = {"collection": collection} if collection else {}
    if wait:
        params["wait"] = "true"
    return client.post("/v1/documents", files=files, params=params)


def test_upload_search_ask_delete(client: TestClient, tmp_path: Path) -> None:
    pdf = write_two_page_pdf(tmp_path / "report.pdf")
    lease = write_docx(tmp_path / "lease.docx")
    uploaded = _upload(client, pdf, lease)
    assert uploaded.status_code == 200, uploaded.text
    job = uploaded.json()
    assert job["state"] == "done" and job["progress"] == 1.0
    assert [(f["name"], f["state"], f["outcome"]) for f in job["files"]] == [
        ("report.pdf", "done", "ingested"),
        ("lease.docx", "done", "ingested"),
    ]
    assert client.get(job["status_url"]).json() == job

    listed = client.get("/v1/documents").json()["documents"]
    assert sorted(Path(d["path"]).name for d in listed) == ["lease.docx", "report.pdf"]

    found = client.post("/v1/search", json={"query": "warehouse lease end", "k": 2})
    assert found.status_code == 200
    results = found.json()["results"]
    assert Path(results[0]["path"]).name == "lease.docx"
    assert set(results[0]) >= {"document_id", "path", "page", "score", "text"}

    asked = client.post("/v1/ask", json={"question": "What is the Aurora launch code?"})
    assert asked.status_code == 200
    answer = asked.json()
    assert answer["answer"]
    first = answer["sources"][0]
    assert (first["n"], Path(first["path"]).name, first["page"]) == (1, "report.pdf", 2)

    pdf_id = next(d["id"] for d in listed if d["path"].endswith("report.pdf"))
    one = client.get(f"/v1/documents/{pdf_id}")
    assert one.status_code == 200 and one.json()["file_type"] == "pdf"
    assert client.get("/v1/documents/nope").status_code == 404
    assert client.delete(f"/v1/documents/{pdf_id}").status_code == 204
    assert client.delete(f"/v1/documents/{pdf_id}").status_code == 404
    assert len(client.get("/v1/documents").json()["documents"]) == 1


def test_errors_are_json_with_a_clear_message(client: TestClient, tmp_path: Path) -> None:
    missing = client.post("/v1/ask", json={"question": "hi", "collection": "nothing-here"})
    assert missing.status_code == 404
    assert "rag ingest" in missing.json()["detail"]

    empty_question = client.post("/v1/search", json={"query": ""})
    assert empty_question.status_code == 400
    assert "query" in str(empty_question.json())

    _upload(client, write_docx(tmp_path / "lease.docx"), collection="c1")
    blank = client.post("/v1/ask", json={"question": "   ", "collection": "c1"})
    assert blank.status_code == 400
    assert "empty" in blank.json()["detail"]

    bad_k = client.post("/v1/search", json={"query": "lease", "k": 0, "collection": "c1"})
    assert bad_k.status_code == 400


def test_asking_an_empty_collection_is_a_4xx(client: TestClient, rag: RAG) -> None:
    rag.create_collection("fresh")
    response = client.post("/v1/ask", json={"question": "anything", "collection": "fresh"})
    assert response.status_code == 409
    assert "empty" in response.json()["detail"]


def test_bad_upload_is_reported_per_file(client: TestClient, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"garbage" * 50)
    good = write_docx(tmp_path / "lease.docx")
    body = _upload(client, bad, good).json()
    outcomes = {f["name"]: f for f in body["files"]}
    assert outcomes["broken.pdf"]["state"] == "failed"
    assert "not a PDF" in outcomes["broken.pdf"]["reason"]
    assert (outcomes["lease.docx"]["state"], outcomes["lease.docx"]["chunks"]) == ("done", 1)


def test_uploaded_names_cannot_escape_the_data_folder(
    client: TestClient, rag: RAG, tmp_path: Path
) -> None:
    lease = write_docx(tmp_path / "lease.docx")
    files = [("data", ("../../../escape.docx", lease.read_bytes(), "application/octet-stream"))]
    response = client.post("/v1/documents", files=files, params={"wait": "true"})
    assert response.status_code == 200
    assert response.json()["files"][0]["name"] == "escape.docx"
    stored = Path(rag.documents()[0].path)
    assert stored.name == "escape.docx"
    assert stored.resolve().is_relative_to(rag.settings.home.resolve())


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    schema = client.get("/schema/openapi.json").json()
    assert {
        "/v1/ask",
        "/v1/search",
        "/v1/documents",
        "/v1/documents/{document_id}",
        "/healthz",
    } <= set(schema["paths"])


def _events(body: str) -> list[tuple[str, dict[str, object]]]:
    """(event, data) pairs of a server-sent-events body."""
    import json

    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_ask_streams_tokens_then_a_done_event_with_sources(
    client: TestClient, tmp_path: Path
) -> None:
    _upload(client, write_two_page_pdf(tmp_path / "report.pdf"))
    question = {"question": "What is the launch code for the Aurora rocket?"}
    plain = client.post("/v1/ask", json=question).json()
    with client.stream("POST", "/v1/ask", json={**question, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = _events(body)
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"token"} and len(names) > 2
    done = events[-1][1]
    streamed = "".join(str(data["text"]) for name, data in events if name == "token")
    assert "PURPLE-42" in streamed
    assert done["answer"] == plain["answer"]  # same answer (greedy) as the JSON form
    sources = done["sources"]
    assert isinstance(sources, list) and sources[0]["page"] == 2
    assert done["context"]["used"] == len(sources)  # type: ignore[index]


def test_streamed_ask_errors_before_streaming_are_json(client: TestClient) -> None:
    response = client.post(
        "/v1/ask", json={"question": "anything", "collection": "nothing-here", "stream": True}
    )
    assert response.status_code == 404
    assert "no collection named 'nothing-here'" in response.json()["detail"]


def test_upload_returns_a_job_at_once_and_the_job_reports_per_file_progress(
    client: TestClient, rag: RAG, tmp_path: Path
) -> None:
    paths = [write_docx(tmp_path / f"lease-{n}.docx") for n in range(3)]
    queued = _upload(client, *paths, collection="jobs", wait=False)
    assert queued.status_code == 202
    job = queued.json()
    assert job["collection"] == "jobs" and len(job["files"]) == 3
    assert {f["state"] for f in job["files"]} <= {"queued", "parsing", "embedding", "done"}
    deadline = time.monotonic() + 120
    while job["state"] != "done":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = client.get(f"/v1/jobs/{job['id']}").json()
    assert [f["state"] for f in job["files"]] == ["done"] * 3
    assert job["finished_at"] is not None
    listed = client.get("/v1/jobs", params={"collection": "jobs"}).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert client.get("/v1/jobs/nope").status_code == 404

    # Old finished jobs are forgotten (at server start, after RAG_JOB_RETENTION_DAYS).
    store = JobStore(rag.settings.home / "jobs.sqlite")
    assert store.forget_finished(datetime.now(UTC) - timedelta(days=1)) == 0
    assert store.forget_finished(datetime.now(UTC) + timedelta(seconds=2)) >= 1
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert len(client.get("/v1/documents", params={"collection": "jobs"}).json()["documents"]) == 3
    store.close()


def test_collections_create_list_delete(client: TestClient) -> None:
    created = client.post("/v1/collections", json={"name": "team-a"})
    assert created.status_code == 201 and created.json() == {"name": "team-a", "documents": 0}
    assert client.post("/v1/collections", json={"name": "team-a"}).status_code == 400
    assert client.post("/v1/collections", json={"name": "../x"}).status_code == 400
    names = [c["name"] for c in client.get("/v1/collections").json()["collections"]]
    assert "team-a" in names
    assert client.delete("/v1/collections/team-a").status_code == 204
    assert client.delete("/v1/collections/team-a").status_code == 404


def test_upload_limits_are_4xx_with_a_reason(client: TestClient, rag: RAG, tmp_path: Path) -> None:
    limit = rag.settings.max_upload_files
    note = tmp_path / "n.txt"
    note.write_text("hello")
    files = [("data", (f"n{i}.txt", b"hello", "text/plain")) for i in range(limit + 1)]
    too_many = client.post("/v1/documents", files=files)
    assert too_many.status_code == 400
    assert "RAG_MAX_UPLOAD_FILES" in too_many.json()["detail"]
    long_question = client.post("/v1/ask", json={"question": "x" * 10_001})
    assert long_question.status_code == 400
    big_k = client.post("/v1/search", json={"query": "x", "k": 101})
    assert big_k.status_code == 400


def test_readyz_and_metrics(client: TestClient, tmp_path: Path) -> None:
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert client.get("/readyz").json() == {"status": "ready"}
    _upload(client, write_docx(tmp_path / "lease.docx"))
    client.post("/v1/search", json={"query": "lease"})
    client.post("/v1/ask", json={"question": "When does the warehouse lease end?"})
    text = client.get("/metrics").text
    assert 'localrag_ingest_files_total{status="ingested"} 1.0' in text
    assert "localrag_ingest_chunks_total 1.0" in text
    assert "localrag_ingest_queue_depth 0.0" in text
    assert "localrag_generation_tokens_per_second_count 1.0" in text
    assert "localrag_request_duration_seconds_bucket{" in text and 'path="/v1/search"' in text
