"""The reader: do answers hold the reference, say "not found" when they should, invent nothing?

    python -m benchmarks.answers --home /tmp/answers                 # both datasets, both modes
    python -m benchmarks.answers --home /tmp/answers --dataset squad2 --modes extractive --json
    python -m benchmarks.answers --home /tmp/fb-home --dataset financebench   # reuse an ingest

**squad2-dev** (250 questions, half unanswerable from their passage): every passage goes into
one collection and each question is asked with a filter to its own passage, so the reader sees
the gold passage and nothing else (the README's reading setting, through the whole `ask` path).
Figures for the tuning half (even lines, on which the evidence settings were chosen) and the
held-out half (odd lines) apart: an acceptable span in the answer or its quoted evidence (for
answerable questions, with the answer not "not found"); "not found" for unanswerable ones.

**financebench-dev** (68 questions, 34 filings in one shared collection, `--home` reused like
`benchmarks.financebench`): the reference figure in the answer or its evidence, among all
questions and among those whose evidence page was among the sources.

For every answer: figures shown unflagged that no passage holds (re-checked from the shown
text, independently of the claims), the share of checked claims supported, seconds per answer,
and the share of answer time spent checking.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

from benchmarks.financebench import FINANCEBENCH, load_questions
from benchmarks.report import print_figures
from index.filters import SearchFilter
from rag import RAG, Settings
from rag.answer.evidence import document_words
from rag.answer.facts import figure_supported, figures
from rag.jsonable import to_jsonable
from rag.types import Answer, Verdict

SQUAD2 = FINANCEBENCH.parent / "squad2-dev"
Mode = Literal["generative", "extractive"]
_MARKER = re.compile(r"\[unsupported[^\]]*\]")


def unflagged_unsupported(answer: Answer, question: str) -> list[str]:
    """Figures in the shown answer that neither the question nor any source passage (with its
    document's words) holds, leaving out sentences shown with an `[unsupported…]` marker."""
    shown = answer.answer
    for claim in answer.claims:
        if claim.verdict == Verdict.UNSUPPORTED:
            flagged = re.escape(claim.text) + r"\s*" + _MARKER.pattern
            shown = re.sub(flagged, " ", shown)
    shown = _MARKER.sub(" ", shown)
    passages = [s.passage for s in answer.sources]
    known = figures(
        "\n".join([question, *(p.text for p in passages), *(document_words(p) for p in passages)])
    )
    return [f.text for f in figures(shown) if not figure_supported(f, known)]


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w%.$ ]+", " ", text.lower()).split())


def _says_not_found(answer: Answer, not_found: str) -> bool:
    return answer.grounding == "not_found" or answer.answer.strip() == not_found.strip()


def _per_answer(answers: Sequence[tuple[Answer, float, str]]) -> dict[str, Any]:
    claims = [c for a, _, _ in answers for c in a.claims if c.verdict != Verdict.NO_CLAIM]
    supported = sum(c.verdict == Verdict.SUPPORTED for c in claims)
    with_unsupported = sum(any(c.unsupported for c in a.claims) for a, _, _ in answers)
    unflagged = sum(bool(unflagged_unsupported(a, q)) for a, _, q in answers)
    seconds = [s for _, s, _ in answers]
    check_share = [(a.timings.check_ms or 0.0) / 1000 / s for a, s, _ in answers if s > 0]
    return {
        "answers_with_unsupported_figure": with_unsupported,
        "unsupported_figures_shown_unflagged": unflagged,
        "claims_supported_share": round(supported / len(claims), 3) if claims else None,
        "seconds_per_answer": round(statistics.mean(seconds), 3) if seconds else None,
        "check_share_of_answer_time": round(statistics.mean(check_share), 3)
        if check_share
        else None,
    }


def _timed(ask: Callable[[], Answer]) -> tuple[Answer, float]:
    started = time.perf_counter()
    answer = ask()
    return answer, time.perf_counter() - started


def _row(answer: Answer, question: str, **extra: Any) -> dict[str, Any]:
    """One answer for error analysis (`--rows`)."""
    return {
        "question": question,
        "answer": answer.answer,
        "grounding": answer.grounding,
        "unflagged": unflagged_unsupported(answer, question),
        "evidence": [e.text for e in answer.evidence],
        "claims": to_jsonable(answer.claims),
        **extra,
    }


def squad2(
    rag: RAG, mode: Mode, rows: list[dict[str, Any]], log: list[dict[str, Any]]
) -> Iterator[tuple[str, Any]]:
    collection = "squad2"
    if collection not in rag.collections():
        records = Path(rag.settings.home) / "squad2.jsonl"
        records.parent.mkdir(parents=True, exist_ok=True)
        records.write_text(
            "".join(
                json.dumps({"id": f"p{i}", "text": row["context"]}) + "\n"
                for i, row in enumerate(rows)
            )
        )
        rag.ingest_jsonl(records, collection=collection)
    not_found = rag.rag_prompt(collection).not_found
    halves = {"tune": rows[0::2], "heldout": rows[1::2]}
    indexes = {"tune": range(0, len(rows), 2), "heldout": range(1, len(rows), 2)}
    for half, part in halves.items():
        answered: list[tuple[Answer, float, str]] = []
        span = found_nothing = answerable = impossible = 0
        for index, row in zip(indexes[half], part, strict=True):
            where = SearchFilter(path_glob=f"record:p{index}")
            answer, seconds = _timed(
                partial(rag.ask, row["question"], collection=collection, where=where, mode=mode)
            )
            answered.append((answer, seconds, row["question"]))
            log.append(
                _row(answer, row["question"], dataset="squad2", mode=mode, gold=row["answers"])
            )
            said_nothing = _says_not_found(answer, not_found)
            if row["is_impossible"]:
                impossible += 1
                found_nothing += said_nothing
                continue
            answerable += 1
            shown = _normal(answer.answer + " " + " ".join(e.text for e in answer.evidence))
            span += not said_nothing and any(_normal(a) in shown for a in row["answers"])
        yield f"squad2_{half}_answerable_span", f"{span}/{answerable} = {span / answerable:.3f}"
        yield (
            f"squad2_{half}_unanswerable_not_found",
            f"{found_nothing}/{impossible} = {found_nothing / impossible:.3f}",
        )
        for key, value in _per_answer(answered).items():
            yield f"squad2_{half}_{key}", value


def financebench(
    rag: RAG,
    mode: Mode,
    questions: list[dict[str, Any]],
    dataset: Path,
    log: list[dict[str, Any]],
) -> Iterator[tuple[str, Any]]:
    collection = "financebench"
    rag.ingest([dataset / "pdfs"], collection=collection)
    answered: list[tuple[Answer, float, str]] = []
    with_figure = hits = retrieved = hits_retrieved = 0
    for question in questions:
        answer, seconds = _timed(
            partial(rag.ask, question["question"], collection=collection, mode=mode)
        )
        answered.append((answer, seconds, question["question"]))
        reference_answer = question["answer"]
        log.append(
            _row(
                answer,
                question["question"],
                dataset="financebench",
                mode=mode,
                gold=reference_answer,
            )
        )
        reference = [f for f in figures(question["answer"]) if not 1900 <= f.value <= 2100]
        if not reference:
            continue
        with_figure += 1
        shown = figures(answer.answer + "\n" + "\n".join(e.text for e in answer.evidence))
        hit = any(figure_supported(f, shown) for f in reference)
        page_found = any(
            Path(s.passage.path).name == question["file"]
            and s.passage.page in question["evidence_pages"]
            for s in answer.sources
        )
        hits += hit
        retrieved += page_found
        hits_retrieved += hit and page_found
    yield "financebench_questions_with_reference_figure", with_figure
    yield "financebench_reference_figure_shown", f"{hits}/{with_figure}"
    yield "financebench_evidence_page_in_sources", retrieved
    yield (
        "financebench_figure_shown_when_page_retrieved",
        f"{hits_retrieved}/{retrieved} = {hits_retrieved / max(retrieved, 1):.3f}",
    )
    for key, value in _per_answer(answered).items():
        yield f"financebench_{key}", value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="collections kept here")
    parser.add_argument("--dataset", choices=["squad2", "financebench", "both"], default="both")
    parser.add_argument("--modes", nargs="+", default=["extractive", "generative"])
    parser.add_argument("--limit", type=int, help="first N questions of each dataset")
    parser.add_argument("--rows", type=Path, help="write one JSON line per answer here")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    result: dict[str, Any] = {}
    log: list[dict[str, Any]] = []
    with RAG(settings=Settings(home=args.home)) as rag:
        rag.warm_up(llm="generative" in args.modes)
        result["llm"] = Path(rag.generator.name).name
        for mode in args.modes:
            if args.dataset in {"squad2", "both"}:
                rows = load_questions(SQUAD2)[: args.limit]
                for key, value in squad2(rag, mode, rows, log):
                    result[f"{mode}.{key}"] = value
            if args.dataset in {"financebench", "both"}:
                questions = load_questions(FINANCEBENCH)[: args.limit]
                for key, value in financebench(rag, mode, questions, FINANCEBENCH, log):
                    result[f"{mode}.{key}"] = value
    if args.rows:
        args.rows.write_text("".join(json.dumps(row) + "\n" for row in log))
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
