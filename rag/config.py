"""One typed settings object (RAG_* environment variables) for library, CLI and API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path(user_data_dir("localrag", appauthor=False))


class Settings(BaseSettings):
    """Every knob, with its environment variable `RAG_<NAME>`. Built once and passed down."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    home: Path = Field(
        default_factory=_default_home,
        description="Where collections (SQLite + FAISS files) live.",
    )
    collection: str = Field(default="default", description="Collection used when none is named.")
    embed_model: str | None = Field(
        default=None,
        description="Sentence-transformers model: a local folder or a hub id. "
        "Default: the packaged all-MiniLM-L6-v2.",
    )
    llm_model: str | None = Field(
        default=None,
        description="GGUF file path, or a hub id 'owner/repo' or 'owner/repo:file.gguf'. "
        "Default: the packaged SmolLM2-135M-Instruct Q4_1.",
    )
    llm_backend: Literal["llama-cpp", "transformers", "openai"] = Field(
        default="llama-cpp",
        description="What runs the LLM: llama-cpp-python (GGUF), transformers (safetensors "
        "folder or hub id), or 'openai' for any OpenAI-compatible server (llama-server, Ollama, "
        "LM Studio, vLLM) at RAG_LLM_BASE_URL.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server, e.g. http://localhost:8080/v1.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="Bearer key for that server, if it wants one."
    )
    allow_pickle: bool = Field(
        default=False,
        description="Allow pickle-based model checkpoints (.bin/.pt/.pth), which can run code "
        "when loaded. Only for models from a source you trust.",
    )
    prompt_formats_file: Path | None = Field(
        default=None,
        description="TOML file of extra prompt formats ([formats.NAME] tables); see README.",
    )
    rag_prompt_file: Path | None = Field(
        default=None,
        description="TOML file overriding the RAG prompt (system, passage, question, not_found) "
        "for every collection; a collection's own prompt.toml wins over it.",
    )
    chat_format: str | None = Field(
        default=None,
        description="Force a named prompt format (e.g. chatml, gemma, llama-3) instead of the "
        "template found in the model.",
    )
    chunk_tokens: int = Field(
        default=200,
        ge=16,
        description="Largest chunk, in embedding-model tokens; capped at what the model reads.",
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Passages retrieved per question.")
    search_mode: Literal["hybrid", "dense", "lexical"] = Field(
        default="hybrid", description="Dense (FAISS), lexical (FTS5 BM25), or both fused."
    )
    search_candidates: int = Field(
        default=100, ge=1, description="Chunks each retriever contributes before fusion."
    )
    fusion: Literal["rrf", "convex", "zscore"] = Field(
        default="convex",
        description="How hybrid search merges rankings: reciprocal-rank fusion, or a weighted "
        "sum of normalized scores (min-max 'convex' or standard-score 'zscore').",
    )
    rrf_k: float = Field(default=60.0, gt=0, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(default=0.3, ge=0, description="Weight of the dense ranking.")
    lexical_weight: float = Field(default=0.4, ge=0, description="Weight of the BM25 ranking.")
    sentence_weight: float = Field(
        default=0.3,
        ge=0,
        description="Weight of each candidate chunk's best sentence's similarity (hybrid search; "
        "needs sentence vectors, else it goes to the dense ranking).",
    )
    sentence_vectors: bool = Field(
        default=True,
        description="Also embed every sentence of a chunk at ingest (about twice the embedding "
        "time); hybrid search uses them to rank chunks. Off: faster ingest, weaker search.",
    )
    sentence_pooling: Literal["separate", "pooled"] = Field(
        default="separate",
        description="How sentence vectors are made: 'separate' embeds each sentence on its own; "
        "'pooled' averages the sentence's tokens from the chunk's own forward pass (nearly free; "
        "ONNX runtime only, torch embeds separately).",
    )
    section_weight: float = Field(
        default=0.25, ge=0, description="BM25 weight of section titles against chunk text."
    )
    document_context: bool = Field(
        default=True,
        description="Search each chunk together with a line naming its document (file name, "
        "title, entity and period found on its first pages), so chunks that say 'the Company' "
        "still match 'Apple'. Applies to files ingested while it is on.",
    )
    context_weight: float = Field(
        default=0.5, ge=0, description="BM25 weight of the document context line."
    )
    page_weight: float = Field(
        default=0.2,
        ge=0,
        description="Weight of each candidate's page in hybrid search, counted twice: the BM25 "
        "of the page's chunks summed, and the query's similarity to their mean vector (PDF, "
        "slides, sheets; unpaged text is unaffected). 0 turns it off.",
    )
    one_per_page: bool = Field(
        default=True,
        description="Return at most one passage per page (its best), so k results cover k "
        "pages instead of k slices of one table. Unpaged text is unaffected.",
    )
    rerank_model: str | None = Field(
        default=None,
        description="A sentence-transformers CrossEncoder (path or hub id) to rerank results.",
    )
    rerank_candidates: int = Field(default=30, ge=1, description="Fused results reranked.")
    mmr_lambda: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Maximal marginal relevance (1 = pure relevance) for more diverse passages.",
    )
    min_similarity: float = Field(
        default=0.2,
        ge=-1.0,
        le=1.0,
        description="If no passage is at least this similar (cosine) to the question, ask answers "
        "'not found in your documents' without calling the LLM.",
    )
    context_neighbours: int = Field(
        default=0,
        ge=0,
        le=5,
        description="Widen each passage given to the LLM by this many chunks before and after.",
    )
    context_min_relative_score: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Passages scoring below this fraction of the best passage's score are not "
        "given to the LLM: small models get distracted by unrelated text. 0 keeps all k.",
    )
    n_ctx: int = Field(
        default=4096,
        ge=512,
        description="Upper limit on the LLM context window; the model's own limit wins if smaller.",
    )
    max_answer_tokens: int = Field(default=256, ge=1, description="Longest generated answer.")
    answer_mode: Literal["auto", "generative", "extractive"] = Field(
        default="auto",
        description="Who writes the answer: the LLM ('generative'), or quotes of the passage "
        "sentences that best answer ('extractive': no LLM call). 'auto': extractive for local "
        "models under 1 GB (too small to read tables or long passages), generative otherwise.",
    )
    condense: Literal["auto", "history", "llm"] = Field(
        default="auto",
        description="How a follow-up question is searched: 'history' adds the latest earlier "
        "user turns to the search (no LLM call); 'llm' has the LLM rewrite it as a standalone "
        "question (falling back to 'history' on an empty or rambling rewrite). 'auto': 'history' "
        "for local models under 1 GB (as for RAG_ANSWER_MODE), 'llm' otherwise.",
    )
    check_answers: bool = Field(
        default=True,
        description="Check every sentence of a generated answer against the passages: figures "
        "and names no passage holds make it unsupported.",
    )
    unsupported_claims: Literal["flag", "remove"] = Field(
        default="flag",
        description="What becomes of an unsupported sentence: 'flag' marks it in the answer "
        "('[unsupported: 2.67%]'), 'remove' drops it. An answer with no supported sentence "
        "says that the documents do not answer.",
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    repeat_penalty: float = Field(
        default=1.1,
        ge=1.0,
        le=2.0,
        description="Penalty on repeated tokens; small models loop on one sentence without it.",
    )
    seed: int = Field(default=0, description="Sampling seed, for repeatable answers.")
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="CPU threads for generation (llama-cpp-python defaults to half the cores).",
    )
    n_gpu_layers: int = Field(
        default=-1, description="Layers offloaded to a GPU when llama.cpp was built with CUDA."
    )
    index_type: Literal["auto", "flat", "ivf"] = Field(
        default="auto",
        description="FAISS index: exact 'flat', approximate 'ivf', or 'auto' (IVF from "
        "RAG_IVF_MIN_VECTORS vectors on).",
    )
    ivf_min_vectors: int = Field(default=250_000, ge=10_000)
    ivf_nprobe: int = Field(default=32, ge=1, description="IVF lists searched per query.")
    keyword_index_min_chunks: int = Field(
        default=1_000,
        ge=0,
        description="From this many chunks on, keyword search runs on a tantivy index built "
        "and kept beside the store (FTS5 scores every matching row: 2 ms per query at 2,400 "
        "chunks, 0.4-2 s at a million); below it, on SQLite FTS5.",
    )
    shard_keyword_min_chunks: int = Field(
        default=100_000,
        ge=0,
        description="A sharded collection ranks keywords by each shard's own tantivy scores "
        "only when every shard holds this many chunks; smaller shards are searched on FTS5 "
        "and rescored with the whole collection's statistics.",
    )
    max_file_mb: float = Field(default=200.0, gt=0, description="Larger files are refused.")
    max_upload_files: int = Field(
        default=100, ge=1, description="Most files in one HTTP upload (one ingestion job)."
    )
    job_retention_days: float = Field(
        default=30,
        ge=0,
        description="Finished ingestion jobs older than this are forgotten when the server "
        "starts (the documents they ingested stay).",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="JSON file of hashed API keys (default: <home>/api_keys.json). With no "
        "keys, `rag serve` listens on localhost only.",
    )
    mcp_ingest_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders on this machine whose files MCP clients may ingest (`ingest` tool), "
        "as a JSON list; empty: the tool is refused.",
    )
    embed_batch_size: int = Field(default=64, ge=1, description="Texts per encode batch.")
    embed_runtime: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="What runs the embedding model: 'auto' (default): ONNX Runtime on a CPU-only "
        "machine for a local model folder, torch on a CUDA GPU or for a hub id; 'onnx': ONNX "
        "Runtime (int8 weights in blocks of 128, exported once from the local model folder into "
        "RAG_MODEL_CACHE: about 1.9x torch's embedding speed on CPU, SciFact test nDCG@10 0.7414 "
        "as with torch); 'torch': sentence-transformers. Vectors of both are at cosine 0.999, so "
        "collections need no re-embedding.",
    )
    model_cache: Path = Field(
        default_factory=lambda: Path(user_cache_dir("localrag", appauthor=False)),
        description="Where models converted for a runtime (the ONNX export) are kept.",
    )
    ingest_batch_chunks: int = Field(
        default=1024,
        ge=1,
        description="Chunks embedded together during ingest: larger batches pad less (they are "
        "sorted by length) but commit less often.",
    )
    ocr: bool = Field(
        default=True,
        description="Read pages without a text layer (scans) and images by OCR (RapidOCR, "
        "offline). Off: such pages are skipped and image files fail.",
    )
    table_rows: bool = Field(
        default=True,
        description="Write tables as one line per row, every value beside its row label and "
        "column headers. Off: the cells' text in reading order, as flattening parsers give it.",
    )
    parse_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds a parse worker may spend on one file before it is stopped and the "
        "file fails (runs of 8 files or more, which parse in worker processes).",
    )
    parse_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=0,
        description="Processes that parse files in parallel with embedding (0: parse in-process). "
        "Used for runs of 8 files or more.",
    )

    shards: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Shards of a new collection ingested with --ray (each its own SQLite and "
        "FAISS file, searched together); --shards overrides it. Existing collections keep "
        "theirs.",
    )
    ray_object_store_mb: int = Field(
        default=500,
        ge=75,
        description="Object store memory of a local Ray started by `rag ingest --ray` (MB); "
        "Ray's own default is 30 % of RAM.",
    )

    ray_batch_files: int = Field(
        default=64,
        ge=1,
        description="Files per embedding call on Ray (their chunks embedded together); a "
        "batch's files are written when it comes back.",
    )
    ray_shard_writers: bool = Field(
        default=True,
        description="On Ray, write each shard copy in a process of its own on the driver's "
        "node (rag/shards/writers.py); false: the driver writes every shard itself.",
    )

    @property
    def onnx_cache(self) -> Path:
        """Where the ONNX exports of embedding models are kept: one place under RAG_MODEL_CACHE
        for the library, the tests and the benchmarks."""
        return self.model_cache / "onnx"
