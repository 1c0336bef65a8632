"""What a freshly initialised encoder gives InfoNCE: cosines, the first loss, and references.

Used by the chapter page "InfoNCE on real encoders". The random-direction model of
:func:`~lossbook.sanity.expected_initial_loss` is one reference; this module measures the
encoder itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn as nn
import torch.nn.functional as F

from lossbook.sanity import _args
from lossbook.sanity.expect import expected_initial_loss

__all__ = ["ContrastiveStats", "contrastive_stats"]


@lru_cache(maxsize=128)
def _random_directions(negatives: int, temperature: float, dim: int) -> float:
    return expected_initial_loss(
        "info_nce", negatives=negatives, temperature=temperature, dim=dim, samples=20_000
    ).value


@dataclass(frozen=True)
class ContrastiveStats:
    """InfoNCE at initialisation for one encoder and one batch of positive pairs."""

    negatives: int
    loss: float
    shuffled: float
    positive_cos: float
    negative_cos: float
    negative_cos_std: float
    random_directions: float

    @property
    def uniform(self) -> float:
        """ln(K + 1): the loss when all K + 1 candidates score the same."""
        return math.log(self.negatives + 1)


def contrastive_stats(
    encoder: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    *,
    noise: float = 0.1,
    temperature: float = 0.07,
    seed: int = 0,
    shuffles: int = 8,
) -> ContrastiveStats:
    """Measure InfoNCE for a fresh ``encoder`` on positive pairs (x, x + noise·ε).

    Both views go through the encoder as one batch of 2N (as in SimCLR); embeddings are
    L2-normalised; each anchor's positive is its own second view and its K = N - 1
    negatives are the other examples' second views. ``shuffled`` is the loss with the
    labels replaced by random permutations (the same cosines; the true positive stays among
    the candidates, so for an encoder whose positives stand out this is far above ln(K+1), not a
    chance level); ``random_directions`` is the expectation for
    independent uniform unit vectors of the same dimension. Buffers are restored.
    """
    _args.positive("noise", noise, allow_zero=True)
    tau = _args.positive("temperature", temperature)
    _args.count("shuffles", shuffles, 1)
    if not isinstance(inputs, torch.Tensor) or not inputs.is_floating_point() or len(inputs) < 2:
        raise TypeError("inputs must be a floating-point tensor with at least 2 examples")
    g = torch.Generator().manual_seed(_args.count("seed", seed, 0))
    views = torch.cat([inputs, inputs + noise * torch.randn(inputs.shape, generator=g, dtype=inputs.dtype)])
    state = None
    if isinstance(encoder, nn.Module):
        state = {k: v.clone() for k, v in encoder.state_dict().items()}
    try:
        with torch.no_grad():
            emb = encoder(views)
    finally:
        if state is not None:
            encoder.load_state_dict(state)
    if not isinstance(emb, torch.Tensor) or emb.dim() != 2 or len(emb) != len(views):
        raise TypeError(
            f"the encoder must return embeddings of shape (N, d), got {getattr(emb, 'shape', emb)!r}"
        )
    emb = F.normalize(emb.double().reshape(len(views), -1), dim=1)
    n = len(inputs)
    cos = emb[:n] @ emb[n:].T
    diag = torch.eye(n, dtype=torch.bool)
    loss = float(F.cross_entropy(cos / tau, torch.arange(n)))
    shuffled = sum(float(F.cross_entropy(cos / tau, torch.randperm(n, generator=g))) for _ in range(shuffles))
    negative = cos[~diag]
    return ContrastiveStats(
        negatives=n - 1,
        loss=loss,
        shuffled=shuffled / shuffles,
        positive_cos=float(cos[diag].mean()),
        negative_cos=float(negative.mean()),
        negative_cos_std=float(negative.std()),
        random_directions=_random_directions(n - 1, tau, emb.shape[1]),
    )
