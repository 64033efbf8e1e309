"""A small, seeded torch training loop shared by the MLP and matrix-factorisation routers.

Both models map a batch of query embeddings to logits; the loss is cross-entropy against soft
targets (a tie under ``ties="both"`` is the target 0.5). Everything random (initialisation,
shuffling, input noise) draws from generators seeded with the router's ``seed``, inside
``torch.random.fork_rng`` so fitting a router never changes the caller's global RNG state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def train(
    build: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: str,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    input_noise: float = 0.0,
) -> Any:
    """Build a module with ``build()`` under ``seed`` and fit it with Adam.

    Args:
        loss: "bce" (module returns one logit per row, P(strong) = σ(logit)) or "softmax"
            (module returns two logits per row, [weak, strong]).
        input_noise: std of Gaussian noise added to the embeddings during training
            (RouteLLM's MF trick to stabilise training).

    A module with a ``set_loss_gradients(x, y)`` method computes the "bce" loss gradients
    itself (setting each parameter's ``.grad``), in place of ``loss.backward()``.
    """
    import torch

    # The models are tiny (batch 64 x a few hundred units): thread hand-offs cost more than
    # the arithmetic, and on a busy machine two threads were 20x slower than one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(build, X, y, loss=loss, epochs=epochs, batch_size=batch_size, lr=lr,
                      weight_decay=weight_decay, seed=seed, input_noise=input_noise)
    finally:
        torch.set_num_threads(threads)


def _train(
    build: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: str,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    input_noise: float,
) -> Any:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        module = build()
    gen = torch.Generator().manual_seed(int(seed) + 1)
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    # fused: one kernel per parameter instead of a dozen small ops (same update rule).
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    n = Xt.shape[0]
    module.train()
    for _ in range(int(epochs)):
        # Shuffle and draw the epoch's noise in one call each, then slice batches: a fraction
        # of the per-call overhead that dominates on a few hundred rows. (When the row length
        # is a multiple of 16, torch's normal block, e.g. 384, these are the very draws the
        # per-batch calls made before.)
        perm = torch.randperm(n, generator=gen)
        X_epoch, y_epoch = Xt[perm], yt[perm]
        if input_noise > 0:
            X_epoch = X_epoch + input_noise * torch.randn(X_epoch.shape, generator=gen)
        for start in range(0, n, int(batch_size)):
            xb = X_epoch[start : start + int(batch_size)]
            yb = y_epoch[start : start + int(batch_size)]
            if loss == "bce" and hasattr(module, "set_loss_gradients"):
                module.set_loss_gradients(xb, yb)  # closed form, no autograd graph
                opt.step()
                continue
            out = module(xb)
            if loss == "bce":
                batch_loss = torch.nn.functional.binary_cross_entropy_with_logits(out, yb)
            else:
                soft = torch.stack([1.0 - yb, yb], dim=1)
                batch_loss = -(soft * torch.log_softmax(out, dim=1)).sum(dim=1).mean()
            opt.zero_grad()
            batch_loss.backward()
            opt.step()
    module.eval()
    return module


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function, clipped into [0, 1]."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return np.clip(out, 0.0, 1.0)
