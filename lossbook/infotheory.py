"""Entropy, cross-entropy, KL and Jensen-Shannon divergences of discrete distributions.

Derived and used in the chapter *Information theory of losses*. Every function takes
probability vectors stored along ``axis`` of a NumPy array (or anything
:func:`numpy.asarray` accepts) or of a floating-point :class:`torch.Tensor`, and returns
the same kind of object with that axis reduced. Both arguments of a two-argument function
must be of the same kind. ``base`` is ``"nats"`` (natural logarithm, the default) or
``"bits"`` (base 2). The convention ``0 log 0 = 0`` holds; a class with ``p > 0`` and
``q = 0`` makes cross-entropy and KL infinite.

Inputs are validated: no negative or NaN entries, and each distribution along ``axis``
sums to 1 within ``atol`` (default :data:`ATOL`).

>>> import math
>>> import numpy as np
>>> from lossbook.infotheory import entropy, cross_entropy, kl_divergence, js_divergence
>>> p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
>>> float(entropy(p, base="bits"))
1.0
>>> round(float(cross_entropy(p, q) - entropy(p) - kl_divergence(p, q)), 12)
0.0
>>> float(js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]))) == math.log(2)
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special
import torch

__all__ = ["ATOL", "BASES", "cross_entropy", "entropy", "js_divergence", "kl_divergence"]

#: Default tolerance on ``|sum - 1|`` for each distribution along ``axis``. Loose enough for
#: a float32 softmax over tens of thousands of classes, tight enough to catch unnormalised input.
ATOL = 1e-5

#: Units of information: the divisor that converts nats into them.
BASES: dict[str, float] = {"nats": 1.0, "bits": math.log(2.0)}

Array = Any  # numpy.ndarray or torch.Tensor


def _as_distribution(x: Any, name: str, axis: int, atol: float) -> np.ndarray | torch.Tensor:
    """Validate one argument and return it as a float ndarray or a floating tensor."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point()):
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
        values = x.detach()
        ndim = x.dim()
    else:
        try:
            values = np.asarray(x)
        except Exception as error:  # ragged lists and the like
            raise TypeError(f"{name} must be array-like, got {type(x).__name__}: {error}") from None
        if values.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {values.dtype}")
        values = values.astype(np.float64, copy=False)
        x = values
        ndim = values.ndim
    if ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the distribution's axis), got a scalar")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {name} with {ndim} dimension(s)")
    backend = torch if isinstance(values, torch.Tensor) else np
    if bool(backend.isnan(values).any()):
        raise ValueError(f"{name} contains NaN")
    if bool((values < 0).any()):
        raise ValueError(
            f"{name} has negative entries (smallest {float(values.min()):.3g}); probabilities must be >= 0"
        )
    sums = values.sum(axis) if backend is np else values.sum(dim=axis)
    deviations = (
        (sums - 1).abs().flatten().tolist() if backend is torch else np.abs(sums - 1).ravel().tolist()
    )
    worst = max(deviations, default=0.0)  # an empty batch has nothing to check
    if not worst <= atol:
        raise ValueError(
            f"{name} must sum to 1 along axis {axis} within atol={atol:g}; the worst sum is off by {worst:.3g}"
        )
    return x


def _prepare(
    arrays: dict[str, Any], axis: int, base: str, atol: float
) -> tuple[list[np.ndarray | torch.Tensor], float]:
    if not isinstance(base, str) or base not in BASES:
        raise ValueError(f"base must be one of {sorted(BASES)}, got {base!r}")
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    if isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0:
        raise ValueError(f"atol must be a non-negative number, got {atol!r}")
    kinds = {name: isinstance(x, torch.Tensor) for name, x in arrays.items()}
    if len(set(kinds.values())) > 1:
        described = ", ".join(f"{n} is {'a torch.Tensor' if t else 'array-like'}" for n, t in kinds.items())
        raise TypeError(f"arguments must all be torch tensors or all array-like: {described}")
    out = [_as_distribution(x, name, axis, atol) for name, x in arrays.items()]
    if len(out) == 2:
        (n1, a), (n2, b) = zip(arrays, out, strict=True)
        if tuple(a.shape) != tuple(b.shape):
            raise ValueError(
                f"{n1} and {n2} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        if isinstance(a, torch.Tensor) and a.dtype != b.dtype:
            raise TypeError(f"{n1} and {n2} must have the same dtype, got {a.dtype} and {b.dtype}")
    return out, BASES[base]


def _sum(x: np.ndarray | torch.Tensor, axis: int) -> np.ndarray | torch.Tensor:
    return x.sum(dim=axis) if isinstance(x, torch.Tensor) else x.sum(axis=axis)


def _rel_entr(p: np.ndarray | torch.Tensor, q: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Elementwise p log(p/q) with 0 log(0/q) = 0 and p log(p/0) = inf for p > 0."""
    if isinstance(p, torch.Tensor):
        return torch.special.xlogy(p, p) - torch.special.xlogy(p, q)
    return scipy.special.rel_entr(p, q)


def entropy(p: Array, *, axis: int = -1, base: str = "nats", atol: float = ATOL) -> Array:
    """Shannon entropy H(p) = -Σ p log p along ``axis``.

    >>> entropy(np.full(4, 0.25), base="bits")
    np.float64(2.0)
    >>> entropy(torch.tensor([[1.0, 0.0], [0.5, 0.5]]))
    tensor([0.0000, 0.6931])
    >>> entropy(np.array([0.5, 0.6]))
    Traceback (most recent call last):
    ...
    ValueError: p must sum to 1 along axis -1 within atol=1e-05; the worst sum is off by 0.1
    """
    (p,), unit = _prepare({"p": p}, axis, base, atol)
    terms = torch.special.entr(p) if isinstance(p, torch.Tensor) else scipy.special.entr(p)
    return _sum(terms, axis) / unit


def cross_entropy(p: Array, q: Array, *, axis: int = -1, base: str = "nats", atol: float = ATOL) -> Array:
    """Cross-entropy H(p, q) = -Σ p log q along ``axis``: the expected code length under q.

    >>> cross_entropy(np.array([1.0, 0.0]), np.array([0.25, 0.75]), base="bits")
    np.float64(2.0)
    >>> cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    np.float64(inf)
    """
    (p, q), unit = _prepare({"p": p, "q": q}, axis, base, atol)
    terms = -torch.special.xlogy(p, q) if isinstance(p, torch.Tensor) else -scipy.special.xlogy(p, q)
    return _sum(terms, axis) / unit


def kl_divergence(p: Array, q: Array, *, axis: int = -1, base: str = "nats", atol: float = ATOL) -> Array:
    """Kullback-Leibler divergence KL(p‖q) = Σ p log(p / q) along ``axis``.

    The first argument is the distribution the expectation is taken under. Note the
    argument order of :func:`torch.nn.functional.kl_div`, which is the reverse:
    ``kl_div(q.log(), p, reduction="sum")`` is ``KL(p‖q)``.

    >>> p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    >>> kl_divergence(p, q)
    tensor(0.5108)
    >>> torch.nn.functional.kl_div(q.log(), p, reduction="sum")
    tensor(0.5108)
    >>> kl_divergence(p, np.array([0.9, 0.1]))
    Traceback (most recent call last):
    ...
    TypeError: arguments must all be torch tensors or all array-like: p is a torch.Tensor, q is array-like
    """
    (p, q), unit = _prepare({"p": p, "q": q}, axis, base, atol)
    return _sum(_rel_entr(p, q), axis) / unit


def js_divergence(p: Array, q: Array, *, axis: int = -1, base: str = "nats", atol: float = ATOL) -> Array:
    """Jensen-Shannon divergence ½ KL(p‖m) + ½ KL(q‖m) with m = ½(p + q), along ``axis``.

    Symmetric, finite, at most log 2 (1 bit); its square root is a metric.

    >>> js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), base="bits")
    np.float64(1.0)
    >>> js_divergence(np.ones(3) / 3, np.ones(3) / 3, base="decibans")
    Traceback (most recent call last):
    ...
    ValueError: base must be one of ['bits', 'nats'], got 'decibans'
    """
    (p, q), unit = _prepare({"p": p, "q": q}, axis, base, atol)
    m = (p + q) / 2
    return (_sum(_rel_entr(p, m), axis) + _sum(_rel_entr(q, m), axis)) / (2 * unit)
