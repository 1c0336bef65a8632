"""Entropy, cross-entropy, KL and Jensen-Shannon divergences of discrete distributions.

Derived and used in the chapter *Information theory of losses*. Every function takes
probability vectors stored along ``axis`` of a NumPy array (or anything
:func:`numpy.asarray` accepts) or of a floating-point :class:`torch.Tensor`, and returns
the same kind of object with that axis reduced. Both arguments of a two-argument function
must be of the same kind. ``base`` is ``"nats"`` (natural logarithm, the default) or
``"bits"`` (base 2). The convention ``0 log 0 = 0`` holds; a class with ``p > 0`` and
``q = 0`` makes cross-entropy and KL infinite.

Inputs are validated: no negative, NaN or infinite entries, and each distribution along
``axis`` sums to 1 within ``atol``. The default, ``atol=None``, is the larger of :data:`ATOL`
and :data:`EPS_FACTOR` times the machine epsilon of the input's dtype (see
:func:`default_atol`), so that a bfloat16 or float16 softmax passes while an unnormalised
float32 or float64 vector does not.

With torch tensors the functions are differentiable, and a class with ``p_c = q_c = 0`` (a
zero target where a float32 softmax has underflowed to 0) contributes 0 to the value *and* to
every gradient, as it does in :func:`torch.nn.functional.cross_entropy`;
:func:`torch.special.xlogy` alone would give ``0/0 = NaN`` there.

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
import operator
from typing import Any

import numpy as np
import scipy.special
import torch

__all__ = [
    "ATOL",
    "BASES",
    "EPS_FACTOR",
    "cross_entropy",
    "default_atol",
    "entropy",
    "js_divergence",
    "kl_divergence",
]

#: Smallest default tolerance on ``|sum - 1|`` for each distribution along ``axis``. Loose
#: enough for a float32 softmax over tens of thousands of classes, tight enough to catch
#: unnormalised input.
ATOL = 1e-5

#: The default tolerance is at least this many machine epsilons of the input's dtype. Rounding
#: each entry of a distribution moves its sum by at most half an epsilon, and a softmax
#: computed in that dtype adds about as much again; 4 leaves a margin (bfloat16: 0.03125,
#: float16: 0.0039; float32 and float64 stay at :data:`ATOL`).
EPS_FACTOR = 4

#: Units of information: the divisor that converts nats into them.
BASES: dict[str, float] = {"nats": 1.0, "bits": math.log(2.0)}

Array = Any  # numpy.ndarray or torch.Tensor


def default_atol(dtype: Any) -> float:
    """The tolerance used when ``atol=None``: ``max(ATOL, EPS_FACTOR * eps(dtype))``.

    ``dtype`` is a torch or NumPy floating dtype; anything else (integers, bool) counts as
    float64, the dtype NumPy inputs are converted to.

    >>> default_atol(torch.float64), default_atol(torch.float32), default_atol(np.float64)
    (1e-05, 1e-05, 1e-05)
    >>> default_atol(torch.bfloat16), default_atol(torch.float16), default_atol(np.float16)
    (0.03125, 0.00390625, 0.00390625)
    """
    if isinstance(dtype, torch.dtype):
        eps = torch.finfo(dtype).eps if dtype.is_floating_point else np.finfo(np.float64).eps
    else:
        dtype = np.dtype(dtype)
        eps = np.finfo(dtype if dtype.kind == "f" else np.float64).eps
    return max(ATOL, EPS_FACTOR * float(eps))


def _as_distribution(x: Any, name: str, axis: int, atol: float | None) -> np.ndarray | torch.Tensor:
    """Validate one argument and return it as a float ndarray or a floating tensor."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point()):
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
        if atol is None:
            atol = default_atol(x.dtype)
        values = x.detach()
        ndim = x.dim()
    else:
        try:
            values = np.asarray(x)
        except Exception as error:  # ragged lists and the like
            raise TypeError(f"{name} must be array-like, got {type(x).__name__}: {error}") from None
        if values.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {values.dtype}")
        if atol is None:
            atol = default_atol(values.dtype)
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
    if bool(backend.isinf(values).any()):
        raise ValueError(f"{name} contains inf; probabilities must be finite")
    if bool((values < 0).any()):
        raise ValueError(
            f"{name} has negative entries (smallest {float(values.min()):.3g}); probabilities must be >= 0"
        )
    # summed in float64, so that the check sees the entries' rounding, not the summation's
    sums = values.sum(axis) if backend is np else values.to(torch.float64).sum(dim=axis)
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
    arrays: dict[str, Any], axis: Any, base: str, atol: float | None
) -> tuple[list[np.ndarray | torch.Tensor], float, int]:
    if not isinstance(base, str) or base not in BASES:
        raise ValueError(f"base must be one of {sorted(BASES)}, got {base!r}")
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    try:
        axis = operator.index(axis)  # int, numpy integers, 0-d integer tensors
    except TypeError:
        raise TypeError(f"axis must be an int, got {type(axis).__name__}") from None
    if atol is not None and (isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0):
        raise ValueError(f"atol must be None or a non-negative number, got {atol!r}")
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
    return out, BASES[base], axis


def _sum(x: np.ndarray | torch.Tensor, axis: int) -> np.ndarray | torch.Tensor:
    return x.sum(dim=axis) if isinstance(x, torch.Tensor) else x.sum(axis=axis)


def _xlogy(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Elementwise x log y with 0 log 0 = 0, and (torch) a zero gradient where x = y = 0.

    ``torch.special.xlogy`` has the right value there but differentiates to 0/0 = NaN. The
    "double where" replaces y by 1 at those entries *before* the logarithm, so neither the
    value nor the gradient sees log 0 (or 1/0), and the replaced entries get zero gradient.
    Elsewhere, including x = 0 < y, this is x * log y with its ordinary gradient.
    """
    if not isinstance(x, torch.Tensor):
        return scipy.special.xlogy(x, y)
    both_zero = (x == 0) & (y == 0)
    safe_y = torch.where(both_zero, torch.ones_like(y), y)
    return x * torch.log(safe_y)


def _rel_entr(p: np.ndarray | torch.Tensor, q: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Elementwise p log(p/q) with 0 log(0/q) = 0 and p log(p/0) = inf for p > 0."""
    if isinstance(p, torch.Tensor):
        return _xlogy(p, p) - _xlogy(p, q)
    return scipy.special.rel_entr(p, q)


def entropy(p: Array, *, axis: int = -1, base: str = "nats", atol: float | None = None) -> Array:
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
    (p,), unit, axis = _prepare({"p": p}, axis, base, atol)
    if isinstance(p, torch.Tensor):
        return (0.0 - _sum(_xlogy(p, p), axis)) / unit  # 0.0 - keeps H = 0 from printing as -0
    return _sum(scipy.special.entr(p), axis) / unit


def cross_entropy(
    p: Array, q: Array, *, axis: int = -1, base: str = "nats", atol: float | None = None
) -> Array:
    """Cross-entropy H(p, q) = -Σ p log q along ``axis``: the expected code length under q.

    >>> cross_entropy(np.array([1.0, 0.0]), np.array([0.25, 0.75]), base="bits")
    np.float64(2.0)
    >>> cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    np.float64(inf)
    """
    (p, q), unit, axis = _prepare({"p": p, "q": q}, axis, base, atol)
    terms = -_xlogy(p, q)
    return _sum(terms, axis) / unit


def kl_divergence(
    p: Array, q: Array, *, axis: int = -1, base: str = "nats", atol: float | None = None
) -> Array:
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
    (p, q), unit, axis = _prepare({"p": p, "q": q}, axis, base, atol)
    return _sum(_rel_entr(p, q), axis) / unit


def js_divergence(
    p: Array, q: Array, *, axis: int = -1, base: str = "nats", atol: float | None = None
) -> Array:
    """Jensen-Shannon divergence ½ KL(p‖m) + ½ KL(q‖m) with m = ½(p + q), along ``axis``.

    Symmetric, finite, at most log 2 (1 bit); its square root is a metric.

    >>> js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), base="bits")
    np.float64(1.0)
    >>> js_divergence(np.ones(3) / 3, np.ones(3) / 3, base="decibans")
    Traceback (most recent call last):
    ...
    ValueError: base must be one of ['bits', 'nats'], got 'decibans'
    """
    (p, q), unit, axis = _prepare({"p": p, "q": q}, axis, base, atol)
    total = p + q
    m = total / 2
    # halving the smallest subnormal rounds to 0, which would make JS infinite; keep p + q
    # there instead (an error below 1e-45 in float32)
    underflow = (m == 0) & (total > 0)
    m = torch.where(underflow, total, m) if isinstance(m, torch.Tensor) else np.where(underflow, total, m)
    return (_sum(_rel_entr(p, m), axis) + _sum(_rel_entr(q, m), axis)) / (2 * unit)
