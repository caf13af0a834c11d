"""Static token vectors (the default sentence scores): the table, its cache, the word weights,
and the setting that chooses them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import ingest.static_vectors as static_module
from ingest.static_vectors import DIMENSIONS, StaticTokenVectors
from rag import Settings
from rag.llm.model_paths import default_embed_model


@pytest.fixture(scope="session")
def static() -> StaticTokenVectors:
    """The packaged model's table, from the cache the library uses (built there once)."""
    return StaticTokenVectors(Path(default_embed_model()), Settings().static_cache)


def test_the_table_has_a_row_per_token_and_is_built_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(default_embed_model())
    first = StaticTokenVectors(folder, tmp_path / "cache")
    table = first.table()
    assert table.shape == (first.vocab_size, DIMENSIONS)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 1

    def no_rebuild(_folder: Path) -> np.ndarray:
        raise AssertionError("the cached table should have been read")

    monkeypatch.setattr(static_module, "build_table", no_rebuild)
    again = StaticTokenVectors(folder, tmp_path / "cache").table()
    assert np.array_equal(again, table)


def test_a_sentence_is_nearest_the_one_that_shares_its_meaning(
    static: StaticTokenVectors,
) -> None:
    query, near, far = static.embed(
        [
            "liver damage in mice",
            "The mice showed damage to the liver.",
            "Quarterly revenue rose on strong sales.",
        ]
    )
    assert float(np.linalg.norm(query)) == pytest.approx(1.0, abs=1e-5)
    assert float(query @ near) > float(query @ far) + 0.2


def test_common_words_weigh_less_than_rare_ones(static: StaticTokenVectors) -> None:
    # A collection where "the" is everywhere and "liver" once.
    counts = static.token_counts(["the the the the the the the the liver study"] * 50)
    texts = ["the liver", "liver", "the"]
    weighted = static.embed(texts, counts)
    uniform = static.embed(texts)
    # With the counts, "the liver" means "liver"; with all words alike it sits between both.
    assert float(weighted[0] @ weighted[1]) > float(uniform[0] @ uniform[1])
    assert float(weighted[0] @ weighted[2]) < float(uniform[0] @ uniform[2])


def test_a_text_without_tokens_matches_nothing(static: StaticTokenVectors) -> None:
    empty = static.embed(["", "liver"])[0]
    assert not empty.any()


@pytest.mark.parametrize(
    ("given", "chosen"),
    [("static", "static"), ("model", "model"), ("off", "off"), ("true", "model"), ("0", "off")],
)
def test_the_setting_takes_a_kind_or_the_old_boolean(
    given: str, chosen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_SENTENCE_VECTORS", given)
    assert Settings().sentence_vectors == chosen


def test_an_unknown_kind_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_SENTENCE_VECTORS", "maybe")
    with pytest.raises(ValidationError, match="static"):
        Settings()
