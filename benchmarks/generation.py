"""Generation speed of `RAG.ask` against raw llama-cpp-python on the same model and prompt.

    python -m benchmarks.generation                  # packaged SmolLM2, 8 SciFact questions
    python -m benchmarks.generation --model gemma.gguf --questions 4 --json

SciFact abstracts are ingested into a throwaway collection; for each test question, `RAG.stream`
retrieves, fits and renders the prompt, and generates; then a separately loaded `llama_cpp.Llama`
(same file, context, threads and sampling) generates from exactly that rendered prompt. Runs
alternate so machine noise hits both alike. Printed: time to first token (for RAG including
retrieval and prompt fitting), decode tokens/s, and the ratios RAG/raw. Target: >= 0.95.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.report import print_figures
from rag import RAG, Settings
from rag.answer.markup import ANSWER_STOPS
from rag.evaluate import read_qrels, read_queries, write_corpus_records
from rag.llm.llama_cpp_backend import LlamaCppGenerator
from rag.llm.model_paths import default_llm_model

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "scifact"


def _decode_rate(tokens: int, first: float, end: float) -> float:
    return (tokens - 1) / (end - first) if tokens > 1 and end > first else 0.0


def time_rag(rag: RAG, question: str) -> tuple[dict[str, float], str]:
    generator = rag.generator
    assert isinstance(generator, LlamaCppGenerator)
    generator._loaded().reset()  # no KV-cache reuse from an earlier run of the same prompt
    started = time.perf_counter()
    stream = rag.stream(question)  # retrieval and prompt fitting; generation starts on reading
    prepared = time.perf_counter()
    first = end = 0.0
    pieces: list[str] = []
    for piece in stream:
        if not pieces:
            first = time.perf_counter()
        pieces.append(piece)
    end = time.perf_counter()
    assert stream.prompt is not None, "nothing relevant was found: pick another question"
    prompt = generator.render(stream.prompt.messages)
    tokens = generator.count_tokens("".join(pieces))
    return {
        "ttft_ms": (first - started) * 1000,
        "generation_ttft_ms": (first - prepared) * 1000,
        "tokens": tokens,
        "tokens_per_s": _decode_rate(tokens, first, end),
    }, prompt


def time_raw(
    llama: Any, generator: LlamaCppGenerator, prompt: str, settings: Settings
) -> dict[str, float]:
    llama.reset()
    started = time.perf_counter()
    first = 0.0
    pieces: list[str] = []
    for chunk in llama.create_completion(
        prompt=generator.tokenize(prompt),
        max_tokens=settings.max_answer_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        repeat_penalty=settings.repeat_penalty,
        seed=settings.seed,
        stop=[*generator.prompt_format.stop, *ANSWER_STOPS],
        stream=True,
    ):
        text = chunk["choices"][0]["text"]
        if text:
            if not pieces:
                first = time.perf_counter()
            pieces.append(text)
    end = time.perf_counter()
    tokens = generator.count_tokens("".join(pieces))
    return {
        "ttft_ms": (first - started) * 1000,
        "tokens": tokens,
        "tokens_per_s": _decode_rate(tokens, first, end),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF file (default: packaged SmolLM2)")
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="Alternating runs per question.")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--corpus-limit", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from llama_cpp import Llama

    model = args.model or default_llm_model()
    qrels = read_qrels(SCIFACT, "test")
    queries = list(read_queries(SCIFACT, set(qrels)).values())
    with tempfile.TemporaryDirectory(prefix="rag-bench-gen-") as tmp:
        # Generative: this measures the LLM path ("auto" would quote SmolLM2-sized models).
        settings = Settings(
            home=Path(tmp),
            llm_model=model,
            max_answer_tokens=args.max_tokens,
            min_similarity=-1.0,
            answer_mode="generative",
        )
        records = Path(tmp) / "corpus.jsonl"
        write_corpus_records(SCIFACT / "corpus.jsonl", records, args.corpus_limit)
        with RAG(settings=settings) as rag:
            rag.ingest_jsonl(records)
            rag.warm_up()
            generator = rag.generator
            assert isinstance(generator, LlamaCppGenerator)
            raw = Llama(
                model_path=model,
                n_ctx=generator.context_size,
                n_threads=settings.n_threads,
                n_threads_batch=settings.n_threads,
                n_gpu_layers=settings.n_gpu_layers,
                verbose=False,
            )
            rag_runs: list[dict[str, float]] = []
            raw_runs: list[dict[str, float]] = []
            for question in queries[: args.questions]:
                for round_ in range(args.rounds):
                    if round_ % 2 == 0:
                        measured, prompt = time_rag(rag, question)
                        rag_runs.append(measured)
                        raw_runs.append(time_raw(raw, generator, prompt, settings))
                    else:
                        _, prompt = time_rag(rag, question)  # prompt only; timed below
                        raw_runs.append(time_raw(raw, generator, prompt, settings))
                        rag_runs.append(time_rag(rag, question)[0])

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    result: dict[str, Any] = {
        "model": Path(model).name,
        "threads": settings.n_threads,
        "runs": len(rag_runs),
        "rag_ttft_ms": round(median(rag_runs, "ttft_ms"), 1),
        "rag_generation_ttft_ms": round(median(rag_runs, "generation_ttft_ms"), 1),
        "raw_ttft_ms": round(median(raw_runs, "ttft_ms"), 1),
        "rag_tokens_per_s": round(median(rag_runs, "tokens_per_s"), 2),
        "raw_tokens_per_s": round(median(raw_runs, "tokens_per_s"), 2),
        "median_tokens": median(rag_runs, "tokens"),
    }
    result["tokens_per_s_ratio"] = round(result["rag_tokens_per_s"] / result["raw_tokens_per_s"], 3)
    # Ratios as speed relative to raw (1.0 = as fast): end to end, and generation alone.
    result["ttft_ratio"] = round(result["raw_ttft_ms"] / result["rag_ttft_ms"], 3)
    result["generation_ttft_ratio"] = round(
        result["raw_ttft_ms"] / result["rag_generation_ttft_ms"], 3
    )
    print_figures(result, args.json)


if __name__ == "__main__":
    main()
