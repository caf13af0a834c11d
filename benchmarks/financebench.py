"""Retrieval on real financial filings: FinanceBench's evidence pages, one shared collection.

    python -m benchmarks.financebench --home /tmp/fb-home            # ingest (kept), then search
    python -m benchmarks.financebench --home /tmp/fb-home --k 5 --json
    RAG_DOCUMENT_CONTEXT=false python -m benchmarks.financebench --home /tmp/fb-nocontext

All 34 filings of `../shared/eval/financebench-dev` go into one collection (the dataset's hard
"shared store" setting). For each of the 68 questions the search returns k passages; a question
counts for **evidence-page recall@k** when one of them comes from the question's file and one of
its evidence pages, and for **file hit@k** when one comes from its file. The collection is kept
in `--home`, so a second run with the same settings only searches; `--reingest` starts over.
Settings come from the environment (`RAG_*`), so each part can be switched off for an ablation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from benchmarks.report import print_figures
from rag import RAG, Settings

FINANCEBENCH = Path(__file__).resolve().parents[2] / "shared" / "eval" / "financebench-dev"


def load_questions(dataset: Path) -> list[dict[str, Any]]:
    with open(dataset / "questions.jsonl", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score(
    rag: RAG, questions: list[dict[str, Any]], collection: str, k: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The figures, and one row per question (what was found where) for error analysis."""
    page_hits = file_hits = 0
    latencies: list[float] = []
    rows: list[dict[str, Any]] = []
    for question in questions:
        started = time.perf_counter()
        passages = rag.search(question["question"], k=k, collection=collection)
        latencies.append(time.perf_counter() - started)
        found = [(Path(p.path).name, p.page) for p in passages]
        in_file = [page for name, page in found if name == question["file"]]
        page_hit = any(page in question["evidence_pages"] for page in in_file)
        page_hits += page_hit
        file_hits += bool(in_file)
        rows.append(
            {
                "id": question["id"],
                "file": question["file"],
                "evidence_pages": question["evidence_pages"],
                "found": found,
                "page_hit": page_hit,
            }
        )
    count = len(questions)
    latencies.sort()
    figures = {
        "questions": count,
        f"evidence_page_recall@{k}": round(page_hits / count, 4),
        f"evidence_page_hits@{k}": page_hits,
        f"file_hit@{k}": round(file_hits / count, 4),
        f"file_hits@{k}": file_hits,
        "search_p50_ms": round(statistics.median(latencies) * 1000, 1),
    }
    return figures, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=FINANCEBENCH)
    parser.add_argument("--home", type=Path, required=True, help="kept between runs")
    parser.add_argument("--collection", default="financebench")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--reingest", action="store_true", help="delete the collection first")
    parser.add_argument("--rows", type=Path, help="write one JSON line per question here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    settings = Settings(home=args.home)
    questions = load_questions(args.dataset)
    result: dict[str, Any] = {}
    with RAG(settings=settings) as rag:
        rag.warm_up(llm=False)
        if args.reingest and args.collection in rag.collections():
            rag.delete_collection(args.collection)
        started = time.perf_counter()
        report = rag.ingest([args.dataset / "pdfs"], collection=args.collection)
        result["ingest_s"] = round(time.perf_counter() - started, 1)
        counts = report.to_dict()
        for key in ("ingested", "unchanged", "failed", "ocr_pages"):
            result[key] = counts[key]
        result["chunks"] = sum(doc.chunks for doc in rag.documents(args.collection))
        figures, rows = score(rag, questions, args.collection, args.k)
        result.update(figures)
    if args.rows:
        args.rows.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
