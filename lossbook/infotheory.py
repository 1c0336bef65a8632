"""Entropy, cross-entropy, KL and Jensen-Shannon divergences, mutual information and the
exact InfoNCE loss of discrete distributions.

Derived and used in the chapter *Information theory of losses*. The book's convention holds
here too: **q is the target (data) distribution and p the model's**, so the two-argument
functions take the target first, ``cross_entropy(q, p)`` = H(q, p) = -Σ q log p and
``kl_divergence(q, p)`` = KL(q‖p), the forward divergence that training by cross-entropy
minimises. Their two distributions are positional-only, so that a keyword call written for
another convention fails instead of silently swapping them.

Every divergence takes probability vectors stored along ``axis`` of a NumPy array (or
anything :func:`numpy.asarray` accepts) or of a floating-point :class:`torch.Tensor`, and
returns the same kind of object with that axis reduced. Both arguments of a two-argument
function must be of the same kind. ``base`` is ``"nats"`` (natural logarithm, the default)
or ``"bits"`` (base 2). The convention ``0 log 0 = 0`` holds; a class with ``q > 0`` and
``p = 0`` makes cross-entropy and KL infinite.

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
>>> q, p = np.array([0.5, 0.5]), np.array([0.9, 0.1])  # target q, model p
>>> float(entropy(q, base="bits"))
1.0
>>> round(float(cross_entropy(q, p) - entropy(q) - kl_divergence(q, p)), 12)
0.0
>>> float(js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]))) == math.log(2)
True
"""

from __future__ import annotations

import functools
import itertools
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
    "MAX_NEGATIVE_SETS",
    "cross_entropy",
    "default_atol",
    "entropy",
    "expected_infonce",
    "js_divergence",
    "kl_divergence",
    "mutual_information",
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


def _rel_entr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Elementwise a log(a/b) with 0 log(0/b) = 0 and a log(a/0) = inf for a > 0."""
    if isinstance(a, torch.Tensor):
        return _xlogy(a, a) - _xlogy(a, b)
    return scipy.special.rel_entr(a, b)


def entropy(p: Array, *, axis: int = -1, base: str = "nats", atol: float | None = None) -> Array:
    """Shannon entropy H(p) = -Σ p log p along ``axis``, of any distribution ``p``.

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
    q: Array, p: Array, /, *, axis: int = -1, base: str = "nats", atol: float | None = None
) -> Array:
    """Cross-entropy H(q, p) = -Σ q log p of a model ``p`` against a target ``q``, along ``axis``.

    In bits, the expected length of a code built for ``p`` and used on data from ``q``.

    >>> cross_entropy(np.array([1.0, 0.0]), np.array([0.25, 0.75]), base="bits")
    np.float64(2.0)
    >>> cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
    np.float64(inf)
    """
    (q, p), unit, axis = _prepare({"q": q, "p": p}, axis, base, atol)
    return _sum(-_xlogy(q, p), axis) / unit


def kl_divergence(
    q: Array, p: Array, /, *, axis: int = -1, base: str = "nats", atol: float | None = None
) -> Array:
    """Kullback-Leibler divergence KL(q‖p) = Σ q log(q / p) along ``axis``.

    The first argument is the distribution the expectation is taken under: with a target
    ``q`` and a model ``p`` this is the forward divergence, and ``kl_divergence(p, q)`` the
    reverse one. :func:`torch.nn.functional.kl_div` takes the model first, as
    log-probabilities: ``kl_div(p.log(), q, reduction="sum")`` is ``KL(q‖p)``.

    >>> q, p = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    >>> kl_divergence(q, p)
    tensor(0.5108)
    >>> torch.nn.functional.kl_div(p.log(), q, reduction="sum")
    tensor(0.5108)
    >>> kl_divergence(q, np.array([0.9, 0.1]))
    Traceback (most recent call last):
    ...
    TypeError: arguments must all be torch tensors or all array-like: q is a torch.Tensor, p is array-like
    """
    (q, p), unit, axis = _prepare({"q": q, "p": p}, axis, base, atol)
    return _sum(_rel_entr(q, p), axis) / unit


def js_divergence(
    q: Array, p: Array, /, *, axis: int = -1, base: str = "nats", atol: float | None = None
) -> Array:
    """Jensen-Shannon divergence ½ KL(q‖m) + ½ KL(p‖m) with m = ½(q + p), along ``axis``.

    Symmetric, finite, at most log 2 (1 bit); its square root is a metric (Endres and
    Schindelin, 2003).

    >>> js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0]), base="bits")
    np.float64(1.0)
    >>> js_divergence(np.ones(3) / 3, np.ones(3) / 3, base="decibans")
    Traceback (most recent call last):
    ...
    ValueError: base must be one of ['bits', 'nats'], got 'decibans'
    """
    (q, p), unit, axis = _prepare({"q": q, "p": p}, axis, base, atol)
    total = q + p
    m = total / 2
    # halving the smallest subnormal rounds to 0, which would make JS infinite; keep q + p
    # there instead (an error below 1e-45 in float32)
    underflow = (m == 0) & (total > 0)
    m = torch.where(underflow, total, m) if isinstance(m, torch.Tensor) else np.where(underflow, total, m)
    return (_sum(_rel_entr(q, m), axis) + _sum(_rel_entr(p, m), axis)) / (2 * unit)


# ----------------------------------------------------------------- mutual information and InfoNCE

#: The most multisets of negatives :func:`expected_infonce` enumerates (about 1e6 keeps its
#: memory under 100 MB for ten values of y).
MAX_NEGATIVE_SETS = 1_000_000


def _joint(joint: Any, atol: float | None) -> np.ndarray | torch.Tensor:
    """Validate a joint distribution q(x, y) given as a 2-D table (x along rows)."""
    if not isinstance(joint, torch.Tensor):
        try:
            joint = np.asarray(joint)
        except Exception as error:  # ragged lists and the like
            raise TypeError(f"joint must be array-like, got {type(joint).__name__}: {error}") from None
    shape = tuple(joint.shape)
    if len(shape) != 2:
        raise ValueError(
            f"joint must be a 2-D table q(x, y), x along rows and y along columns; got shape {shape}"
        )
    return _as_distribution(joint.reshape(-1), "joint", -1, atol).reshape(shape)


def mutual_information(joint: Array, *, base: str = "nats", atol: float | None = None) -> Array:
    """Mutual information I(X; Y) = KL(q(x, y) ‖ q(x) q(y)) of a discrete joint distribution.

    ``joint`` is a 2-D table with ``joint[x, y] = q(x, y)``, non-negative and summing to 1
    (within ``atol``, as for the other functions); a NumPy result for array-like input, a 0-d
    tensor for a tensor.

    >>> mutual_information(np.array([[0.5, 0.0], [0.0, 0.5]]), base="bits")
    np.float64(1.0)
    >>> mutual_information(np.outer([0.25, 0.75], [0.5, 0.5]))  # independent
    np.float64(0.0)
    >>> mutual_information(np.array([0.5, 0.5]))
    Traceback (most recent call last):
    ...
    ValueError: joint must be a 2-D table q(x, y), x along rows and y along columns; got shape (2,)
    """
    if not isinstance(base, str) or base not in BASES:
        raise ValueError(f"base must be one of {sorted(BASES)}, got {base!r}")
    if atol is not None and (isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0):
        raise ValueError(f"atol must be None or a non-negative number, got {atol!r}")
    joint = _joint(joint, atol)
    product = joint.sum(1)[:, None] * joint.sum(0)[None, :]
    return _rel_entr(joint, product).sum() / BASES[base]


@functools.lru_cache(maxsize=8)
def _multisets(total: int, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Every vector of ``parts`` non-negative integers summing to ``total`` (stars and bars),
    as floats, with the log of its multinomial coefficient. Cached and read-only."""
    bars = np.array(list(itertools.combinations(range(total + parts - 1), parts - 1)), dtype=np.int64)
    bars = bars.reshape(len(bars), parts - 1)  # one empty row when parts = 1
    ends = np.full((len(bars), 1), total + parts - 1)
    counts = np.diff(np.concatenate([np.full((len(bars), 1), -1), bars, ends], axis=1), axis=1) - 1.0
    log_coefficient = scipy.special.gammaln(total + 1) - scipy.special.gammaln(counts + 1).sum(axis=1)
    counts.flags.writeable = log_coefficient.flags.writeable = False
    return counts, log_coefficient


def expected_infonce(joint: Array, critic: Array, negatives: int, *, base: str = "nats") -> float:
    """The InfoNCE loss of a critic, as an exact expectation over a discrete joint distribution.

    A positive pair (x, y) is drawn from ``joint[x, y] = q(x, y)`` and ``negatives`` = K
    negatives y_1 … y_K independently from the marginal q(y); the loss of one draw is the
    cross-entropy of picking the positive among the K + 1 candidates by the softmax of the
    scores ``critic[x, ·]``,

        -log( e^{f(x, y)} / (e^{f(x, y)} + Σ_j e^{f(x, y_j)}) ).

    The expectation is a finite sum: the loss depends on the negatives only through how many
    of them take each value of y (a multinomial count vector), so this enumerates those
    count vectors with their multinomial probabilities, exactly, for any K. ``log(K + 1)``
    minus the result is the InfoNCE lower bound on :func:`mutual_information`.

    Args:
        joint: 2-D table q(x, y), non-negative, summing to 1 (array-like, not a tensor).
        critic: finite real scores f(x, y), the same shape as ``joint``.
        negatives: K >= 1.
        base: ``"nats"`` or ``"bits"``.

    >>> joint = np.array([[0.4, 0.1], [0.1, 0.4]])
    >>> round(expected_infonce(joint, np.zeros((2, 2)), 3), 12) == round(math.log(4), 12)
    True
    >>> f = np.log(joint / np.outer(joint.sum(1), joint.sum(0)))  # log q(y | x) - log q(y)
    >>> bool(math.log(4) - expected_infonce(joint, f, 3) <= mutual_information(joint))
    True
    """
    if not isinstance(base, str) or base not in BASES:
        raise ValueError(f"base must be one of {sorted(BASES)}, got {base!r}")
    for name, value in (("joint", joint), ("critic", critic)):
        if isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name} must be array-like (NumPy), not a torch.Tensor; pass {name}.detach().numpy()"
            )
    if isinstance(negatives, (bool, np.bool_)):
        raise TypeError(f"negatives must be an int, got {type(negatives).__name__}")
    try:
        negatives = operator.index(negatives)
    except TypeError:
        raise TypeError(f"negatives must be an int, got {type(negatives).__name__}") from None
    if negatives < 1:
        raise ValueError(f"negatives must be at least 1 (the number K of negatives), got {negatives}")
    joint = _joint(joint, None)
    try:
        f = np.asarray(critic)
    except Exception as error:
        raise TypeError(f"critic must be array-like, got {type(critic).__name__}: {error}") from None
    if f.dtype.kind not in "biuf":
        raise TypeError(f"critic must hold real numbers, got dtype {f.dtype}")
    f = f.astype(np.float64, copy=False)
    if f.shape != joint.shape:
        raise ValueError(f"critic must have the shape of joint {joint.shape}, got {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError("critic must be finite; it contains NaN or inf")
    values_y = joint.shape[1]
    sets = math.comb(negatives + values_y - 1, values_y - 1)
    if sets > MAX_NEGATIVE_SETS:
        raise ValueError(
            f"negatives={negatives} with {values_y} values of y gives {sets} multisets of negatives to "
            f"enumerate; the limit is MAX_NEGATIVE_SETS = {MAX_NEGATIVE_SETS}: use fewer negatives or values of y"
        )
    counts, log_coefficient = _multisets(negatives, values_y)  # (sets, |Y|) and (sets,)
    # multinomial probability of each count vector; exactly 0 where it needs a y with q(y) = 0
    prob = np.exp(log_coefficient + scipy.special.xlogy(counts, joint.sum(axis=0)).sum(axis=1))
    total = 0.0
    for x in range(joint.shape[0]):
        # log Σ_j e^{f(x, y_j)} over the negatives, computed as log Σ_k n_k e^{f(x, k)}
        top = f[x].max()
        with np.errstate(divide="ignore"):  # log 0 = -inf only if every term underflows
            negatives_score = top + np.log(counts @ np.exp(f[x] - top))  # (sets,)
        per_set = np.logaddexp(f[x][:, None], negatives_score[None, :]) - f[x][:, None]  # (|Y|, sets)
        total += float(joint[x] @ per_set @ prob)
    return total / BASES[base]
