"""Domains, hyperparameters and edge points: the vocabulary of a :class:`~lossbook.Loss`.

A domain is the set of valid values of a loss's inputs or targets. Every domain is exported
at the top level (``lb.REAL``, ``lb.PROBABILITY``, ...), so a loss of your own can say where
it is defined:

>>> import lossbook as lb
>>> lb.NONNEGATIVE.check([[0.0], [2.5]])
True
>>> lb.NONNEGATIVE.first_violation([[0.0], [-1.0]])
'row 1 is [-1]'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import sympy as sp

__all__ = [
    "BINARY",
    "COUNTS",
    "DOMAINS",
    "LOG_PROBABILITIES",
    "MEAN_AND_VARIANCE",
    "NONNEGATIVE",
    "ONE_HOT",
    "POSITIVE",
    "PROBABILITY",
    "REAL",
    "SIGNS",
    "SIMPLEX",
    "Domain",
    "Edge",
    "Hyper",
]

Array = np.ndarray
EdgeKind = Literal["edge", "boundary", "kink"]


@dataclass(frozen=True)
class Domain:
    """A set of valid values for a loss's inputs or targets, as an ``(N, width)`` array.

    ``check`` says whether an array lies in the set; ``draw`` samples ``n`` rows of
    ``width`` columns that are safely inside it (away from boundaries, so that finite
    differences with a step of 1e-6 stay valid). Domains are compared by identity.
    """

    description: str
    check_rows: Callable[[Array], bool] = field(repr=False)
    draw: Callable[[np.random.Generator, int, int], Array] = field(repr=False)

    def check(self, a: Any) -> bool:
        """True when every row of the 2-D array ``a`` lies in the domain (NaN never does)."""
        arr = np.asarray(a, dtype=float)
        if arr.ndim != 2:
            raise ValueError(f"a domain checks a 2-D array (rows, columns), got shape {arr.shape}")
        return bool(self.check_rows(arr))

    def first_violation(self, a: Any) -> str:
        """Where ``a`` leaves the domain, in words ("" when it does not)."""
        arr = np.asarray(a, dtype=float)
        for i, row in enumerate(arr):
            if not self.check_rows(row[None, :]):
                return f"row {i} is [{', '.join(f'{v:g}' for v in row)}]"
        return ""


def _all_finite(a: Array) -> bool:
    return bool(np.all(np.isfinite(a)))


def _is_int(a: Array) -> bool:
    return bool(np.all(a == np.round(a)))


def _rows_sum_to_one(a: Array) -> bool:
    return bool(np.allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-9))


def _draw_one_hot(rng: np.random.Generator, n: int, width: int) -> Array:
    # every class appears once before the rest is random, so class frequencies are > 0
    labels = np.concatenate([np.arange(width), rng.integers(0, width, size=max(n - width, 0))])
    return np.eye(width)[rng.permutation(labels[:n])]


def _draw_binary(rng: np.random.Generator, n: int, width: int) -> Array:
    labels = rng.integers(0, 2, size=(n, width)).astype(float)
    labels[0], labels[-1] = 0.0, 1.0  # both labels present
    return labels


REAL = Domain(
    "real numbers",
    _all_finite,
    lambda rng, n, w: 3.0 * rng.standard_normal((n, w)),
)
PROBABILITY = Domain(
    "probabilities in [0, 1]",
    lambda a: bool(np.all((a >= 0) & (a <= 1))),
    lambda rng, n, w: rng.uniform(0.02, 0.98, size=(n, w)),
)
BINARY = Domain(
    "labels in {0, 1}",
    lambda a: bool(np.all((a == 0) | (a == 1))),
    _draw_binary,
)
SIGNS = Domain(
    "labels in {-1, +1}",
    lambda a: bool(np.all((a == -1) | (a == 1))),
    lambda rng, n, w: 2.0 * _draw_binary(rng, n, w) - 1.0,
)
NONNEGATIVE = Domain(
    "non-negative numbers",
    lambda a: _all_finite(a) and bool(np.all(a >= 0)),
    lambda rng, n, w: rng.uniform(0.0, 3.0, size=(n, w)),
)
POSITIVE = Domain(
    "positive numbers",
    lambda a: _all_finite(a) and bool(np.all(a > 0)),
    lambda rng, n, w: rng.uniform(0.1, 3.0, size=(n, w)),
)
COUNTS = Domain(
    "counts (non-negative integers)",
    lambda a: _all_finite(a) and bool(np.all(a >= 0)) and _is_int(a),
    lambda rng, n, w: rng.poisson(3.0, size=(n, w)).astype(float),
)
ONE_HOT = Domain(
    "one-hot rows (class labels)",
    lambda a: bool(np.all((a == 0) | (a == 1))) and bool(np.all(a.sum(axis=1) == 1)),
    _draw_one_hot,
)
SIMPLEX = Domain(
    "rows of probabilities summing to 1",
    lambda a: bool(np.all(a >= 0)) and _rows_sum_to_one(a),
    lambda rng, n, w: rng.dirichlet(np.ones(w), size=n),
)
LOG_PROBABILITIES = Domain(
    "log-probabilities (entries <= 0)",
    lambda a: bool(np.all(a <= 0)) and not bool(np.any(np.isnan(a))),
    lambda rng, n, w: np.log(rng.dirichlet(np.ones(w), size=n)),
)
MEAN_AND_VARIANCE = Domain(
    "rows (mean, variance) with a finite mean and variance >= 0",
    lambda a: _all_finite(a) and a.shape[1] == 2 and bool(np.all(a[:, 1] >= 0)),
    lambda rng, n, w: np.column_stack([3.0 * rng.standard_normal(n), np.exp(rng.uniform(-2.0, 2.0, size=n))]),
)

#: Every domain by the name it is exported under (``lb.REAL`` is ``lb.DOMAINS["REAL"]``).
DOMAINS: dict[str, Domain] = {
    "REAL": REAL,
    "PROBABILITY": PROBABILITY,
    "BINARY": BINARY,
    "SIGNS": SIGNS,
    "NONNEGATIVE": NONNEGATIVE,
    "POSITIVE": POSITIVE,
    "COUNTS": COUNTS,
    "ONE_HOT": ONE_HOT,
    "SIMPLEX": SIMPLEX,
    "LOG_PROBABILITIES": LOG_PROBABILITIES,
    "MEAN_AND_VARIANCE": MEAN_AND_VARIANCE,
}


def _is_real_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer))


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: its symbol, the keyword PyTorch uses, a default and its valid range.

    >>> from lossbook import notation as nt
    >>> h = Hyper(nt.delta, "delta", 1.0, low=0.0, low_open=True)
    >>> h.allowed
    'delta > 0'
    >>> h.validate("huber", 0.0)
    Traceback (most recent call last):
    ...
    ValueError: huber: delta must satisfy delta > 0, got 0.0
    """

    symbol: sp.Symbol
    name: str
    default: float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, sp.Symbol):
            raise TypeError(f"Hyper: symbol must be a SymPy Symbol, got {self.symbol!r}")
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"Hyper: name must be a Python identifier (a keyword argument), got {self.name!r}"
            )
        self.validate("Hyper", self.default, what=f"the default of {self.name}")

    @property
    def allowed(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{self.name} {'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{self.name} {'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts) or f"{self.name} finite"

    def validate(self, loss_name: str, value: Any, what: str = "") -> float:
        """Return ``value`` as a float, or raise naming the loss, the argument and the range."""
        what = what or self.name
        if not _is_real_number(value):
            raise TypeError(
                f"{loss_name}: {what} must be a real number, got {value!r} of type {type(value).__name__}"
            )
        v = float(value)
        too_low = self.low is not None and (v <= self.low if self.low_open else v < self.low)
        too_high = self.high is not None and (v >= self.high if self.high_open else v > self.high)
        if not math.isfinite(v) or too_low or too_high:
            raise ValueError(f"{loss_name}: {what} must satisfy {self.allowed}, got {value!r}")
        return v


@dataclass(frozen=True)
class Edge:
    """A hand-picked point where a loss is easy to get wrong.

    ``kind`` is ``"edge"`` (extreme values: huge logits, probabilities at 0 or 1),
    ``"boundary"`` (where a piecewise formula switches branch but the gradient is
    continuous) or ``"kink"`` (where the loss is not differentiable; the cross-check then
    asks autograd for *a* subgradient rather than the gradient).

    >>> Edge((0.0,), (0.0,), kind="knik")
    Traceback (most recent call last):
    ...
    ValueError: Edge: kind must be one of 'edge', 'boundary', 'kink', got 'knik'
    """

    inputs: tuple[float, ...]
    targets: tuple[float, ...] = ()
    kind: EdgeKind = "edge"
    note: str = ""

    def __post_init__(self) -> None:
        kinds = get_args(EdgeKind)
        if self.kind not in kinds:
            raise ValueError(f"Edge: kind must be one of {', '.join(map(repr, kinds))}, got {self.kind!r}")
        for arg in ("inputs", "targets"):
            value = getattr(self, arg)
            if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
                raise TypeError(f"Edge: {arg} must be a tuple of numbers, got {value!r}")
            if not all(_is_real_number(v) and not math.isnan(v) for v in value):
                raise ValueError(f"Edge: {arg} must hold real numbers (no NaN), got {value!r}")
            object.__setattr__(self, arg, tuple(float(v) for v in value))
        if not isinstance(self.note, str):
            raise TypeError(f"Edge: note must be a string, got {self.note!r}")
