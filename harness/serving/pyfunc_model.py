"""The pyfunc model class, in MLflow's "models from code" form: ``log_router_model`` hands
MLflow this file, which MLflow copies into the model and runs at load time (no pickled
class). Only MLflow imports it."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from harness.embeddings import encode
from harness.serving.model import prompts_of, route_prompts


class RouterModel(PythonModel):
    """Routes prompts: embed (the referenced model), score, compare to the threshold."""

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["router"], "rb") as fh:
            self.router = pickle.load(fh)
        self.config = json.loads(Path(context.artifacts["config"]).read_text())
        encode(["warm up"], self.config["embedding_model"])  # load the model once, now

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return route_prompts(self.router, self.config, prompts_of(model_input))


mlflow.models.set_model(RouterModel())
