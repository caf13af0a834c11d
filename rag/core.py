"""The library facade every caller uses: `RAG(home).ingest(...)`, `.search(...)`, `.ask(...)`.

The CLI and the HTTP API are thin layers over this class. Models load on first use, or up
front with `warm_up()`, and are shared by every collection.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from index.filters import SearchFilter
from index.store import DocumentRecord, stored_document_count
from ingest.embed import Embedder
from ingest.embed_runtime import make_embedder
from ingest.onnx_embed import OnnxEmbedder
from rag.answer.budget import fit_prompt
from rag.answer.context import ContextPolicy, answer_context, neighbours
from rag.answer.conversation import (
    Condense,
    SearchContext,
    checked_history,
    condensed_context,
    history_context,
)
from rag.answer.markup import ANSWER_STOPS
from rag.answer.stream import AnswerCheck, AnswerStream
from rag.collection import (
    STORE_FILE,
    CheckReport,
    Collection,
    IndexPolicy,
    collection_lock,
    validate_name,
)
from rag.config import Settings
from rag.errors import (
    CollectionNotFound,
    DocumentNotFound,
    InvalidRequest,
    ModelNotFound,
    RagError,
)
from rag.ingestion.on_ray import EmbedSpec, RayOptions, ingest_on_ray
from rag.ingestion.pipeline import (
    IngestOptions,
    Progress,
    Source,
    ingest_paths,
    ingest_records,
    read_jsonl,
    source_for,
)
from rag.llm.factory import make_generator, resolve_answer_mode
from rag.llm.model_paths import default_embed_model
from rag.llm.protocol import Generator, SamplingOptions
from rag.prompts.chat_formats import Message
from rag.prompts.rag_template import PROMPT_FILE_NAME, RagPrompt, prompt_for
from rag.runtime import configure_process
from rag.search.options import SearchMode, SearchOptions, check_query
from rag.search.query_batch import QueryBatcher
from rag.search.rerank import CrossEncoderReranker, Reranker
from rag.search.retrieve import search
from rag.shards.layout import is_sharded, read_manifest, shard_folder
from rag.shards.run import ShardRun, wants_shard_run
from rag.shards.sharded import AnyCollection, ShardedCollection
from rag.types import Answer, DocumentInfo, IngestReport, Passage


class RAG:
    """Question answering over the documents in one data folder (`home`).

    Usage (see the README for more)::

        rag = RAG("~/rag-data")
        rag.ingest(["contracts/"])
        print(rag.ask("When does the lease end?").answer)
    """

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
    ) -> None:
        base = settings or Settings()
        self.settings = base.model_copy(update={"home": Path(home).expanduser()}) if home else base
        s = self.settings
        configure_process(
            [s.embed_model, s.llm_model, s.rerank_model]
            if s.llm_backend != "openai"
            else [s.embed_model, s.rerank_model]
        )
        self._embedder = embedder
        self._query_embedder: QueryBatcher | None = None
        self._generator = generator
        self._reranker: Reranker | None = None
        self._answer_mode: Literal["generative", "extractive"] | None = None
        self._collections: dict[str, AnyCollection] = {}
        self._lock = threading.RLock()

    # -- models ---------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                model = self.settings.embed_model or default_embed_model()
                s = self.settings
                self._embedder = make_embedder(
                    model, s.embed_runtime, s.onnx_cache, batch_size=s.embed_batch_size
                )
            return self._embedder

    @property
    def query_embedder(self) -> QueryBatcher:
        """The embedder as searches use it: concurrent searches' queries through one model
        call at a time. On ONNX Runtime (CPU) a session of its own, one thread, one text a
        call (`OnnxEmbedder.for_queries`); on torch (a GPU) queued queries share calls."""
        with self._lock:
            if self._query_embedder is None:
                embedder = self.embedder
                if isinstance(embedder, OnnxEmbedder):
                    self._query_embedder = QueryBatcher(embedder.for_queries(), group_texts=1)
                else:
                    self._query_embedder = QueryBatcher(embedder)
            return self._query_embedder

    @property
    def generator(self) -> Generator:
        with self._lock:
            if self._generator is None:
                self._generator = make_generator(self.settings)
            return self._generator

    def warm_up(self, llm: bool = True) -> None:
        """Load the models now instead of on the first request."""
        _ = self._embedder_dimension()
        self.query_embedder.embed(["warm up"])
        if self.reranker is not None:
            self.reranker.warm_up()
        if llm:
            self.generator.warm_up()

    def _embedder_dimension(self) -> int:
        try:
            return self.embedder.dimension
        except RagError:
            raise
        except Exception as exc:
            raise ModelNotFound(
                f"could not load embedding model {self.embedder.name!r}: {exc}"
            ) from exc

    # -- collections ----------------------------------------------------------------------

    def _collections_root(self) -> Path:
        return self.settings.home / "collections"

    def collections(self) -> list[str]:
        root = self._collections_root()
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / STORE_FILE).exists() or is_sharded(p))

    def collection_name(self, name: str | None = None) -> str:
        """The collection a call means: `name` checked, or the configured default."""
        return validate_name(name or self.settings.collection)

    def collection_sizes(self) -> dict[str, int]:
        """Documents per collection, read from SQLite alone (no vector index is loaded)."""
        return {
            name: sum(stored_document_count(store) for store in self._stores(name))
            for name in self.collections()
        }

    def collection_shards(self) -> dict[str, int]:
        """Shards per collection (1 for a collection kept in one store)."""
        return {name: len(self._stores(name)) for name in self.collections()}

    def _stores(self, name: str) -> list[Path]:
        """The SQLite files holding a collection: its one store, or its published shards'."""
        folder = self._collections_root() / name
        manifest = read_manifest(folder)
        if manifest is None:
            return [folder / STORE_FILE]
        return [shard_folder(folder, shard) / STORE_FILE for shard in manifest.shards]

    def create_collection(self, name: str, *, exist_ok: bool = False) -> str:
        """Make an empty collection (InvalidRequest when it exists, unless `exist_ok`)."""
        name = self.collection_name(name)
        if not exist_ok and name in self.collections():
            raise InvalidRequest(f"collection {name!r} exists already")
        self.collection(name, create=True)
        return name

    def collection(self, name: str | None = None, *, create: bool = False) -> AnyCollection:
        """The open collection (models loaded to check it); the API and CLI go through the
        methods above and below instead of using it directly."""
        name = self.collection_name(name)
        with self._lock:
            if name in self._collections:
                return self._collections[name]
            folder = self._collections_root() / name
            s = self.settings
            policy = IndexPolicy.from_settings(s)
            if is_sharded(folder):
                sharded = ShardedCollection(
                    name, folder, self.embedder.name, self._embedder_dimension(), policy
                )
                self._collections[name] = sharded
                return sharded
            if not create and not (folder / STORE_FILE).exists():
                raise CollectionNotFound(
                    f"no collection named {name!r}: ingest documents into it first "
                    f"(rag ingest PATH --collection {name})"
                )
            folder.mkdir(parents=True, exist_ok=True)
            opened = Collection(
                name, folder, self.embedder.name, self._embedder_dimension(), policy
            )
            self._collections[name] = opened
            return opened

    def rag_prompt(self, collection: str | None = None) -> RagPrompt:
        """The RAG prompt a collection uses: defaults < RAG_RAG_PROMPT_FILE < its prompt.toml."""
        folder = self._collections_root() / self.collection_name(collection)
        return prompt_for(self.settings.rag_prompt_file, folder)

    def set_rag_prompt(self, source: Path | None, collection: str | None = None) -> RagPrompt:
        """Give a collection its own RAG prompt from a TOML file (validated first), or with
        `source=None` go back to the shared one."""
        folder = self.collection(collection).folder
        target = folder / PROMPT_FILE_NAME
        if source is None:
            target.unlink(missing_ok=True)
        else:
            RagPrompt().overridden_by(source.expanduser())
            staged = target.with_suffix(".tmp")
            staged.write_text(source.expanduser().read_text(encoding="utf-8"), encoding="utf-8")
            staged.replace(target)
        return self.rag_prompt(collection)

    def delete_collection(self, name: str) -> None:
        name = self.collection_name(name)
        with self._lock:
            opened = self._collections.pop(name, None)
            if opened is not None:
                opened.close()
            folder = self._collections_root() / name
            if not folder.exists():
                raise CollectionNotFound(f"no collection named {name!r}")
            shutil.rmtree(folder)

    def close(self) -> None:
        with self._lock:
            for opened in self._collections.values():
                opened.close()
            self._collections.clear()

    def __enter__(self) -> RAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- documents ------------------------------------------------------------------------

    def _ingest_options(self, prune: bool = False) -> IngestOptions:
        s = self.settings
        return IngestOptions(
            chunk_tokens=s.chunk_tokens,
            max_file_bytes=int(s.max_file_mb * 1e6),
            parse_workers=s.parse_workers,
            embed_batch_chunks=s.ingest_batch_chunks,
            sentence_vectors=s.sentence_vectors,
            sentence_pooling=s.sentence_pooling,
            prune=prune,
            ocr=s.ocr,
            table_rows=s.table_rows,
            parse_timeout_s=s.parse_timeout,
            document_context=s.document_context,
        )

    def ingest(
        self,
        paths: Iterable[str | Path],
        collection: str | None = None,
        progress: Progress | None = None,
        prune: bool = False,
        *,
        ray: bool | str = False,
        shards: int | None = None,
    ) -> IngestReport:
        """Add files and folders (recursively). Unchanged files are skipped; bad ones reported.

        A path may be an object store location given as a string (`"s3://bucket/prefix"`,
        connection settings in its query: `ingest.remote`). With `prune`, documents under
        `paths` whose files are gone are deleted. With `ray` (True: a local Ray started for the
        run; a string: the cluster's address) parsing and embedding run on Ray. With `shards`
        (or `ray`, or into a collection that has shards) the collection is written as shards
        and published when the run ends (rag/shards).
        """
        name = self.collection_name(collection)
        folder = self._collections_root() / name
        sources = [source_for(p) for p in paths]
        if wants_shard_run(folder, shards, bool(ray)):
            return self._ingest_shards(name, folder, sources, progress, prune, ray, shards)
        target = self.collection(collection, create=True)
        with target.writing():
            try:
                return ingest_paths(
                    target,
                    self.embedder,
                    sources,
                    self._ingest_options(prune),
                    progress,
                )
            finally:
                target.flush()

    def _ingest_shards(
        self,
        name: str,
        folder: Path,
        paths: list[Source],
        progress: Progress | None,
        prune: bool,
        ray: bool | str,
        shards: int | None,
    ) -> IngestReport:
        """One run into a sharded collection: written to copies of the shards it changes,
        published at the end (see rag/shards/run.py)."""
        s = self.settings
        options = self._ingest_options(prune)
        with collection_lock(folder, name):
            run = ShardRun(
                name,
                folder,
                shards,
                s.shards,
                self.embedder.name,
                self._embedder_dimension(),
                IndexPolicy.from_settings(s),
            )
            try:
                if ray:
                    spec = EmbedSpec(
                        s.embed_model or default_embed_model(),
                        s.embed_runtime,
                        s.onnx_cache,
                        s.embed_batch_size,
                        s.sentence_vectors,
                        s.sentence_pooling == "pooled",
                    )
                    where = RayOptions(
                        address=ray if isinstance(ray, str) else None,
                        object_store_bytes=s.ray_object_store_mb * 1_000_000,
                        batch_files=s.ray_batch_files,
                        shard_writers=s.ray_shard_writers,
                    )
                    report = ingest_on_ray(
                        run, self.embedder, paths, options, spec, where, progress
                    )
                else:
                    report = ingest_paths(run, self.embedder, paths, options, progress)
                run.publish()
            finally:
                run.close()
        return report

    def ingest_jsonl(
        self, path: str | Path, collection: str | None = None, progress: Progress | None = None
    ) -> IngestReport:
        """Bulk-load records, one `{"id", "text", "metadata"}` JSON object per line."""
        target = self.collection(collection, create=True)
        with target.writing():
            try:
                return ingest_records(
                    target,
                    self.embedder,
                    read_jsonl(Path(path).expanduser()),
                    self._ingest_options(),
                    progress,
                )
            finally:
                target.flush()

    def check(self, collection: str | None = None, repair: bool = False) -> CheckReport:
        """Verify that the saved vector index holds exactly the chunks SQLite holds."""
        target = self.collection(collection)
        if not repair:
            return target.check()
        with target.writing():
            return target.check(repair=True)

    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        return [_document_info(d) for d in self.collection(collection).documents()]

    def document(self, document_id: str, collection: str | None = None) -> DocumentInfo:
        target = self.collection(collection)
        record = target.document(document_id)
        if record is None:
            raise DocumentNotFound(
                f"no document with id {document_id!r} in collection {target.name!r}"
            )
        return _document_info(record)

    def document_text(self, document_id: str, collection: str | None = None) -> str:
        """A document's text as its chunks were stored, in order, a blank line apart."""
        self.document(document_id, collection)  # DocumentNotFound when there is none
        chunks = self.collection(collection).document_chunks(document_id)
        return "\n\n".join(chunk.text for chunk in chunks)

    def delete_document(self, document_id: str, collection: str | None = None) -> None:
        target = self.collection(collection)
        with target.writing():
            if not target.delete_document(document_id):
                raise DocumentNotFound(f"no document with id {document_id!r}")

    def chunks_without_sentence_vectors(self, collection: str | None = None) -> int:
        """How many chunks `add_sentence_vectors` would fill."""
        return self.collection(collection).count_chunks_without_sentences()

    def add_sentence_vectors(
        self, collection: str | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Give chunks stored without sentence vectors their sentence vectors (a collection
        ingested before they existed, or with RAG_SENTENCE_VECTORS=false); returns how many."""
        target = self.collection(collection)
        with target.writing():
            return target.add_missing_sentence_vectors(self.embedder, progress=progress)

    # -- questions ------------------------------------------------------------------------

    def search_options(
        self,
        k: int | None = None,
        *,
        mode: SearchMode | None = None,
        group_by_document: bool = False,
        where: SearchFilter | None = None,
    ) -> SearchOptions:
        """The search settings for one call: configured defaults plus per-call choices."""
        s = self.settings
        return SearchOptions(
            k=k or s.top_k,
            mode=mode or s.search_mode,
            candidates=s.search_candidates,
            fusion=s.fusion,
            rrf_k=s.rrf_k,
            dense_weight=s.dense_weight,
            lexical_weight=s.lexical_weight,
            sentence_weight=s.sentence_weight,
            section_weight=s.section_weight,
            context_weight=s.context_weight,
            rerank_candidates=s.rerank_candidates,
            page_weight=s.page_weight,
            one_per_page=s.one_per_page,
            mmr_lambda=s.mmr_lambda,
            group_by_document=group_by_document,
            where=where or SearchFilter(),
        )

    @property
    def reranker(self) -> Reranker | None:
        with self._lock:
            if self._reranker is None and self.settings.rerank_model:
                self._reranker = CrossEncoderReranker(self.settings.rerank_model)
            return self._reranker

    def search(
        self,
        query: str,
        k: int | None = None,
        collection: str | None = None,
        *,
        mode: SearchMode | None = None,
        group_by_document: bool = False,
        where: SearchFilter | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[Passage]:
        """The passages that best match `query`, best first.

        `where` filters inside the search (document ids, path glob, file types, metadata), so
        k results come back whenever k exist; `group_by_document` keeps each document's best.
        `history`: the conversation before a follow-up query, as for `stream` (with
        RAG_CONDENSE=llm the LLM rewrites the query first).
        """
        options = self.search_options(
            k, mode=mode, group_by_document=group_by_document, where=where
        )
        target = self.collection(collection)
        searched = self.search_context(check_query(query), checked_history(history))
        return search(
            target,
            self.query_embedder,
            searched.query,
            options,
            self.reranker,
            searched.earlier(),
        )

    def neighbours(
        self, passage: Passage, before: int = 1, after: int = 1, collection: str | None = None
    ) -> list[Passage]:
        """The passage with the chunks around it in its document, in reading order."""
        return neighbours(self.collection(collection), passage, before, after)

    def stream(
        self,
        question: str,
        k: int | None = None,
        collection: str | None = None,
        *,
        where: SearchFilter | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        mode: Literal["generative", "extractive"] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
    ) -> AnswerStream:
        """Retrieve, then answer; iterate for text pieces, then call `.result()`.

        `history` is the conversation before the question, `[{"role": "user" | "assistant",
        "content": str}, ...]`, oldest first: a follow-up is searched with it (RAG_CONDENSE) and
        the earlier turns go into the prompt as far as the context allows (oldest dropped first,
        counted in the answer's `context.history_dropped`).

        When no passage clears the relevance cut-off (RAG_MIN_SIMILARITY), the answer says so
        and the LLM is not called. In extractive mode the answer quotes the passage sentences
        that best answer, and no LLM is called either. `max_tokens`, `temperature` and `mode`
        override the settings for this question.

        The question flows one way: checked once, its collection opened once, searched, the
        context built (relevance cut, neighbours), then answered and checked.
        """
        question = check_query(question)
        turns = checked_history(history)
        s = self.settings
        target = self.collection(collection)
        template = prompt_for(s.rag_prompt_file, target.folder)
        searched = self.search_context(question, turns)
        found = search(
            target,
            self.query_embedder,
            searched.query,
            self.search_options(k, where=where),
            self.reranker,
            searched.earlier(),
        )
        policy = ContextPolicy(s.min_similarity, s.context_min_relative_score, s.context_neighbours)
        passages = answer_context(target, found, policy)
        if not passages:
            return AnswerStream.not_found(template.not_found)
        check = AnswerCheck(
            question=question,
            embedder=self.embedder,
            not_found=template.not_found,
            stored=target.sentence_vectors,
            unsupported=s.unsupported_claims,
            claims=s.check_answers,
        )
        if (mode or self.answer_mode) == "extractive":
            return AnswerStream.extractive(passages, check)
        answer_tokens = max_tokens or s.max_answer_tokens
        prompt = fit_prompt(self.generator, template, question, passages, answer_tokens, turns)
        options = SamplingOptions(
            max_tokens=prompt.max_answer_tokens,
            temperature=s.temperature if temperature is None else temperature,
            top_p=s.top_p,
            repeat_penalty=s.repeat_penalty,
            seed=s.seed,
            stop=ANSWER_STOPS,
        )
        return AnswerStream.generate(self.generator, prompt, options, check)

    def search_context(self, question: str, history: Sequence[Message]) -> SearchContext:
        """What a (follow-up) question is searched with: see rag/answer/conversation.py."""
        if not history:
            return SearchContext(question)
        if self.condense_mode == "llm":
            return condensed_context(self.generator, question, history)
        return history_context(question, history)

    @property
    def condense_mode(self) -> Condense:
        """RAG_CONDENSE, with "auto" decided by the model's size as for the answer mode."""
        if self.settings.condense != "auto":
            return self.settings.condense
        by_size = self.settings.model_copy(update={"answer_mode": "auto"})
        given = self._generator.name if self._generator is not None else None
        return "llm" if resolve_answer_mode(by_size, given) == "generative" else "history"

    @property
    def answer_mode(self) -> Literal["generative", "extractive"]:
        """How questions are answered (RAG_ANSWER_MODE; "auto" decided by the model's size,
        looked up once rather than on every question)."""
        with self._lock:
            if self._answer_mode is None:
                given = self._generator.name if self._generator is not None else None
                self._answer_mode = resolve_answer_mode(self.settings, given)
            return self._answer_mode

    def ask(
        self,
        question: str,
        k: int | None = None,
        collection: str | None = None,
        *,
        where: SearchFilter | None = None,
        mode: Literal["generative", "extractive"] | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
    ) -> Answer:
        """Answer from the documents, with numbered sources that `[n]` markers point at, the
        quoted evidence, and each sentence's check against the passages. `history`: the
        conversation before the question (see `stream`)."""
        return self.stream(
            question, k, collection, where=where, mode=mode, history=history
        ).result()


def _document_info(d: DocumentRecord) -> DocumentInfo:
    return DocumentInfo(
        d.id, d.path, d.file_type, d.chunks, d.size_bytes, d.content_hash, d.ingested_at, d.metadata
    )
