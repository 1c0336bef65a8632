"""Numerical stability of losses: the registry-wide sweep and stable rearrangements.

The chapter "Numerical stability of losses" measures where floating point breaks a loss.
This module holds what it measures with (the floating-point helpers of
:mod:`lossbook.floats` are re-exported here):

* :func:`sweep`: for every registry loss and dtype, the input magnitudes where PyTorch's
  forward value and gradient stay finite and accurate, and which losses PyTorch computes
  naively; :data:`STABLE` holds a rearranged formula for each of those, and
  :func:`stable_loss` a registry entry that uses it, so :func:`lossbook.crosscheck` can check it
  (both defined in :mod:`lossbook.stable` and re-exported here).

>>> import torch
>>> from lossbook.stability import sweep
>>> sweep(["soft_margin"], [torch.float32], refine=0).naive
['soft_margin']
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import mpmath
import numpy as np
import sympy as sp
import torch

from lossbook import domains as L
from lossbook.calculus import _MP_MODULES, _cse_safe, gradient_exprs
from lossbook.floats import (
    DIGITS,
    DTYPES,
    FloatLimits,
    _check_dtype,
    _exact_at,
    boundary,
    dtype_name,
    exact,
    float_limits,
    kahan_sum,
    pairwise_sum,
    sequential_sum,
)
from lossbook.loss import Loss
from lossbook.losses import LOSSES, get
from lossbook.stable import STABLE, stable_loss

__all__ = [
    "DIGITS",
    "DTYPES",
    "NOT_SWEPT",
    "STABLE",
    "FloatLimits",
    "Sweep",
    "SweepCell",
    "boundary",
    "dtype_name",
    "exact",
    "float_limits",
    "kahan_sum",
    "pairwise_sum",
    "sequential_sum",
    "stable_loss",
    "sweep",
]

# --------------------------------------------------------------------------- the sweep

#: Magnitudes s the sweep tries: 1.25 and 1.75 times every power of 2 from 1/4 to 2^15 (so
#: never exactly 1, where hinge-type losses have their kinks), then 1.25 times every 16th
#: power of 2 up to 2^1016. All are exact in every dtype that can hold them.
MAGNITUDES: tuple[float, ...] = tuple(
    sorted(
        {m * 2.0**e for m in (1.25, 1.75) for e in range(-2, 16)}
        | {1.25 * 2.0**e for e in range(16, 1017, 16)}
    )
)

#: An exact value or gradient within this factor of the dtype's largest number counts as
#: overflowing: the chain rule forms intermediates a few times larger than the result.
_HEADROOM = 4.0
OK, NONFINITE, INEXACT, TRUE_OVERFLOW, NO_REFERENCE, UNSUPPORTED = (
    "ok",
    "inf/NaN",
    "inexact",
    "exact value near overflow",
    "no reference",
    "unsupported",
)
#: The statuses that mean PyTorch, not the dtype, is at fault.
NAIVE = (NONFINITE, INEXACT)


@dataclass(frozen=True)
class Probe:
    """A one-parameter family of points: ``make(s)`` gives the inputs and targets at magnitude s."""

    label: str
    make: Callable[[float], tuple[np.ndarray, np.ndarray]]


_COMPOSITE = (
    "built on log_softmax of linear scores, so its floating-point behaviour is that of cross_entropy "
    "(swept); its arbitrary-precision reference over {k} inputs costs {cost} of CPU per dtype"
)
#: Registry entries the default sweep leaves out, and why (the sweep still runs them when named).
NOT_SWEPT: dict[str, str] = {
    "ctc": _COMPOSITE.format(k=9, cost="about 20 s"),
    "linear_cross_entropy": _COMPOSITE.format(k=8, cost="about 3 s"),
    "adaptive_log_softmax": _COMPOSITE.format(k=12, cost="about 12 s"),
}


def _input_directions(loss: Loss) -> list[tuple[str, Callable[[float], np.ndarray]]]:
    n, dom = loss.n_inputs, loss.input_domain
    if dom is L.PROBABILITY:
        return [
            ("p = 2^-s", lambda s: np.full(n, 2.0**-s)),
            ("p = 1 - 2^-s", lambda s: np.full(n, 1 - 2.0**-s)),
        ]
    if dom is L.REAL and n == 1:
        return [("+s", lambda s: np.array([s])), ("-s", lambda s: np.array([-s]))]
    if dom is L.REAL:
        u = np.linspace(1.0, -1.0, n)
        return [(f"s·({', '.join(f'{v:g}' for v in u)})", lambda s: s * u)]
    if dom in (L.NONNEGATIVE, L.POSITIVE):
        return [("+s", lambda s: np.full(n, s))]
    if dom is L.LOG_PROBABILITIES:
        u = 0.0 - np.linspace(0.0, 1.0, n)
        return [(f"s·({', '.join(f'{v:g}' for v in u)})", lambda s: s * u)]
    if dom is L.MEAN_AND_VARIANCE:
        return [("(+s, s)", lambda s: np.array([s, s])), ("(+s, 1)", lambda s: np.array([s, 1.0]))]
    return []


def _targets(loss: Loss) -> list[np.ndarray]:
    n, dom = loss.n_targets, loss.target_domain
    if n == 0:
        return [np.zeros(0)]
    if dom in (L.BINARY, L.PROBABILITY):  # all 0 (an empty mask) and all 1
        return [np.zeros(n), np.ones(n)]
    if dom is L.SIGNS and n == 1:
        return [np.array([-1.0]), np.array([1.0])]
    if dom is L.BINARY:  # several labels (multi-label rows, CTC target bits): alternating, and all ones
        return [np.arange(n) % 2.0, np.ones(n)]
    if dom is L.ONE_HOT:
        return list(np.eye(n))
    if dom is L.SIMPLEX:
        return [np.concatenate([[0.5], np.full(n - 1, 0.5 / (n - 1))])]
    if dom is L.REAL and n == 1:
        return [np.array([0.0])]
    if dom is L.COUNTS and n == 1:
        return [np.array([0.0]), np.array([4.0])]
    if dom in (L.NONNEGATIVE, L.POSITIVE) and n == 1:
        return [np.array([1.0])]
    return []


def _extra_probes(loss: Loss) -> list[Probe]:
    if loss.name in ("poisson_nll", "poisson_nll_full"):
        # the rate matches the count: the regime of a fitted model, where terms cancel
        def make(s: float) -> tuple[np.ndarray, np.ndarray]:
            count = max(float(np.round(s)), 1.0)
            return np.array([math.log(count)]), np.array([count])

        return [Probe("z = log s, y = s", make)]
    if loss.name in ("triplet_margin", "triplet_margin_cosine"):
        # the default direction puts the negative farther than the positive (loss 0 from s ≈ 1 on);
        # swapping them keeps the hinge active, so the value grows with s
        u = np.array([1.0, 0.6, -0.6, -1.0, 0.2, -0.2])
        shared = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])  # huge, but a - a⁺ and a - a⁻ are not
        return [
            Probe("x = s·(1, 0.6, -0.6, -1, 0.2, -0.2)", lambda s: (s * u, np.zeros(0))),
            Probe("x = (s, 0, s, 1, s, 1.5)", lambda s: (s * shared + [0, 0, 0, 1, 0, 1.5], np.zeros(0))),
        ]
    return []


def probes(loss: str | Loss) -> list[Probe]:
    """The probe families the sweep runs for ``loss`` (empty if its domains are unknown).

    >>> [p.label for p in probes("bce_with_logits")]
    ['z = +s, y = 0', 'z = +s, y = 1', 'z = -s, y = 0', 'z = -s, y = 1']
    """
    loss = get(loss)
    from lossbook.notation import plain

    x_name = ", ".join(plain(s) for s in loss.inputs) if loss.n_inputs == 1 else "x"
    t_name = plain(loss.targets[0]) if loss.n_targets == 1 else "t"
    out = []
    for xl, xf in _input_directions(loss):
        for t in _targets(loss):
            tl = f"{t[0]:g}" if t.size == 1 else "(" + ", ".join(f"{v:g}" for v in t) + ")"
            label = xl if xl.startswith("p =") or (xl.startswith("(") and False) else f"{x_name} = {xl}"
            label = label if not loss.n_targets else f"{label}, {t_name} = {tl}"
            out.append(Probe(label, lambda s, xf=xf, t=t: (xf(s), t)))
    return out + _extra_probes(loss)


@cache
def _reference_fn(
    expr: sp.Expr, grads: tuple[sp.Expr, ...], symbols: tuple[sp.Symbol, ...], simplified: bool
) -> Any:
    """mpmath function returning the value and the gradient.

    With ``simplified``, SymPy first rewrites each expression: the same function, often
    without the cancellation that makes log(1 - σ(z)) need 0.44·|z| digits at large |z|.
    """
    exprs = [expr, *grads]
    if simplified:
        exprs = [sp.simplify(e) for e in exprs]
    return sp.lambdify(list(symbols), exprs, modules=list(_MP_MODULES), cse=_cse_safe(exprs))


_REFERENCES: dict[tuple[Any, ...], tuple[list[float], Callable[[], np.ndarray]] | None] = {}
_PLAIN_FAILS: dict[sp.Expr, float] = {}


@cache
def _formulas(loss: Loss, hyper: tuple[tuple[str, float], ...]) -> tuple[sp.Expr, tuple[sp.Expr, ...]]:
    """The loss's expression and autograd's gradient with the hyperparameters substituted."""
    subs = loss.substitutions(**dict(hyper))
    return loss.expr.subs(subs), tuple(g.subs(subs) for g in gradient_exprs(loss))


def _reference(
    loss: Loss, hyper: dict[str, float], x: np.ndarray, t: np.ndarray
) -> tuple[list[float], Callable[[], np.ndarray]] | None:
    """Exact value and gradient at one point, and the gradient's Jacobian (cached), or ``None``.

    The Jacobian only sets the tolerance (how much rounding the inputs moves the gradient),
    so a central difference of the exact gradient, at the precision that made it exact, is
    accurate enough.
    """
    expr, grads = _formulas(loss, tuple(sorted(hyper.items())))
    key = (expr, grads, tuple(x.tolist()), tuple(t.tolist()))
    if key in _REFERENCES:
        return _REFERENCES[key]
    args = [*x.tolist(), *t.tolist()]
    symbols = loss.inputs + loss.targets
    found, f = None, None
    size = float(np.max(np.abs(x), initial=0.0))
    # once the formula as written needs too many digits, it does at every larger input too
    plain_ok = size < _PLAIN_FAILS.get(expr, math.inf)
    for simplified in (False, True) if plain_ok else (True,):
        f = _reference_fn(expr, grads, symbols, simplified)
        found = _exact_at(f, args, DIGITS if simplified else DIGITS[:3], floor=1.0)
        if found is not None:
            break
        if not simplified:
            _PLAIN_FAILS[expr] = min(size, _PLAIN_FAILS.get(expr, math.inf))
    if found is None:
        _REFERENCES[key] = None
        return None
    values, digits = found
    _REFERENCES[key] = (values, lambda: _jacobian(f, args, digits, loss.n_inputs))
    return _REFERENCES[key]


def _jacobian(f: Callable[..., Sequence[Any]], args: list[float], digits: int, k: int) -> np.ndarray:
    """Central differences of the exact gradient in the first ``k`` arguments."""
    jac = np.zeros((k, k))
    with mpmath.workdps(digits):
        for i in range(k):
            h = mpmath.mpf(2) ** -40 * max(abs(mpmath.mpf(args[i])), 1)
            up, down = list(map(mpmath.mpf, args)), list(map(mpmath.mpf, args))
            up[i] += h
            down[i] -= h
            try:
                diff = [(a - b) / (2 * h) for a, b in zip(f(*up)[1:], f(*down)[1:], strict=True)]
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                continue
            jac[:, i] = [float(v) if mpmath.isfinite(v) else 0.0 for v in diff]
    return jac


@dataclass(frozen=True)
class _Point:
    status: str
    what: str = ""


def _status(
    loss: Loss, hyper: dict[str, float], probe: Probe, s: float, dtype: torch.dtype, rtol: float
) -> _Point:
    x64, t64 = probe.make(s)
    x = torch.tensor(x64[None, :], dtype=torch.float64).to(dtype)
    t = torch.tensor(t64[None, :], dtype=torch.float64).to(dtype)
    if not (torch.isfinite(x).all() and torch.isfinite(t).all()):
        return _Point("end")
    xr, tr = x.double().numpy()[0], t.double().numpy()[0]
    if not (
        loss.input_domain.check(xr[None, :]) and (not loss.n_targets or loss.target_domain.check(tr[None, :]))
    ):
        return _Point("end")
    ref = _reference(loss, hyper, xr, tr)
    if ref is None:
        return _Point(NO_REFERENCE)
    x.requires_grad_(True)
    try:
        value = loss._call(x, t, hyper, loss._layout())  # the torch_fn contract: 1-D for one input
        (grad,) = torch.autograd.grad(value.sum(), x)
    except (RuntimeError, NotImplementedError, ValueError) as error:
        return _Point(UNSUPPORTED, str(error).splitlines()[0][:80])
    k = loss.n_inputs
    got = [float(value.detach()[0]), *(float(g) for g in grad[0])]
    ref, jac = ref
    names = ["value"] + ["gradient"] * k
    top = float_limits(dtype).max / _HEADROOM
    if any(abs(r) > top for r in ref):
        return _Point(TRUE_OVERFLOW, "value" if abs(ref[0]) > top else "gradient")
    bad = [n for g, n in zip(got, names, strict=True) if not math.isfinite(g)]
    if bad:
        return _Point(NONFINITE, " and ".join(dict.fromkeys(bad)))
    # allowed error: rtol times the size of the result (at least 1), plus the change that
    # rounding every input by a relative rtol would cause (the condition of the problem)
    scale = np.maximum(np.abs(ref), 1.0)
    errors = np.abs(np.subtract(got, ref)) / scale
    if np.any(errors > rtol):
        xs = np.abs(xr)
        with np.errstate(over="ignore", invalid="ignore"):
            scale = scale + np.concatenate([[xs @ np.abs(ref[1:])], np.abs(jac()) @ xs])
            errors = np.abs(np.subtract(got, ref)) / scale
    bad = [n for e, n in zip(errors, names, strict=True) if e > rtol]
    if bad:
        return _Point(INEXACT, " and ".join(dict.fromkeys(bad)))
    return _Point(OK)


@dataclass(frozen=True)
class SweepCell:
    """One probe of one loss in one dtype.

    PyTorch's value and gradient are finite and within the tolerance at every magnitude of
    :data:`MAGNITUDES` up to ``limit``; ``status`` says what happens next (at ``first_bad``),
    ``what`` whether the value, the gradient or both went wrong. ``status == "ok"`` means no
    failure before the dtype's largest number (then ``first_bad`` is ``None``).
    """

    loss: str
    dtype: torch.dtype
    probe: str
    limit: float | None
    status: str
    first_bad: float | None = None
    what: str = ""

    @property
    def naive(self) -> bool:
        """True when PyTorch fails although the exact value and gradient fit the dtype."""
        return self.status in NAIVE


def _run_probe(
    loss: Loss, hyper: dict[str, float], probe: Probe, dtype: torch.dtype, rtol: float, refine: int
) -> SweepCell:
    last_ok: float | None = None
    for s in MAGNITUDES:
        point = _status(loss, hyper, probe, s, dtype, rtol)
        if point.status == "end":
            return SweepCell(loss.name, dtype, probe.label, last_ok, OK)
        if point.status != OK:
            lo, hi, at = last_ok, s, point
            for _ in range(refine if lo is not None and point.status != NO_REFERENCE else 0):
                m, e = math.frexp(math.sqrt(lo) * math.sqrt(hi))
                mid = math.ldexp(round(m * 256) / 256, e)
                if not lo < mid < hi or hi / lo < 1.005:
                    break
                p = _status(loss, hyper, probe, mid, dtype, rtol)
                if p.status == OK:
                    lo = mid
                elif p.status != "end":
                    hi, at = mid, p
                else:
                    break
            return SweepCell(loss.name, dtype, probe.label, lo, at.status, hi, at.what)
        last_ok = s
    return SweepCell(loss.name, dtype, probe.label, last_ok, OK)


def _short(x: float | None) -> str:
    """Three significant digits, exponent without "+" and leading zeros: 8.58e3."""
    return "-" if x is None else f"{x:.3g}".replace("e+0", "e").replace("e+", "e")


def _rtol(dtype: torch.dtype, ulps: float) -> float:
    return ulps * float_limits(dtype).eps


@dataclass(frozen=True)
class Sweep:
    """The result of :func:`sweep`: one :class:`SweepCell` per loss, dtype and probe."""

    cells: tuple[SweepCell, ...]
    dtypes: tuple[torch.dtype, ...]
    ulps: float
    skipped: tuple[str, ...] = ()

    def _cells(self, loss: str, dtype: torch.dtype) -> list[SweepCell]:
        cells = [c for c in self.cells if c.loss == loss and c.dtype == dtype]
        if not cells:
            raise KeyError(f"no cells for loss {loss!r} in {dtype_name(dtype)}")
        return cells

    def worst(self, loss: str, dtype: torch.dtype) -> SweepCell:
        """The probe of ``loss`` in ``dtype`` with the smallest limit: every probe passes up to it.

        Among probes failing at the same magnitude, a failure of PyTorch comes first.
        """
        cells = self._cells(loss, dtype)
        failing = [c for c in cells if c.status != OK] or cells
        return min(failing, key=lambda c: (c.limit if c.limit is not None else -1.0, not c.naive))

    def first_naive(self, loss: str, dtype: torch.dtype) -> SweepCell | None:
        """The probe of ``loss`` in ``dtype`` where PyTorch fails first, or ``None``."""
        naive = [c for c in self._cells(loss, dtype) if c.naive]
        return min(naive, key=lambda c: c.limit if c.limit is not None else -1.0) if naive else None

    @property
    def losses(self) -> list[str]:
        return list(dict.fromkeys(c.loss for c in self.cells))

    @property
    def naive(self) -> list[str]:
        """Losses that PyTorch computes naively in at least one dtype."""
        return [name for name in self.losses if any(c.naive for c in self.cells if c.loss == name)]

    @staticmethod
    def _one(c: SweepCell) -> str:
        if c.status == OK:
            return "all"
        limit = "-" if c.limit is None else _short(c.limit)
        if c.status == NO_REFERENCE:
            return f">= {limit}"
        short = {TRUE_OVERFLOW: "ovf", UNSUPPORTED: "unsupported"}.get(c.status, c.status)
        what = {"value": " (v)", "gradient": " (g)", "value and gradient": " (v, g)"}.get(c.what, "")
        return f"{limit} {short}" + (what if c.naive else "")

    def _cell_text(self, loss: str, dtype: torch.dtype) -> str:
        """The worst probe's limit and status; a later failure of PyTorch is added after "; "."""
        c, n = self.worst(loss, dtype), self.first_naive(loss, dtype)
        if n is None or n is c:
            return self._one(c)
        return f"{self._one(c)}; {n.status}{self._one(n).split(n.status, 1)[1]} > {_short(n.limit)}"

    def rows(self) -> list[tuple[str, ...]]:
        out = []
        for name in self.losses:
            cells = [self.worst(name, d) for d in self.dtypes]
            naive = [n for d in self.dtypes if (n := self.first_naive(name, d)) is not None]
            probe = naive[0].probe if naive else next((c.probe for c in cells if c.status != OK), "")
            out.append((name, *(self._cell_text(name, d) for d in self.dtypes), probe))
        return out

    def header(self) -> tuple[str, ...]:
        return ("loss", *(dtype_name(d) for d in self.dtypes), "failing probe (PyTorch's if any)")

    def __str__(self) -> str:
        rows = [self.header(), *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [
            f"stability sweep: value and gradient finite and within {self.ulps:g} eps (relative; absolute below 1)"
        ]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines += [f"not swept: {name} ({NOT_SWEPT[name]})" for name in self.skipped]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.header())
        body = []
        for name, *cells in self.rows():
            tds = f"<td><code>{html.escape(name)}</code></td>"
            for text in cells[:-1]:
                style = ' style="color:#b2182b;font-weight:bold"' if any(s in text for s in NAIVE) else ""
                tds += f"<td{style}>{html.escape(text)}</td>"
            tds += f"<td>{html.escape(cells[-1])}</td>"
            body.append(f"<tr>{tds}</tr>")
        caption = (
            f"Largest magnitude s up to which, in every probe, PyTorch's value and gradient are finite "
            f"and within {self.ulps:g} eps of the exact ones, then what goes wrong: ovf, the exact value "
            "nears overflow; inf/NaN or inexact (bold), PyTorch fails in the value (v) or gradient (g), "
            "added after ';' with its own limit when another probe fails first; >= s, no exact "
            "reference beyond s; all, no failure in the dtype's range"
            + "".join(f". Not swept: {name} ({NOT_SWEPT[name]})" for name in self.skipped)
        )
        return (
            f'<table class="lossbook-sweep"><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )


def sweep(
    losses: Sequence[str | Loss] | None = None,
    dtypes: Sequence[torch.dtype] = DTYPES,
    *,
    ulps: float = 16.0,
    refine: int = 8,
) -> Sweep:
    """Where PyTorch computes each loss accurately, per dtype: the registry-wide stability sweep.

    For every loss, every probe family of :func:`probes` and every dtype, the magnitude s
    grows through :data:`MAGNITUDES` until PyTorch's value or gradient (``torch_fn`` at the
    loss's default hyperparameters, autograd for the gradient) is not finite or is off the
    exact one (mpmath, :func:`exact`) by more than ``ulps`` times the dtype's machine epsilon
    (relative error, absolute below 1 in size); the boundary is then refined by ``refine``
    bisection steps. A point where the exact value or gradient is itself too large for the
    dtype ends the range without blaming PyTorch ("true value overflows").

    Args:
        losses: registry names or :class:`~lossbook.Loss` objects (default: the whole registry
            but the entries of :data:`NOT_SWEPT`, which the result lists with the reason).
        dtypes: a subset of :data:`DTYPES`.
        ulps: the tolerance in units of the dtype's eps.
        refine: bisection steps at each boundary (0 reports the grid point).

    >>> result = sweep(["soft_margin"], [torch.float32], refine=0)
    >>> result.naive
    ['soft_margin']
    >>> sweep(["mse"], [torch.int8])
    Traceback (most recent call last):
    ...
    ValueError: dtypes must be one of float16, bfloat16, float32, float64, got torch.int8
    """
    chosen = (
        [e for e in LOSSES.values() if e.name not in NOT_SWEPT]
        if losses is None
        else [get(item) for item in losses]
    )
    skipped = tuple(name for name in LOSSES if name in NOT_SWEPT) if losses is None else ()
    if isinstance(dtypes, torch.dtype) or not dtypes:
        raise TypeError(f"dtypes must be a non-empty sequence of torch dtypes, got {dtypes!r}")
    dtypes = tuple(_check_dtype(d, "dtypes") for d in dtypes)
    if isinstance(ulps, bool) or not isinstance(ulps, (int, float)) or not 1 <= ulps < 1e6:
        raise ValueError(f"ulps must be a number in [1, 1e6), got {ulps!r}")
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise ValueError(f"refine must be a non-negative integer, got {refine!r}")
    cells = []
    for loss in chosen:
        hyper = loss.hyperparameters()
        found = probes(loss)
        if not found:
            raise ValueError(
                f"{loss.name}: the sweep has no probes for its domains "
                f"({loss.input_domain.description}; {loss.target_domain.description})"
            )
        for dtype in dtypes:
            rtol = _rtol(dtype, ulps)
            cells.extend(_run_probe(loss, hyper, probe, dtype, rtol, refine) for probe in found)
    return Sweep(tuple(cells), dtypes, float(ulps), skipped)
