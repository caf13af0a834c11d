"""Hybrid search, filters, grouping, reranking, MMR, neighbours and the built-in evaluation."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.filters import SearchFilter
from rag import RAG
from rag.collection import STORE_FILE
from rag.errors import InvalidRequest
from rag.evaluate import evaluate
from rag.prompts.rag_template import RagPrompt
from rag.search.rerank import CrossEncoderReranker


def _records(path: Path, rows: list[tuple[str, str, dict[str, str]]]) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for record_id, text, metadata in rows:
            out.write(json.dumps({"id": record_id, "text": text, "metadata": metadata}) + "\n")
    return path


@pytest.fixture
def parts(rag: RAG, tmp_path: Path) -> RAG:
    rows = [
        ("p1", "Replacement gasket XK-4471 fits the older pump housings.", {"team": "ops"}),
        ("p2", "The pump housing must be cleaned every month with warm water.", {"team": "ops"}),
        ("p3", "Quarterly revenue grew thanks to strong sales of pumps.", {"team": "sales"}),
        ("p4", "Pumps are cleaned monthly; use warm water for the housing.", {"team": "sales"}),
        ("p5", "The cafeteria serves soup on Fridays.", {"team": "hr"}),
    ]
    rag.ingest_jsonl(_records(tmp_path / "parts.jsonl", rows))
    return rag


def _ids(passages) -> list[str]:
    return [p.path.removeprefix("record:") for p in passages]


def test_lexical_finds_a_part_number_and_hybrid_keeps_it_first(parts: RAG) -> None:
    assert _ids(parts.search("XK-4471", k=1, mode="lexical")) == ["p1"]
    assert _ids(parts.search("XK-4471", k=1, mode="hybrid")) == ["p1"]
    hit = parts.search("XK-4471", k=1)[0]
    assert 0 < hit.similarity <= 1  # cosine from the stored vector, also for lexical hits


def test_filters_run_inside_the_search_and_still_fill_k(parts: RAG) -> None:
    sales = parts.search("cleaning the pump", k=2, where=SearchFilter(metadata={"team": "sales"}))
    assert sorted(_ids(sales)) == ["p3", "p4"]
    only = parts.search(
        "cleaning the pump",
        k=5,
        where=SearchFilter(
            document_ids=(next(d.id for d in parts.documents() if d.path == "record:p5"),)
        ),
    )
    assert _ids(only) == ["p5"]
    assert parts.search("pump", k=3, where=SearchFilter(path_glob="record:p[12]")) != []
    assert set(_ids(parts.search("pump", k=3, where=SearchFilter(path_glob="record:p[12]")))) == {
        "p1",
        "p2",
    }
    assert parts.search("pump", k=3, where=SearchFilter(file_types=("pdf",))) == []
    with pytest.raises(InvalidRequest, match="invalid metadata key"):
        parts.search("pump", where=SearchFilter(metadata={"bad key'": "x"}))


def test_group_by_document_returns_distinct_documents(rag: RAG, tmp_path: Path) -> None:
    long_text = "\n\n".join(f"Paragraph {i} about turbine blade inspection." * 12 for i in range(6))
    rag.ingest_jsonl(
        _records(
            tmp_path / "t.jsonl",
            [
                ("long", long_text, {}),
                ("short", "Turbine blades are inspected yearly.", {}),
            ],
        )
    )
    chunks = rag.search("turbine blade inspection", k=3)
    assert len(chunks) == 3 and len(set(_ids(chunks))) < 3
    grouped = rag.search("turbine blade inspection", k=3, group_by_document=True)
    assert sorted(_ids(grouped)) == ["long", "short"]


def test_unrelated_question_is_not_sent_to_the_llm(parts: RAG) -> None:
    answer = parts.ask("Who won the 1974 football world cup final?")
    assert answer.answer == RagPrompt().not_found
    assert answer.sources == []
    assert answer.prompt_format == "none"


def test_neighbours_widen_a_hit_in_reading_order(rag: RAG, tmp_path: Path) -> None:
    text = "\n\n".join(f"Step {i}: " + "tighten the bolt firmly. " * 40 for i in range(1, 6))
    rag.ingest_jsonl(_records(tmp_path / "s.jsonl", [("manual", text, {})]))
    hit = rag.search("Step 3", k=1, mode="lexical")[0]
    around = rag.neighbours(hit, before=1, after=1)
    ordinals = [p.ordinal for p in around]
    assert ordinals == list(range(hit.ordinal - 1, hit.ordinal + 2))
    assert hit.text in [p.text for p in around]


def test_mmr_prefers_diverse_passages(rag: RAG, tmp_path: Path) -> None:
    same = "Solar panels should be cleaned twice a year to keep them efficient."
    rag.ingest_jsonl(
        _records(
            tmp_path / "m.jsonl",
            [
                ("a", same, {}),
                ("b", same + " ", {}),
                ("c", "Solar panel output drops in winter.", {}),
            ],
        )
    )
    plain = _ids(rag.search("cleaning solar panels", k=2))
    assert set(plain) == {"a", "b"}
    rag.settings = rag.settings.model_copy(update={"mmr_lambda": 0.3})
    diverse = _ids(rag.search("cleaning solar panels", k=2))
    assert "c" in diverse


def test_cross_encoder_reranker_orders_by_its_own_scores(parts: RAG, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from rag.llm.model_paths import default_embed_model

    model_dir = tmp_path / "tiny-cross-encoder"
    tokenizer = AutoTokenizer.from_pretrained(default_embed_model())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)

    reranker = CrossEncoderReranker(str(model_dir))
    parts.settings = parts.settings.model_copy(update={"rerank_model": str(model_dir)})
    results = parts.search("pump cleaning", k=5)
    scores = reranker.score("pump cleaning", [p.text for p in results])
    assert scores == sorted(scores, reverse=True)


def test_stores_from_before_lexical_search_are_indexed_on_open(
    parts: RAG, settings, embedder, smollm
) -> None:
    store = parts.settings.home / "collections" / "default" / STORE_FILE
    parts.close()
    db = sqlite3.connect(store)
    db.executescript(
        "DROP TRIGGER chunks_fts_insert; DROP TRIGGER chunks_fts_delete; DROP TABLE chunks_fts;"
    )
    db.close()
    with RAG(settings=parts.settings, embedder=embedder, generator=smollm) as reopened:
        assert _ids(reopened.search("XK-4471", k=1, mode="lexical")) == ["p1"]


def test_eval_on_a_tiny_beir_dataset(rag: RAG, tmp_path: Path) -> None:
    folder = tmp_path / "tinybeir"
    (folder / "qrels").mkdir(parents=True)
    corpus = [
        ("d1", "Aspirin", "Aspirin reduces the risk of heart attacks in adults."),
        ("d2", "Vitamin C", "Vitamin C does not prevent the common cold."),
        ("d3", "Sleep", "Adults who sleep less than six hours have more infections."),
    ]
    with open(folder / "corpus.jsonl", "w") as out:
        for doc_id, title, text in corpus:
            out.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as out:
        out.write(json.dumps({"_id": "q1", "text": "Does aspirin prevent heart attacks?"}) + "\n")
        out.write(json.dumps({"_id": "q2", "text": "Short sleep and infections"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")

    report = evaluate(rag, folder, "test").to_dict()
    assert set(report) >= {
        "ndcg@10",
        "recall@10",
        "recall@100",
        "mrr@10",
        "queries",
        "p50_ms",
        "p95_ms",
    }
    assert report["queries"] == 2
    assert report["ndcg@10"] == report["mrr@10"] == 1.0
    assert "eval-tinybeir" not in rag.collections()  # thrown away
    with pytest.raises(InvalidRequest, match="no qrels"):
        evaluate(rag, folder, "dev")


STUDY = (
    "Mice fed a high-salt diet for twelve weeks developed hypertension. "
    "Their kidneys showed no structural damage. "
    "The control group ate standard chow and stayed healthy."
)


def _sentences(text: str) -> list[str]:
    from ingest.sentences import own_sentences

    return own_sentences(text)


def _sentence_blobs(rag: RAG) -> dict[str, bytes | None]:
    store = rag.settings.home / "collections" / "default" / STORE_FILE
    db = sqlite3.connect(store)
    rows = db.execute(
        "SELECT d.path, c.sentence_int8 FROM chunks c JOIN documents d ON d.id = c.document_id"
    ).fetchall()
    db.close()
    return {path.removeprefix("record:"): blob for path, blob in rows}


def test_every_sentence_gets_a_vector_and_the_best_one_scores_the_chunk(
    rag: RAG, tmp_path: Path
) -> None:
    rows: list[tuple[str, str, dict[str, str]]] = [
        ("study", STUDY, {}),
        ("short", "The cafeteria serves soup on Fridays.", {}),
    ]
    rag.ingest_jsonl(_records(tmp_path / "s.jsonl", rows))
    blobs = _sentence_blobs(rag)
    dimension = rag.embedder.dimension
    # int8 codes and a float32 scale per sentence (index/sentence_codes.py)
    assert len(blobs["study"] or b"") == 3 * (dimension + 4)
    assert len(blobs["short"] or b"") == dimension + 4

    question = "Their kidneys showed no structural damage."
    vector = rag.embedder.embed([question])[0]
    collection = rag.collection()
    study_chunk = rag.search(question, k=1)[0]
    assert study_chunk.path == "record:study"
    best_sentence = collection.sentence_similarities(vector, [study_chunk.chunk_id])
    # The question is one of the chunk's sentences word for word; the whole chunk is less alike.
    assert best_sentence[study_chunk.chunk_id] == pytest.approx(1.0, abs=1e-3)
    assert study_chunk.similarity < 0.95


def test_without_sentence_vectors_their_weight_goes_to_the_dense_ranking(
    settings, embedder, smollm, tmp_path: Path
) -> None:
    rows: list[tuple[str, str, dict[str, str]]] = [
        ("study", STUDY, {}),
        ("salt", "Salt intake and blood pressure in adults: a review of trials.", {}),
        ("kidney", "Kidney damage in hypertensive rats after a salt load.", {}),
    ]
    plain = settings.model_copy(update={"sentence_vectors": False})
    with RAG(settings=plain, embedder=embedder, generator=smollm) as rag:
        rag.ingest_jsonl(_records(tmp_path / "s.jsonl", rows))
        assert set(_sentence_blobs(rag).values()) == {None}
        default = rag.search("salt diet and kidney damage", k=3)
    folded = plain.model_copy(update={"sentence_weight": 0.0, "dense_weight": 0.6})
    with RAG(settings=folded, embedder=embedder, generator=smollm) as rag:
        expected = rag.search("salt diet and kidney damage", k=3)
    assert [(p.chunk_id, p.score) for p in default] == [(p.chunk_id, p.score) for p in expected]


def test_float32_sentence_vectors_of_older_stores_are_read_as_they_are(
    rag: RAG, tmp_path: Path
) -> None:
    rag.ingest_jsonl(_records(tmp_path / "s.jsonl", [("study", STUDY, {})]))
    question = "Their kidneys showed no structural damage."
    vector = rag.embedder.embed([question])[0]
    chunk_id = rag.search(question, k=1)[0].chunk_id
    quantized = rag.collection().sentence_vectors([chunk_id])[chunk_id]
    exact = rag.embedder.embed(_sentences(STUDY))
    assert np.abs(quantized - exact).max() < 0.01  # int8: within a step of the true value
    store = rag.settings.home / "collections" / "default" / STORE_FILE
    rag.close()
    db = sqlite3.connect(store)  # as an older version wrote it: float32, no int8 column value
    db.execute(
        "UPDATE chunks SET sentence_embeddings = ?, sentence_int8 = NULL WHERE id = ?",
        (exact.astype(np.float32).tobytes(), chunk_id),
    )
    db.commit()
    db.close()
    with RAG(settings=rag.settings, embedder=rag.embedder, generator=rag.generator) as reopened:
        collection = reopened.collection()
        assert np.array_equal(collection.sentence_vectors([chunk_id])[chunk_id], exact)
        best = collection.sentence_similarities(vector, [chunk_id])[chunk_id]
        assert best == pytest.approx(1.0, abs=1e-3)
        assert reopened.chunks_without_sentence_vectors() == 0


def test_stores_from_before_sentence_vectors_gain_the_column_on_open(
    parts: RAG, settings, embedder, smollm, tmp_path: Path
) -> None:
    store = parts.settings.home / "collections" / "default" / STORE_FILE
    parts.close()
    db = sqlite3.connect(store)
    db.execute("ALTER TABLE chunks DROP COLUMN sentence_int8")
    db.execute("ALTER TABLE chunks DROP COLUMN sentence_embeddings")
    db.close()
    with RAG(settings=parts.settings, embedder=embedder, generator=smollm) as reopened:
        assert _ids(reopened.search("XK-4471", k=1)) == ["p1"]  # old chunks: no sentence signal
        reopened.ingest_jsonl(_records(tmp_path / "new.jsonl", [("study", STUDY, {})]))
        assert _sentence_blobs(reopened)["study"] is not None
