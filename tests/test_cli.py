"""The `rag` command as a user runs it: a real subprocess, its exit codes and its JSON contracts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.documents import write_markdown
from tests.servers import free_port, running_server

RAG_BIN = Path(sys.executable).parent / "rag"

pytestmark = pytest.mark.slow


def run_rag(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_HOME": str(home), "RAG_MAX_ANSWER_TOKENS": "48"}
    return subprocess.run(
        [str(RAG_BIN), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def test_ingest_ask_search_list_contracts(tmp_path: Path, mixed_folder: Path) -> None:
    home = tmp_path / "home"
    ingested = run_rag(home, "ingest", str(mixed_folder), "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["ingested"] == 4

    asked = run_rag(home, "ask", "What is the launch code for the Aurora rocket?", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert isinstance(answer["answer"], str) and answer["answer"]
    source = answer["sources"][0]
    assert {"n", "document_id", "path", "page", "score", "text"} <= set(source)
    assert (source["n"], Path(source["path"]).name, source["page"]) == (1, "report.pdf", 2)

    searched = run_rag(home, "search", "warehouse lease", "--k", "2", "--json")
    results = json.loads(searched.stdout)["results"]
    assert len(results) == 2
    assert "n" not in results[0]
    assert Path(results[0]["path"]).name == "lease.docx"

    listed = json.loads(run_rag(home, "documents", "list", "--json").stdout)["documents"]
    assert len(listed) == 4
    assert {"id", "path", "chunks"} <= set(listed[0])


def test_ingest_exit_codes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = tmp_path / "docs"
    folder.mkdir()
    write_markdown(folder / "good.md")
    (folder / "empty.md").write_bytes(b"")

    partial = run_rag(home, "ingest", str(folder))
    assert partial.returncode == 1
    assert "empty.md" in partial.stderr and "empty" in partial.stderr
    assert "1 ingested" in partial.stdout

    (folder / "empty.md").unlink()
    assert run_rag(home, "ingest", str(folder)).returncode == 0

    usage = run_rag(home, "ingest", str(tmp_path / "does-not-exist"))
    assert usage.returncode == 2
    assert "does not exist" in usage.stderr


def test_clear_messages_instead_of_tracebacks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = run_rag(home, "ask", "anything")
    assert missing.returncode == 1
    assert "rag ingest" in missing.stderr and "Traceback" not in missing.stderr
    write_markdown(tmp_path / "a.md")
    run_rag(home, "ingest", str(tmp_path / "a.md"))
    empty = run_rag(home, "ask", "  ")
    assert empty.returncode == 2
    assert "question is empty" in empty.stderr and "Traceback" not in empty.stderr


def test_serve_answers_over_http(tmp_path: Path, mixed_folder: Path) -> None:
    import httpx

    home = tmp_path / "home"
    assert run_rag(home, "ingest", str(mixed_folder)).returncode == 0
    port = free_port()
    env = {"RAG_HOME": str(home), "RAG_MAX_ANSWER_TOKENS": "32"}
    base = f"http://127.0.0.1:{port}"
    command = [str(RAG_BIN), "serve", "--port", str(port)]
    with running_server(command, f"{base}/healthz", env):
        found = httpx.post(f"{base}/v1/search", json={"query": "launch code", "k": 1}, timeout=60)
        assert found.status_code == 200
        hit = found.json()["results"][0]
        assert (Path(hit["path"]).name, hit["page"]) == ("report.pdf", 2)
        asked = httpx.post(f"{base}/v1/ask", json={"question": "Where is the office?"}, timeout=120)
        assert asked.status_code == 200 and asked.json()["sources"]


def test_formats_prompts_and_keys_commands(tmp_path: Path, mixed_folder: Path) -> None:
    home = tmp_path / "home"
    formats = json.loads(run_rag(home, "formats", "--json").stdout)["formats"]
    assert formats["chatml"] == ["<|im_end|>", "<|im_start|>"] and "orca" in formats

    assert run_rag(home, "ingest", str(mixed_folder)).returncode == 0
    prompt = tmp_path / "prompt.toml"
    prompt.write_text('not_found = "Nothing on file."\n')
    shown = run_rag(home, "collections", "prompt", "default", "--set", str(prompt), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["not_found"] == "Nothing on file."
    bad = tmp_path / "bad.toml"
    bad.write_text('question = "{{ nope }}"\n')
    refused = run_rag(home, "collections", "prompt", "default", "--set", str(bad))
    assert refused.returncode == 2 and "'question' template failed" in refused.stderr

    added = run_rag(home, "keys", "add", "ci", "--collection", "default", "--json")
    key = json.loads(added.stdout)["key"]
    assert key.startswith("rag_") and key not in (home / "api_keys.json").read_text()
    listed = json.loads(run_rag(home, "keys", "list", "--json").stdout)
    assert listed == {"keys": [{"name": "ci", "collections": ["default"]}]}
    assert run_rag(home, "keys", "delete", "ci").returncode == 0
    assert run_rag(home, "keys", "delete", "ci").returncode != 0


def test_collections_add_sentences_upgrades_a_collection_ingested_without_them(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    records = tmp_path / "r.jsonl"
    texts = [
        "Mice fed salt developed hypertension. Their kidneys were fine.",
        "One sentence only here.",
    ]
    records.write_text(
        "".join(json.dumps({"id": f"r{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    env_off = {"RAG_SENTENCE_VECTORS": "false"}
    ingested = subprocess.run(
        [str(RAG_BIN), "ingest", "--jsonl", str(records), "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "RAG_HOME": str(home), **env_off},
        timeout=300,
        check=False,
    )
    assert ingested.returncode == 0, ingested.stderr

    added = run_rag(home, "collections", "add-sentences", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"collection": "default", "chunks": 2}
    again = run_rag(home, "collections", "add-sentences", "--json")
    assert json.loads(again.stdout)["chunks"] == 0  # nothing left to do

    db = sqlite3.connect(home / "collections" / "default" / "chunks.sqlite")
    sizes = [r[0] for r in db.execute("SELECT length(sentence_int8) FROM chunks ORDER BY id")]
    db.close()
    assert sizes == [2 * (384 + 4), 1 * (384 + 4)]  # int8 codes and a float32 scale each

    missing = run_rag(home, "collections", "add-sentences", "nosuch")
    assert missing.returncode != 0 and "no collection named 'nosuch'" in missing.stderr
