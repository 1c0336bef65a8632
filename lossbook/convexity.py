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
  ``exp`` of a convex piece, powers ``g^k`` (k >= 1) of a non-negative convex piece.

When SymPy cannot decide either, the result says what was tried: :class:`NotRefuted`. No
result is a bare ``True``: a result cannot be used as a truth value.

The two certificates concern different functions. A :class:`Proof` is about the SymPy
formula (``loss.expr``); a :class:`Counterexample` is about PyTorch's float64 function
(``loss.pytorch``). They can differ: PyTorch's ``binary_cross_entropy`` clamps
``log p`` at -100, so it is not convex at ``p = e**-100`` although the formula is.

>>> import lossbook as lb
>>> print(lb.check_convexity("hinge"))
hinge: proved convex in z
  y = -1: convex by composition rules: Max(0, z + 1)
  y = 1: convex by composition rules: Max(0, 1 - z)
>>> result = lb.check_convexity("student_t_nll")
>>> type(result).__name__, result.eigenvalue < 0
('Counterexample', True)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch

from lossbook import losses as L
from lossbook.losses import Loss, get
from lossbook.notation import plain

__all__ = ["Counterexample", "JensenPair", "NotRefuted", "Proof", "check_convexity", "curvature"]

Curvature = Literal["affine", "convex", "concave"]


class _Verdict:
    """Shared behaviour of the three results: printable, never a truth value."""

    def __bool__(self) -> bool:
        raise TypeError(
            f"a {type(self).__name__} is not a truth value: test isinstance(result, Proof) "
            "or read result.verdict"
        )


@dataclass(frozen=True)
class Proof(_Verdict):
    """SymPy proved the loss convex in its inputs, for every target in the target domain.

    ``reasons`` has one line per case the proof needed (for example one per label).
    """

    loss: str
    inputs: tuple[str, ...]
    method: Literal["hessian", "composition"]
    reasons: tuple[str, ...]
    hyper: dict[str, float] = field(default_factory=dict)

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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class NotRefuted(_Verdict):
    """No proof and no counterexample: what was sampled, and why SymPy did not decide."""

    loss: str
    inputs: tuple[str, ...]
    n_points: int
    n_pairs: int
    min_eigenvalue: float
    why_no_proof: str
    hyper: dict[str, float] = field(default_factory=dict)

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


def _in_exp_coordinates(h: sp.Matrix, inputs: tuple[sp.Symbol, ...]) -> tuple[sp.Matrix, bool]:
    """Write each input ``s`` as ``log u`` with ``u > 0`` when the matrix holds exponentials.

    Softmax and sigmoid terms then become rational functions of positive numbers, which
    SymPy cancels, factors and signs quickly. A sign proved for every ``u > 0`` holds for
    every real input.
    """
    if not any(e.has(sp.exp, sp.cosh, sp.sinh, sp.tanh) for e in h):
        return h, False
    u = {s: sp.log(sp.Symbol(f"u_{i}", positive=True)) for i, s in enumerate(inputs)}
    return h.applyfunc(lambda e: sp.cancel(sp.powsimp(e.rewrite(sp.exp).subs(u), force=True))), True


def curvature(expr: sp.Expr, inputs: tuple[sp.Symbol, ...]) -> Curvature | None:
    """What the composition rules prove about ``expr`` in ``inputs`` (``None``: nothing).

    >>> from lossbook.notation import z, yhat
    >>> curvature(sp.Max(0, 1 - z), (z,)), curvature(sp.Abs(yhat - 2), (yhat,))
    ('convex', 'convex')
    >>> curvature(sp.Max(0, 1 - z) ** 2, (z,)), curvature(-sp.Abs(z), (z,)), curvature(sp.sin(z), (z,))
    ('convex', 'concave', None)
    """
    expr = sp.sympify(expr)
    if not expr.free_symbols & set(inputs):
        return "affine"
    if expr.is_polynomial(*inputs) and sp.Poly(expr, *inputs).total_degree() <= 1:
        return "affine"
    if isinstance(expr, sp.Add):
        kinds = {curvature(a, inputs) for a in expr.args} - {"affine"}
        if not kinds:
            return "affine"
        return kinds.pop() if len(kinds) == 1 and None not in kinds else None
    if isinstance(expr, sp.Mul):
        const, rest = expr.as_independent(*inputs, as_Add=False)
        kind = curvature(rest, inputs) if const != 1 else None
        if kind is None or kind == "affine":
            return kind
        if const.is_nonnegative:
            return kind
        if const.is_nonpositive:
            return "concave" if kind == "convex" else "convex"
        return None
    if isinstance(expr, (sp.Max, sp.Min)):
        wanted = "convex" if isinstance(expr, sp.Max) else "concave"
        kinds = {curvature(a, inputs) for a in expr.args}
        return wanted if kinds <= {"affine", wanted} else None
    if isinstance(expr, sp.Abs):
        return "convex" if curvature(expr.args[0], inputs) == "affine" else None
    if isinstance(expr, sp.exp):
        return "convex" if curvature(expr.args[0], inputs) in ("affine", "convex") else None
    if isinstance(expr, sp.Pow):
        base, k = expr.args
        if not (k.is_number and k >= 1):
            return None
        kind = curvature(base, inputs)
        if kind == "affine" and k.is_even:
            return "convex"
        if kind in ("affine", "convex") and base.is_nonnegative:
            return "convex"
    return None


def _target_cases(loss: Loss, matrix: sp.Matrix | None) -> tuple[list[dict[sp.Symbol, Any]], str] | None:
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
        # a matrix affine in the targets is PSD on [0, 1]^k if it is PSD at the corners
        if matrix is None or any(sp.diff(e, s, 2) != 0 for e in matrix for s in ts):
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


def _prove(loss: Loss, subs: dict[sp.Symbol, sp.Expr]) -> tuple[Proof | None, str]:
    """A proof, or ``None`` and the reason SymPy could not give one."""
    expr = loss.expr.subs(subs)
    names = tuple(plain(s) for s in loss.inputs)
    if expr.has(*_KINKS):
        cases = _target_cases(loss, None if loss.target_domain is L.PROBABILITY else sp.Matrix([0]))
        if cases is None:
            return None, f"kinks, and targets in {loss.target_domain.description} cannot be enumerated"
        reasons = []
        for case in cases[0]:
            kind = curvature(expr.subs(case), loss.inputs)
            if kind not in ("affine", "convex"):
                return None, "the formula has kinks or branches that the composition rules do not cover"
            reasons.append(f"{_case_text(case)}{kind} by composition rules: {_show(expr.subs(case))}")
        return Proof(loss.name, names, "composition", tuple(reasons)), ""
    hess = sp.hessian(expr, loss.inputs)
    cases = _target_cases(loss, hess)
    if cases is None:
        return None, f"the Hessian is not affine in targets that lie in {loss.target_domain.description}"
    reasons = []
    hess_u, substituted = _in_exp_coordinates(hess, loss.inputs) if hess.shape[0] > 1 else (hess, False)
    minors_of: dict[sp.ImmutableMatrix, list[sp.Expr]] = {}  # cases often share one Hessian
    for case in cases[0]:
        h = hess.subs(case)
        if h.shape == (1, 1):
            second = h[0, 0] if sp.count_ops(h[0, 0]) > 80 else sp.simplify(h[0, 0])
            if not (_nonnegative(second) or _nonnegative(_in_exp_coordinates(h, loss.inputs)[0][0, 0])):
                return None, f"SymPy cannot show the second derivative {_show(second)} >= 0"
            reasons.append(f"{_case_text(case)}the second derivative {_show(second)} is >= 0")
            continue
        key = sp.ImmutableMatrix(hess_u.subs(case).applyfunc(sp.cancel))
        if key not in minors_of:
            minors_of[key] = [sp.factor(sp.cancel(m)) for m in _principal_minors(key)]
            for minor in minors_of[key]:
                if not _nonnegative(minor):
                    return None, f"SymPy cannot show the principal minor {_show(minor)} >= 0"
        minors = minors_of[key]
        zeros = sum(m == 0 for m in minors)
        where = " (inputs written as log u_i, u_i > 0)" if substituted else ""
        reasons.append(
            f"{_case_text(case)}all {len(minors)} principal minors of the Hessian are >= 0"
            f"{where} ({zeros} identically 0)"
        )
    if len(reasons) == 1 and cases[1]:
        reasons = [f"for {cases[1]}, {reasons[0]}"]
    elif cases[1]:
        reasons = [f"for {cases[1]}:", *reasons]
    return Proof(loss.name, names, "hessian", tuple(reasons)), ""


def _show(expr: sp.Expr) -> str:
    """``expr`` as plain text in the book's notation (ŷ rather than \\hat{y})."""
    expr = sp.sympify(expr)
    return sp.sstr(expr.subs({s: sp.Symbol(plain(s)) for s in expr.free_symbols}))


def _case_text(case: dict[sp.Symbol, Any]) -> str:
    shown = {plain(k): v for k, v in case.items() if not isinstance(v, sp.Symbol)}
    return "".join(f"{k} = {v}, " for k, v in shown.items()).rstrip(", ") + (": " if shown else "")


# --------------------------------------------------------------------------- sampling


def _hessians(loss: Loss, x: np.ndarray, t: np.ndarray, hyper: dict[str, float]) -> np.ndarray:
    """PyTorch's per-row Hessians, shape (N, k, k), from k double-backward passes."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    values = loss.pytorch(xt, t, **hyper)
    (grad,) = torch.autograd.grad(values.sum(), xt, create_graph=True)
    rows = []
    for j in range(x.shape[1]):
        if grad.requires_grad:
            (row,) = torch.autograd.grad(grad[:, j].sum(), xt, retain_graph=True, allow_unused=True)
        else:
            row = None
        rows.append(torch.zeros_like(xt) if row is None else row)
    return torch.stack(rows, dim=1).detach().numpy()


def _values(loss: Loss, x: np.ndarray, t: np.ndarray, hyper: dict[str, float]) -> np.ndarray:
    return loss.pytorch(x, t, **hyper).detach().numpy()


def _violation(f_mid: np.ndarray, chord: np.ndarray) -> np.ndarray:
    """Jensen gap beyond float64 rounding: positive only for a real violation."""
    return f_mid - chord - 1e-9 * np.maximum(1.0, np.abs(chord))


def _jensen_from_eigenvector(
    loss: Loss, x: np.ndarray, t: np.ndarray, v: np.ndarray, hyper: dict[str, float]
) -> JensenPair | None:
    for h in 10.0 ** np.arange(0.0, -5.5, -0.5):
        a, b = x + h * v, x - h * v
        ends = np.stack([a, b])
        if not loss.input_domain.check(ends):
            continue
        fa, fb = _values(loss, ends, np.stack([t, t]), hyper)
        (fx,) = _values(loss, x[None], t[None], hyper)
        chord = 0.5 * fa + 0.5 * fb
        if np.isfinite(fx) and np.isfinite(chord) and _violation(np.array(fx), np.array(chord)) > 0:
            return JensenPair(tuple(a), tuple(b), tuple(t), 0.5, float(fx), float(chord))
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
    mse: proved convex in ŷ: for every y (real numbers), the second derivative 2 is >= 0
    >>> print(check_convexity("huber", n=200))  # doctest: +ELLIPSIS
    huber: not refuted in ŷ at delta = 1 on 204 Hessian samples (smallest eigenvalue 0) and 204 Jensen pairs; ...
    >>> check_convexity("mse", n=0)
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer >= 1 (samples), got 0
    """
    loss = get(loss)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (samples), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}")
    if not isinstance(symbolic, bool):
        raise TypeError(f"symbolic must be True or False, got {type(symbolic).__name__}")
    hp = loss.hyperparameters(**hyper)
    names = tuple(plain(s) for s in loss.inputs)
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
            return Counterexample(loss.name, names, pair, tuple(x[i]), tuple(t[i]), float(eig[i, 0]), hp)
    # Jensen pairs: the honest test where the Hessian is zero almost everywhere (kinks)
    other, _ = loss.sample(rng, len(x))
    lam = rng.uniform(0.05, 0.95, size=(len(x), 1))
    mid = lam * x + (1 - lam) * other
    with np.errstate(all="ignore"):
        chord = lam[:, 0] * _values(loss, x, t, hp) + (1 - lam[:, 0]) * _values(loss, other, t, hp)
        gap = _violation(_values(loss, mid, t, hp), chord)
    gap = np.where(np.isfinite(gap), gap, -np.inf)
    if gap.max() > 0:
        i = int(gap.argmax())
        pair = JensenPair(
            tuple(x[i]), tuple(other[i]), tuple(t[i]), float(lam[i, 0]),
            float(_values(loss, mid[i : i + 1], t[i : i + 1], hp)[0]), float(chord[i]),
        )  # fmt: skip
        return Counterexample(loss.name, names, pair, hyper=hp)
    why = "symbolic=False"
    if symbolic:
        proof, why = _prove(loss, loss.substitutions(**hyper))
        if proof is not None:
            return Proof(proof.loss, proof.inputs, proof.method, proof.reasons, hp)
    min_eig = float(np.min(eig[ok, 0])) if ok.any() else float("nan")
    return NotRefuted(loss.name, names, len(x), len(x), min_eig, why, hp)
