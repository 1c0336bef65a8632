"""Is a loss convex in its inputs? A proof, a counterexample, or an honest "not refuted".

:func:`check_convexity` first *samples*, because that is cheap and one confirmed
counterexample settles the question: the smallest eigenvalue of PyTorch's Hessian (double
backward through the registry's PyTorch function) at points from the loss's own sampler
and edge points, and Jensen's inequality on random pairs of points. A failure is reported
only after a float64 Jensen pair confirms it, so a :class:`Counterexample` is a
certificate. Otherwise it tries to *prove* convexity with SymPy, for every target the
loss's domain allows and at the given hyperparameters:

* a smooth loss is convex when its Hessian is positive semidefinite; the checker asks SymPy
  to prove that the second derivative (one input) or every principal minor (several
  inputs) is non-negative;
* a loss built from kinks (``Max``, ``Abs``) is convex when composition rules say so:
  affine pieces, sums, non-negative multiples, maxima of convex pieces, ``|affine|``,
  ``exp`` of a convex piece, powers ``g^k`` (k >= 1) of a non-negative convex piece ``g``
  (``t^k`` is convex and non-decreasing on the range ``[0, ∞)`` of ``g``, though not on ℝ).

When SymPy cannot decide either, the result says what was tried: :class:`NotRefuted`. No
result is a bare ``True``: a result cannot be used as a truth value. Each result prints as
plain text and renders in a notebook as Markdown with the formulas as mathematics.

The two certificates concern different functions. A :class:`Proof` is about the SymPy
formula (``loss.expr``); a :class:`Counterexample` is about PyTorch's float64 function
(``loss.pytorch``). They can differ: PyTorch's ``binary_cross_entropy`` clamps
``log p`` at -100, so it is not convex at ``p = e**-100`` although the formula is.

:func:`hessian_check` compares the SymPy Hessian of a loss with
``torch.autograd.functional.hessian``, point by point, including kinks, where SymPy's
second derivative holds a Dirac mass and autograd returns one of the one-sided values.

>>> import lossbook as lb
>>> print(lb.check_convexity("hinge"))
hinge: proved convex in z
  y = -1: convex by composition rules: max(0, z + 1)
  y = 1: convex by composition rules: max(0, 1 - z)
>>> result = lb.check_convexity("student_t_nll")
>>> type(result).__name__, result.eigenvalue < 0
('Counterexample', True)
"""

from __future__ import annotations

import functools
import html
import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch

from lossbook import losses as L
from lossbook.hessians import HessianCheck, _check_int, hessian_check
from lossbook.losses import Loss, get
from lossbook.mathtext import Table
from lossbook.mathtext import math_html as _math
from lossbook.mathtext import say as _say
from lossbook.mathtext import show as _show
from lossbook.notation import plain

__all__ = [
    "Counterexample",
    "HessianCheck",
    "JensenPair",
    "NotRefuted",
    "Proof",
    "Table",
    "check_convexity",
    "curvature",
    "hessian_check",
]

# hessian_check (lossbook.hessians) and Table (lossbook.mathtext) are re-exported: the chapter
# reaches them from here

Curvature = Literal["affine", "convex", "concave"]


def _case(case: dict[sp.Symbol, Any]) -> tuple[str, str]:
    shown = [(k, v) for k, v in case.items() if not isinstance(v, sp.Symbol)]
    if not shown:
        return "", ""
    text = ", ".join(f"{plain(k)} = {v}" for k, v in shown) + ": "
    return text, _math(", ".join(sp.latex(sp.Eq(k, v, evaluate=False)) for k, v in shown)) + ": "


# --------------------------------------------------------------------------- results


class _Verdict:
    """Shared behaviour of the three results: printable, renderable, never a truth value."""

    html: str

    def __bool__(self) -> bool:
        raise TypeError(
            f"a {type(self).__name__} is not a truth value: test isinstance(result, Proof) "
            "or read result.verdict"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return self.html or "<br>".join(map(html.escape, str(self).splitlines()))


def _head(loss: str, verdict: str, inputs_html: str, hyper: dict[str, float]) -> str:
    at = f" at {html.escape(_fmt_hyper(hyper))}" if hyper else ""
    return f"<strong>{html.escape(loss)}</strong>: {verdict} in {inputs_html}{at}"


def _items(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>"


@dataclass(frozen=True, repr=False)  # repr is the plain-text verdict (fixed precision)
class Proof(_Verdict):
    """SymPy proved the loss convex in its inputs, for every target in the target domain.

    ``reasons`` has one line per case the proof needed (for example one per label);
    ``html`` is the same with the formulas as mathematics.
    """

    loss: str
    inputs: tuple[str, ...]
    method: Literal["hessian", "composition"]
    reasons: tuple[str, ...]
    hyper: dict[str, float] = field(default_factory=dict)
    html: str = field(default="", repr=False, compare=False)

    verdict = "proved convex"

    def __str__(self) -> str:
        at = f" at {_fmt_hyper(self.hyper)}" if self.hyper else ""
        head = f"{self.loss}: proved convex in {', '.join(self.inputs)}{at}"
        if len(self.reasons) == 1:
            return f"{head}: {self.reasons[0]}"
        return head + "".join(f"\n  {r}" for r in self.reasons)


@dataclass(frozen=True)
class JensenPair:
    """Two inputs ``a``, ``b`` (same target) and a weight ``lam`` with
    ``f(lam a + (1 - lam) b) > lam f(a) + (1 - lam) f(b)``: convexity fails there."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    target: tuple[float, ...]
    lam: float
    value_between: float
    chord: float

    @property
    def gap(self) -> float:
        """How far the function lies above its chord (> 0)."""
        return self.value_between - self.chord


@dataclass(frozen=True, repr=False)  # repr is the plain-text verdict (fixed precision)
class Counterexample(_Verdict):
    """The loss is not convex: a violated Jensen inequality, found by sampling.

    ``point``/``target`` is where the smallest Hessian eigenvalue ``eigenvalue`` was found
    (``None`` when only Jensen sampling found the violation, as for kinks).
    """

    loss: str
    inputs: tuple[str, ...]
    jensen: JensenPair
    point: tuple[float, ...] | None = None
    target: tuple[float, ...] | None = None
    eigenvalue: float | None = None
    hyper: dict[str, float] = field(default_factory=dict)
    html: str = field(default="", repr=False, compare=False)

    verdict = "not convex"

    def __str__(self) -> str:
        at = f" at {_fmt_hyper(self.hyper)}" if self.hyper else ""
        j = self.jensen
        lines = [f"{self.loss}: not convex in {', '.join(self.inputs)}{at}"]
        if self.eigenvalue is not None:
            lines.append(
                f"  Hessian eigenvalue {self.eigenvalue:.4g} at input {_fmt(self.point)}, target {_fmt(self.target)}"
            )
        lines.append(
            f"  Jensen fails: f({j.lam:.3g}·{_fmt(j.a)} + {1 - j.lam:.3g}·{_fmt(j.b)}) = "
            f"{j.value_between:.6g} > {j.chord:.6g} (chord), target {_fmt(j.target)}"
        )
        return "\n".join(lines)


@dataclass(frozen=True, repr=False)  # repr is the plain-text verdict (fixed precision)
class NotRefuted(_Verdict):
    """No proof and no counterexample: what was sampled, and why SymPy did not decide."""

    loss: str
    inputs: tuple[str, ...]
    n_points: int
    n_pairs: int
    min_eigenvalue: float
    why_no_proof: str
    hyper: dict[str, float] = field(default_factory=dict)
    html: str = field(default="", repr=False, compare=False)

    verdict = "not refuted"

    def __str__(self) -> str:
        at = f" at {_fmt_hyper(self.hyper)}" if self.hyper else ""
        return (
            f"{self.loss}: not refuted in {', '.join(self.inputs)}{at} on {self.n_points} Hessian "
            f"samples (smallest eigenvalue {self.min_eigenvalue:.3g}) and {self.n_pairs} Jensen pairs; "
            f"no proof: {self.why_no_proof}"
        )


def _fmt(values: tuple[float, ...] | None) -> str:
    if values is None:
        return "-"
    inner = ", ".join(f"{v:.4g}" for v in values)
    return f"({inner})"


def _fmt_hyper(hyper: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in hyper.items())


# --------------------------------------------------------------------------- symbolic


def _nonnegative(expr: sp.Expr) -> bool:
    """True only when SymPy proves ``expr >= 0`` (cheap forms first, the simplifier last)."""
    expr = sp.sympify(expr)
    if expr.is_nonnegative:
        return True
    if sp.factor(sp.cancel(expr)).is_nonnegative:
        return True
    return sp.count_ops(expr) < 80 and bool(sp.simplify(expr).is_nonnegative)


def _hessian_in_exp_coordinates(expr: sp.Expr, inputs: tuple[sp.Symbol, ...]) -> sp.Matrix | None:
    """The Hessian in ``inputs`` with each input ``s`` written as ``log u``, ``u > 0``.

    Softmax and sigmoid terms become rational functions of positive numbers, which SymPy
    cancels, factors and signs quickly. The substitution is made in the expression, before
    differentiating: with ``g(u) = f(log u)`` the chain rule gives
    ``∂²f/∂s_i∂s_j = u_i u_j ∂²g/∂u_i∂u_j + [i = j] u_i ∂g/∂u_i``. A sign proved for every
    ``u > 0`` holds for every real input. ``None`` when the expression has no exponentials.
    """
    if not expr.has(sp.exp, sp.cosh, sp.sinh, sp.tanh):
        return None
    u = [sp.Symbol(f"u_{i}", positive=True) for i in range(len(inputs))]
    g = sp.expand_log(expr.rewrite(sp.exp).subs(dict(zip(inputs, map(sp.log, u), strict=True))))
    grad = [sp.diff(g, ui) for ui in u]
    k = len(u)
    return sp.Matrix(
        k, k, lambda i, j: sp.cancel(u[i] * u[j] * sp.diff(grad[i], u[j]) + (u[i] * grad[i] if i == j else 0))
    )


def curvature(expr: sp.Expr, inputs: tuple[sp.Symbol, ...]) -> Curvature | None:
    """What the composition rules prove about ``expr`` in ``inputs`` (``None``: nothing).

    >>> from lossbook.notation import z, yhat
    >>> curvature(sp.Max(0, 1 - z), (z,)), curvature(sp.Abs(yhat - 2), (yhat,))
    ('convex', 'convex')
    >>> curvature(sp.Max(0, 1 - z) ** 2, (z,)), curvature(-sp.Abs(z), (z,)), curvature(sp.sin(z), (z,))
    ('convex', 'concave', None)
    >>> curvature((z**2 - 1) ** 2, (z,))  # t² is not non-decreasing on the range [-1, ∞) of z² - 1
    >>> curvature("z**2", (z,))
    Traceback (most recent call last):
    ...
    TypeError: expr must be a SymPy expression (strings are not parsed), got str
    """
    if isinstance(expr, str) or not isinstance(expr, (sp.Expr, int, float)) or isinstance(expr, bool):
        raise TypeError(
            f"expr must be a SymPy expression (strings are not parsed), got {type(expr).__name__}"
        )
    expr = sp.sympify(expr)
    if expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise ValueError(f"expr must be finite, got {_show(expr)}")
    items = inputs if isinstance(inputs, (tuple, list)) else (inputs,)
    if not items or not all(isinstance(s, sp.Symbol) for s in items):
        raise TypeError(f"inputs must be a non-empty sequence of SymPy symbols, got {inputs!r}")
    return _curvature(expr, tuple(items))


def _curvature(expr: sp.Expr, inputs: tuple[sp.Symbol, ...]) -> Curvature | None:
    if not expr.free_symbols & set(inputs):
        return "affine"
    if expr.is_polynomial(*inputs) and sp.Poly(expr, *inputs).total_degree() <= 1:
        return "affine"
    if isinstance(expr, sp.Add):
        kinds = {_curvature(a, inputs) for a in expr.args} - {"affine"}
        if not kinds:
            return "affine"
        return kinds.pop() if len(kinds) == 1 and None not in kinds else None
    if isinstance(expr, sp.Mul):
        const, rest = expr.as_independent(*inputs, as_Add=False)
        kind = _curvature(rest, inputs) if const != 1 else None
        if kind is None or kind == "affine":
            return kind
        if const.is_nonnegative:
            return kind
        if const.is_nonpositive:
            return "concave" if kind == "convex" else "convex"
        return None
    if isinstance(expr, (sp.Max, sp.Min)):
        wanted = "convex" if isinstance(expr, sp.Max) else "concave"
        kinds = {_curvature(a, inputs) for a in expr.args}
        return wanted if kinds <= {"affine", wanted} else None
    if isinstance(expr, sp.Abs):
        return "convex" if _curvature(expr.args[0], inputs) == "affine" else None
    if isinstance(expr, sp.exp):  # exp is convex and non-decreasing on all of ℝ
        return "convex" if _curvature(expr.args[0], inputs) in ("affine", "convex") else None
    if isinstance(expr, sp.Pow):
        base, k = expr.args
        if not (k.is_number and k >= 1):
            return None
        kind = _curvature(base, inputs)
        if kind == "affine" and k.is_even:
            return "convex"
        # t^k is convex and non-decreasing on [0, ∞): enough when the base never leaves it
        if kind in ("affine", "convex") and base.is_nonnegative:
            return "convex"
    return None


def _target_cases(loss: Loss, expr: sp.Expr, kinked: bool) -> tuple[list[dict[sp.Symbol, Any]], str] | None:
    """Substitutions that cover every target value the domain allows, and a description.

    ``None`` when the domain cannot be covered (the proof must then be left to sampling).
    """
    ts = loss.targets
    if not ts:
        return [{}], ""
    dom = loss.target_domain
    names = ", ".join(plain(s) for s in ts)
    if dom is L.BINARY or dom is L.SIGNS:
        values = (0, 1) if dom is L.BINARY else (-1, 1)
        cases = [dict(zip(ts, combo, strict=True)) for combo in itertools.product(values, repeat=len(ts))]
        return cases, f"{names} in {{{', '.join(map(str, values))}}}"
    if dom is L.ONE_HOT:
        cases = [{s: int(i == c) for i, s in enumerate(ts)} for c in range(len(ts))]
        return cases, "every one-hot target"
    if dom is L.PROBABILITY:
        # a Hessian affine in the targets is PSD on [0, 1]^k if it is PSD at the corners
        if kinked or any(sp.diff(e, s, 2) != 0 for e in sp.hessian(expr, loss.inputs) for s in ts):
            return None
        cases = [dict(zip(ts, combo, strict=True)) for combo in itertools.product((0, 1), repeat=len(ts))]
        return cases, f"{names} in [0, 1]"
    assumptions = {
        id(L.REAL): {"real": True},
        id(L.NONNEGATIVE): {"nonnegative": True},
        id(L.SIMPLEX): {"nonnegative": True},
        id(L.COUNTS): {"nonnegative": True, "integer": True},
    }.get(id(dom))
    if assumptions is None:
        return None
    return [{s: sp.Symbol(s.name, **assumptions) for s in ts}], f"every {names} ({dom.description})"


def _principal_minors(h: sp.Matrix) -> list[sp.Expr]:
    n = h.shape[0]
    return [
        h.extract(list(idx), list(idx)).det(method="berkowitz")
        for k in range(1, n + 1)
        for idx in itertools.combinations(range(n), k)
    ]


_KINKS = (sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside, sp.sign)
_Said = tuple[str, str]  # (plain text, Markdown)


def _second_derivative_reason(expr: sp.Expr, s: sp.Symbol) -> _Said | None:
    second = sp.diff(expr, s, 2)
    second = second if sp.count_ops(second) > 80 else sp.simplify(second)
    if _nonnegative(second):
        return _say("the second derivative ", second, " is ≥ 0")
    in_u = _hessian_in_exp_coordinates(expr, (s,))
    if in_u is not None and _nonnegative(in_u[0, 0]):
        return _say("the second derivative ", second, " is ≥ 0")
    return None


@functools.lru_cache(maxsize=256)
def _prove(loss: Loss, subs_items: tuple[tuple[sp.Symbol, sp.Expr], ...]) -> tuple[list[_Said], str, _Said]:
    """``(reasons, method, "")`` for a proof, or ``([], "", why)`` when SymPy gives none.

    Cached: a loss at given hyperparameters is proved once per session.
    """
    expr = loss.expr.subs(dict(subs_items))
    kinked = expr.has(*_KINKS)
    covered = _target_cases(loss, expr, kinked)
    if covered is None:
        what = "kinks, and targets" if kinked else "the Hessian is not affine in targets that lie"
        return [], "", _say(f"{what} in {loss.target_domain.description} cannot be enumerated")
    cases, description = covered
    reasons: list[_Said] = []
    if kinked:
        for case in cases:
            piece = expr.subs(case)
            kind = _curvature(piece, loss.inputs)
            if kind not in ("affine", "convex"):
                return (
                    [],
                    "",
                    _say("the formula has kinks or branches that the composition rules do not cover"),
                )
            said = _say(f"{kind} by composition rules: ", piece)
            reasons.append(tuple(c + s for c, s in zip(_case(case), said, strict=True)))
        return reasons, "composition", ("", "")
    minors_of: dict[sp.ImmutableMatrix, tuple[list[sp.Expr], bool]] = {}  # cases often share one
    for case in cases:
        piece = expr.subs(case)
        if len(loss.inputs) == 1:
            said = _second_derivative_reason(piece, loss.inputs[0])
            if said is None:
                second = sp.diff(piece, loss.inputs[0], 2)
                return [], "", _say("SymPy cannot show the second derivative ", second, " ≥ 0")
        else:
            in_u = _hessian_in_exp_coordinates(piece, loss.inputs)
            key = sp.ImmutableMatrix(in_u if in_u is not None else sp.hessian(piece, loss.inputs))
            if key not in minors_of:
                minors = [sp.factor(sp.cancel(m)) for m in _principal_minors(key)]
                for minor in minors:
                    if not _nonnegative(minor):
                        return [], "", _say("SymPy cannot show the principal minor ", minor, " ≥ 0")
                minors_of[key] = (minors, in_u is not None)
            minors, substituted = minors_of[key]
            zeros = sum(m == 0 for m in minors)
            u_i, z_i = sp.symbols("u_i z_i")
            where = (
                (" (inputs written as ", sp.Eq(z_i, sp.log(u_i)), ", ", u_i > 0, ")") if substituted else ()
            )
            said = _say(
                f"all {len(minors)} principal minors of the Hessian are ≥ 0",
                *where,
                f" ({zeros} identically 0)",
            )
        reasons.append(tuple(c + s for c, s in zip(_case(case), said, strict=True)))
    if len(reasons) == 1 and description:
        reasons = [(f"for {description}, {reasons[0][0]}", f"for {description}, {reasons[0][1]}")]
    elif description:
        reasons = [(f"for {description}:", f"for {description}:"), *reasons]
    return reasons, "hessian", ("", "")


# --------------------------------------------------------------------------- sampling


def _hessians(loss: Loss, x: np.ndarray, t: np.ndarray, hyper: dict[str, float]) -> np.ndarray:
    """PyTorch's per-row Hessians, shape (N, k, k), from k double-backward passes.

    Where PyTorch has no double backward, the Hessian of the SymPy gradient of what PyTorch
    computes (:mod:`lossbook.hessians`) is used instead.

    Rows of a per-example loss do not interact, so the Hessian of the summed loss is block
    diagonal and row i of the k gradients of its gradient is the Hessian at example i (the
    tests compare it with ``torch.autograd.functional.hessian`` point by point).
    """
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    values = loss.pytorch(xt, t, **hyper)
    (grad,) = torch.autograd.grad(values.sum(), xt, create_graph=True)
    rows = []
    try:
        for j in range(x.shape[1]):
            if grad.requires_grad:
                (row,) = torch.autograd.grad(grad[:, j].sum(), xt, retain_graph=True, allow_unused=True)
            else:
                row = None
            rows.append(torch.zeros_like(xt) if row is None else row)
    except RuntimeError as error:  # no double backward (multi_margin_loss, ctc_loss): SymPy's Hessian
        if "not implemented" not in str(error):
            raise
        from lossbook.hessians import _evaluate, _hessian_functions

        k = x.shape[1]
        hess = _evaluate(
            _hessian_functions(loss, tuple(loss.substitutions(**hyper).items()))["hess"], x, t, (k, k)
        )
        return np.nan_to_num(hess, nan=0.0)  # undefined only on a kink, where a convex loss has a Dirac ≥ 0
    return torch.stack(rows, dim=1).detach().numpy()


def _values(loss: Loss, x: np.ndarray, t: np.ndarray, hyper: dict[str, float]) -> np.ndarray:
    return loss.pytorch(x, t, **hyper).detach().numpy()


def _violation(f_mid: np.ndarray, chord: np.ndarray) -> np.ndarray:
    """Jensen gap beyond float64 rounding: positive only for a real violation."""
    return f_mid - chord - 1e-9 * np.maximum(1.0, np.abs(chord))


def _jensen_from_eigenvector(
    loss: Loss, x: np.ndarray, t: np.ndarray, v: np.ndarray, hyper: dict[str, float]
) -> JensenPair | None:
    steps = 10.0 ** np.arange(0.0, -5.5, -0.5)
    ends = np.concatenate([x + steps[:, None] * v, x - steps[:, None] * v])  # all steps at once
    inside = np.array([loss.input_domain.check(e[None]) for e in ends])
    inside = inside[: len(steps)] & inside[len(steps) :]
    if not inside.any():
        return None
    (fx,) = _values(loss, x[None], t[None], hyper)
    f_ends = _values(
        loss, np.where(np.concatenate([inside, inside])[:, None], ends, x), np.tile(t, (len(ends), 1)), hyper
    )
    chord = 0.5 * f_ends[: len(steps)] + 0.5 * f_ends[len(steps) :]
    for i in np.flatnonzero(inside):  # the longest step that shows a violation
        if np.isfinite(fx) and np.isfinite(chord[i]) and _violation(np.array(fx), chord[i]) > 0:
            a, b = ends[i], ends[len(steps) + i]
            return JensenPair(tuple(a), tuple(b), tuple(t), 0.5, float(fx), float(chord[i]))
    return None


def check_convexity(
    loss: str | Loss, *, n: int = 400, seed: int = 0, symbolic: bool = True, **hyper: Any
) -> Proof | Counterexample | NotRefuted:
    """Prove, refute, or fail to refute that ``loss`` is convex in its inputs.

    Convexity is in the inputs (the differentiated arguments), for every fixed target and
    at the given hyperparameters (defaults otherwise).

    Args:
        loss: registry name or :class:`~lossbook.Loss`.
        n: number of sampled points and of Jensen pairs (edge points are added).
        seed: seed of the sampler.
        symbolic: try a SymPy proof when sampling finds no counterexample (``False``:
            sample only).
        **hyper: hyperparameters of the loss.

    >>> print(check_convexity("mse"))
    mse: proved convex in ŷ: for every y (real numbers), the second derivative 2 is ≥ 0
    >>> print(check_convexity("huber", n=200))  # doctest: +ELLIPSIS
    huber: not refuted in ŷ at delta = 1 on 204 Hessian samples (smallest eigenvalue 0) and 204 Jensen pairs; ...
    >>> check_convexity("mse", n=0)
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer >= 1 (samples), got 0
    """
    loss = get(loss)
    n = _check_int("n", n, 1, "samples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not isinstance(symbolic, bool):
        raise TypeError(f"symbolic must be True or False, got {type(symbolic).__name__}")
    hp = loss.hyperparameters(**hyper)
    names = tuple(plain(s) for s in loss.inputs)
    inputs_html = _math(", ".join(sp.latex(s) for s in loss.inputs))
    # sampling is cheap and a confirmed counterexample rules out any proof: refute first
    rng = np.random.default_rng(seed)
    x, t = loss.sample(rng, n)
    if loss.edges:
        x = np.vstack([x, [e.inputs for e in loss.edges]])
        t = np.vstack(
            [t, np.array([e.targets for e in loss.edges], dtype=float).reshape(len(loss.edges), -1)]
        )
    with np.errstate(all="ignore"):
        hess = _hessians(loss, x, t, hp)
        hess = (hess + np.swapaxes(hess, 1, 2)) / 2
        ok = np.all(np.isfinite(hess), axis=(1, 2))
        eig, vec = np.linalg.eigh(np.where(ok[:, None, None], hess, 0.0))
        scale = np.maximum(1.0, np.abs(hess).max(axis=(1, 2), initial=0.0, where=np.isfinite(hess)))
        relative = eig[:, 0] / scale
    # the most negative eigenvalues first: confirm one with a Jensen pair along its eigenvector
    for i in np.argsort(relative):
        if not ok[i] or relative[i] >= -1e-9:
            break
        pair = _jensen_from_eigenvector(loss, x[i], t[i], vec[i][:, 0], hp)
        if pair is not None:
            found = Counterexample(loss.name, names, pair, tuple(x[i]), tuple(t[i]), float(eig[i, 0]), hp)
            return _with_html(found, inputs_html)
    # Jensen pairs: the honest test where the Hessian is zero almost everywhere (kinks)
    other, _ = loss.sample(rng, len(x))
    lam = rng.uniform(0.05, 0.95, size=(len(x), 1))
    mid = lam * x + (1 - lam) * other
    with np.errstate(all="ignore"):
        f_mid = _values(loss, mid, t, hp)
        chord = lam[:, 0] * _values(loss, x, t, hp) + (1 - lam[:, 0]) * _values(loss, other, t, hp)
        gap = _violation(f_mid, chord)
    gap = np.where(np.isfinite(gap), gap, -np.inf)
    if gap.max() > 0:
        i = int(gap.argmax())
        pair = JensenPair(
            tuple(x[i]), tuple(other[i]), tuple(t[i]), float(lam[i, 0]), float(f_mid[i]), float(chord[i])
        )
        return _with_html(Counterexample(loss.name, names, pair, hyper=hp), inputs_html)
    why: _Said = ("symbolic=False", "`symbolic=False`")
    if symbolic:
        subs = loss.substitutions(**hyper)
        reasons, method, why = _prove(loss, tuple(sorted(subs.items(), key=lambda kv: kv[0].name)))
        if reasons:
            markup = _head(loss.name, "proved convex", inputs_html, hp)
            markup += f": {reasons[0][1]}" if len(reasons) == 1 else _items([r[1] for r in reasons])
            return Proof(loss.name, names, method, tuple(r[0] for r in reasons), hp, markup)  # type: ignore[arg-type]
    min_eig = float(np.min(eig[ok, 0])) if ok.any() else float("nan")
    markup = _head(loss.name, "not refuted", inputs_html, hp) + (
        f" on {len(x)} Hessian samples (smallest eigenvalue {min_eig:.3g}) and {len(x)} Jensen pairs; "
        f"no proof: {why[1]}"
    )
    return NotRefuted(loss.name, names, len(x), len(x), min_eig, why[0], hp, markup)


def _with_html(found: Counterexample, inputs_html: str) -> Counterexample:
    lines = [html.escape(line.strip()) for line in str(found).splitlines()[1:]]
    markup = _head(found.loss, "not convex", inputs_html, found.hyper) + _items(lines)
    return Counterexample(
        found.loss,
        found.inputs,
        found.jensen,
        found.point,
        found.target,
        found.eigenvalue,
        found.hyper,
        markup,
    )
