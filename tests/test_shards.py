"""Sharded collections and `rag ingest --ray`, on a real local Ray (2 CPUs in CI).

The same 500 SciFact abstracts ingested into one store and, on Ray, into 4 shards must give the
same documents, chunk ids, texts and vectors, and (nearly) the same search results; a killed
embedding worker or driver must lose nothing; re-runs touch only what changed; a search keeps
answering while runs publish new shards.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import Embedder
from rag import RAG, Settings
from rag.shards.layout import MANIFEST_FILE, SHARDS_DIR, read_manifest
from rag.types import FileStatus
from tests.test_cli import RAG_BIN

if importlib.util.find_spec("ray") is None:
    if os.environ.get("CI"):
        raise RuntimeError("CI must install the ray extra (scripts/bootstrap.sh installs .[ray])")
    pytest.skip("the ray extra is not installed: pip install -e '.[ray]'", allow_module_level=True)
pytestmark = pytest.mark.slow

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "scifact"
# Small Ray object store for tests (Ray's default is 30 % of RAM).
RAY_ENV = {"RAG_RAY_OBJECT_STORE_MB": "200"}


def _abstracts(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True)
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as corpus:
        for _, line in zip(range(count), corpus, strict=False):
            record = json.loads(line)
            text = f"{record['title']}\n\n{record['text']}"
            (folder / f"{record['_id']}.txt").write_text(text, encoding="utf-8")
    return folder


def _queries(count: int) -> list[str]:
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as queries:
        return [json.loads(line)["text"] for _, line in zip(range(count), queries, strict=False)]


def _settings(home: Path) -> Settings:
    # torch (fp32): a text's vector does not depend on the batch it was embedded in (1e-7);
    # ONNX Runtime's int8 model quantizes each batch's activations with one scale, so the same
    # text moves by up to 4e-3 between batches, on one machine as on Ray.
    # Keywords on FTS5 in one store as in the shards (each far below the size at which shards
    # rank by their own tantivy scores): what is compared is sharding, not two engines.
    return Settings(
        home=home,
        ray_object_store_mb=200,
        parse_workers=2,
        embed_runtime="torch",
        keyword_index_min_chunks=100_000,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip(f"SciFact is not at {SCIFACT}")
    return _abstracts(tmp_path_factory.mktemp("scifact") / "docs", 500)


@pytest.fixture(scope="module")
def one_store(
    corpus: Path, torch_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RAG]:
    home = tmp_path_factory.mktemp("one")
    with RAG(settings=_settings(home), embedder=torch_embedder) as rag:
        rag.ingest([corpus], "c")
        yield rag


@pytest.fixture(scope="module")
def sharded_home(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus ingested on a local Ray into 4 shards (the embedder loaded by Ray's actors)."""
    home = tmp_path_factory.mktemp("sharded")
    with RAG(settings=_settings(home)) as rag:
        report = rag.ingest([corpus], "c", ray=True, shards=4)
    assert (report.count(FileStatus.INGESTED), len(report.failed)) == (500, 0)
    return home


@pytest.fixture
def sharded(sharded_home: Path, torch_embedder: Embedder, tmp_path: Path) -> Iterator[RAG]:
    """A private copy of the sharded collection, so a test may change it."""
    home = tmp_path / "home"
    shutil.copytree(sharded_home, home)
    with RAG(settings=_settings(home), embedder=torch_embedder) as rag:
        yield rag


def _rag(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RAG_BIN), *args],
        env={**os.environ, "RAG_HOME": str(home), **RAY_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_ray_shards_hold_what_one_store_holds_and_search_alike(
    one_store: RAG, sharded_home: Path, torch_embedder: Embedder
) -> None:
    with RAG(settings=_settings(sharded_home), embedder=torch_embedder) as sharded:
        one, four = one_store.collection("c"), sharded.collection("c")
        assert sharded.collection_shards() == {"c": 4}
        manifest = read_manifest(sharded_home / "collections" / "c")
        assert manifest is not None and manifest.count == 4

        def documents(collection) -> set[tuple[str, str, str, int]]:
            return {(d.id, d.path, d.content_hash, d.chunks) for d in collection.documents()}

        assert documents(four) == documents(one)
        assert len(documents(one)) == 500
        ids: list[int] = []
        for document in one.documents():
            expected = [(c.id, c.ordinal, c.text) for c in one.document_chunks(document.id)]
            got = [(c.id, c.ordinal, c.text) for c in four.document_chunks(document.id)]
            assert got == expected, document.path
            ids += [c[0] for c in expected]
        assert len(set(ids)) == len(ids) == one.chunk_count() == four.chunk_count()
        # Every shard holds some documents (ids spread by hash), none holds a chunk twice.
        counts = [len(shard.documents()) for shard in four._shards()]  # type: ignore[union-attr]
        assert min(counts) > 50 and sum(counts) == 500
        mine, theirs = one.embeddings(ids), four.embeddings(ids)
        worst = max(float(np.abs(mine[i] - theirs[i]).max()) for i in ids)
        assert worst <= 1e-5

        queries = _queries(100)
        dense_same = sum(
            [p.chunk_id for p in one_store.search(q, 10, "c", mode="dense")]
            == [p.chunk_id for p in sharded.search(q, 10, "c", mode="dense")]
            for q in queries
        )
        hybrid_same = sum(
            [p.chunk_id for p in one_store.search(q, 5, "c")]
            == [p.chunk_id for p in sharded.search(q, 5, "c")]
            for q in queries
        )
        assert dense_same >= 99, dense_same
        assert hybrid_same >= 95, hybrid_same
        assert sharded.check("c").consistent

    checked = _rag(sharded_home, "check", "--collection", "c", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["chunks"] == len(ids)
    listed = json.loads(_rag(sharded_home, "collections", "list", "--json").stdout)
    assert listed["details"] == [{"name": "c", "documents": 500, "shards": 4}]


def _files_under(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm", ".lock"))
    }


def test_rerun_touches_nothing_and_a_change_rewrites_one_shard(sharded: RAG, corpus: Path) -> None:
    folder = sharded.settings.home / "collections" / "c"
    before = _files_under(folder)
    again = sharded.ingest([corpus], "c", ray=True)
    assert (again.count(FileStatus.INGESTED), again.count(FileStatus.UNCHANGED)) == (0, 500)
    assert _files_under(folder) == before  # manifest and every shard file untouched

    old = read_manifest(folder)
    assert old is not None
    changed = sorted(corpus.iterdir())[7]
    original = changed.read_text(encoding="utf-8")
    try:
        changed.write_text(original + "\n\nAddendum: the zebrafish fin regrew in 11 days.")
        report = sharded.ingest([corpus], "c", ray=True)
    finally:
        changed.write_text(original, encoding="utf-8")
    assert (report.count(FileStatus.INGESTED), report.count(FileStatus.UNCHANGED)) == (1, 499)
    new = read_manifest(folder)
    assert new is not None and new.generation == old.generation + 1
    rewritten = [i for i in range(4) if new.shards[i] != old.shards[i]]
    assert len(rewritten) == 1
    found = sharded.search("how fast did the zebrafish fin regrow", 1, "c")
    assert found[0].path == str(changed) and "11 days" in found[0].text
    assert sharded.check("c").consistent


def test_prune_and_delete_work_on_shards(sharded: RAG, corpus: Path, tmp_path: Path) -> None:
    subset = tmp_path / "subset"
    shutil.copytree(corpus, subset)
    first = sharded.ingest([subset], "c")  # single machine into the sharded collection
    assert first.count(FileStatus.INGESTED) == 500
    gone = sorted(subset.iterdir())[3]
    gone.unlink()
    pruned = sharded.ingest([subset], "c", prune=True)
    assert pruned.count(FileStatus.PRUNED) == 1
    assert str(gone) not in {d.path for d in sharded.documents("c")}
    victim = sharded.documents("c")[0]
    sharded.delete_document(victim.id, "c")
    assert victim.id not in {d.id for d in sharded.documents("c")}
    assert len(sharded.documents("c")) == 998
    sharded.close()  # saves the indexes, as the end of a `rag documents delete` does
    assert sharded.check("c").consistent
    assert all(p.document_id != victim.id for p in sharded.search(victim.path, 20, "c"))


def _committed(folder: Path) -> int:
    """Documents committed so far in a run's shard copies (not yet published)."""
    total = 0
    for store in (folder / SHARDS_DIR).glob("*/chunks.sqlite"):
        db = sqlite3.connect(store)
        try:
            total += int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
        except sqlite3.OperationalError:
            pass
        finally:
            db.close()
    return total


def _first(corpus: Path, folder: Path, count: int) -> Path:
    folder.mkdir()
    for path in sorted(corpus.iterdir())[:count]:
        shutil.copy(path, folder / path.name)
    return folder


def _start(home: Path, docs: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(RAG_BIN), "ingest", str(docs), "--ray", "--shards", "2", "--json"],
        env={**os.environ, "RAG_HOME": str(home), "RAG_RAY_BATCH_FILES": "4", **RAY_ENV},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the driver and the local Ray it starts, killed together
    )


def _wait_for_commits(run: subprocess.Popen[str], folder: Path, at_least: int) -> None:
    deadline = time.monotonic() + 300
    while _committed(folder) < at_least:
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.1)


def _ray_workers(actor_class: str) -> list[int]:
    """The processes of a Ray actor class (Ray names each after its actor: `ray::_EmbedFiles`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if actor_class in title:
                found.append(int(entry.name))
    return found


def _kill_mid_run(
    corpus: Path, tmp_path: Path, actor_class: str
) -> tuple[subprocess.Popen[str], str, str, list[int]]:
    """A 2-shard run of 120 files whose `actor_class` processes are SIGKILLed once 4 documents
    are committed: (the run, its stdout, its stderr, the pids killed)."""
    docs, home = _first(corpus, tmp_path / "docs", 120), tmp_path / "home"
    run = _start(home, docs)
    _wait_for_commits(run, home / "collections" / "default", 4)
    killed = _ray_workers(actor_class)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    out, err = run.communicate(timeout=600)
    return run, out, err, killed


def test_killed_embedding_worker_is_replaced_and_nothing_is_lost(
    corpus: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run, out, err, killed = _kill_mid_run(corpus, tmp_path, "_EmbedFiles")
    assert killed, "no embedding actor process found"
    assert run.returncode == 0, err[-3000:]
    report = json.loads(out)
    assert (report["ingested"], report["failed"]) == (120, 0)
    checked = json.loads(_rag(home, "check", "--json").stdout)
    assert checked["consistent"] and checked["documents"] == 120
    # Each document's chunks once: ids are a function of document and ordinal.
    assert checked["chunks"] == checked["vectors"] == sum(f["chunks"] for f in report["files"])


def test_killed_shard_writer_fails_the_run_publishing_nothing_and_the_next_run_resumes(
    corpus: Path, tmp_path: Path
) -> None:
    """The shard copies are written by writer processes (not the driver): kill them mid-run."""
    docs, home = tmp_path / "docs", tmp_path / "home"
    folder = home / "collections" / "default"
    run, _, err, killed = _kill_mid_run(corpus, tmp_path, "ShardWriter")
    assert len(killed) == 2, "expected one writer process per shard"
    assert run.returncode == 1  # a failed run, with its reason (not a crash)
    assert "the writer of shard" in err and "running the same command again" in err
    assert not (folder / MANIFEST_FILE).exists()  # nothing published
    committed = _committed(folder)

    resumed = _rag(home, "ingest", str(docs), "--ray", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    report = json.loads(resumed.stdout)
    assert report["unchanged"] == committed
    assert report["unchanged"] + report["ingested"] == 120 and report["failed"] == 0
    checked = json.loads(_rag(home, "check", "--json").stdout)
    assert checked["consistent"] and checked["documents"] == 120
    assert checked["chunks"] == checked["vectors"]


def test_killed_driver_publishes_nothing_and_the_next_run_resumes(
    corpus: Path, tmp_path: Path
) -> None:
    docs, home = _first(corpus, tmp_path / "docs", 120), tmp_path / "home"
    folder = home / "collections" / "default"
    run = _start(home, docs)
    _wait_for_commits(run, folder, 8)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    committed = _committed(folder)
    assert 8 <= committed < 120
    assert not (folder / MANIFEST_FILE).exists()  # nothing published
    assert _rag(home, "search", "zebrafish").returncode != 0

    resumed = _rag(home, "ingest", str(docs), "--ray", "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    report = json.loads(resumed.stdout)
    assert report["unchanged"] >= committed - 4  # at most the batch in flight is redone
    assert report["unchanged"] + report["ingested"] == 120 and report["failed"] == 0
    checked = json.loads(_rag(home, "check", "--json").stdout)
    assert checked["consistent"] and checked["documents"] == 120


def test_search_keeps_answering_while_runs_publish(
    sharded: RAG, torch_embedder: Embedder, corpus: Path, tmp_path: Path
) -> None:
    home = sharded.settings.home
    errors: list[BaseException] = []
    answered = [0]
    progress = threading.Condition()
    stop = threading.Event()

    def search_loop() -> None:
        with RAG(settings=_settings(home), embedder=torch_embedder) as reader:
            while not stop.is_set():
                try:
                    assert reader.search("cerebral white matter in newborns", 5, "c")
                except BaseException as exc:
                    errors.append(exc)
                    return
                finally:
                    with progress:
                        answered[0] += 1
                        progress.notify_all()

    def answers_after_publishing() -> bool:
        """Two answers after a publication: the second one started after it."""
        with progress:
            seen = answered[0]
            return progress.wait_for(lambda: answered[0] >= seen + 2 or bool(errors), 120)

    reader = threading.Thread(target=search_loop)
    reader.start()
    extra = tmp_path / "extra"
    extra.mkdir()
    try:
        for round_ in range(3):
            (extra / f"note-{round_}.txt").write_text(
                f"Round {round_}: the sharded collection was published again.", encoding="utf-8"
            )
            assert sharded.ingest([extra], "c").count(FileStatus.INGESTED) == 1
            # Searches timed against runs would pass or fail with the machine's load;
            # waiting for answers after each publication checks every manifest swap.
            assert answers_after_publishing() and not errors, errors
    finally:
        stop.set()
        reader.join(timeout=60)
    assert not errors, errors
    manifest = read_manifest(home / "collections" / "c")
    assert manifest is not None and manifest.generation == 4
