"""Studies: the paper's grid in one command, Optuna tuning, the judge step.

* :mod:`studies.spec` — study files (TOML/YAML): label sources × routers × benchmarks ×
  seeds (× training-set shares), tuning budget, optional [judge] step.
* :mod:`studies.runner` — ``routerlab run STUDY``: each combination is a child MLflow run
  keyed by a hash of its config; finished keys are skipped, so reruns resume.
* :mod:`studies.tuning` — ``routerlab tune``: Optuna over the plugins' search spaces on a
  leak-free validation split, then one evaluation on the test split.
* :mod:`studies.judging` — Table 3: the best router of each system at CPT(50/80 %) judged
  by an LLM (:mod:`judges`).

Table 2's second pair (GSM8K answered by a local weak/strong pair, benchmark ``gsm8k_qwen``)
is a benchmark like the others: :mod:`harness.benchmarks.local_pair`.
"""
