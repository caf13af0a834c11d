"""Robustness on real files of ~35 formats: what is ingested, what fails and why, per extension.

    python -m benchmarks.robustness          # ../shared/corpora/unstructured-example-docs
    python -m benchmarks.robustness --folder DIR --json
    python -m benchmarks.robustness --markdown   # the README's table

It runs `RAG.ingest` over the folder (parse workers, the default settings) into a throwaway
collection, then counts per extension the files ingested, failed (with their reasons) and
skipped, and how many failures were crashes, tracebacks or hangs: a parser that died
("the parser crashed"), raised something unexpected ("unexpected parser error") or overran
the time limit ("took longer than"). The target is zero of those three.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import print_figures
from rag import RAG, FileStatus, Settings

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "unstructured-example-docs"
_CRASH = ("the parser crashed", "the parser process exited")
_TRACEBACK = ("unexpected parser error",)
_HANG = ("took longer than",)


def extension(path: str) -> str:
    name = Path(path.split(" › ", maxsplit=1)[0]).name
    return Path(name).suffix.lower() or "(none)"


def run(folder: Path, sentences: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rag-robustness-") as tmp:
        settings = Settings(home=Path(tmp) / "home", sentence_vectors=sentences)
        with RAG(settings=settings) as rag:
            rag.warm_up(llm=False)
            started = time.perf_counter()
            report = rag.ingest([folder], collection="robustness")
            seconds = time.perf_counter() - started
    table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    reasons: list[tuple[str, str]] = []
    for outcome in report.files:
        table[extension(outcome.path)][str(outcome.status)] += 1
        if outcome.status == FileStatus.FAILED:
            reasons.append((Path(outcome.path).name, outcome.reason or ""))
    failed = [reason for _, reason in reasons]
    return {
        "files": len(report.files),
        "ingested": report.count(FileStatus.INGESTED),
        "failed": report.count(FileStatus.FAILED),
        "skipped": report.count(FileStatus.SKIPPED),
        "attachments": sum(f.attachments for f in report.files),
        "chunks": report.chunks,
        "ocr_pages": report.ocr_pages,
        "ocr_s": round(report.ocr_seconds, 1),
        "crashes": sum(any(m in r for m in _CRASH) for r in failed),
        "tracebacks": sum(any(m in r for m in _TRACEBACK) for r in failed),
        "hangs": sum(any(m in r for m in _HANG) for r in failed),
        "ingest_s": round(seconds, 1),
        "by_extension": {ext: dict(counts) for ext, counts in sorted(table.items())},
        "failures": reasons,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = ["| extension | ingested | failed | skipped |", "| --- | --- | --- | --- |"]
    for ext, counts in result["by_extension"].items():
        lines.append(
            f"| `{ext}` | {counts.get('ingested', 0)} | {counts.get('failed', 0)} | "
            f"{counts.get('skipped', 0)} |"
        )
    lines.append("")
    lines += [f"- `{name}`: {reason}" for name, reason in result["failures"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=CORPUS)
    parser.add_argument("--no-sentences", action="store_true", help="RAG_SENTENCE_VECTORS=false")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.folder, sentences=not args.no_sentences)
    if args.markdown:
        print(markdown(result))
        return
    if not args.json:
        result = {k: v for k, v in result.items() if k not in ("by_extension", "failures")}
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
