"""Two-layer MLP router (TO-Router / the paper's eq. 10).

ε → Linear(d, hidden) → ReLU → Linear(hidden, 2) → softmax over [weak wins, strong wins];
the score is the softmax probability of "strong wins". Trained with Adam on cross-entropy
against soft targets (a tie under ``ties="both"`` is [0.5, 0.5]).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.search_space import Choice, FloatRange, IntRange, ParamSpec, whole_number
from routers._fitting import apply_ties, check_targets, check_X, prior
from routers.base import Router


class MLPRouter(Router):
    """Two-layer ReLU network with a softmax output.

    Args:
        hidden_size: width of the hidden layer.
        epochs, batch_size, lr, weight_decay: Adam training schedule.
        dropout: dropout on the hidden layer during training (0 = none).
        ties: "both" (a tie is the soft target 0.5) or "drop".
        seed: seeds initialisation and shuffling; same seed, same scores.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "hidden_size": IntRange(16, 512, log=True, min=1, max=65_536),
        "epochs": IntRange(5, 100, log=True, min=1, max=100_000),
        "lr": FloatRange(1e-4, 1e-2, log=True, min=0.0, max=10.0),
        "weight_decay": FloatRange(1e-6, 1e-2, log=True, min=0.0, max=10.0),
        "dropout": FloatRange(0.0, 0.5, min=0.0, max=0.99),
        "ties": Choice(("both", "drop")),
    }
    param_rules: ClassVar[dict[str, ParamSpec]] = {"batch_size": whole_number(1, 1_000_000)}

    def __init__(
        self,
        hidden_size: int = 128,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.0,
        ties: str = "both",
        seed: int = 0,
    ) -> None:
        self.hidden_size = hidden_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.ties = ties
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> MLPRouter:
        from routers._torch import train

        Xc = check_X(X)
        yc = check_targets(Xc, y)
        Xc, yc = apply_ties(Xc, yc, self.ties)
        self.prior_ = prior(yc)
        self.module_: Any = None
        if Xc.shape[0] == 0:
            return self
        d = Xc.shape[1]

        def build() -> Any:
            import torch

            return torch.nn.Sequential(
                torch.nn.Linear(d, int(self.hidden_size)),
                torch.nn.ReLU(),
                torch.nn.Dropout(float(self.dropout)),
                torch.nn.Linear(int(self.hidden_size), 2),
            )

        self.module_ = train(
            build, Xc, yc, loss="softmax", epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, weight_decay=self.weight_decay, seed=self.seed,
        )
        # Score with numpy: a torch call costs more than this network's arithmetic.
        first, last = self.module_[0], self.module_[3]
        self.W1_ = first.weight.detach().numpy().astype(np.float32)
        self.b1_ = first.bias.detach().numpy().astype(np.float32)
        # softmax over [weak, strong] = σ(logit_strong − logit_weak): keep the difference
        self.w2_ = (last.weight[1] - last.weight[0]).detach().numpy().astype(np.float32)
        self.b2_ = float((last.bias[1] - last.bias[0]).detach())
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        from routers._torch import sigmoid

        Xq = check_X(X)
        if self.module_ is None:
            return np.full(Xq.shape[0], self.prior_)
        hidden = np.maximum(Xq @ self.W1_.T + self.b1_, 0.0)
        return sigmoid(hidden @ self.w2_ + self.b2_)
