"""Semantic-entropy (SE) preference labels: the Confidence-Driven router's label source.

Pieces, each testable on its own:

* :mod:`~harness.labels.se.sampling` — prompts and the K samples + greedy answer per model;
* :mod:`~harness.labels.se.nli` — entailment backends (LLM judge, MNLI classifier, embeddings);
* :mod:`~harness.labels.se.clustering` — bidirectional-entailment clustering (batched) and
  the reference algorithm;
* :mod:`~harness.labels.se.entropy` — SE by eq. 1-2 and discrete SE;
* :mod:`~harness.labels.se.labelling` — δ_SE and τ (eq. 3-4);
* :mod:`~harness.labels.se.pipeline` — prompts → models → SE table (``routerlab labels se``);
* :mod:`~harness.labels.se.store` — label files (Parquet, no prompt text);
* :mod:`~harness.labels.se.source` — :class:`SELabels`, registered as ``se``.

``data/`` holds the committed default label set (weak = qwen-0.5b, strong = qwen-1.5b).
"""
