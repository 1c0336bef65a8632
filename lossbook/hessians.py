"""Does the SymPy Hessian of a loss equal PyTorch's, including at kinks?

:func:`hessian_check` evaluates the Hessian of what PyTorch computes (the Jacobian of the
SymPy gradient, or of :attr:`Loss.autograd` where PyTorch's backward departs from the
derivative of its forward) and compares it with ``torch.autograd.functional.hessian`` at
sampled and edge points. SymPy differentiates a kink into a ``DiracDelta``: 0 off the kink,
no value on it. There, and at branch boundaries where the Hessian jumps, the check asks
that PyTorch's value lie between the one-sided limits of SymPy's Hessian, which is all
autograd can promise. The convexity chapter uses it; :mod:`lossbook.convexity` re-exports it.

>>> import lossbook as lb
>>> lb.convexity.hessian_check("cross_entropy").ok
True
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import mpmath
import numpy as np
import sympy as sp
import torch

from lossbook.calculus import gradient_exprs
from lossbook.losses import Loss, get

__all__ = ["HessianCheck", "hessian_check"]


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ")"


def _matrix(a: np.ndarray) -> str:
    """A Hessian on one line: ``0`` for a 1×1, ``[1e+06, 1e+12; 1e+12, 1e+18]`` otherwise."""
    if a.size == 1:
        return f"{a.item():.6g}"
    return "[" + "; ".join(", ".join(f"{v:.6g}" for v in row) for row in a) + "]"


def _check_int(name: str, value: Any, low: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low} ({what}), got {value!r}")
    return int(value)


HessianStatus = Literal["agree", "kink", "boundary", "mismatch"]


@dataclass(frozen=True)
class HessianCheck:
    """SymPy's Hessian against ``torch.autograd.functional.hessian``, point by point.

    ``status[i]`` is ``"agree"`` (equal within the tolerance), ``"kink"`` (the gradient
    jumps: SymPy's second derivative holds a Dirac mass and has no value there) or
    ``"boundary"`` (the gradient is continuous but the Hessian jumps, as where Huber's
    branches meet) -- at those two PyTorch's value must lie, entry by entry, between the
    one-sided limits of SymPy's Hessian -- or ``"mismatch"``. ``error`` is the largest
    ``|torch - sympy| / max(|sympy|, 1)`` over the entries (``nan`` at kinks and boundaries,
    where ``low`` and ``high`` hold the one-sided limits; ``nan`` elsewhere).
    """

    loss: str
    x: np.ndarray
    t: np.ndarray
    sympy: np.ndarray
    torch: np.ndarray
    status: tuple[HessianStatus, ...]
    error: np.ndarray
    low: np.ndarray
    high: np.ndarray
    rtol: float
    atol: float

    @property
    def ok(self) -> bool:
        return "mismatch" not in self.status

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` listing every point where the Hessians disagree."""
        if not self.ok:
            raise AssertionError(str(self))

    def __str__(self) -> str:
        counts = [
            f"{s} {self.status.count(s)}"
            for s in ("agree", "kink", "boundary", "mismatch")
            if s in self.status
        ]
        lines = [f"{self.loss}: SymPy vs PyTorch Hessian at {len(self.status)} points: {', '.join(counts)}"]
        for i, s in enumerate(self.status):
            where = f"  {s} at x = {_fmt(tuple(self.x[i]))}, t = {_fmt(tuple(self.t[i]))}: PyTorch {_matrix(self.torch[i])}"
            if s == "mismatch":
                lines.append(f"{where}, SymPy {_matrix(self.sympy[i])}")
            elif s != "agree":
                lines.append(f"{where}; one-sided limits {_matrix(self.low[i])} to {_matrix(self.high[i])}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


_dirac = sp.Function("dirac_at")  # DiracDelta: 0 off its support, no value on it
_step = sp.Function("step_at")  # Heaviside: 0 or 1 off the switch, no value on it


def _np_dirac(x: Any, *order: Any) -> Any:
    return np.where(np.asarray(x) == 0, np.nan, 0.0)


def _np_step(x: Any, *at_zero: Any) -> Any:
    x = np.asarray(x, dtype=float)
    return np.where(x == 0, np.nan, (x > 0).astype(float))


def _mp_dirac(x: Any, *order: Any) -> Any:
    return mpmath.nan if x == 0 else mpmath.mpf(0)


def _mp_step(x: Any, *at_zero: Any) -> Any:
    return mpmath.nan if x == 0 else mpmath.mpf(x > 0)


_NUMERIC = {
    "numpy": [{"dirac_at": _np_dirac, "step_at": _np_step}, "numpy"],
    "mpmath": [{"dirac_at": _mp_dirac, "step_at": _mp_step, "Max": max, "Min": min}, "mpmath"],
}


@functools.lru_cache(maxsize=128)
def _hessian_functions(loss: Loss, subs_items: tuple[tuple[sp.Symbol, sp.Expr], ...]) -> dict[str, Any]:
    """Lambdified gradient and Hessian of what PyTorch computes, made once per loss and hyper.

    The gradient is :attr:`Loss.autograd` where PyTorch's backward departs from the
    derivative of its forward; the Hessian is its Jacobian, left unsimplified. ``hess_mp``
    evaluates in arbitrary precision where float64 overflows (softmax at a logit of 1000).
    """
    grad = sp.Matrix([g.subs(dict(subs_items)) for g in gradient_exprs(loss)])
    hess = grad.jacobian(loss.inputs)

    def numeric(m: sp.Matrix, backend: str) -> Any:
        m = m.replace(sp.DiracDelta, lambda *a: _dirac(a[0])).replace(sp.Heaviside, lambda *a: _step(a[0]))
        return sp.lambdify((*loss.inputs, *loss.targets), list(m), modules=_NUMERIC[backend])

    return {
        "grad": numeric(grad, "numpy"),
        "hess": numeric(hess, "numpy"),
        "hess_mp": numeric(hess, "mpmath"),
    }


def _evaluate(f: Any, x: np.ndarray, t: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    with np.errstate(all="ignore"):
        entries = f(*x.T, *t.T)
    return np.stack(
        [np.broadcast_to(np.asarray(e, dtype=float), (len(x),)) for e in entries], axis=1
    ).reshape((len(x), *shape))


def _evaluate_exact(f: Any, x: np.ndarray, t: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Row by row in arbitrary precision, rounded to float64 (nan where undefined).

    The precision grows until the result is finite: 1 - σ(1000) needs about 440 digits.
    """

    def row(xi: np.ndarray, ti: np.ndarray) -> list[float]:
        for digits in (50, 600, 2400):
            with mpmath.workdps(digits):
                try:
                    values = [float(v) for v in f(*map(mpmath.mpf, xi), *map(mpmath.mpf, ti))]
                except (ZeroDivisionError, ValueError):
                    continue
            if all(map(math.isfinite, values)):
                return values
        return [math.nan] * math.prod(shape)

    return np.array([row(xi, ti) for xi, ti in zip(x, t, strict=True)]).reshape((len(x), *shape))


def _one_sided(f: Any, x: np.ndarray, t: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Does ``f`` jump at each point (along some input), and its one-sided limits there.

    ``f`` is evaluated at ``x ± h e_j`` for two steps ``h``; a smooth ``f`` changes ~100 times less
    over the shorter step, a jump does not change at all. Returns ``(jumps, low, high)``: the
    entrywise minimum and maximum of the one-sided values, extrapolated linearly to the point.
    """
    n, k = x.shape
    h = 1e-7 * np.where(x != 0, np.abs(x), 1e-2)  # relative steps, (N, k)
    eye = np.eye(k)

    def around(step: np.ndarray) -> np.ndarray:
        shifted = np.concatenate(
            [x[:, None, :] + step[:, None, :] * eye, x[:, None, :] - step[:, None, :] * eye], axis=1
        )
        values = _evaluate(f, shifted.reshape(-1, k), np.repeat(t, 2 * k, axis=0), shape)
        return values.reshape((n, 2 * k, *shape))

    near, far = around(h / 100), around(h)
    axes = tuple(range(2, 2 + len(shape)))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan slices: no value on either side
        entries = tuple(range(1, 1 + len(shape)))
        spread_near = np.nanmax(np.nanmax(near, axis=1) - np.nanmin(near, axis=1), axis=entries)
        spread_far = np.nanmax(np.nanmax(far, axis=1) - np.nanmin(far, axis=1), axis=entries)
        size = np.maximum(1.0, np.nanmax(np.abs(near), axis=(1, *axes)))
        jumps = (spread_near > 1e-9 * size) & (spread_near > 0.5 * spread_far)
        limits = near - (far - near) / 99  # linear extrapolation of each side to the point itself
        return jumps, np.nanmin(limits, axis=1), np.nanmax(limits, axis=1)


def _check_tolerance(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def hessian_check(
    loss: str | Loss,
    points: tuple[Any, Any] | None = None,
    *,
    n: int = 5,
    seed: int = 0,
    edges: bool = True,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    **hyper: Any,
) -> HessianCheck:
    """Compare the SymPy Hessian of ``loss`` with ``torch.autograd.functional.hessian``.

    At each point the Hessian of the SymPy gradient (:attr:`Loss.autograd` where PyTorch's
    backward is not the derivative of its forward) is evaluated in float64 and compared
    with PyTorch's Hessian of ``loss.pytorch``. Where the gradient has a kink, SymPy's
    second derivative holds a ``DiracDelta`` (a mass at the kink, 0 elsewhere): off the
    kink it is 0, *at* the kink the Hessian has no value and the check asks instead that
    PyTorch's value lie between the one-sided limits of SymPy's Hessian (along each input),
    which is what autograd can return there. Branch boundaries (a ``Heaviside`` or
    ``Piecewise`` switch where the Hessian jumps) are treated the same way.

    Args:
        loss: registry name or :class:`~lossbook.Loss`.
        points: ``(x, t)`` arrays of shape (N, inputs) and (N, targets); default: ``n``
            points from the loss's sampler (and its edge points when ``edges``).
        n, seed: number of sampled points and seed of the sampler.
        edges: add the loss's edge points (kinks, boundaries, extreme values).
        rtol, atol: tolerances for ``|torch - sympy| <= atol + rtol |sympy|``.
        **hyper: hyperparameters of the loss.

    >>> print(hessian_check("hinge", n=3))  # doctest: +NORMALIZE_WHITESPACE
    hinge: SymPy vs PyTorch Hessian at 6 points: agree 4, kink 2
      kink at x = (1), t = (1): PyTorch 0; one-sided limits 0 to 0
      kink at x = (-1), t = (-1): PyTorch 0; one-sided limits 0 to 0
    >>> hessian_check("mse", rtol=-1)
    Traceback (most recent call last):
    ...
    ValueError: rtol must be a finite number >= 0, got -1
    """
    loss = get(loss)
    n = _check_int("n", n, 1, "sampled points")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not isinstance(edges, bool):
        raise TypeError(f"edges must be True or False, got {type(edges).__name__}")
    rtol, atol = _check_tolerance("rtol", rtol), _check_tolerance("atol", atol)
    hp = loss.hyperparameters(**hyper)
    if points is None:
        x, t = loss.sample(np.random.default_rng(seed), n)
        if edges and loss.edges:
            x = np.vstack([x, [e.inputs for e in loss.edges]])
            t = np.vstack(
                [t, np.array([e.targets for e in loss.edges], dtype=float).reshape(len(loss.edges), -1)]
            )
    else:
        if not isinstance(points, (tuple, list)) or len(points) != 2:
            raise TypeError(
                f"{loss.name}: points must be a pair (x, t) of arrays, got {type(points).__name__}"
            )
        loss.pytorch(*points, **hp)  # validates shapes and domains with a clear message
        x = np.asarray(torch.as_tensor(np.asarray(points[0], dtype=float)).reshape(-1, loss.n_inputs))
        t = np.asarray(points[1], dtype=float).reshape(len(x), loss.n_targets)
    k = loss.n_inputs
    fs = _hessian_functions(
        loss, tuple(sorted(loss.substitutions(**hyper).items(), key=lambda kv: kv[0].name))
    )
    sym = _evaluate(fs["hess"], x, t, (k, k))
    overflow = ~np.all(np.isfinite(sym), axis=(1, 2))
    if overflow.any():  # float64 overflow inside a naive formula, or a kink: ask mpmath
        sym[overflow] = _evaluate_exact(fs["hess_mp"], x[overflow], t[overflow], (k, k))
    pt = np.stack(
        [
            torch.autograd.functional.hessian(
                lambda v, ti=ti: loss.pytorch(v[None], ti[None], **hp).sum(),
                torch.tensor(xi, dtype=torch.float64),
            ).numpy()
            for xi, ti in zip(x, t, strict=True)
        ]
    )
    hess_jumps, lows, highs = _one_sided(fs["hess"], x, t, (k, k))
    grad_jumps, _, _ = _one_sided(fs["grad"], x, t, (k,))
    # where the Hessian is continuous but SymPy has no value (0·DiracDelta), its limit is the value
    limit = np.where(np.isfinite(sym) | hess_jumps[:, None, None], sym, (lows + highs) / 2)
    with np.errstate(invalid="ignore"):
        error = np.max(np.abs(pt - limit) / np.maximum(np.abs(limit), 1.0), axis=(1, 2))
        close = np.all(np.isclose(pt, limit, rtol=rtol, atol=atol) | (pt == limit), axis=(1, 2))
        inside = np.all(
            (pt >= lows - atol - rtol * np.abs(lows)) & (pt <= highs + atol + rtol * np.abs(highs)),
            axis=(1, 2),
        )
    status: list[HessianStatus] = []
    singular = hess_jumps | grad_jumps  # no classical Hessian: a kink, or a jump in the Hessian
    for i in range(len(x)):
        if not singular[i]:
            status.append("agree" if close[i] else "mismatch")
        elif inside[i]:
            status.append("kink" if grad_jumps[i] else "boundary")
            error[i] = np.nan
        else:
            status.append("mismatch")
    jumps = singular[:, None, None]
    lows, highs = np.where(jumps, lows, np.nan), np.where(jumps, highs, np.nan)
    return HessianCheck(loss.name, x, t, sym, pt, tuple(status), error, lows, highs, rtol, atol)
