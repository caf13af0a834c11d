"""SQLite store of documents and chunks, vectors included, so the FAISS index can be rebuilt.

SQLite in WAL mode is the source of truth. Each document is replaced in one transaction, so a
reader sees either its old chunks or its new ones, never a mix.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index import sentence_codes
from index.filters import SearchFilter
from index.keywords import KeywordRow
from index.sqlite import connect, immediate_transaction

# A chunk without sentence vectors in either form (int8 now, float32 before).
_NO_SENTENCES = "sentence_int8 IS NULL AND sentence_embeddings IS NULL"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    file_type TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    page INTEGER,
    section TEXT,
    element_types TEXT NOT NULL,
    token_count INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    sentence_embeddings BLOB,
    context TEXT,
    sentence_int8 BLOB
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id, ordinal);
CREATE INDEX IF NOT EXISTS chunks_by_page ON chunks(document_id, page);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Lexical search: an FTS5 index over chunk text, section title and the document's context line
# (see ingest/context.py), kept in step by triggers. Porter stemming, so "bicycles" finds
# "bicycle". External content: the text is stored once.
_FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, section, context, content='chunks', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text, section, context)
    VALUES (new.id, new.text, new.section, new.context);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, section, context)
    VALUES ('delete', old.id, old.text, old.section, old.context);
END;
INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
"""
# Stores written before the context column indexed two columns; they are re-indexed once.
_OLD_FTS_DROP = """
DROP TRIGGER IF EXISTS chunks_fts_insert;
DROP TRIGGER IF EXISTS chunks_fts_delete;
DROP TABLE IF EXISTS chunks_fts;
"""

_WORD = re.compile(r"\w+", re.UNICODE)
# A year fused to letters: "FY2018", "2024Q2" (not "p53", "CD4" or "H3K27me3", where splitting
# letters from digits cost SciFact train nDCG@10 0.0028).
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def chunk_id_for(document_id: str, ordinal: int) -> int:
    """A chunk's id: 63 bits of a hash of its document's id and its place in it.

    The same chunk gets the same id however it was ingested (one store or many shards, by one
    process or a cluster), so shards never collide and a sharded collection can be compared
    with a single store chunk by chunk. Stores written before keep their numbered ids.

    >>> chunk_id_for("0123456789abcdef", 0) == chunk_id_for("0123456789abcdef", 0)
    True
    >>> 0 < chunk_id_for("0123456789abcdef", 1) < 2**63
    True
    """
    digest = hashlib.blake2b(f"{document_id}\x00{ordinal}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1) or 1


def _terms(query: str) -> list[str]:
    """The query's words, lower-cased; a word with a year fused to letters also in its parts:
    "FY2018" matches "FY2018" and "2018", "2024Q2" matches "2024" and "Q2".

    >>> _terms("Apple FY2018 10-Q p53")
    ['apple', 'fy2018', 'fy', '2018', '10', 'q', 'p53']
    """
    terms: list[str] = []
    for word in _WORD.findall(query.lower()):
        terms.append(word)
        parts = [part for part in _YEAR.split(word) if part]
        if len(parts) > 1:
            terms.extend(parts)
    return terms


def _varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers, one after another (FTS5's size records).

    >>> _varints(bytes([5, 0x81, 0x00, 0x7F]))
    [5, 128, 127]
    """
    values, value, index = [], 0, 0
    while index < len(blob):
        byte = blob[index]
        value = (value << 7) | (byte & 0x7F)
        index += 1
        if not byte & 0x80:
            values.append(value)
            value = 0
    return values


def query_terms(query: str) -> list[str]:
    """The distinct words a lexical search matches (see `_terms`)."""
    return list(dict.fromkeys(_terms(query)))


def telling_terms(terms: list[str], counts: dict[str, int], chunks: int) -> list[str]:
    """The terms held by at most half of the `chunks` (all of them when none is).

    >>> telling_terms(["the", "zebrafish"], {"the": 90, "zebrafish": 2}, 100)
    ['zebrafish']
    """
    telling = [term for term in terms if counts.get(term, 0) <= chunks / 2]
    return telling or terms


def bm25_idf(chunks: int, holding: int) -> float:
    """FTS5's IDF of a term held by `holding` of `chunks` rows (floored at 1e-6, as FTS5 does).

    >>> round(bm25_idf(1000, 10), 3), bm25_idf(1000, 900)
    (4.547, 1e-06)
    """
    idf = math.log((chunks - holding + 0.5) / (holding + 0.5))
    return idf if idf > 0 else 1e-6


@dataclass(frozen=True)
class DocumentRecord:
    id: str
    path: str
    file_type: str
    content_hash: str
    size_bytes: int
    ingested_at: str
    chunks: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewDocument:
    """A document version about to be written, identified by `id`, versioned by `content_hash`."""

    id: str
    path: str
    file_type: str
    content_hash: str
    size_bytes: int
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NewChunk:
    ordinal: int
    text: str
    page: int | None
    section: str | None
    element_types: tuple[str, ...]
    token_count: int
    embedding: np.ndarray
    # One row per sentence (see ingest/sentences.py); None when the collection does not keep them.
    sentence_embeddings: np.ndarray | None = None
    # The document's context line (ingest/context.py), searched with the chunk; None for none.
    context: str | None = None


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    document_id: str
    path: str
    ordinal: int
    text: str
    page: int | None
    section: str | None
    element_types: tuple[str, ...]
    # The document's context line (file name words, entity, period) the chunk was searched with.
    context: str | None = None


@dataclass(frozen=True)
class Replacement:
    """What a document write changed, so the vector index can follow in the same order."""

    removed_ids: list[int]
    added_ids: list[int]


class ChunkStore:
    """One collection's documents and chunks in one SQLite file.

    Writes (and the rare reads that must see them) go through one connection, serialised by a
    lock. The reads of a search run on a connection per thread instead (`_read`): under WAL
    they never wait for the writer or for each other, so concurrent searches use every core
    (SQLite releases the GIL while it works).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._db = connect(path)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._db.executescript(_SCHEMA)
        # Stores written before sentence vectors or document context existed get the columns
        # (empty: those chunks search as before).
        self._add_column("sentence_embeddings", "BLOB")
        self._add_column("context", "TEXT")
        # Sentence vectors are written as int8 (index/sentence_codes.py); the float32 column
        # holds those of chunks written before, read as they are.
        self._add_column("sentence_int8", "BLOB")
        fts_columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks_fts)")}
        if "context" not in fts_columns:  # new store, or one indexed before context existed
            self._db.executescript(f"BEGIN IMMEDIATE; {_OLD_FTS_DROP} {_FTS_SCHEMA} COMMIT;")
        # How many chunks hold each indexed word: a view of the FTS index, no data of its own.
        self._db.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')"
        )

    def _add_column(self, name: str, kind: str) -> None:
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(chunks)")}
        if name in columns:
            return
        try:
            self._db.execute(f"ALTER TABLE chunks ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as exc:  # another process added it first
            if "duplicate column" not in str(exc):
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()
            for reader in self._readers:
                reader.close()
            self._readers.clear()

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one query, on this thread's own connection (no lock needed)."""
        reader: sqlite3.Connection | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = connect(self._path)
            self._local.reader = reader
            with self._lock:
                self._readers.append(reader)
        return reader.execute(sql, params).fetchall()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate_transaction(self._db, self._lock)

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def content_version(self) -> int:
        """A counter every change of chunks moves, in the change's own transaction: an index
        derived from the chunks (index/keywords.py) is current when it records this number."""
        rows = self._read("SELECT value FROM meta WHERE key = 'content_version'")
        return int(rows[0][0]) if rows else 0

    def keyword_rows(self, batch: int = 10_000) -> Iterator[KeywordRow]:
        """Every chunk's searched text, read in batches (building the keyword index)."""
        last = -1
        while True:
            rows = self._read(
                "SELECT id, text, section, context FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                [last, batch],
            )
            if not rows:
                return
            for row in rows:
                yield KeywordRow(int(row[0]), row[1], row[2], row[3])
            last = int(rows[-1][0])

    def data_version(self) -> int:
        """Changes when another connection (another process) commits; cheap to poll."""
        with self._lock:
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def document_by_path(self, path: str) -> DocumentRecord | None:
        rows = self._documents("WHERE d.path = ?", (path,))
        return rows[0] if rows else None

    def document(self, document_id: str) -> DocumentRecord | None:
        rows = self._documents("WHERE d.id = ?", (document_id,))
        return rows[0] if rows else None

    def documents(self) -> list[DocumentRecord]:
        return self._documents("", ())

    def _documents(self, where: str, params: tuple[Any, ...]) -> list[DocumentRecord]:
        sql = (
            "SELECT d.id, d.path, d.file_type, d.content_hash, d.size_bytes, d.ingested_at, "
            "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id), d.metadata "
            f"FROM documents d {where} ORDER BY d.path"
        )
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [
            DocumentRecord(
                id=row[0],
                path=row[1],
                file_type=row[2],
                content_hash=row[3],
                size_bytes=row[4],
                ingested_at=row[5],
                chunks=row[6],
                metadata=json.loads(row[7]),
            )
            for row in rows
        ]

    def replace_document(self, document: NewDocument, chunks: Sequence[NewChunk]) -> Replacement:
        """Insert a document, or swap an existing one's chunks for new ones, atomically."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._transaction() as db:
            document_id = document.id
            removed = [
                r[0]
                for r in db.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,))
            ]
            db.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            db.execute(
                "INSERT INTO documents (id, path, file_type, content_hash, size_bytes, "
                "ingested_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET path=excluded.path, file_type=excluded.file_type, "
                "content_hash=excluded.content_hash, size_bytes=excluded.size_bytes, "
                "ingested_at=excluded.ingested_at, metadata=excluded.metadata",
                (
                    document_id,
                    document.path,
                    document.file_type,
                    document.content_hash,
                    document.size_bytes,
                    now,
                    json.dumps(document.metadata),
                ),
            )
            added = []
            for chunk in chunks:
                chunk_id = chunk_id_for(document_id, chunk.ordinal)
                db.execute(
                    "INSERT INTO chunks (id, document_id, ordinal, text, page, section, "
                    "element_types, token_count, embedding, sentence_int8, context) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        chunk_id,
                        document_id,
                        chunk.ordinal,
                        chunk.text,
                        chunk.page,
                        chunk.section,
                        json.dumps(list(chunk.element_types)),
                        chunk.token_count,
                        np.asarray(chunk.embedding, dtype=np.float32).tobytes(),
                        None
                        if chunk.sentence_embeddings is None
                        else sentence_codes.encode(chunk.sentence_embeddings),
                        chunk.context,
                    ),
                )
                added.append(chunk_id)
            _bump_content_version(db)
        return Replacement(removed_ids=removed, added_ids=added)

    def delete_document(self, document_id: str) -> list[int] | None:
        """Remove a document, the documents attached to it (a mail's attachments) and their
        chunks, in one transaction; the removed chunk ids, or None if it was unknown."""
        with self._transaction() as db:
            if (
                db.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone()
                is None
            ):
                return None
            doomed = [document_id] + [
                r[0]
                for r in db.execute(
                    "SELECT id FROM documents WHERE json_extract(metadata, '$.attached_to') = ?",
                    (document_id,),
                )
            ]
            removed: list[int] = []
            for doomed_id in doomed:
                removed += [
                    r[0]
                    for r in db.execute("SELECT id FROM chunks WHERE document_id = ?", (doomed_id,))
                ]
                db.execute("DELETE FROM chunks WHERE document_id = ?", (doomed_id,))
                db.execute("DELETE FROM documents WHERE id = ?", (doomed_id,))
            _bump_content_version(db)
        return removed

    def attachments_of(self, document_id: str) -> list[DocumentRecord]:
        """The documents attached to this one (a mail's attachments)."""
        return self._documents(
            "WHERE json_extract(d.metadata, '$.attached_to') = ?", (document_id,)
        )

    def chunks(self, ids: Sequence[int]) -> list[ChunkRecord]:
        """The chunks with these ids, in the order given; unknown ids are left out."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._read(
            "SELECT c.id, c.document_id, d.path, c.ordinal, c.text, c.page, c.section, "
            "c.element_types, c.context "
            f"FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE c.id IN ({marks})",
            tuple(int(i) for i in ids),
        )
        by_id = {
            row[0]: ChunkRecord(
                id=row[0],
                document_id=row[1],
                path=row[2],
                ordinal=row[3],
                text=row[4],
                page=row[5],
                section=row[6],
                element_types=tuple(json.loads(row[7])),
                context=row[8],
            )
            for row in rows
        }
        return [by_id[int(i)] for i in ids if int(i) in by_id]

    def lexical_search(
        self,
        query: str,
        limit: int,
        where: SearchFilter | None = None,
        section_weight: float = 1.0,
        context_weight: float = 1.0,
        terms: list[str] | None = None,
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the best lexical matches, best first (higher is better).

        The query's words are OR-ed as quoted terms, so user text is never FTS5 syntax. Section
        titles and document context lines count with their own weights against the text.
        `terms`: the words to match, already chosen (a sharded search chooses them over all
        shards); by default the query's telling words.
        """
        if terms is None:
            terms = self._telling(query_terms(query))
        if not terms or limit <= 0:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        weights = [section_weight, context_weight, match]
        if where is None or where.empty:
            # No joins: matching rows are ranked straight from the index (2-3x faster).
            rows = self._read(
                "SELECT rowid, -bm25(chunks_fts, 1.0, ?, ?) AS score FROM chunks_fts "
                "WHERE chunks_fts MATCH ? ORDER BY score DESC LIMIT ?",
                [*weights, limit],
            )
        else:
            condition, params = where.to_sql()
            rows = self._read(
                "SELECT f.rowid, -bm25(chunks_fts, 1.0, ?, ?) AS score FROM chunks_fts f "
                "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id "
                f"WHERE chunks_fts MATCH ? AND {condition} ORDER BY score DESC LIMIT ?",
                [*weights, *params, limit],
            )
        return [(int(r[0]), float(r[1])) for r in rows]

    def term_scores(
        self, term: str, ids: Sequence[int], section_weight: float, context_weight: float
    ) -> dict[int, float]:
        """BM25 of one term for the given chunks (those holding it), with this store's IDF."""
        found: dict[int, float] = {}
        for part, marks in _id_batches(ids):
            rows = self._read(
                "SELECT rowid, -bm25(chunks_fts, 1.0, ?, ?) FROM chunks_fts "
                f"WHERE chunks_fts MATCH ? AND rowid IN ({marks})",
                [section_weight, context_weight, f'"{term}"', *part],
            )
            found.update((int(r[0]), float(r[1])) for r in rows)
        return found

    def token_lengths(self, ids: Sequence[int]) -> dict[int, int]:
        """Each chunk's length in tokens as BM25 counts it (all indexed columns together),
        read from FTS5's own size table."""
        found: dict[int, int] = {}
        for part, marks in _id_batches(ids):
            rows = self._read(f"SELECT id, sz FROM chunks_fts_docsize WHERE id IN ({marks})", part)
            found.update((int(r[0]), sum(_varints(r[1]))) for r in rows)
        return found

    def token_totals(self) -> tuple[int, int]:
        """(rows, tokens in all rows) of the FTS5 index: BM25's average length is their ratio."""
        rows = self._read("SELECT block FROM chunks_fts_data WHERE id = 1")
        if not rows or not rows[0][0]:
            return 0, 0
        values = _varints(rows[0][0])
        return values[0], sum(values[1:])

    def term_document_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """How many chunks hold each term, as FTS5 matches it (stemmed), for IDF across shards."""
        return {
            term: int(
                self._read(
                    "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [f'"{term}"']
                )[0][0]
            )
            for term in terms
        }

    def raw_term_counts(self, terms: Sequence[str]) -> dict[str, int]:
        """Chunks holding each word that is its own index term (fts5vocab; no stemming)."""
        if not terms:
            return {}
        marks = ",".join("?" * len(terms))
        return dict(
            self._read(
                f"SELECT term, doc FROM chunks_fts_vocab WHERE term IN ({marks})", list(terms)
            )
        )

    def _telling(self, terms: list[str]) -> list[str]:
        """The terms without those in more than half of the chunks ("the", "of", "and").

        FTS5's BM25 gives such a term an IDF of 1e-6, so it moves no score, yet every row
        holding it must be scored: dropping it gave the same top 100 in 7-11 ms instead of
        15-28 ms per SciFact query. Only a word that is its own index term is looked up (a
        stemmed one, "studies" -> "studi", is simply kept). All common: all kept.
        """
        if len(terms) < 2:
            return terms
        return telling_terms(terms, self.raw_term_counts(terms), self._chunk_total())

    def _chunk_total(self) -> int:
        """The number of chunks, counted again only after some connection committed."""
        version = int(self._read("PRAGMA data_version")[0][0])
        cached: tuple[int, int] | None = getattr(self._local, "chunk_total", None)
        if cached is None or cached[0] != version:
            cached = (version, int(self._read("SELECT count(*) FROM chunks")[0][0]))
            self._local.chunk_total = cached
        return cached[1]

    def chunk_ids_matching(self, where: SearchFilter) -> np.ndarray:
        condition, params = where.to_sql()
        rows = self._read(
            f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE {condition}",
            params,
        )
        return np.array([r[0] for r in rows], dtype=np.int64)

    def neighbours(self, chunk_id: int, before: int, after: int) -> list[ChunkRecord]:
        """The chunk with up to `before`/`after` chunks around it in its document, in order."""
        with self._lock:
            row = self._db.execute(
                "SELECT document_id, ordinal FROM chunks WHERE id = ?", (chunk_id,)
            ).fetchone()
            if row is None:
                return []
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM chunks WHERE document_id = ? AND ordinal BETWEEN ? AND ? "
                    "ORDER BY ordinal",
                    (row[0], row[1] - before, row[1] + after),
                )
            ]
        return self.chunks(ids)

    def document_chunks(self, document_id: str) -> list[ChunkRecord]:
        """A document's chunks, in order."""
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,)
                )
            ]
        return self.chunks(ids)

    def has_chunks(self) -> bool:
        """Whether any chunk is stored: one row read (a count reads them all, 13 ms at 1M)."""
        return bool(self._read("SELECT 1 FROM chunks LIMIT 1"))

    def chunk_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def chunk_ids(self) -> set[int]:
        with self._lock:
            return {int(r[0]) for r in self._db.execute("SELECT id FROM chunks")}

    def sample_embeddings(self, limit: int) -> np.ndarray:
        """Up to `limit` vectors drawn at random: training data for an approximate index."""
        with self._lock:
            rows = self._db.execute(
                "SELECT embedding FROM chunks ORDER BY random() LIMIT ?", (limit,)
            ).fetchall()
        return np.stack([np.frombuffer(r[0], dtype=np.float32) for r in rows])

    def chunks_without_sentences(self, limit: int) -> list[tuple[int, str, np.ndarray]]:
        """(id, text, chunk vector) of up to `limit` chunks stored without sentence vectors."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, text, embedding FROM chunks WHERE {_NO_SENTENCES} ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [(int(r[0]), r[1], np.frombuffer(r[2], dtype=np.float32)) for r in rows]

    def count_without_sentences(self) -> int:
        with self._lock:
            row = self._db.execute(f"SELECT count(*) FROM chunks WHERE {_NO_SENTENCES}").fetchone()
        return int(row[0])

    def set_sentence_embeddings(self, rows: Sequence[tuple[int, np.ndarray]]) -> None:
        """Store sentence vectors for existing chunks, in one transaction."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE chunks SET sentence_int8 = ? WHERE id = ?",
                [(sentence_codes.encode(v), int(i)) for i, v in rows],
            )

    def sentence_similarities(self, vector: np.ndarray, ids: Sequence[int]) -> dict[int, float]:
        """Each chunk's best sentence's cosine similarity to `vector`; chunks without sentence
        vectors are left out."""
        query = np.asarray(vector, dtype=np.float32)
        coded: list[tuple[int, bytes]] = []
        best: dict[int, float] = {}
        for chunk_id, codes, old, dimension in self._sentence_rows(ids):
            if codes is not None:
                if len(codes):
                    coded.append((chunk_id, codes))
            elif old:  # float32 vectors of a store written before int8
                sentences = np.frombuffer(old, dtype=np.float32).reshape(-1, dimension)
                best[chunk_id] = float((sentences @ query).max())
        if coded:
            scores = sentence_codes.best_similarities(
                [codes for _, codes in coded], len(query), query
            )
            best.update(zip([i for i, _ in coded], scores.tolist(), strict=True))
        return best

    def sentence_embeddings(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored sentence vectors of the given chunks (one row per sentence, in order)."""
        return {
            chunk_id: (
                sentence_codes.decode(codes, dimension)
                if codes is not None
                else np.frombuffer(old, dtype=np.float32).reshape(-1, dimension)
            )
            for chunk_id, codes, old, dimension in self._sentence_rows(ids)
        }

    def _sentence_rows(self, ids: Sequence[int]) -> Iterator[tuple[int, bytes | None, bytes, int]]:
        """(chunk id, int8 codes, older float32 vectors, dimension) of each given chunk that
        has sentence vectors: the codes, or when None (written before int8) the float32s."""
        for rows in self._chunk_rows(
            "id, sentence_int8, sentence_embeddings, length(embedding)",
            ids,
            f"AND NOT ({_NO_SENTENCES})",
        ):
            for chunk_id, codes, old, width in rows:
                yield int(chunk_id), codes, old or b"", width // 4

    def chunk_pages(self, ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
        """(document id, page) of each given chunk: a light read for grouping by page."""
        found: dict[int, tuple[str, int | None]] = {}
        for rows in self._chunk_rows("id, document_id, page", ids):
            found.update((int(r[0]), (r[1], r[2])) for r in rows)
        return found

    def page_vectors(self, pages: Iterable[tuple[str, int]]) -> dict[tuple[str, int], np.ndarray]:
        """The mean vector of the chunks on each given (document id, page), at unit length: the
        page searched as one unit (rag/search/pages.py). Pages without chunks are left out."""
        out: dict[tuple[str, int], np.ndarray] = {}
        for document_id, page in set(pages):
            rows = self._read(
                "SELECT embedding FROM chunks WHERE document_id = ? AND page = ?",
                (document_id, page),
            )
            if rows:
                mean = np.mean([np.frombuffer(r[0], dtype=np.float32) for r in rows], axis=0)
                out[(document_id, page)] = (mean / (np.linalg.norm(mean) or 1.0)).astype(np.float32)
        return out

    def embeddings_for(self, ids: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) of the given chunks, a batch at a time."""
        for rows in self._chunk_rows("id, embedding", ids, "ORDER BY id"):
            if rows:
                yield (
                    np.array([r[0] for r in rows], dtype=np.int64),
                    np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]),
                )

    def _chunk_rows(
        self, columns: str, ids: Sequence[int], tail: str = "", batch: int = 900
    ) -> Iterator[list[Any]]:
        """`SELECT columns FROM chunks WHERE id IN (...) tail`, a batch of ids at a time."""
        for part, marks in _id_batches(ids, batch):
            yield self._read(f"SELECT {columns} FROM chunks WHERE id IN ({marks}) {tail}", part)


def _bump_content_version(db: sqlite3.Connection) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('content_version', '1') ON CONFLICT(key) "
        "DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def _id_batches(ids: Sequence[int], batch: int = 900) -> Iterator[tuple[list[int], str]]:
    """The ids a batch at a time, each with its `?,?,...` placeholders (SQLite caps the number
    of bound parameters)."""
    for start in range(0, len(ids), batch):
        part = [int(i) for i in ids[start : start + batch]]
        yield part, ",".join("?" * len(part))


def stored_document_count(path: Path) -> int:
    """How many documents the store at `path` holds, read without opening it for writing (no
    schema upgrade, no vectors loaded): cheap enough to list every collection."""
    db = connect(path, read_only=True)
    try:
        return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    finally:
        db.close()
