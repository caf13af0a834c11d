"""Parse workers: real processes that crash, hang and lose their parent, and an unguarded
library script that ingests through them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.workers import TaskFailure, WorkerPool
from tests import worker_tasks

ROOT = Path(__file__).resolve().parents[1]


def _failed(item: int, failure: TaskFailure) -> str:
    return f"{item} failed: {failure.reason}"


def test_results_come_back_in_order() -> None:
    with WorkerPool[int, int](2, 60, lambda i, f: -1) as pool:
        assert list(pool.map(worker_tasks.double, range(10))) == [i * 2 for i in range(10)]


def test_a_crashing_worker_fails_only_its_task() -> None:
    with WorkerPool[int, object](2, 60, _failed) as pool:
        results = list(pool.map(worker_tasks.crash_on_odd, [2, 3, 4, 5, 6]))
    assert results[0] == 4 and results[2] == 8 and results[4] == 12
    assert results[1] == "3 failed: the parser crashed (SIGSEGV)"
    assert results[3] == "5 failed: the parser crashed (SIGSEGV)"


def test_a_task_over_the_time_limit_is_stopped_and_the_rest_go_on() -> None:
    started = time.monotonic()
    with WorkerPool[int, object](1, 3, _failed) as pool:
        results = list(pool.map(worker_tasks.sleep_then_double, [60, 0, 1]))
    assert (
        results[0] == "60 failed: parsing took longer than 3 s and was stopped (RAG_PARSE_TIMEOUT)"
    )
    assert results[1:] == [0, 2]
    assert time.monotonic() - started < 30


def test_workers_do_not_outlive_a_killed_parent(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, threading, time
            from ingest.workers import WorkerPool
            from tests import worker_tasks

            pool = WorkerPool(2, 600, lambda i, f: None)
            pids = list(pool.map(worker_tasks.worker_pid, [0, 0, 0, 0]))
            print(" ".join(map(str, sorted(set(pids)))), flush=True)
            threading.Thread(
                target=lambda: list(pool.map(worker_tasks.sleep_then_double, [600, 600])),
                daemon=True,
            ).start()
            time.sleep(600)
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert parent.stdout is not None
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert workers and all(_alive(pid) for pid in workers)
    time.sleep(1)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "python -c"])
def test_an_unguarded_library_script_ingests_through_workers(tmp_path: Path, how: str) -> None:
    """The README's library example, as a plain script with no __main__ guard, on 9 files."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for number in range(9):
        (folder / f"note-{number}.txt").write_text(f"Note {number}: the vault code is {number}77.")
    code = textwrap.dedent(
        f"""
        from rag import RAG, Settings

        with RAG(settings=Settings(home={str(tmp_path / "home")!r}, parse_workers=2)) as rag:
            report = rag.ingest([{str(folder)!r}], collection="notes")
            print("ingested", len([f for f in report.files if f.status == "ingested"]))
            print("failed", len(report.failed))
            print(rag.search("vault code 577", k=1, collection="notes")[0].path)
        """
    )
    if how == "script":
        script = tmp_path / "ingest_notes.py"
        script.write_text(code)
        command = [sys.executable, str(script)]
    else:
        command = [sys.executable, "-c", code]
    done = subprocess.run(
        command,
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "ingested 9"
    assert lines[1] == "failed 0"
    assert lines[2].endswith("note-5.txt")
