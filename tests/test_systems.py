"""One record per system, one function to its scores, one label cache: every entry point
(evaluate, a study's grid, tuning, named systems) gives the same scores for the same system."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from synthetic import synthetic_benchmark

from harness.benchmarks import load_benchmark
from harness.labels import cache
from harness.systems import SystemSpec, score_system


def test_every_entry_point_scores_a_system_alike(data_dir: Path, tmp_path: Path) -> None:
    from baselines.systems import get_system
    from harness.evaluation import evaluate
    from studies.runner import StudyLoader, score_combination
    from studies.spec import Combination
    from studies.tuning import TuneSpec, make_scorer

    bench = load_benchmark("mt_bench", data_dir)
    spec = SystemSpec("knn", {"k": 5}, labels="arena", seed=3)
    direct = score_system(spec, bench, data_dir=data_dir, show_progress=False)

    named = get_system("routellm-sw")  # a named system is a spec too
    assert named.spec(seed=3).router == "sw_ranking" and named.spec(seed=3).labels == "arena"

    combo = Combination(benchmark="mt_bench", router="knn", labels="arena",
                        router_params={"k": 5}, label_params={}, seed=3)
    assert combo.system_spec() == spec
    kept, scores, _, _ = score_combination(combo, StudyLoader(data_dir))
    assert kept.prompt_ids == direct.benchmark.prompt_ids
    np.testing.assert_array_equal(scores, direct.scores)

    scorer = make_scorer(TuneSpec(router="knn", labels="arena", benchmark="mt_bench", seed=3),
                         data_dir)
    np.testing.assert_array_equal(scorer({"k": 5}, {}, bench), direct.scores)

    result = evaluate(bench, "knn", labels="arena", router_params={"k": 5}, seed=3,
                      n_boot=0, data_dir=data_dir)
    assert result.metrics["n"] == len(direct.benchmark)


def test_the_label_cache_loads_once_and_rereads_a_rewritten_file(
    data_dir: Path, tmp_path: Path
) -> None:
    cache.clear()
    path = synthetic_benchmark(tmp_path / "syn.csv", n=6)
    params = {"benchmarks": (str(path),)}
    first = cache.load_label_set("outcomes", params, data_dir)
    again = cache.load_label_set("outcomes", params, data_dir)
    assert again.records is first.records  # served from the cache, not re-read
    again.meta["x"] = 1
    assert "x" not in cache.load_label_set("outcomes", params, data_dir).meta  # meta copied

    # The same file rewritten with other outcomes (a resumed label run): read again.
    path.write_text(path.read_text().replace("True", "False", 3))
    changed = cache.load_label_set("outcomes", params, data_dir)
    assert changed.records is not first.records
    assert changed.targets()[1].tolist() != first.targets()[1].tolist()
