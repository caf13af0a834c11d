"""Concurrent searches' query embeddings go through the model one call at a time, each
caller getting its own vector; on ONNX Runtime in a one-thread session of their own."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ingest.embed import Embedder
from ingest.onnx_embed import OnnxEmbedder
from rag import RAG, Settings
from rag.search.query_batch import QueryBatcher

# Of different lengths, so that the order a batch is encoded in shows.
QUERIES = [f"how often should pump {n} be serviced" + " in winter" * (n % 5) for n in range(12)]


class _HeldFirstCall:
    """The real embedder, counting calls; its first call waits until released, so the
    searches that arrive meanwhile queue up behind it."""

    def __init__(self, embedder: Embedder, fail_on: str | None = None) -> None:
        self.embedder = embedder
        self.calls: list[list[str]] = []
        self.first_call_started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.first_call_started.set()
            self.release.wait(timeout=30)
        if self.fail_on in texts:
            raise RuntimeError("the model failed")
        return self.embedder.embed(texts)


def _queue_behind_first_call(batcher: QueryBatcher, model: _HeldFirstCall) -> list:
    with ThreadPoolExecutor(max_workers=len(QUERIES)) as pool:
        first = pool.submit(batcher.embed, [QUERIES[0]])
        assert model.first_call_started.wait(timeout=30)
        rest = [pool.submit(batcher.embed, [q]) for q in QUERIES[1:]]
        while len(batcher._queue) < len(rest):  # every later search is waiting in line
            threading.Event().wait(0.01)
        model.release.set()
        return [first, *rest]


def test_queued_queries_are_encoded_in_groups_of_similar_length_each_getting_its_vector(
    embedder: Embedder,
) -> None:
    model = _HeldFirstCall(embedder)
    futures = _queue_behind_first_call(QueryBatcher(model, group_texts=8), model)
    vectors = [future.result(timeout=60) for future in futures]
    # The 11 queued while the model was busy: one batch, in two calls, shortest texts first
    # (a call pads every text to its longest).
    assert [len(call) for call in model.calls[1:]] == [8, 3]
    encoded = [text for call in model.calls[1:] for text in call]
    assert sorted(encoded) == sorted(QUERIES[1:])
    assert [len(text) for text in encoded] == sorted(len(text) for text in QUERIES[1:])
    # Each caller gets its own text's vector from the call that encoded it (int8 activations
    # are scaled per call, so the same call is encoded again to compare).
    expected = {
        text: vector
        for call in model.calls
        for text, vector in zip(call, embedder.embed(call), strict=True)
    }
    for query, query_vector in zip(QUERIES, vectors, strict=True):
        assert query_vector.shape == (1, embedder.dimension)
        np.testing.assert_allclose(query_vector[0], expected[query], atol=1e-5)


def test_a_model_error_reaches_every_caller_of_its_batch_and_the_next_call_works(
    embedder: Embedder,
) -> None:
    model = _HeldFirstCall(embedder, fail_on=QUERIES[5])
    batcher = QueryBatcher(model, group_texts=len(QUERIES))
    futures = _queue_behind_first_call(batcher, model)
    assert futures[0].result(timeout=60).shape == (1, embedder.dimension)
    for future in futures[1:]:
        with pytest.raises(RuntimeError, match="the model failed"):
            future.result(timeout=60)
    np.testing.assert_allclose(
        batcher.embed([QUERIES[1]])[0], embedder.embed([QUERIES[1]])[0], atol=1e-5
    )


def test_callers_of_groups_encoded_before_a_failing_one_keep_their_vectors(
    embedder: Embedder,
) -> None:
    longest = max(QUERIES[1:], key=len)  # encoded in the last group
    model = _HeldFirstCall(embedder, fail_on=longest)
    futures = _queue_behind_first_call(QueryBatcher(model, group_texts=4), model)
    failing_group = next(call for call in model.calls[1:] if longest in call)
    for query, future in zip(QUERIES[1:], futures[1:], strict=True):
        if query in failing_group:
            with pytest.raises(RuntimeError, match="the model failed"):
                future.result(timeout=60)
        else:
            call = next(call for call in model.calls[1:] if query in call)
            np.testing.assert_allclose(
                future.result(timeout=60)[0], embedder.embed(call)[call.index(query)], atol=1e-5
            )
    assert len(model.calls) == 4  # the held first call, then groups of 4, 4 and 3


def test_a_lone_caller_with_several_texts_gets_them_in_order(embedder: Embedder) -> None:
    vectors = QueryBatcher(embedder).embed(QUERIES[:3])
    np.testing.assert_allclose(vectors, embedder.embed(QUERIES[:3]), atol=1e-5)


def test_searches_on_onnx_runtime_embed_in_a_one_thread_session_of_their_own(
    embedder: Embedder, tmp_path: Path
) -> None:
    if not isinstance(embedder, OnnxEmbedder):
        pytest.skip("the default runtime here is torch")
    with RAG(settings=Settings(home=tmp_path), embedder=embedder) as rag:
        queries = rag.query_embedder.embedder
        assert isinstance(queries, OnnxEmbedder) and queries is not embedder
        assert queries is embedder.for_queries()  # one per model, shared by every RAG
        session = queries._parts()[0]
        assert session.get_session_options().intra_op_num_threads == 1
        got = rag.query_embedder.embed(QUERIES[:3])
    # The same model: vectors as the ingest session's, up to int8 activation scaling per call.
    np.testing.assert_allclose(got, embedder.embed(QUERIES[:3]), atol=5e-3)
