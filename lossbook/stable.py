"""Stable rearrangements of the losses that PyTorch computes naively.

:func:`lossbook.stability.sweep` finds, for every registry loss and dtype, where PyTorch's
value or gradient is not finite or loses its digits although the exact result fits in the
dtype. For each loss it finds, :data:`STABLE` holds a rearranged PyTorch function: the same
mathematics (the registry formula, PyTorch's clamps and eps included), written so that no
intermediate overflows or cancels. :func:`stable_loss` returns the registry entry with that
function, so :func:`lossbook.crosscheck` and the sweep check it like any other loss. The
chapter "Every loss in every dtype: a stability sweep" derives each one and proves it in SymPy.

>>> import torch
>>> from lossbook.stable import stable_loss
>>> big = torch.tensor([[3e20, 4e20, 4e20, 3e20]])  # cos = 24/25; |u|² overflows float32
>>> torch.nn.functional.cosine_embedding_loss(big[:, :2], big[:, 2:], torch.tensor([1.0]))
tensor(nan)
>>> stable_loss("cosine_embedding").pytorch(big, torch.tensor([1.0]))
tensor([0.0400])
>>> a, pos, neg = torch.tensor([[3e20, 0.0]]), torch.tensor([[0.0, 4e20]]), torch.zeros(1, 2)
>>> torch.nn.functional.triplet_margin_loss(a, pos, neg)  # distances 5e20 and 3e20
tensor(nan)
>>> stable_loss("triplet_margin").pytorch(torch.cat([a, pos, neg], 1))
tensor([2.0000e+20])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from functools import cache

import torch
import torch.nn.functional as F

from lossbook.family_margin import COSINE_EPS, DISTANCE_EPS, SIMILARITY_EPS
from lossbook.loss import Loss
from lossbook.losses import get

__all__ = ["STABLE", "stable_loss"]

# Each function takes x and t as the registry's torch functions do (lossbook.Loss's contract:
# x of shape (N,) for one-input losses, (N, inputs) otherwise) and the loss's hyperparameters.


def _soft_margin(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # log(1 + e^m) = logaddexp(0, m): never forms e^m for large m
    margin = -t * x
    return torch.logaddexp(torch.zeros_like(margin), margin)


def _student_t_nll(x: torch.Tensor, t: torch.Tensor, df: float, scale: float) -> torch.Tensor:
    # (ν+1)/2 · log(1 + u²/ν) = (ν+1) · log(hypot(1, u/√ν)): never squares a huge residual
    u = (t - x) / (scale * math.sqrt(df))
    const = math.log(scale) + 0.5 * math.log(df) + 0.5 * math.log(math.pi)
    const += math.lgamma(df / 2) - math.lgamma((df + 1) / 2)
    return const + (df + 1) * torch.log(torch.hypot(torch.ones_like(u), u))


def _gaussian_nll(x: torch.Tensor, t: torch.Tensor, eps: float) -> torch.Tensor:
    # ½ log v + (d / √(2v))²: the square of the scaled residual overflows only when the loss does
    var = x[:, 1].clone()
    with torch.no_grad():  # PyTorch's clamp, which the gradient passes through
        var.clamp_(min=eps)
    return 0.5 * torch.log(var) + ((x[:, 0] - t) / torch.sqrt(2 * var)) ** 2


def _poisson_nll_full(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # e^z - y z = y (expm1(d) - d) + y (1 - log y) with d = z - log y, for y > 0, and adding
    # Stirling's y log y - y + ½ log(2πy) (only for y > 1) cancels y (1 - log y) exactly: the
    # terms e^z and y z, each of size about y log y, never appear
    z, y = x, t
    positive, big = y > 0, y > 1
    log_y = torch.log(torch.where(positive, y, torch.ones_like(y)))
    d = z - log_y
    near = y * (torch.special.expm1(d) - d)
    stirling = 0.5 * (math.log(2 * math.pi) + log_y)
    return torch.where(big, near + stirling, torch.where(positive, near + y * (1 - log_y), torch.exp(z)))


def _bce(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # PyTorch's backward divides by max(p(1 - p), 1e-12); in float16 the 1e-12 is 0, and
    # p = 0 or 1 gives 0/0. Computing in float32 keeps the floor.
    wide = torch.promote_types(x.dtype, torch.float32)
    return F.binary_cross_entropy(x.to(wide), t.to(wide), reduction="none").to(x.dtype)


def _cross_entropy_smoothed(x: torch.Tensor, t: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    # PyTorch sums -log p_c over the classes before dividing by C, and a single log p_c can
    # overflow in float16 when the loss does not: -mean_c log p_c = lse(z) - mean_c z
    lse = torch.logsumexp(x, dim=1)
    z_y = x.gather(1, t.argmax(dim=1, keepdim=True))[:, 0]
    return lse - (1 - label_smoothing) * z_y - label_smoothing * x.mean(dim=1)


# --------------------------------------------------------------------------- norms


def _power_of_2_scale(*vectors: torch.Tensor, at_least_one: bool = True) -> torch.Tensor:
    """Per row, the power of 2 K with K <= max |component| < 2K over ``vectors`` (a column).

    Dividing by a power of 2 is exact unless the quotient falls below the smallest normal
    number, and the components that do are too small to move a norm built on the largest one;
    every use below is unchanged when its vectors are all divided by the same K, so K carries no
    gradient. With ``at_least_one`` small vectors are not scaled up (K >= 1: where an eps sits
    inside the norm, it dominates before a square could underflow). A zero, inf or NaN row gets
    K = 1.
    """
    with torch.no_grad():
        big = torch.stack([v.abs().amax(dim=1) for v in vectors]).amax(dim=0)
        if at_least_one:
            big = big.clamp(min=1)
        _, exponent = torch.frexp(big)
        k = torch.ldexp(torch.ones_like(big), exponent - 1)
        return torch.where(torch.isfinite(big) & (big > 0), k, torch.ones_like(k))[:, None]


def _cosine_embedding(x: torch.Tensor, t: torch.Tensor, margin: float) -> torch.Tensor:
    # cos = u·v / sqrt((|u|² + ε)(|v|² + ε)) = û·v̂ / (sqrt(|û|² + ε/K_u²) sqrt(|v̂|² + ε/K_v²))
    # with û = u/K_u: never forms |u|²|v|² (s⁴) nor |u|² (s²)
    d = x.shape[1] // 2
    u, v = x[:, :d], x[:, d:]
    k_u, k_v = _power_of_2_scale(u), _power_of_2_scale(v)
    u, v = u / k_u, v / k_v
    eps = float(COSINE_EPS)
    norm_u = torch.sqrt((u * u).sum(1) + eps / k_u[:, 0] ** 2)
    norm_v = torch.sqrt((v * v).sum(1) + eps / k_v[:, 0] ** 2)
    cos = (u * v).sum(1) / (norm_u * norm_v)
    zero = torch.zeros_like(cos)
    return torch.where(t == 1, 1 - cos, zero) + torch.where(t == -1, (cos - margin).clamp_min(0), zero)


def _distance(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    # |u - v + ε| = f K |w/K| with w = (u - v + ε)/f and K the power of 2 of w's largest
    # component (at least 1): scaling by the difference itself, not by u and v, which can be
    # huge while u - v is small (their scale would make w/K underflow). f = 1 (w formed as
    # PyTorch forms it) unless u - v overflows; then f = 2 and w = u/2 - v/2 + ε/2 (not
    # everywhere: ε/2 rounds coarser than ε where it is subnormal, as in float16).
    eps = float(DISTANCE_EPS)
    whole = u - v + eps
    finite = torch.isfinite(u).all(1, keepdim=True) & torch.isfinite(v).all(1, keepdim=True)
    over = finite & ~torch.isfinite(whole).all(1, keepdim=True)
    w = torch.where(over, u / 2 - v / 2 + eps / 2, whole)
    f = torch.where(over, 2.0, 1.0).to(w.dtype)[:, 0]
    k = _power_of_2_scale(w)
    return f * (k[:, 0] * torch.linalg.vector_norm(w / k, dim=1))  # f·K alone can overflow


def _triplet_margin(x: torch.Tensor, t: torch.Tensor, margin: float) -> torch.Tensor:
    d = x.shape[1] // 3
    a, pos, neg = x[:, :d], x[:, d : 2 * d], x[:, 2 * d :]
    return (margin + _distance(a, pos) - _distance(a, neg)).clamp_min(0)


def _unit(u: torch.Tensor) -> torch.Tensor:
    # u / max(|u|, ε) = û / max(|û|, ε/K), with cosine_similarity's backward: the clamp sets
    # the value and the gradient is the unclamped norm's (see the registry entry's autograd)
    k = _power_of_2_scale(u)
    u = u / k
    norm = torch.linalg.vector_norm(u, dim=1, keepdim=True)
    clamped = norm + (torch.maximum(norm, float(SIMILARITY_EPS) / k) - norm).detach()
    return u / clamped


def _triplet_margin_cosine(x: torch.Tensor, t: torch.Tensor, margin: float) -> torch.Tensor:
    d = x.shape[1] // 3
    a, pos, neg = (_unit(v) for v in (x[:, :d], x[:, d : 2 * d], x[:, 2 * d :]))
    dist_pos, dist_neg = 1 - (a * pos).sum(1), 1 - (a * neg).sum(1)
    return (margin + dist_pos - dist_neg).clamp_min(0)


#: A stable rearrangement of each loss that the sweep finds PyTorch computing naively.
STABLE: dict[str, Callable[..., torch.Tensor]] = {
    "bce": _bce,
    "cross_entropy_smoothed": _cross_entropy_smoothed,
    "poisson_nll_full": _poisson_nll_full,
    "gaussian_nll": _gaussian_nll,
    "soft_margin": _soft_margin,
    "student_t_nll": _student_t_nll,
    "cosine_embedding": _cosine_embedding,
    "triplet_margin": _triplet_margin,
    "triplet_margin_cosine": _triplet_margin_cosine,
}


def stable_loss(name: str) -> Loss:
    """The registry entry ``name`` with PyTorch's function replaced by the stable one in :data:`STABLE`.

    >>> stable_loss("soft_margin").pytorch(torch.tensor([-1000.0]), torch.tensor([1.0]))
    tensor([1000.])
    >>> stable_loss("mse")
    Traceback (most recent call last):
    ...
    ValueError: no stable reformulation for 'mse'; there is one for: bce, cross_entropy_smoothed, poisson_nll_full, gaussian_nll, soft_margin, student_t_nll, cosine_embedding, triplet_margin, triplet_margin_cosine
    """
    loss = get(name)
    if loss.name not in STABLE:
        raise ValueError(f"no stable reformulation for {loss.name!r}; there is one for: {', '.join(STABLE)}")
    return _stable(loss.name)


@cache
def _stable(name: str) -> Loss:
    return dataclasses.replace(get(name), torch_fn=STABLE[name])
