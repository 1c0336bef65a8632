"""Cross-check a loss: SymPy against PyTorch autograd and finite differences.

:func:`crosscheck` evaluates a loss at random points drawn from its domains and at its
hand-picked edge points, and compares, in float64,

* PyTorch's forward value with :attr:`Loss.expr` evaluated in arbitrary precision (mpmath);
* autograd's gradient with the SymPy gradient (or :attr:`Loss.autograd` where PyTorch's
  backward deliberately differs from the derivative of its forward);
* autograd with finite differences, through :func:`torch.autograd.gradcheck`;
* at kinks, that autograd returns a subgradient: each component between the one-sided
  slopes along its own coordinate (for a loss of several inputs this coordinate-wise test
  is necessary, not sufficient, for a subgradient).

Where the loss states a textbook form that PyTorch departs from, the report adds rows that
measure the departure; those rows inform and never fail.

>>> import lossbook as lb
>>> report = lb.crosscheck("huber", n=8)
>>> report.ok
True
>>> print(report)  # doctest: +NORMALIZE_WHITESPACE
crosscheck of 'huber' (delta=1) at 8 sampled and 4 edge points
check                   points   worst error  tolerance  result
forward value               12   < 1e-13 rel      1e-10  pass
gradient                    12   < 1e-13 rel      1e-10  pass
finite differences           8             -          -  pass
(rel = |a - b| / max(|b|, 1): relative above 1 in size, absolute below)
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np
import sympy as sp
import torch

from lossbook.calculus import PRECISIONS, _derive, _eval, _mpf, gradient_exprs, mp_function
from lossbook.domains import Edge
from lossbook.loss import Loss
from lossbook.losses import get
from lossbook.notation import plain

__all__ = ["CrossCheck", "Report", "crosscheck"]

_PRECISIONS = PRECISIONS  # the name used before 2026-12; use lossbook.PRECISIONS
#: One-sided slopes at a kink are evaluated at x ± 1e-30 (relative), held in 80 digits.
_KINK_STEP = 1e-30
_SHIFT_DIGITS = 80
#: Values smaller than this in size are compared absolutely. A loss computed from O(1)
#: quantities carries rounding errors of the size of O(1) numbers: σ(40) - 1 = -4e-18
#: comes out of float64 as exactly 0 (relative error 1, absolute error 4e-18).
_FLOOR = 1.0


@dataclass(frozen=True)
class CrossCheck:
    """One row of a :class:`Report`: a comparison, its worst case and its verdict.

    A row with ``required=False`` measures rather than tests (a departure from the
    textbook formula) and always passes. ``tolerance`` is ``None`` where no number is
    compared with one (finite differences report pass or fail; measured rows have none).
    """

    name: str
    points: int
    worst_error: float | None
    tolerance: float | None
    passed: bool
    worst: str = ""
    kind: str = "relative error"
    required: bool = True


@dataclass(frozen=True)
class Report:
    """The result of :func:`crosscheck`: one :class:`CrossCheck` per comparison.

    Renders as a table in a notebook; ``ok`` is True when every required row passed and
    :meth:`assert_ok` raises an ``AssertionError`` that names the loss, the failing check,
    the worst point and both values.
    """

    loss: str
    hyper: dict[str, float]
    n_sampled: int
    n_edges: int
    rows: tuple[CrossCheck, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.rows)

    def __getitem__(self, name: str) -> CrossCheck:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no check named {name!r}; checks: {[r.name for r in self.rows]}")

    def failures(self) -> list[CrossCheck]:
        return [r for r in self.rows if not r.passed]

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` describing every failed check.

        >>> import lossbook as lb
        >>> lb.crosscheck("mse").assert_ok()
        """
        bad = self.failures()
        if bad:
            lines = [f"crosscheck of {self.loss!r} failed:"]
            for r in bad:
                if r.worst_error is None:
                    lines.append(f"  {r.name}: {r.worst}")
                else:
                    lines.append(
                        f"  {r.name}: {r.kind} {r.worst_error:.1e} > tolerance "
                        f"{r.tolerance:.0e}, worst at {r.worst}"
                    )
            raise AssertionError("\n".join(lines))

    def _title(self) -> str:
        hyper = ", ".join(f"{k}={v:g}" for k, v in self.hyper.items())
        hyper = f" ({hyper})" if hyper else ""
        return (
            f"crosscheck of {self.loss!r}{hyper} at {self.n_sampled} sampled and {self.n_edges} edge points"
        )

    @staticmethod
    def _cells(r: CrossCheck) -> tuple[str, str, str, str, str]:
        error = "-" if r.worst_error is None else f"{_shown(r.worst_error)} {_SHORT.get(r.kind, r.kind)}"
        tolerance = "-" if r.tolerance is None else f"{r.tolerance:.0e}"
        verdict = "measured" if not r.required else "pass" if r.passed else "FAIL"
        return r.name, str(r.points), error, tolerance, verdict

    def _notes(self) -> list[tuple[str, str]]:
        """(row, worst point) for rows worth reading further: failures and measured rows."""
        return [(r.name, r.worst) for r in self.rows if (not r.passed or not r.required) and r.worst]

    def _legend(self) -> str:
        kinds = {_SHORT.get(r.kind, r.kind) for r in self.rows if r.worst_error is not None}
        parts = [text for short, text in _LEGEND.items() if short in kinds]
        return "; ".join(parts)

    def __str__(self) -> str:
        header = ("check", "points", "worst error", "tolerance", "result")
        lines = [self._title()]
        fmt = "{:<22}  {:>6}  {:>12}  {:>9}  {}"
        lines.append(fmt.format(*header))
        for r in self.rows:
            lines.append(fmt.format(*self._cells(r)))
        lines.append(f"({self._legend()})")
        for name, worst in self._notes():
            lines.append(f"  {name}: {worst}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        """A five-column table that fits the book's column; worst points listed below it."""
        head = "".join(f"<th>{h}</th>" for h in ("check", "points", "worst error", "tolerance", "result"))
        body = []
        for r in self.rows:
            cells = self._cells(r)
            style = "" if r.passed else ' style="color:#b2182b;font-weight:bold"'
            tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells[:4])
            body.append(f"<tr>{tds}<td{style}>{cells[4]}</td></tr>")
        notes = "".join(
            f"<li><b>{html.escape(name)}</b>: {html.escape(worst)}</li>" for name, worst in self._notes()
        )
        return (
            f'<div class="lossbook-report"><table><caption>{html.escape(self._title())}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<p><small>{html.escape(self._legend())}</small></p>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )


#: Errors below this are float64 round-off (a few hundred units in the last place): the report
#: shows them as "< 1e-13", because their digits differ between CPUs (AVX2 and AVX-512 kernels
#: round differently) while what they say, "agrees to round-off", does not.
ROUNDOFF = 1e-13


def _shown(error: float) -> str:
    """A worst error as the report prints it: one significant digit above round-off."""
    return f"< {ROUNDOFF:.0e}" if error < ROUNDOFF else f"{error:.1e}"


#: Short labels of the error kinds in a report's table, and what they mean.
_SHORT = {
    "relative error": "rel",
    "absolute difference": "abs",
    "distance outside the one-sided slopes": "rel",
}
_LEGEND = {
    "rel": "rel = |a - b| / max(|b|, 1): relative above 1 in size, absolute below",
    "abs": "abs = |a - b| in the loss's own units",
}


def _error(got: float, want: float, floor: float = _FLOOR) -> float:
    """|got - want| / max(|want|, floor): relative above ``floor`` in size, else absolute."""
    got, want = float(got), float(want)
    if math.isnan(got) or math.isnan(want):
        return math.inf
    if math.isinf(got) or math.isinf(want):
        return 0.0 if got == want else math.inf
    return abs(got - want) / max(abs(want), floor)


def _describe(loss: Loss, x: np.ndarray, t: np.ndarray) -> str:
    names = [plain(s) for s in (*loss.inputs, *loss.targets)]
    return ", ".join(f"{n}={v:.6g}" for n, v in zip(names, (*x, *t), strict=True))


def crosscheck(
    loss: str | Loss,
    *,
    n: int = 16,
    seed: int = 0,
    rtol: float = 1e-10,
    points: tuple[Any, Any] | None = None,
    **hyper: Any,
) -> Report:
    """Check a loss's SymPy formula against PyTorch at ``n`` random and all edge points.

    Args:
        loss: a registry name or a :class:`~lossbook.Loss` of your own.
        n: number of random points drawn from the loss's domains.
        seed: seed of the random generator (the same seed gives the same report).
        rtol: tolerance on the error against the arbitrary-precision SymPy reference. The
            error is ``|PyTorch - SymPy| / max(|SymPy|, 1)``: relative for values above 1 in
            size, absolute below (float64 cannot carry σ(40) - 1 = -4e-18 through σ(40) ≈ 1).
        points: extra points ``(x, t)`` to check, shaped like :meth:`Loss.pytorch`'s
            arguments. A point where an ``Abs``, ``Max``, ``Min``, ``sign`` or ``Piecewise``
            condition of the formula switches is checked as a kink (subgradient).
        **hyper: hyperparameters overriding the loss's defaults.

    Returns:
        A :class:`Report`; ``report.ok`` and ``report.assert_ok()`` give the verdict.

    >>> import lossbook as lb
    >>> lb.crosscheck("focal", gamma=-1.0)
    Traceback (most recent call last):
    ...
    ValueError: focal: gamma must satisfy gamma >= 0, got -1.0
    """
    loss = get(loss)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    n = int(n)
    hp = loss.hyperparameters(**hyper)
    subs = loss.substitutions(**hyper)
    layout = loss._layout()

    rng = np.random.default_rng(seed)
    xs, ts = loss.sample(rng, n)
    edges = loss.edges
    if points is not None:
        if not isinstance(points, (tuple, list)) or len(points) != 2:
            raise ValueError(
                "points must be a pair (x, t) shaped like Loss.pytorch's arguments, e.g. "
                f"points=([0.5], [0.5]) for a one-input loss; got {type(points).__name__}"
                + (f" of length {len(points)}" if isinstance(points, (tuple, list)) else "")
            )
        px = (
            loss.as_rows("points[0] (x)", points[0], loss.n_inputs, loss.input_domain)
            .detach()
            .double()
            .numpy()
        )
        pt = (
            loss.as_rows("points[1] (t)", points[1], loss.n_targets, loss.target_domain)
            .detach()
            .double()
            .numpy()
            if loss.n_targets
            else np.zeros((px.shape[0], 0))
        )
        if pt.shape[0] != px.shape[0]:
            raise ValueError(
                f"points: x and t must have the same number of rows, got {px.shape[0]} and {pt.shape[0]}"
            )
        switches = _switches(loss, subs)
        edges = edges + tuple(
            Edge(tuple(px[i]), tuple(pt[i]), "kink" if _on_switch(switches, px[i], pt[i]) else "edge")
            for i in range(px.shape[0])
        )
    if edges:
        xs = np.vstack([xs, np.array([e.inputs for e in edges], dtype=float)])
        ts = np.vstack([ts, np.array([e.targets for e in edges], dtype=float).reshape(len(edges), -1)])
    kinds = ["sample"] * n + [e.kind for e in edges]
    kink = np.array([k == "kink" for k in kinds])

    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(ts, dtype=torch.float64)
    values = loss.pytorch(x, t, **hp)
    (grads,) = torch.autograd.grad(values.sum(), x)
    values_np = values.detach().numpy()
    grads_np = grads.numpy()

    symbols = loss.inputs + loss.targets
    forward_grad = [g.subs(subs) for g in _derive(loss, loss.inputs, 1, False)]
    reference = mp_function([loss.expr.subs(subs), *(g.subs(subs) for g in gradient_exprs(loss))], symbols)
    k = loss.n_inputs
    refs = np.array([_eval(reference, (*xs[i], *ts[i]), 1 + k) for i in range(len(xs))])

    rows: list[CrossCheck] = []
    # forward value, everywhere
    errors = np.array([_error(values_np[i], refs[i, 0]) for i in range(len(xs))])
    rows.append(_row("forward value", errors, rtol, loss, xs, ts, values_np, refs[:, 0]))

    # gradient, everywhere but kinks
    smooth = ~kink
    gerr = np.array([[_error(grads_np[i, j], refs[i, 1 + j]) for j in range(k)] for i in range(len(xs))])
    rows.append(_grad_row("gradient", gerr, smooth, rtol, loss, xs, ts, grads_np, refs[:, 1:]))

    # subgradients at kinks: autograd must lie between the one-sided slopes, taken at
    # x ± 1e-30 in high precision (so the bracket is the limit, not a finite difference)
    if kink.any():
        slope = mp_function(forward_grad, symbols)
        serr = np.full((len(xs), k), 0.0)
        lows = np.zeros((len(xs), k))
        highs = np.zeros((len(xs), k))
        for i in np.flatnonzero(kink):
            for j in range(k):
                sides = []
                for sign in (-1, 1):
                    with mpmath.workdps(_SHIFT_DIGITS):
                        shifted = [_mpf(v) for v in xs[i]]
                        shifted[j] += sign * _KINK_STEP * max(1.0, abs(xs[i, j]))
                    sides.append(_eval(slope, (*shifted, *ts[i]), k)[j])
                lo, hi = min(sides), max(sides)
                lows[i, j], highs[i, j] = lo, hi
                g = grads_np[i, j]
                outside = max(lo - g, g - hi, 0.0)
                serr[i, j] = outside / max(abs(lo), abs(hi), 1.0)
        sub = serr[kink]
        i_w, j_w = np.unravel_index(int(np.argmax(np.where(kink[:, None], serr, -1.0))), serr.shape)
        rows.append(
            CrossCheck(
                "subgradient at kinks",
                int(kink.sum()),
                float(sub.max()),
                rtol,
                bool(sub.max() <= rtol),
                f"{_describe(loss, xs[i_w], ts[i_w])}: autograd d/d{plain(loss.inputs[j_w])} = "
                f"{grads_np[i_w, j_w]:.6g}, one-sided slopes [{lows[i_w, j_w]:.6g}, "
                f"{highs[i_w, j_w]:.6g}]",
                kind="distance outside the one-sided slopes",
            )
        )

    # finite differences on the random points (interior of the domain), leaving out any point
    # that a step of gradcheck's size would carry across a kink
    switches = _switches(loss, subs)
    far = [i for i in range(n) if not _near_switch(switches, xs[i], ts[i], 2 * _FD_STEP)]
    x_s = torch.tensor(xs[far], dtype=torch.float64, requires_grad=True)
    t_s = torch.tensor(ts[far], dtype=torch.float64)
    passed = not far or torch.autograd.gradcheck(
        lambda inp: loss._call(inp, t_s, hp, layout),
        (x_s,),
        eps=_FD_STEP,
        atol=1e-5,
        rtol=1e-3,
        raise_exception=False,
    )
    near = n - len(far)
    rows.append(
        CrossCheck(
            "finite differences",
            len(far),
            None,
            None,
            bool(passed),
            ("" if passed else "torch.autograd.gradcheck (eps=1e-6, atol=1e-5, rtol=1e-3) failed")
            + ("; " if near and not passed else "")
            + (f"{near} sampled point(s) within a step of a kink left out" if near else ""),
        )
    )

    # measured departures (never fail)
    if loss.textbook is not None:
        textbook = mp_function([loss.textbook.subs(subs)], symbols)
        tb = np.array([_eval(textbook, (*xs[i], *ts[i]), 1)[0] for i in range(len(xs))])
        defined = ~np.isnan(tb)
        with np.errstate(invalid="ignore"):
            diff = np.where(defined, np.abs(tb - refs[:, 0]), -1.0)
        i = int(np.argmax(diff))
        undefined = int((~defined).sum())
        rows.append(
            CrossCheck(
                "textbook - PyTorch",
                int(defined.sum()),
                float(diff[i]),
                None,
                True,
                f"{_describe(loss, xs[i], ts[i])}: textbook {tb[i]:.6g}, PyTorch {values_np[i]:.6g}"
                + (f"; textbook undefined (0·log 0) at {undefined} point(s)" if undefined else ""),
                kind="absolute difference",
                required=False,
            )
        )
    if loss.autograd is not None:
        slope = mp_function(forward_grad, symbols)
        fd = np.array([_eval(slope, (*xs[i], *ts[i]), k) for i in range(len(xs))])
        defined = ~np.isnan(fd) & ~kink[:, None]
        derr = np.array([[_error(grads_np[i, j], fd[i, j]) for j in range(k)] for i in range(len(xs))])
        derr = np.where(defined, derr, -1.0)
        i, j = np.unravel_index(int(np.argmax(derr)), derr.shape)
        undefined = int((~defined.all(axis=1) & ~kink).sum())
        rows.append(
            CrossCheck(
                "autograd - d(forward)",
                int(defined.all(axis=1).sum()),
                float(derr[i, j]),
                None,
                True,
                f"{_describe(loss, xs[i], ts[i])}: d/d{plain(loss.inputs[j])} of the forward "
                f"{fd[i, j]:.6g}, autograd {grads_np[i, j]:.6g}"
                + (f"; derivative of the forward undefined at {undefined} point(s)" if undefined else ""),
                required=False,
            )
        )
    return Report(loss.name, hp, n, len(edges), tuple(rows))


def _switches(loss: Loss, subs: dict[sp.Symbol, sp.Expr]) -> Any:
    """A function returning the values of every expression whose sign switches a branch."""
    expr = loss.expr.subs(subs)
    found: list[sp.Expr] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)):
            found.append(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):
            found.extend(a - b for a, b in itertools.pairwise(node.args))
        elif isinstance(node, sp.Piecewise):
            found.extend(c.lhs - c.rhs for _, c in node.args if isinstance(c, sp.core.relational.Relational))
    # a switch that depends on the targets alone (0·log 0 at q = 0) is no kink in the inputs
    found = [f for f in found if f.free_symbols & set(loss.inputs)]
    return mp_function(found, loss.inputs + loss.targets) if found else None


#: gradcheck's finite-difference step.
_FD_STEP = 1e-6


def _near_switch(switches: Any, x: np.ndarray, t: np.ndarray, step: float) -> bool:
    """True if moving one input of ``x`` by ``step`` either way changes the sign of a switch."""
    if switches is None:
        return False
    with mpmath.workdps(30):
        here = [mpmath.sign(v) for v in switches(*(_mpf(a) for a in (*x, *t)))]
        for j in range(len(x)):
            for sign in (-1, 1):
                moved = list(x)
                moved[j] = x[j] + sign * step
                if [mpmath.sign(v) for v in switches(*(_mpf(a) for a in (*moved, *t)))] != here:
                    return True
    return False


def _on_switch(switches: Any, x: np.ndarray, t: np.ndarray) -> bool:
    if switches is None:
        return False
    with mpmath.workdps(30):
        return any(v == 0 for v in switches(*(_mpf(a) for a in (*x, *t))))


def _row(
    name: str,
    errors: np.ndarray,
    rtol: float,
    loss: Loss,
    xs: np.ndarray,
    ts: np.ndarray,
    got: np.ndarray,
    want: np.ndarray,
) -> CrossCheck:
    i = int(np.argmax(errors))
    worst = f"{_describe(loss, xs[i], ts[i])}: PyTorch {got[i]:.10g}, SymPy {want[i]:.10g}"
    undefined = ~np.isfinite(got) & ~np.isfinite(want) & (got != want)
    undefined |= np.isnan(got) & np.isnan(want)
    if undefined.any():
        j = int(np.flatnonzero(undefined)[0])
        worst += (
            f". Both are undefined at {int(undefined.sum())} point(s), e.g. {_describe(loss, xs[j], ts[j])}: "
            "such points lie outside the function's domain. The loss samples inputs from "
            f"{loss.input_domain.description} and targets from {loss.target_domain.description}; declare "
            "where it is defined, e.g. input_domain=lb.NONNEGATIVE, or a lb.Domain of your own"
        )
    return CrossCheck(name, len(errors), float(errors[i]), rtol, bool(errors[i] <= rtol), worst)


def _grad_row(
    name: str,
    errors: np.ndarray,
    mask: np.ndarray,
    rtol: float,
    loss: Loss,
    xs: np.ndarray,
    ts: np.ndarray,
    got: np.ndarray,
    want: np.ndarray,
) -> CrossCheck:
    masked = np.where(mask[:, None], errors, -1.0)
    i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
    worst = (
        f"{_describe(loss, xs[i], ts[i])}: d/d{plain(loss.inputs[j])} autograd "
        f"{got[i, j]:.10g}, SymPy {want[i, j]:.10g}"
    )
    value = float(masked[i, j])
    return CrossCheck(name, int(mask.sum()), value, rtol, bool(value <= rtol), worst)
