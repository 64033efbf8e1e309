"""Study files and the resumable study runner (real MLflow sqlite store, real data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from studies.spec import load_study, parse_study

REPO = Path(__file__).resolve().parent.parent


def test_paper_study_is_the_papers_grid() -> None:
    study = load_study(REPO / "studies" / "paper.toml")
    combos = [c for c in study.combinations() if c.train_fraction == 1.0]
    paper_benchmarks = ("mt_bench", "gsm8k", "mmlu")
    trained = {
        (c.labels, c.router, c.benchmark)
        for c in combos
        if c.labels and c.benchmark in paper_benchmarks and c.protocol == "transfer"
    }
    assert trained == {
        (lab, r, b)
        for lab in ("se", "accuracy", "arena")
        for r in ("sw_ranking", "mf", "knn", "mlp")
        for b in ("mt_bench", "gsm8k", "mmlu")
    }
    # The pair's own outcomes under the protocols that never score a training prompt.
    own = {
        (c.protocol, c.router, c.features, c.benchmark) for c in combos if c.labels == "outcomes"
    }
    benchmarks = ("mt_bench", "gsm8k", "mmlu", "gsm8k_qwen", "mmlu_qwen")
    assert own == {
        (p, r, "embedding", b)
        for p in ("cross-fit", "leave-one-benchmark-out")
        for r in ("knn", "mlp")
        for b in benchmarks
    } | {
        ("cross-fit", "blend", "embedding+stats", b) for b in benchmarks
    }
    # Random on every benchmark, and Table 2's second pair in the same study.
    assert {c.benchmark for c in combos if c.router == "random"} == {
        "mt_bench",
        "gsm8k",
        "mmlu",
        "gsm8k_qwen",
        "mmlu_qwen",
    }
    # Table 2's claim on the local pair: balanced SE labels (transfer) and the in-domain
    # MMLU and GSM8K sets, each beside accuracy labels from the same prompts, on both
    # feature sets.
    qwen = {
        (c.system, c.labels, c.router, c.features, c.benchmark): c.label_params
        for c in combos
        if c.system.endswith(")")
    }
    routers = ("sw_ranking", "mf", "knn", "mlp")
    features = ("embedding", "embedding+stats")
    assert qwen == {
        **{
            ("Confidence (balanced)", "se", r, f, b): {"strong_share": 0.5}
            for r in routers
            for f in features
            for b in ("gsm8k_qwen", "mmlu_qwen")
        },
        **{
            ("Confidence (MMLU in-domain)", "se", r, f, "mmlu_qwen"): {
                "path": "mmlu_train",
                "strong_share": 0.5,
            }
            for r in routers
            for f in features
        },
        **{
            ("TO-Router (MMLU in-domain)", "accuracy", r, f, "mmlu_qwen"): {
                "responses": "mmlu_train"
            }
            for r in routers
            for f in features
        },
        **{
            ("Confidence (GSM8K in-domain)", "se", r, f, "gsm8k_qwen"): {
                "path": "gsm8k_train",
                "strong_share": 0.5,
            }
            for r in routers
            for f in features
        },
        **{
            ("TO-Router (GSM8K in-domain)", "accuracy", r, f, "gsm8k_qwen"): {
                "responses": "gsm8k_train"
            }
            for r in routers
            for f in features
        },
        # the control for both in-domain checks: the same label files' samples, graded
        **{
            (f"Sampled accuracy ({name} in-domain)", "sampled_accuracy", r, f, bench): {
                "path": path
            }
            for name, bench, path in (
                ("MMLU", "mmlu_qwen", "mmlu_train"), ("GSM8K", "gsm8k_qwen", "gsm8k_train")
            )
            for r in routers
            for f in features
        },
        **{
            ("Sampled accuracy (balanced)", "sampled_accuracy", r, f, bench): {}
            for bench in ("gsm8k_qwen", "mmlu_qwen")
            for r in routers
            for f in features
        },
    }
    keys = [c.key for c in study.combinations()]
    assert len(keys) == len(set(keys))
    # The key is a pure function of the combination's config.
    assert [c.key for c in load_study("paper").combinations()] == keys


def test_key_changes_with_any_parameter() -> None:
    base = {
        "name": "s",
        "benchmarks": ["gsm8k"],
        "grid": [{"labels": ["arena"], "routers": ["knn"]}],
    }
    a = next(parse_study(base).combinations())
    b = next(parse_study({**base, "router_params": {"knn": {"k": 3}}}).combinations())
    c = next(parse_study({**base, "seeds": [1]}).combinations())
    assert len({a.key, b.key, c.key}) == 3
    # The benchmark's data fingerprint is part of the key: changed data is evaluated anew.
    from dataclasses import replace

    assert replace(a, data_sha256="x").key != replace(a, data_sha256="y").key


def test_key_holds_the_defaults_so_a_changed_default_is_evaluated_anew(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from routers.knn import KNNRouter
    from studies.runner import with_resolved_params

    raw = {
        "name": "s",
        "benchmarks": ["gsm8k"],
        "grid": [{"labels": ["arena"], "routers": ["knn"]}],
        "router_params": {"knn": {"k": 3}},
    }
    (before,) = with_resolved_params([next(parse_study(raw).combinations())])
    assert before.resolved_params["router"]["k"] == 3  # the study's value
    assert before.resolved_params["router"]["duplicates"] == "merge"  # a default
    assert "labels" in before.resolved_params
    # A release whose default differs: a new key (no stale reuse), the same config key (the
    # report shows the newest run of the combination, not both).
    defaults = KNNRouter.__init__.__defaults__
    assert defaults is not None
    names = KNNRouter.__init__.__code__.co_varnames[1 : 1 + len(defaults)]
    patched = tuple(
        "keep" if name == "duplicates" else d for name, d in zip(names, defaults, strict=True)
    )
    monkeypatch.setattr(KNNRouter.__init__, "__defaults__", patched)
    (after,) = with_resolved_params([next(parse_study(raw).combinations())])
    assert after.resolved_params["router"]["duplicates"] == "keep"
    assert after.key != before.key and after.config_key == before.config_key
    # ... and the config key is the one earlier versions wrote (hash pinned from the release
    # before resolved_params existed), so their runs are superseded, not shown twice.
    assert before.config_key == "02c59ec300b5e913"
    # An unknown keyword is a config error naming the table and the keyword, raised when
    # the study file is read (before any data loads), not a traceback.
    bad = {**raw, "router_params": {"knn": {"kk": 3}}}
    with pytest.raises(ConfigError, match=r"\[router_params.knn\]: no parameter 'kk'"):
        parse_study(bad)


def test_grid_block_label_params_benchmarks_and_variant() -> None:
    raw = {
        "name": "s",
        "benchmarks": ["gsm8k", "mmlu"],
        "label_params": {"se": {"tau": 0.2}},
        "grid": [
            {"labels": ["se"], "routers": ["knn"]},
            {
                "labels": ["se"],
                "routers": ["knn"],
                "label_params": {"se": {"strong_share": 0.5}},
                "benchmarks": ["mmlu"],
                "variant": "balanced",
            },
        ],
    }
    combos = list(parse_study(raw).combinations())
    assert [(c.system, c.benchmark, c.label_params) for c in combos] == [
        ("Confidence", "gsm8k", {"tau": 0.2}),
        ("Confidence", "mmlu", {"tau": 0.2}),
        ("Confidence (balanced)", "mmlu", {"tau": 0.2, "strong_share": 0.5}),
    ]
    # A variant without a grid block of its own keeps the keys of earlier stores.
    plain = parse_study({**raw, "grid": raw["grid"][:1]})
    assert [c.key for c in plain.combinations()] == [c.key for c in combos[:2]]
    # the same parameters under another name are another system
    renamed = {**raw, "grid": [raw["grid"][0], {**raw["grid"][1], "variant": "other"}]}
    assert list(parse_study(renamed).combinations())[2].key != combos[2].key
    bad = {**raw, "grid": [{**raw["grid"][1], "benchmarks": ["mt_bench"]}]}
    with pytest.raises(ConfigError, match=r"grid\[0\].benchmarks names \['mt_bench'\]"):
        parse_study(bad, Path("x.toml"))
    with pytest.raises(ConfigError, match="strong_share"):
        parse_study(
            {**raw, "grid": [{**raw["grid"][1], "label_params": {"se": {"strong_share": "x"}}}]},
            Path("x.toml"),
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"benchmarks": ["gsm8k"], "systems": [{"router": "random"}]}, "'name' is required"),
        (
            {
                "name": "s",
                "benchmarks": ["gsm8k"],
                "grid": [{"labels": ["arena"], "routers": ["knnn"]}],
            },
            "did you mean 'knn'",
        ),
        ({"name": "s", "benchmarks": ["gsm8k"]}, "at least one"),
        (
            {
                "name": "s",
                "benchmarks": ["gsm8k"],
                "systems": [{"router": "random"}],
                "tunning": {},
            },
            "unknown field",
        ),
        (
            {
                "name": "s",
                "benchmarks": ["gsm8k"],
                "systems": [{"router": "random"}],
                "tuning": {"objective": "auc"},
            },
            "tuning.objective",
        ),
    ],
)
def test_bad_study_files_name_the_field(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_study(raw, Path("x.toml"))


def test_missing_study_file_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="paper"):
        load_study("no_such_study")


def _tiny_study(tmp_path: Path, benchmarks: list[str]) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(
        f'name = "tiny"\nbenchmarks = {benchmarks!r}\n'.replace("'", '"') + "n_boot = 20\n"
        '[[grid]]\nlabels = ["arena"]\nrouters = ["knn"]\n'
        '[[systems]]\nrouter = "random"\n'
    )
    return path


@pytest.mark.slow
def test_study_runs_every_combination_once_and_resumes(tmp_path: Path, data_dir: Path) -> None:
    from reports.runs import load_runs
    from studies.runner import run_study

    study = load_study(_tiny_study(tmp_path, ["mt_bench"]))

    class Stop(KeyboardInterrupt):
        pass

    def interrupt(combo: object, run_id: str) -> None:
        raise Stop

    # Interrupted after the first combination: one finished run, the other not started.
    with pytest.raises(Stop):
        run_study(study, data_dir=data_dir, progress=False, on_done=interrupt)
    first = load_runs("tiny")
    assert (first["kind"] == "evaluation").sum() == 1

    resumed = run_study(study, data_dir=data_dir, progress=False)
    assert resumed.skipped == 1 and len(resumed.ran) == 1 and not resumed.failed

    again = run_study(study, data_dir=data_dir, progress=False)
    assert again.skipped == 2 and again.ran == []

    runs = load_runs("tiny")
    ev = runs[runs["kind"] == "evaluation"]
    assert len(ev) == 2 and ev["key"].nunique() == 2
    assert set(ev["system"]) == {"RouteLLM", "Random"}
    # Every run carries what the reports need: CPTs with CIs and the USD cost.
    for col in ("cpt_50", "cpt_50_lo", "cpt_80", "usd_cpt_50", "usd_cpt_80", "usd_all_strong"):
        assert ev[col].notna().all(), col
    assert (ev["usd_cpt_80"] <= ev["usd_all_strong"] + 1e-9).all()
    # One parent run for the study, reused on resume.
    assert (runs["kind"] == "parent").sum() == 1
    assert set(ev["parent_run_id"]) == {runs.loc[runs["kind"] == "parent", "run_id"].iloc[0]}
    # No matplotlib per run (the report draws the study's figures once); the scores stay.
    from harness import tracking

    client = tracking.client()
    for run_id in ev["run_id"]:
        names = {a.path for a in client.list_artifacts(run_id)}
        assert "curve.png" not in names and "scores.csv" in names


@pytest.mark.slow
def test_cli_run_and_report(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from routerlab.cli import main

    study = _tiny_study(tmp_path, ["mt_bench"])
    assert main(["run", str(study)]) == 0
    out = tmp_path / "report"
    assert main(["report", "--study", "tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "RouteLLM" in printed
    for name in ("report.md", "report.tex", "report.html", "figure2.png", "tables/table1.tex"):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_report_compares_label_sources_router_for_router(
    tmp_path: Path, data_dir: Path
) -> None:
    # Table 2's claim check on real runs: SE and accuracy labels, each training kNN and
    # SW ranking on the local pair's GSM8K; the report's router-for-router mean difference
    # is the paired bootstrap of the four runs' own scores.
    import numpy as np

    from harness import metrics as M
    from harness.benchmarks import load_benchmark
    from harness.evaluation import load_scores
    from reports.build import build_report, write_report
    from reports.runs import load_runs
    from studies.runner import run_study

    path = tmp_path / "pair.toml"
    path.write_text(
        'name = "pair"\nbenchmarks = ["gsm8k_qwen"]\nn_boot = 50\n'
        '[[grid]]\nlabels = ["se", "accuracy"]\nrouters = ["knn", "sw_ranking"]\n'
    )
    assert not run_study(load_study(path), data_dir=data_dir, progress=False).failed
    write_report("pair", tmp_path / "report")
    text = (tmp_path / "report" / "report.md").read_text()
    runs = load_runs("pair")
    ev = runs[runs["kind"] == "evaluation"].set_index(["label_source", "router"])
    bench = load_benchmark("gsm8k_qwen", data_dir)
    order = {p: i for i, p in enumerate(bench.prompt_ids)}

    def scores(source: str, router: str) -> np.ndarray:
        table = load_scores(str(ev.at[(source, router), "run_id"]))
        return table.set_index("prompt_id")["score"].reindex(list(order)).to_numpy()

    pairs = [(scores("se", r), scores("accuracy", r)) for r in ("knn", "sw_ranking")]
    want = M.paired_mean_difference(pairs, bench.weak_score, bench.strong_score)
    lo, hi = want.ci(50)
    assert (
        f"Router for router (2 routers, {len(bench)} prompts): mean difference "
        f"{want.point[0]:+.1f} [{lo:+.1f}, {hi:+.1f}]"
    ) in text
    # without the scores (a pure build from the runs frame) the claim check stays as it was
    plain = build_report(runs, study="pair")
    assert "Router for router" not in " ".join(plain.tables["table2_gsm8k_qwen"].notes)


def test_report_of_unknown_study_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from routerlab.cli import main

    assert main(["report", "--study", "never_ran"]) == 2
    assert "routerlab run" in capsys.readouterr().err


@pytest.mark.slow
def test_query_latency_is_measured_once_per_embedding_model(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.embeddings import DEFAULT_MODEL, EmbeddingCache, model_cache_key
    from studies.runner import StudyLoader

    monkeypatch.setenv("ROUTERLAB_CACHE_DIR", str(tmp_path))  # a cache with no timings yet
    key = model_cache_key(DEFAULT_MODEL)
    loader = StudyLoader(data_dir)
    for name in ("mt_bench", "gsm8k"):
        loader.benchmark(name)
    first = loader.embed_seconds_per_query(DEFAULT_MODEL, n=8)  # loads the model, times it
    assert 0 < first < 5
    # Every later run of the study (any benchmark) reuses the one measurement ...
    assert loader.embed_seconds_per_query(DEFAULT_MODEL) == first
    assert list(loader._embed_seconds) == [DEFAULT_MODEL]
    # ... and it is kept in the embedding cache, so the next study measures nothing.
    cache = EmbeddingCache()
    assert cache.seconds_per_text(key, min_texts=8) == pytest.approx(first)
    assert cache.seconds_per_text(key, min_texts=9) is None
    cache.record_encode_time(key, 8, 8 * 3 * first)  # texts embedded later, 3x slower
    again = StudyLoader(data_dir).embed_seconds_per_query(DEFAULT_MODEL, n=8)
    assert again == pytest.approx(2 * first)  # the mean over all 16 timed texts


def test_a_grown_label_file_gives_its_runs_new_keys(data_dir: Path, tmp_path: Path) -> None:
    """The SE label set grows in committed chunks under the same file name: a rerun must
    score again rather than keep results made on the old labels."""
    import pandas as pd

    from harness.labels.se.store import DEFAULT_LABEL_FILE
    from studies.runner import StudyLoader, keyed_combinations
    from studies.spec import parse_study

    labels = tmp_path / "labels.parquet"
    frame = pd.read_parquet(DEFAULT_LABEL_FILE)
    frame.iloc[: len(frame) - 20].to_parquet(labels)
    study = parse_study({
        "name": "grown", "benchmarks": ["mt_bench"],
        "label_params": {"se": {"path": str(labels)}},
        "grid": [{"labels": ["se", "arena"], "routers": ["knn"]}],
    })

    def keys() -> dict[str | None, str]:
        return {c.labels: c.key for c in keyed_combinations(study, StudyLoader(data_dir))}

    before = keys()
    frame.to_parquet(labels)  # 20 more prompts labelled, same file
    after = keys()
    assert after["se"] != before["se"]
    assert after["arena"] == before["arena"]
