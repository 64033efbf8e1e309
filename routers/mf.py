"""Matrix-factorisation router: bilinear Bradley–Terry (RouteLLM; the paper's eq. 9).

Each model M has a learned embedding v_M (L2-normalised); the query embedding is projected,
u = W ε, and the model's score on the query is s(M, q) = wᵀ (v_M ⊙ u). Then

    P(M_w beats M_l | q) = σ(s(M_w, q) − s(M_l, q)),

trained with binary cross-entropy, Adam and Gaussian noise on the query embeddings, as in
RouteLLM's ``train_matrix_factorization.py`` (dim 128, lr 3e-4, weight decay 1e-5, noise
0.1, batch 64). The two models here are the strong and the weak tier; the score is
P(strong beats weak | q). RouteLLM trains MF on battles with a winner only, so ties are
dropped by default (``ties="both"`` keeps them as the soft target 0.5).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from harness.search_space import Choice, FloatRange, IntRange, ParamSpec, whole_number
from routers._fitting import apply_ties, check_targets, check_X, prior
from routers.base import Router

WEAK, STRONG = 0, 1


def _build_module(text_dim: int, dim: int) -> Any:
    import torch

    class BilinearBT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.models = torch.nn.Embedding(2, dim)  # v_weak, v_strong
            self.text_proj = torch.nn.Linear(text_dim, dim, bias=False)  # W
            self.classifier = torch.nn.Linear(dim, 1, bias=False)  # w

        def direction(self) -> torch.Tensor:
            """u with s(strong, q) − s(weak, q) = uᵀε (see ``MFRouter.fit``)."""
            v = torch.nn.functional.normalize(self.models.weight, p=2, dim=1)
            return self.text_proj.weight.T @ (self.classifier.weight[0] * (v[STRONG] - v[WEAK]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # The logit of P(strong beats weak | q), s(strong, q) − s(weak, q) =
            # wᵀ(v_s ⊙ Wε) − wᵀ(v_w ⊙ Wε), computed as (Wᵀ(w ⊙ (v_s − v_w)))ᵀε: the same
            # function and gradients, but one matrix-vector product instead of projecting the
            # whole batch (training ran 3x faster on the grid's few hundred rows).
            return x @ self.direction()

        @torch.no_grad()
        def set_loss_gradients(self, x: torch.Tensor, y: torch.Tensor) -> None:
            """Set each parameter's ``.grad`` to that of the mean BCE of ``forward(x)`` vs ``y``.

            The same numbers autograd gives (a test checks it), in closed form: with
            v = E/‖E‖ row-wise, δ = v_s − v_w, a = w ⊙ δ, d = Wᵀa and z = xd,
            ∂L/∂z = (σ(z) − y)/B, g_d = xᵀ∂L/∂z, ∂L/∂W = a g_dᵀ, g_a = W g_d,
            ∂L/∂w = g_a ⊙ δ, ∂L/∂δ = g_a ⊙ w, and through the row normalisation
            ∂L/∂E = (g_v − v (v·g_v))/‖E‖ with g_v = (−∂L/∂δ, +∂L/∂δ) for (weak, strong).
            Without autograd's graph a step costs 40 % less on the grid's few hundred rows.
            """
            E, W, w = self.models.weight, self.text_proj.weight, self.classifier.weight
            norm = E.norm(dim=1, keepdim=True).clamp_min(1e-12)  # F.normalize's eps
            v = E / norm
            delta = v[STRONG] - v[WEAK]
            a = w[0] * delta
            z = x @ (W.T @ a)
            g_z = (torch.sigmoid(z) - y) / len(y)
            g_d = x.T @ g_z
            W.grad = torch.outer(a, g_d)
            g_a = W @ g_d
            w.grad = (g_a * delta)[None, :]
            g_delta = g_a * w[0]
            g_v = torch.zeros_like(v)
            g_v[STRONG], g_v[WEAK] = g_delta, -g_delta
            E.grad = (g_v - v * (v * g_v).sum(dim=1, keepdim=True)) / norm

    return BilinearBT()


class MFRouter(Router):
    """Bilinear Bradley–Terry over (strong, weak) model embeddings and projected queries.

    Args:
        dim: size of the model embeddings and of the query projection.
        epochs, batch_size, lr, weight_decay: Adam training schedule.
        noise: std of Gaussian noise added to query embeddings while training.
        ties: "drop" (RouteLLM MF) or "both" (a tie is the soft target 0.5).
        seed: seeds initialisation, shuffling and noise; same seed, same scores.
    """

    search_space: ClassVar[dict[str, ParamSpec]] = {
        "dim": IntRange(16, 256, log=True, min=1, max=65_536),
        "epochs": IntRange(5, 200, log=True, min=1, max=100_000),
        "lr": FloatRange(1e-4, 1e-2, log=True, min=0.0, max=10.0),
        "weight_decay": FloatRange(1e-7, 1e-3, log=True, min=0.0, max=10.0),
        "noise": FloatRange(0.0, 0.3, min=0.0, max=10.0),
        "ties": Choice(("drop", "both")),
    }
    param_rules: ClassVar[dict[str, ParamSpec]] = {"batch_size": whole_number(1, 1_000_000)}

    def __init__(
        self,
        dim: int = 128,
        epochs: int = 100,
        batch_size: int = 64,
        lr: float = 3e-4,
        weight_decay: float = 1e-5,
        noise: float = 0.1,
        ties: str = "drop",
        seed: int = 0,
    ) -> None:
        self.dim = dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.noise = noise
        self.ties = ties
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> MFRouter:
        from routers._torch import train

        Xc = check_X(X)
        yc = check_targets(Xc, y)
        Xc, yc = apply_ties(Xc, yc, self.ties)
        self.prior_ = prior(yc)
        self.module_: Any = None
        if Xc.shape[0] == 0:
            return self
        text_dim, dim = Xc.shape[1], int(self.dim)
        self.module_ = train(
            lambda: _build_module(text_dim, dim), Xc, yc, loss="bce", epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
            seed=self.seed, input_noise=float(self.noise),
        )
        # With two models the bilinear score collapses to one direction in embedding space:
        # s(strong) − s(weak) = wᵀ((v_s − v_w) ⊙ Wε) = uᵀε with u = Wᵀ(w ⊙ (v_s − v_w)).
        # Scoring is then one matrix-vector product.
        import torch

        with torch.no_grad():
            u = self.module_.direction()
        self.direction_ = u.numpy().astype(np.float32)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        from routers._torch import sigmoid

        Xq = check_X(X)
        if self.module_ is None:
            return np.full(Xq.shape[0], self.prior_)
        return sigmoid(Xq @ self.direction_)
