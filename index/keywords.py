"""A tantivy BM25 index of a large collection's chunks: keyword search in milliseconds.

FTS5's bm25() scores every row that holds any query word, and counts each word's rows on every
query: over a million chunks that is 0.4-2 s per search. Tantivy skips blocks of postings that
cannot reach the best k (block-max WAND): ~10 ms for the best 100 of a million chunks. SQLite
stays the source of truth; this index is derived from it and rebuilt from it when it lags.

It records the store's content version it reflects (`content.json`, written after each commit);
a search uses it only when that version is the store's, so a stale index never answers.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tantivy

KEYWORDS_DIR = "keywords.tantivy"
_VERSION_FILE = "content.json"
_ANALYZER = "rag_words"
_FIELDS = ("text", "section", "context")
# Two threads with 128 MB of heap between them: a writer flushes a segment when its share fills.
_WRITER_HEAP = 128_000_000
_WRITER_THREADS = 2
# Longer "words" are base64, hashes or table rules: never a search term.
_LONGEST_WORD = 40
# FTS5 adds a context-line word's weighted frequency to the row's; tantivy scores the short
# context field on its own and adds that, so one weight means less here. On FinanceBench dev,
# with every search on tantivy, context weights 0.25/0.5/1.0/2.0 found 26/26/29/31 evidence
# pages and 63/65/66/63 files in the top 5 (FTS5 at its 0.5: 29 and 66); SciFact train 0.7388
# at 0.5 and 1.0. Twice the FTS5 weight, then.
_CONTEXT_SCALE = 2.0


@dataclass(frozen=True)
class KeywordRow:
    """What is searched of one chunk: as FTS5 indexes it (text, section title, context line)."""

    chunk_id: int
    text: str
    section: str | None
    context: str | None


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", indexed=True, fast=True)
    for name in _FIELDS:
        builder.add_text_field(name, tokenizer_name=_ANALYZER, index_option="freq")
    return builder.build()


def _analyzer() -> tantivy.TextAnalyzer:
    """Words as FTS5's `porter unicode61` cuts them: split on non-alphanumerics, lower-cased,
    accents folded, English-stemmed (Snowball's Porter2, where FTS5 has the first Porter)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(_LONGEST_WORD))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _document(row: KeywordRow) -> tantivy.Document:
    document = tantivy.Document()
    document.add_integer("id", row.chunk_id)  # ids are below 2**63
    document.add_text("text", row.text)
    if row.section:
        document.add_text("section", row.section)
    if row.context:
        document.add_text("context", row.context)
    return document


class KeywordIndex:
    """One collection's (or shard's) tantivy index, in `folder / KEYWORDS_DIR`.

    Reads are thread-safe (tantivy searches without the GIL). One process writes: its writer
    holds tantivy's lock from the first change to `commit`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._schema = _schema()
        self._analyzer = _analyzer()
        self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        self._index.register_tokenizer(_ANALYZER, self._analyzer)
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()
        self._stamp = self._version_stamp()
        self._version = self._read_version()
        self._searcher = self._index.searcher()

    @classmethod
    def open(cls, folder: Path) -> KeywordIndex | None:
        """The folder's index, or None when it has none (a collection below the size)."""
        path = folder / KEYWORDS_DIR
        if not (path / _VERSION_FILE).exists():
            return None
        return cls(path)

    @classmethod
    def build(cls, folder: Path, rows: Iterable[KeywordRow], version: int) -> KeywordIndex:
        """Index every row afresh beside the old index, then swap the folder in."""
        path = folder / KEYWORDS_DIR
        staged = folder / f"{KEYWORDS_DIR}.building"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir()
        fresh = cls(staged)
        fresh.add(rows)
        fresh.commit(version)
        fresh.close()
        shutil.rmtree(path, ignore_errors=True)
        os.replace(staged, path)
        return cls(path)

    def _version_stamp(self) -> tuple[int, int] | None:
        try:
            info = (self.path / _VERSION_FILE).stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    def _read_version(self) -> int | None:
        try:
            return int(json.loads((self.path / _VERSION_FILE).read_text())["content_version"])
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def version(self) -> int | None:
        """The store content version this index reflects; None before its first commit."""
        self._refresh()
        return self._version

    def _writing(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(_WRITER_HEAP, _WRITER_THREADS)
        return self._writer

    def add(self, rows: Iterable[KeywordRow]) -> None:
        writer = self._writing()
        for row in rows:
            writer.add_document(_document(row))

    def remove(self, chunk_ids: Sequence[int]) -> None:
        if not chunk_ids:
            return
        writer = self._writing()
        for chunk_id in chunk_ids:
            writer.delete_documents_by_term("id", int(chunk_id))

    def commit(self, version: int) -> None:
        """Make the changes durable, then record the store version they bring the index to."""
        writer = self._writing()
        writer.commit()
        writer.wait_merging_threads()
        self._writer = None
        staged = self.path / f"{_VERSION_FILE}.tmp"
        with open(staged, "w", encoding="utf-8") as out:
            json.dump({"content_version": version}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, self.path / _VERSION_FILE)
        self._refresh()

    def rollback(self) -> None:
        """Drop changes not committed (a failed ingest): the index stays at its version."""
        if self._writer is not None:
            self._writer.rollback()
            self._writer = None

    def _refresh(self) -> None:
        """See the latest commit, this process's or another's (one stat when nothing changed)."""
        stamp = self._version_stamp()
        if stamp != self._stamp:
            with self._lock:
                self._index.reload()
                self._searcher = self._index.searcher()
                self._version = self._read_version()
                self._stamp = stamp

    def search(
        self, terms: Sequence[str], limit: int, section_weight: float, context_weight: float
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the best `limit` chunks holding any of the terms.

        Each term is matched in the text, the section title and the context line (weighted as
        in FTS5); tantivy's BM25 scores each field with its own length and IDF and adds them.
        """
        if limit <= 0:
            return []
        self._refresh()
        searcher = self._searcher
        words = self._telling(searcher, terms)
        weights = {
            "text": 1.0,
            "section": section_weight,
            "context": context_weight * _CONTEXT_SCALE,
        }
        query = self._query(words, weights)
        if query is None:
            return []
        hits = searcher.search(query, limit, count=False).hits
        ids = searcher.fast_field_values("id", [address for _, address in hits])
        return [
            (int(i), float(score))
            for i, (score, _) in zip(ids, hits, strict=True)
            if isinstance(i, int)
        ]

    def _telling(self, searcher: tantivy.Searcher, terms: Sequence[str]) -> list[str]:
        """The terms' words as the index cut them, without those in more than half of the
        chunks (as the FTS5 path leaves them out; all kept when all are that common).

        Counted from tantivy's term dictionary: FTS5's vocabulary table walks each word's whole
        posting list, 73 ms per query at a million chunks.
        """
        words = list(dict.fromkeys(word for term in terms for word in self._analyzer.analyze(term)))
        if len(words) < 2:
            return words
        half = searcher.num_docs / 2
        telling = [word for word in words if searcher.doc_freq("text", word) <= half]
        return telling or words

    def _query(self, words: Sequence[str], weights: dict[str, float]) -> tantivy.Query | None:
        """Any of the words in any field, weighted per field.

        Built from term queries, not the query parser: user text is never query syntax, and a
        word the analyzer splits ("foo_bar") is two words, not a phrase (no positions stored).
        """
        clauses = []
        for word in words:
            for name, weight in weights.items():
                if weight <= 0:
                    continue
                query = tantivy.Query.term_query(self._schema, name, word, index_option="freq")
                if weight != 1.0:
                    query = tantivy.Query.boost_query(query, weight)
                clauses.append((tantivy.Occur.Should, query))
        return tantivy.Query.boolean_query(clauses) if clauses else None

    def document_count(self) -> int:
        self._refresh()
        return int(self._searcher.num_docs)

    def close(self) -> None:
        self.rollback()


def remove_keyword_index(folder: Path) -> None:
    """Drop the folder's index (a collection shrunk below the size, or the feature turned off)."""
    shutil.rmtree(folder / KEYWORDS_DIR, ignore_errors=True)
