"""Wall time of the paper grid (``routerlab run studies/paper.toml``): baseline code vs now.

    nice -n 5 python bench/grid.py                    # baseline = commit 341c172
    python bench/grid.py --baseline <rev> --study studies/smoke.toml
    python /tmp/copy/bench/grid.py --repo .           # time a copy, baseline from this repo

What is timed. Each version runs ``routerlab run STUDY`` in its own fresh process, from its
own source tree (the baseline is extracted from git with ``git archive`` into a temporary
folder and put first on ``PYTHONPATH``), into its own fresh MLflow store (a new
``ROUTERLAB_HOME``), on the same data directory and the same embedding cache. Before
either is timed, every text the study embeds (benchmark prompts and label-source training
prompts) is put into the embedding cache, so both runs read their embeddings from disk:
the goal of issue 13 is "fresh MLflow store, cached embeddings". The wall time includes
starting Python and importing the libraries, as a user running the command sees it.

The cache also keeps how long encoding took (the study's query latency reads it; see
``StudyLoader.embed_seconds_per_query``); when it has no such record yet (filled by older
code) the warm-up measures it once, as a first study run would.

Then both stores are compared run by run (same combination key): the largest difference of
each headline metric is printed, so a speed-up that changes results shows here.

Target (issue 13): the current code under 60 s on two cores and at least 2x faster than
the baseline. The current code is timed twice: as a user types the command (``--workers
auto``: one worker process per core for a study this size) and in one process
(``--workers 1``), the code's own speed. The machine is shared; run it when the CPUs are
otherwise quiet.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path; drop it so that a bench
# module's name never shadows a package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent

BASELINE_REV = "341c172"
HEADLINE_METRICS = ("cpt_50", "cpt_80", "apgr", "auc", "usd_cpt_50")


def extract_tree(repo: Path, rev: str, into: Path) -> Path:
    """The files of ``repo`` at ``rev`` under ``into`` (``git archive``, no checkout)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = into.parent / f"{into.name}.tar"
    subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", "-o", str(archive), rev], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()
    return into


def warm_embedding_cache(study_path: Path) -> tuple[int, float]:
    """Embed every text the study will need (benchmarks and training labels).

    Returns the number of texts and the encoding time per text the cache holds. A cache
    filled by this code keeps the encoding time and whether each text was cut (too long
    for the model) with the vectors; one filled by older code has neither, and then both
    are measured once here (as the first study run would), so that the timed run sees the
    cache a user of this code has.
    """
    from harness import paths
    from harness.embeddings import (
        DEFAULT_MODEL,
        EmbeddingCache,
        embed,
        model_cache_key,
        truncated_count,
    )
    from studies.runner import StudyLoader
    from studies.spec import load_study

    study = load_study(study_path)
    loader = StudyLoader(paths.data_dir(), study.model_pair)
    texts: dict[str, None] = {}
    for combo in study.combinations():
        texts.update(dict.fromkeys(loader.benchmark(combo.benchmark).prompts))
        if combo.labels is not None:
            records, _ = loader.labels(combo.labels, combo.label_params).targets()
            texts.update(dict.fromkeys(records["prompt"].astype(str)))
    embed(list(texts), DEFAULT_MODEL, show_progress=True)
    truncated_count(list(texts), DEFAULT_MODEL)
    seconds = loader.embed_seconds_per_query(DEFAULT_MODEL)
    assert EmbeddingCache().seconds_per_text(model_cache_key(DEFAULT_MODEL)) is not None
    return len(texts), seconds


def time_grid(tree: Path, study: Path, home: Path, *extra: str) -> float:
    """Seconds for ``routerlab run STUDY [extra]`` from ``tree`` into a fresh store under
    ``home``."""
    cli = "routerlab.cli" if (tree / "routerlab" / "cli").is_dir() else "harness.cli"
    env = {**os.environ, "PYTHONPATH": str(tree), "ROUTERLAB_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    code = f"import sys; from {cli} import main; sys.exit(main(sys.argv[1:]))"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, "run", str(study), *extra],
        cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:])
        raise SystemExit(f"{cli} run {study} failed in {tree} (exit {done.returncode})")
    return seconds


def runs_by_key(home: Path) -> dict[tuple[str, ...], dict[str, float]]:
    """Metrics of every finished grid run in the store under ``home``, by grid cell (label
    source, router, benchmark, training fraction, seed). Combination keys would not do: they
    fingerprint the label data, which each tree ships its own copy of."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{(home / 'mlflow.db').resolve()}")
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for exp in client.search_experiments():
        for run in client.search_runs([exp.experiment_id], max_results=50000):
            tags = run.data.tags
            if not tags.get("routerlab.key"):
                continue
            cell = tuple(tags.get(f"routerlab.{name}", "") for name in
                         ("label_source", "router", "benchmark", "train_fraction", "seed"))
            out[cell] = dict(run.data.metrics)
    return out


def compare(
    base: dict[tuple[str, ...], dict[str, float]], new: dict[tuple[str, ...], dict[str, float]]
) -> list[str]:
    """Per label source, the largest |new - baseline| of each headline metric over shared
    cells. The baseline tree carries its own label files: where they differ from the
    current ones (the SE set and the accuracy labels made from its responses), so do the
    results; label sources with the same data in both trees must show 0."""
    shared = sorted(set(base) & set(new))
    lines = [f"runs: baseline {len(base)}, current {len(new)}, same cell {len(shared)}"]
    for source in sorted({cell[0] for cell in shared}):
        cells = [c for c in shared if c[0] == source]
        parts = []
        for name in HEADLINE_METRICS:
            diffs = [abs(new[c][name] - base[c][name]) for c in cells
                     if name in base[c] and name in new[c]]
            if diffs:
                parts.append(f"{name} {max(diffs):.4g}")
        lines.append(f"  {source or 'none':<9} ({len(cells)} runs) max |diff|: " + ", ".join(parts))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV, help="git revision to compare with")
    parser.add_argument("--study", default="studies/paper.toml",
                        help="study file in the baseline tree, run by both versions "
                        "(default studies/paper.toml)")
    parser.add_argument("--repo", type=Path, default=ROOT,
                        help="git repository holding the baseline revision (default: this one; "
                        "set it when running a copy of the code outside the repository)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="routerlab-bench-grid-"))
    baseline_tree = extract_tree(args.repo, args.baseline, tmp / "baseline")
    # Both versions run the same grid: the study file as the baseline has it (a later
    # commit may add cells to the shipped study; the current code reads older files).
    study = (baseline_tree / args.study).resolve()
    print(f"warming the embedding cache for {study} ...", flush=True)
    n, per_text = warm_embedding_cache(study)
    print(f"  {n} distinct texts cached; encoding time on record {1000 * per_text:.1f} ms/text",
          flush=True)

    cpus = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    print(f"machine: {cpus} CPUs, load average {load:.1f} before the timed runs", flush=True)
    seconds = {}
    # "current" is the command as a user types it (``--workers auto``: one process per core
    # for a study this size); "current-1" is one process, the code's own speed.
    for label, tree, extra in (("baseline", baseline_tree, ()), ("current", ROOT, ()),
                               ("current-1", ROOT, ("--workers", "1"))):
        home = tmp / f"home-{label}"
        seconds[label] = time_grid(tree, study, home, *extra)
        print(f"{label:<9} {seconds[label]:7.1f} s   ({tree} {' '.join(extra)})", flush=True)
    ratio = seconds["baseline"] / seconds["current"]
    print(f"ratio     {ratio:7.2f}x  (baseline {args.baseline} / current; goal >= 2x, "
          f"current < 60 s)")
    print(f"one process: {seconds['baseline'] / seconds['current-1']:.2f}x "
          "(baseline / current --workers 1)")
    for line in compare(runs_by_key(tmp / "home-baseline"), runs_by_key(tmp / "home-current")):
        print(line)
    if args.keep:
        print(f"kept {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
