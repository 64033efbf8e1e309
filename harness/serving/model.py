"""The MLflow pyfunc model of a trained router: prompts in, route and score out.

``log_router_model`` logs a :class:`~harness.serving.trained.TrainedRouter` as a pyfunc
model (artifacts: the fitted router, pickled, and ``router.json`` with the threshold, the
embedding model's reference, the resolved hyper-parameters and the label and data digests)
and registers it. ``mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"prompt": [...]}))``
returns one row per prompt, ``route`` (``strong``/``weak``) and ``score`` (P(strong wins));
``mlflow models serve -m models:/NAME/VERSION --env-manager local`` serves the same over
HTTP (``POST /invocations`` with ``{"dataframe_records": [{"prompt": "..."}]}``).

The served model embeds prompts without routerlab's disk cache: a router in production must
not store the traffic it sees.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.embeddings import encode
from harness.prompt_features import StatisticsScaler, router_input
from harness.serving.trained import TrainedRouter

MODEL_NAME = "router"  # the logged model's name inside its run


def prompts_of(model_input: Any) -> list[str]:
    """The prompts of a pyfunc input: a DataFrame with a ``prompt`` column, or a list."""
    if isinstance(model_input, pd.DataFrame):
        column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
        return model_input[column].astype(str).tolist()
    if isinstance(model_input, str):
        return [model_input]
    return [str(p) for p in model_input]


def route_prompts(router: Any, config: dict[str, Any], prompts: list[str]) -> pd.DataFrame:
    """``route`` and ``score`` per prompt (the served model's answer)."""
    if not prompts:
        return pd.DataFrame({"route": pd.Series([], dtype=str),
                             "score": pd.Series([], dtype=float)})
    raw = config.get("statistics")
    scaler = StatisticsScaler.from_dict(raw) if raw else None
    X = router_input(encode(prompts, config["embedding_model"]), prompts, scaler)
    scores = np.asarray(router.score(X), dtype=float)
    routes = np.where(scores >= float(config["threshold"]), "strong", "weak")
    return pd.DataFrame({"route": routes, "score": scores})


def log_router_model(trained: TrainedRouter, *, registered_name: str | None) -> Any:
    """Log ``trained`` as a pyfunc model into the active run (and register it); returns
    MLflow's ModelInfo."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    if trained.threshold is None:
        raise ValueError("a router needs its threshold before export")
    config = {**trained.describe(), "threshold": float(trained.threshold)}
    example = pd.DataFrame({"prompt": ["What is 17 * 23?", "Write a sonnet about tea."]})
    output = route_prompts(trained.router, config, prompts_of(example))
    with tempfile.TemporaryDirectory() as tmp:
        router_file = Path(tmp) / "router.pkl"
        router_file.write_bytes(pickle.dumps(trained.router))
        config_file = Path(tmp) / "router.json"
        config_file.write_text(json.dumps(config, indent=2, default=str))
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(Path(__file__).with_name("pyfunc_model.py")),
            artifacts={"router": str(router_file), "config": str(config_file)},
            signature=infer_signature(example, output),
            input_example=example,
            registered_model_name=registered_name,
            metadata={k: str(v) for k, v in config.items() if not isinstance(v, dict)},
        )
