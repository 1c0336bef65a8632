"""Gradients in practice: what autograd returns at a kink, and canonical links.

Two helpers from the chapter "Gradients of losses and their output activations":

* :func:`probe_kink` measures what autograd returns at a point where a function may not be
  differentiable, next to the one-sided derivatives there and the central difference a
  gradient check would compare it with;
* :func:`canonical_link_check` proves, for an exponential family written in its natural
  parameter, that the negative log-likelihood has gradient ``mean - target``
  (``∂NLL/∂η = μ - y``), and confirms it against ``torch.distributions`` and autograd.

>>> import torch
>>> probe = probe_kink(torch.relu, 0.0)
>>> probe.left, probe.autograd, probe.right
(0.0, 0.0, 1.0)
>>> canonical_link_check("bernoulli").gradient
Matrix([[-y + 1/(1 + exp(-z))]])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy as sp
import torch

from lossbook import notation as nt
from lossbook.calculus import same

__all__ = [
    "FAMILIES",
    "CanonicalCheck",
    "ExponentialFamily",
    "KinkProbe",
    "canonical_link_check",
    "probe_kink",
]


# --------------------------------------------------------------------------- kinks


@dataclass(frozen=True)
class KinkProbe:
    """What autograd returns at ``point``, beside the one-sided derivatives there.

    ``left`` and ``right`` are one-sided difference quotients with step ``step`` (the step
    actually taken, ``1e-7 * max(1, |point|)`` by default), exact for a function that is
    linear on each side (ReLU, |x|, hinge, clamp) up to float64 rounding; ``central`` is the
    central difference a gradient check compares autograd with, which at a kink is the
    average of the two sides, not either of them. The three difference quotients are
    rounded to 9 significant digits.

    ``tolerance`` is how far apart two slopes may be and still count as equal: four times
    the truncation error ``h·|f''|`` estimated from one-sided second differences, plus the
    rounding error of the quotients. ``jump`` is True when the function is discontinuous
    at ``point`` (an increment that does not shrink with the step); there the difference
    quotients grow like ``1/h`` and no slope comparison is meaningful.
    """

    point: float
    autograd: float
    left: float
    right: float
    central: float
    step: float
    tolerance: float = 0.0
    jump: bool = False

    def _close(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.tolerance

    @property
    def differentiable(self) -> bool:
        """Continuous, and the two one-sided derivatives agree to ``tolerance``."""
        return not self.jump and self._close(self.left, self.right)

    @property
    def side(self) -> str:
        """Which value autograd chose: ``'left'``, ``'right'``, ``'both'`` (no kink),
        ``'between'`` (strictly between the one-sided derivatives, an element of the Clarke
        generalized gradient), ``'outside'`` (not between them) or ``'jump'`` (the
        function is discontinuous, so no value is consistent with it)."""
        if self.jump:
            return "jump"
        if self.differentiable:
            return "both" if self._close(self.autograd, self.left) else "outside"
        if self._close(self.autograd, self.left):
            return "left"
        if self._close(self.autograd, self.right):
            return "right"
        low, high = sorted((self.left, self.right))
        return "between" if low < self.autograd < high else "outside"

    @property
    def check_error(self) -> float:
        """|autograd - central| / max(|central|, 1): the error a gradient check would report."""
        return abs(self.autograd - self.central) / max(abs(self.central), 1.0)


def probe_kink(fn: Callable[[torch.Tensor], torch.Tensor], point: float, *, step: float = 1e-7) -> KinkProbe:
    """Autograd's derivative of a scalar function at ``point``, and the one-sided slopes.

    ``fn`` maps a float64 scalar tensor to a tensor with one element. Differences are
    taken in float64 with the step ``h = step * max(1, |point|)`` (``step`` defaults to
    ``1e-7``), so that large points are not lost to rounding.

    >>> p = probe_kink(torch.abs, 0.0)
    >>> p.autograd, p.side, p.central
    (0.0, 'between', 0.0)
    >>> p = probe_kink(lambda x: torch.clamp(x, min=0.0, max=1.0), 1.0)
    >>> p.left, p.autograd, p.right, p.side
    (1.0, 1.0, 0.0, 'left')
    >>> probe_kink(torch.sign, 0.0).side
    'jump'
    >>> probe_kink(lambda x: torch.exp(20 * x), 0.0).side
    'both'
    >>> probe_kink(torch.abs, float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: point must be a finite real number, got nan
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (a function of one tensor), got {type(fn).__name__}")
    if isinstance(point, bool) or not isinstance(point, (int, float, np.integer, np.floating)):
        raise TypeError(f"point must be a real number, got {point!r} of type {type(point).__name__}")
    if not math.isfinite(float(point)):
        raise ValueError(f"point must be a finite real number, got {point!r}")
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 1e-2:
        raise ValueError(f"step must be a number in (0, 1e-2], got {step!r}")
    x0 = float(point)
    h = step * max(1.0, abs(x0))

    def value(at: float, grad: bool = False) -> float:
        x = torch.tensor(at, dtype=torch.float64, requires_grad=grad)
        out = fn(x)
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise TypeError(
                f"fn must return a tensor with one element, got {type(out).__name__}"
                + (f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else "")
            )
        if grad:
            if not out.requires_grad:  # fn ignored its input: the derivative is 0
                return 0.0
            (g,) = torch.autograd.grad(out.reshape(()), x, allow_unused=True)
            return 0.0 if g is None else float(g)
        return float(out.detach().reshape(()).double())

    # f at x0 + k h for k = -2, -1, -1/4, 0, 1/4, 1, 2, with the steps actually taken
    xs = {k: x0 + k * h for k in (-2, -1, -0.25, 0, 0.25, 1, 2)}
    f = {k: value(at) for k, at in xs.items()}
    scale = max(abs(v) for v in f.values())
    noise = 64 * float(np.finfo(np.float64).eps) * scale  # rounding error of one increment of f

    def jumps(k: float, quarter: float) -> bool:
        """An increment that does not shrink with the step: the function jumps at x0."""
        big, small = abs(f[k] - f[0]), abs(f[quarter] - f[0])
        return big > noise and small > 0.5 * big

    h_up, h_down = xs[1] - x0, x0 - xs[-1]
    left, right = (f[0] - f[-1]) / h_down, (f[1] - f[0]) / h_up
    second_left = (f[0] - 2 * f[-1] + f[-2]) / h_down**2
    second_right = (f[2] - 2 * f[1] + f[0]) / h_up**2
    slopes = max(abs(left), abs(right))
    # 1e-8 * slopes covers the rounding of the quotients to 9 significant digits
    tolerance = 4 * h * max(abs(second_left), abs(second_right)) + 2 * noise / h + 1e-8 * slopes
    return KinkProbe(
        point=x0,
        autograd=value(x0, grad=True),
        left=_round(left),
        right=_round(right),
        central=_round((f[1] - f[-1]) / (h_up + h_down)),
        step=h,
        tolerance=float(tolerance),
        jump=bool(jumps(1, 0.25) or jumps(-1, -0.25)),
    )


def _round(v: float) -> float:
    """Round a difference quotient to 9 significant digits."""
    return 0.0 if v == 0 else float(f"{v:.9g}")


# --------------------------------------------------------------------------- canonical links


@dataclass(frozen=True)
class ExponentialFamily:
    """A distribution written with its natural parameter ``eta`` as the model's output.

    ``nll`` is the negative log-likelihood in the distribution's *usual* form (probability,
    rate, mean) with the canonical inverse link substituted, so proving
    ``∂nll/∂η = mean - y`` is a theorem, not a restatement. ``distribution`` builds the
    matching ``torch.distributions`` object from an ``eta`` tensor of shape ``(N, k)``;
    ``sample`` draws ``(eta, y)`` arrays for the numeric check.
    """

    name: str
    eta: tuple[sp.Symbol, ...]
    targets: tuple[sp.Symbol, ...]
    nll: sp.Expr
    mean: tuple[sp.Expr, ...]
    link: str
    distribution: Callable[[torch.Tensor], torch.distributions.Distribution] = field(repr=False)
    sample: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]] = field(repr=False)
    #: turns a target array (N, len(targets)) into the value ``log_prob`` expects
    target_value: Callable[[torch.Tensor], torch.Tensor] = field(repr=False, default=lambda t: t[:, 0])


_Z = nt.class_symbols("z", real=True)
_Y = nt.class_symbols("y", nonnegative=True)
_P = nt.softmax(_Z)


def _sample_real(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return 3.0 * rng.standard_normal((n, 1)), 3.0 * rng.standard_normal((n, 1))


def _sample_bernoulli(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return 3.0 * rng.standard_normal((n, 1)), rng.integers(0, 2, size=(n, 1)).astype(float)


def _sample_poisson(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-2.0, 2.0, size=(n, 1)), rng.poisson(3.0, size=(n, 1)).astype(float)


def _sample_categorical(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return 3.0 * rng.standard_normal((n, len(_Z))), np.eye(len(_Z))[rng.integers(0, len(_Z), size=n)]


FAMILIES: Mapping[str, ExponentialFamily] = MappingProxyType(
    {
        "gaussian": ExponentialFamily(
            name="gaussian",
            eta=(nt.z,),
            targets=(nt.y,),
            nll=(nt.y - nt.z) ** 2 / 2 + sp.log(2 * sp.pi) / 2,
            mean=(nt.z,),
            link="identity: μ = η (unit variance)",
            distribution=lambda eta: torch.distributions.Normal(eta[:, 0], torch.ones_like(eta[:, 0])),
            sample=_sample_real,
        ),
        "bernoulli": ExponentialFamily(
            name="bernoulli",
            eta=(nt.z,),
            targets=(nt.y,),
            nll=-(nt.y * sp.log(nt.sigmoid(nt.z)) + (1 - nt.y) * sp.log(1 - nt.sigmoid(nt.z))),
            mean=(nt.sigmoid(nt.z),),
            link="logit: μ = σ(η)",
            distribution=lambda eta: torch.distributions.Bernoulli(logits=eta[:, 0]),
            sample=_sample_bernoulli,
        ),
        "poisson": ExponentialFamily(
            name="poisson",
            eta=(nt.z,),
            targets=(nt.y,),
            nll=-(nt.y * nt.z - sp.exp(nt.z) - sp.loggamma(nt.y + 1)),
            mean=(sp.exp(nt.z),),
            link="log: μ = e^η",
            distribution=lambda eta: torch.distributions.Poisson(torch.exp(eta[:, 0])),
            sample=_sample_poisson,
        ),
        "categorical": ExponentialFamily(
            name="categorical",
            eta=_Z,
            targets=_Y,
            nll=-sp.Add(*[yc * sp.log(pc) for yc, pc in zip(_Y, _P, strict=True)]),
            mean=_P,
            link="softmax: μ = softmax(η) (one-hot targets)",
            distribution=lambda eta: torch.distributions.Categorical(logits=eta),
            sample=_sample_categorical,
            target_value=lambda t: t.argmax(dim=1),
        ),
    }
)
"""The four families of the chapter, by name: gaussian, bernoulli, poisson, categorical."""


@dataclass(frozen=True)
class CanonicalCheck:
    """Result of :func:`canonical_link_check`: the gradient it proved, ``mean - y``, as a
    column over the natural parameters, and the worst numeric error against autograd."""

    family: str
    gradient: sp.Matrix
    points: int
    worst_error: float


def canonical_link_check(
    family: str | ExponentialFamily, *, n: int = 32, seed: int = 0, tol: float = 1e-10
) -> CanonicalCheck:
    """Prove ``∂NLL/∂η = mean - y`` in SymPy and confirm it with autograd on ``torch.distributions``.

    The symbolic step needs the categorical targets to sum to one, which is substituted
    (``y_0 = 1 - y_1 - ...``) before simplifying. The numeric step differentiates
    ``-distribution(eta).log_prob(y)`` at ``n`` seeded random points and compares with
    ``mean - y``; the error is absolute for values below 1 and relative above.

    >>> check = canonical_link_check("categorical", n=4)
    >>> check.gradient.T
    Matrix([[-y_0 + exp(z_0)/(exp(z_0) + exp(z_1) + exp(z_2)), ...]])
    >>> canonical_link_check("binomial")
    Traceback (most recent call last):
    ...
    ValueError: unknown family 'binomial'; known: gaussian, bernoulli, poisson, categorical
    """
    fam = _family(family)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")

    gradient = sp.Matrix([sp.diff(fam.nll, e) for e in fam.eta])
    stated = sp.Matrix([m - t for m, t in zip(fam.mean, fam.targets, strict=True)])
    sums_to_one = {fam.targets[0]: 1 - sum(fam.targets[1:])} if len(fam.targets) > 1 else {}
    for got, want, e in zip(gradient, stated, fam.eta, strict=True):
        if not same(got.subs(sums_to_one), want.subs(sums_to_one)):
            raise AssertionError(f"{fam.name}: could not prove d NLL / d {e} == {sp.sstr(want)}")

    rng = np.random.default_rng(seed)
    eta_np, y_np = fam.sample(rng, n)
    eta = torch.tensor(eta_np, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(y_np, dtype=torch.float64)
    nll = -fam.distribution(eta).log_prob(fam.target_value(y))
    (autograd,) = torch.autograd.grad(nll.sum(), eta)
    mean_fn = sp.lambdify([fam.eta], list(fam.mean), modules="numpy")
    means = np.array([mean_fn(tuple(row)) for row in eta_np], dtype=float).reshape(eta_np.shape)
    want_np = means - y_np
    errors = np.abs(autograd.numpy() - want_np) / np.maximum(np.abs(want_np), 1.0)
    worst = float(errors.max())
    if worst > tol:
        raise AssertionError(f"{fam.name}: autograd differs from mean - y by {worst:.3g} (tolerance {tol:g})")
    return CanonicalCheck(fam.name, stated, n, worst)


def _family(family: Any) -> ExponentialFamily:
    if isinstance(family, ExponentialFamily):
        return family
    if not isinstance(family, str):
        raise TypeError(f"family must be a name or an ExponentialFamily, got {type(family).__name__}")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family]
