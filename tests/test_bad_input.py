"""Bad input to every public function of the core modules gets a clear error.

Each case is a call with one bad argument, the exception it must raise, the argument the
message must name, and a pattern for what the message says is allowed. The cases are
generated systematically: every registry entry gets the same bad inputs (NaN, infinity,
wrong shape, wrong type, empty, out-of-domain targets, unknown and out-of-range
hyperparameters), and every public function of ``losses``, ``loss``, ``domains``,
``calculus``, ``check``, ``notation`` and ``plot`` gets wrong types, empty and vacuous
arguments.

Run as a script to classify every call as clear, obscure or silent (no error at all),
against whichever ``lossbook`` is importable::

    .venv/bin/python tests/test_bad_input.py            # this tree
    cd /work/main && .venv/bin/python /path/to/tests/test_bad_input.py   # another tree

A call is *clear* when it raises ValueError, TypeError (or the AssertionError of a failed
proof, where that is the right answer) from inside lossbook with a message that names the
argument; *obscure* when the error comes from deep inside numpy, torch or SymPy or does not
name the argument; *silent* when it returns.
"""

from __future__ import annotations

import math
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

import lossbook as lb
from lossbook import notation as nt


@dataclass(frozen=True)
class Case:
    id: str
    call: Callable[[], Any]
    error: type[BaseException]
    arg: str  # the message must name this argument (or word)
    allowed: str = ""  # regex: what the message says is allowed
    new: bool = False  # the function did not exist before 2026-12 (excluded from "before" counts)


CASES: list[Case] = []


def case(
    id: str,
    call: Callable[[], Any],
    error: type[BaseException],
    arg: str,
    allowed: str = "",
    new: bool = False,
):
    CASES.append(Case(id, call, error, arg, allowed, new))


NAN, INF = float("nan"), float("inf")


def _valid(loss: Any, n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return loss.sample(np.random.default_rng(0), n)


def _out_of_domain(domain: Any) -> float:
    """A single value outside a domain (every registry domain excludes one of these)."""
    for value in (-1.0, 0.5, 1.5, 2.0, 3.5, INF):
        if not domain.check(np.full((1, 1), value)):
            return value
    raise AssertionError("REAL excludes only NaN and infinities")


# ------------------------------------------------------------------ every registry entry
for _name, _loss in lb.LOSSES.items():
    _x, _t = _valid(_loss)
    _k, _m = _loss.n_inputs, _loss.n_targets
    case(
        f"{_name}-x-nan",
        lambda L=_loss, t=_t, k=_k: L.pytorch(np.full((2, k), NAN), t),
        ValueError,
        "x",
        "must hold",
    )
    case(
        f"{_name}-x-inf",
        lambda L=_loss, t=_t, k=_k: L.pytorch(np.full((2, k), INF), t),
        ValueError,
        "x",
        "must hold",
    )
    case(
        f"{_name}-x-width",
        lambda L=_loss, t=_t, k=_k: L.pytorch(np.zeros((2, k + 1)), t),
        ValueError,
        "x",
        r"shape \(N, \d+\)",
    )
    case(f"{_name}-x-str", lambda L=_loss, t=_t: L.pytorch("0.5", t), TypeError, "x", "array of numbers")
    case(f"{_name}-x-none", lambda L=_loss, t=_t: L.pytorch(None, t), TypeError, "x", "array of numbers")
    case(
        f"{_name}-x-empty",
        lambda L=_loss, t=_t, k=_k: L.pytorch(np.zeros((0, k)), t[:0]),
        ValueError,
        "x",
        "at least one",
    )
    if _m:
        _bad_t = np.full((2, _m), _out_of_domain(_loss.target_domain))
        case(
            f"{_name}-t-domain", lambda L=_loss, x=_x, t=_bad_t: L.pytorch(x, t), ValueError, "t", "must hold"
        )
        case(
            f"{_name}-t-nan",
            lambda L=_loss, x=_x, m=_m: L.pytorch(x, np.full((2, m), NAN)),
            ValueError,
            "t",
            "must hold",
        )
        case(
            f"{_name}-t-rows",
            lambda L=_loss, x=_x, t=_t: L.pytorch(x, t[:1]),
            ValueError,
            "rows",
            "same number",
        )
    case(
        f"{_name}-hyper-unknown",
        lambda L=_loss, x=_x, t=_t: L.pytorch(x, t, nope=1.0),
        TypeError,
        "nope",
        "allowed",
    )
    for _h in _loss.hyper:
        case(
            f"{_name}-{_h.name}-nan",
            lambda L=_loss, x=_x, t=_t, h=_h.name: L.pytorch(x, t, **{h: NAN}),
            ValueError,
            _h.name,
            "must satisfy",
        )
        case(
            f"{_name}-{_h.name}-str",
            lambda L=_loss, x=_x, t=_t, h=_h.name: L.pytorch(x, t, **{h: "1"}),
            TypeError,
            _h.name,
            "real number",
        )
        if _h.low is not None:
            case(
                f"{_name}-{_h.name}-low",
                lambda L=_loss, x=_x, t=_t, h=_h: L.pytorch(x, t, **{h.name: h.low - 1.0}),
                ValueError,
                _h.name,
                "must satisfy",
            )
    if _loss.best_constant is not None and _m:
        case(
            f"{_name}-best-constant-nan",
            lambda L=_loss, m=_m: L.best_constant_for(np.full((3, m), NAN)),
            ValueError,
            "t",
            "must hold",
            new=True,
        )

# ------------------------------------------------------------------ degenerate best constants
_DEGENERATE = {
    "bce_with_logits-all-0": ("bce_with_logits", np.zeros((4, 1))),
    "bce_with_logits-all-1": ("bce_with_logits", np.ones((4, 1))),
    "soft_margin-all-+1": ("soft_margin", np.ones((4, 1))),
    "soft_margin-all--1": ("soft_margin", -np.ones((4, 1))),
    "exponential-all-+1": ("exponential", np.ones((4, 1))),
    "poisson_nll-all-zero": ("poisson_nll", np.zeros((4, 1))),
    "poisson_nll_full-all-zero": ("poisson_nll_full", np.zeros((4, 1))),
    "cross_entropy-absent-class": ("cross_entropy", np.eye(3)[[0, 1, 1, 0]]),
}
for _id, (_name, _targets) in _DEGENERATE.items():
    case(
        f"best-constant-{_id}",
        lambda n=_name, t=_targets: lb.get(n).best_constant(t),
        ValueError,
        "target",
        "no finite best constant",
    )
case(
    "best-constant-focal-none",
    lambda: lb.get("focal").best_constant_for([0.0, 1.0]),
    ValueError,
    "focal",
    "numerically",
    new=True,
)
case(
    "best-constant-empty",
    lambda: lb.get("mse").best_constant_for([]),
    ValueError,
    "t",
    "at least one",
    new=True,
)
case(
    "best-constant-quantile",
    lambda: lb.get("pinball").best_constant_for([0.0, 1.0], quantile=1.5),
    ValueError,
    "quantile",
    "quantile < 1",
    new=True,
)

# ------------------------------------------------------------------ get, gradient, sample
case("get-int", lambda: lb.get(3), TypeError, "name", "loss name")
case("get-none", lambda: lb.get(None), TypeError, "name", "loss name")
case("get-typo", lambda: lb.get("hubber"), ValueError, "hubber", "did you mean 'huber'")
case("get-empty", lambda: lb.get(""), ValueError, "''", "Known losses")
case(
    "gradient-int-tensor",
    lambda: lb.get("mse").gradient(torch.tensor([[1]]), [[0.0]]),
    TypeError,
    "x",
    "floating",
)
case("gradient-str", lambda: lb.get("mse").gradient("a", [0.0]), TypeError, "x", "array of numbers")
case("gradient-nan", lambda: lb.get("mse").gradient([NAN], [0.0]), ValueError, "x", "real numbers")
case(
    "gradient-ragged",
    lambda: lb.get("cross_entropy").gradient([[0.0, 1.0], [0.0]], np.eye(3)[:2]),
    ValueError,
    "x",
    "rectangular",
)
case(
    "sample-n-0",
    lambda: lb.get("mse").sample(np.random.default_rng(0), 0),
    ValueError,
    "n",
    "positive integer",
)
case(
    "sample-n-float",
    lambda: lb.get("mse").sample(np.random.default_rng(0), 2.5),
    ValueError,
    "n",
    "positive integer",
)
case("sample-rng-int", lambda: lb.get("mse").sample(0, 3), TypeError, "rng", "Generator")

# ------------------------------------------------------------------ crosscheck
for _id, _kw, _err, _arg, _allowed in [
    ("n-0", {"n": 0}, ValueError, "n", "positive integer"),
    ("n-negative", {"n": -3}, ValueError, "n", "positive integer"),
    ("n-float", {"n": 2.5}, ValueError, "n", "positive integer"),
    ("n-str", {"n": "4"}, ValueError, "n", "positive integer"),
    ("n-bool", {"n": True}, ValueError, "n", "positive integer"),
    ("seed-negative", {"seed": -1}, ValueError, "seed", "non-negative integer"),
    ("seed-str", {"seed": "a"}, ValueError, "seed", "non-negative integer"),
    ("rtol-0", {"rtol": 0}, ValueError, "rtol", r"in \(0, 1\)"),
    ("rtol-nan", {"rtol": NAN}, ValueError, "rtol", r"in \(0, 1\)"),
    ("rtol-2", {"rtol": 2}, ValueError, "rtol", r"in \(0, 1\)"),
    ("rtol-str", {"rtol": "1e-10"}, ValueError, "rtol", r"in \(0, 1\)"),
    ("points-one", {"points": [[0.5]]}, ValueError, "points", r"pair \(x, t\)"),
    ("points-three", {"points": ([0.5], [0.5], [0.5])}, ValueError, "points", r"pair \(x, t\)"),
    ("points-int", {"points": 3}, ValueError, "points", r"pair \(x, t\)"),
    ("points-rows", {"points": ([[0.0], [1.0]], [[0.0]])}, ValueError, "points", "same number of rows"),
    ("points-width", {"points": ([[0.0, 1.0]], [[0.0]])}, ValueError, "points", r"shape \(N, 1\)"),
    ("points-nan", {"points": ([NAN], [0.0])}, ValueError, "points", "real numbers"),
    ("points-str", {"points": ("a", [0.0])}, TypeError, "points", "array of numbers"),
    ("points-empty", {"points": ([], [])}, ValueError, "points", "at least one"),
    ("hyper-unknown", {"delta": 1.0}, TypeError, "delta", "allowed: none"),
]:
    case(f"crosscheck-{_id}", lambda kw=_kw: lb.crosscheck("mse", **kw), _err, _arg, _allowed)
case("crosscheck-loss-int", lambda: lb.crosscheck(3), TypeError, "name", "loss name")
case(
    "crosscheck-loss-typo", lambda: lb.crosscheck("crossentropy"), ValueError, "crossentropy", "cross_entropy"
)
case(
    "crosscheck-ce-points-1d",
    lambda: lb.crosscheck("cross_entropy", points=([0.0, 1.0, 2.0], [1, 0, 0])),
    ValueError,
    "points",
    r"shape \(N, 3\)",
)
case(
    "crosscheck-kl-points-domain",
    lambda: lb.crosscheck("kl_div", points=([[0.5, -1, -1]], [[1, 0, 0]])),
    ValueError,
    "points",
    "log-probabilities",
)

# ------------------------------------------------------------------ derive
for _id, _kw, _err, _arg, _allowed in [
    ("order-0", {"order": 0}, ValueError, "order", "1 .gradient. or 2"),
    ("order-3", {"order": 3}, ValueError, "order", "1 .gradient. or 2"),
    ("order-bool", {"order": True}, ValueError, "order", "1 .gradient. or 2"),
    ("order-str", {"order": "1"}, ValueError, "order", "1 .gradient. or 2"),
    ("wrt-unknown", {"wrt": "w"}, ValueError, "wrt", "names of the loss's variables"),
    ("wrt-empty", {"wrt": []}, ValueError, "wrt", "at least one"),
    ("wrt-int", {"wrt": 3}, ValueError, "wrt", "names of the loss's variables"),
    ("wrt-foreign-symbol", {"wrt": nt.z}, ValueError, "wrt", "names of the loss's variables"),
    ("wrt-twice", {"wrt": ["yhat", nt.yhat]}, ValueError, "wrt", "twice"),
    ("simplify-str", {"simplify": "yes"}, TypeError, "simplify", "True or False"),
]:
    case(f"derive-{_id}", lambda kw=_kw: lb.derive("mse", **kw), _err, _arg, _allowed)
case("derive-loss-none", lambda: lb.derive(None), TypeError, "name", "loss name")

# ------------------------------------------------------------------ assert_same, same
_sq = (nt.yhat - nt.y) ** 2
case("assert_same-shapes", lambda: lb.assert_same([_sq, _sq], _sq), ValueError, "shapes", "differ")
case("assert_same-empty", lambda: lb.assert_same([], []), ValueError, "empty", "nothing to prove")
case("assert_same-none", lambda: lb.assert_same(None, _sq), TypeError, "expr", "SymPy expression")
case(
    "assert_same-unknown-name",
    lambda: lb.assert_same("yhatt - y", _sq),
    ValueError,
    "yhatt",
    "not a symbol of the book",
)
case("assert_same-nan", lambda: lb.assert_same(sp.nan, _sq), ValueError, "expr", "nan")
case("assert_same-what", lambda: lb.assert_same(_sq, _sq, what=3), TypeError, "what", "string")
case(
    "assert_same-twin-symbols",
    lambda: lb.assert_same(sp.Symbol("y") ** 2, nt.y**2),
    ValueError,
    "'y'",
    "two different symbols",
)
case("same-unknown-name", lambda: lb.same("w + 1", nt.y), ValueError, "'w'", "not a symbol of the book")

# ------------------------------------------------------------------ assert_equivalent
for _id, _call, _err, _arg, _allowed in [
    (
        "string-wrt-new-symbol",
        lambda: lb.assert_equivalent(_sq + nt.yhat, _sq, "yhat"),
        AssertionError,
        "ŷ|hat",
        "depends on",
    ),
    ("wrt-empty", lambda: lb.assert_equivalent(_sq + 1, _sq, []), ValueError, "wrt", "empty"),
    ("wrt-unknown", lambda: lb.assert_equivalent(_sq + 1, _sq, "w"), ValueError, "'w'", "not a symbol"),
    ("wrt-absent", lambda: lb.assert_equivalent(_sq + 1, _sq, nt.z), ValueError, "wrt", "neither expression"),
    ("wrt-int", lambda: lb.assert_equivalent(_sq + 1, _sq, 3), TypeError, "wrt", "symbols"),
    (
        "scale-negative",
        lambda: lb.assert_equivalent(-_sq, _sq, nt.yhat, scale=-1),
        ValueError,
        "scale",
        "positive",
    ),
    (
        "scale-zero",
        lambda: lb.assert_equivalent(nt.y, _sq, nt.yhat, scale=0),
        ValueError,
        "scale",
        "positive",
    ),
    (
        "scale-unknown-sign",
        lambda: lb.assert_equivalent(
            sp.Symbol("s", real=True) * _sq, _sq, nt.yhat, scale=sp.Symbol("s", real=True)
        ),
        ValueError,
        "scale",
        "provably positive",
    ),
    (
        "scale-depends-on-wrt",
        lambda: lb.assert_equivalent(nt.yhat**2 * _sq, _sq, nt.yhat, scale=nt.yhat**2 + 1),
        ValueError,
        "scale",
        "constant",
    ),
    ("scale-nan", lambda: lb.assert_equivalent(_sq, _sq, nt.yhat, scale=NAN), ValueError, "scale", "finite"),
    (
        "scale-str-unknown",
        lambda: lb.assert_equivalent(_sq, _sq, nt.yhat, scale="k"),
        ValueError,
        "'k'",
        "not a symbol",
    ),
    ("expr-none", lambda: lb.assert_equivalent(None, _sq, nt.yhat), TypeError, "expr", "SymPy expression"),
    (
        "expr-string-unknown",
        lambda: lb.assert_equivalent("(yhat - y)**2 + q1", _sq, "yhat"),
        ValueError,
        "q1",
        "not a symbol of the book",
    ),
    (
        "twin-symbols",
        lambda: lb.assert_equivalent((sp.Symbol("yhat") - nt.y) ** 2, _sq, nt.yhat),
        AssertionError,
        "ŷ|hat",
        "depends on",
    ),
]:
    case(f"assert_equivalent-{_id}", _call, _err, _arg, _allowed)

# ------------------------------------------------------------------ evaluate, mp_function, symbols (new)
case("evaluate-missing", lambda: lb.evaluate(_sq, {"y": 1.0}), ValueError, "ŷ", "no value given", new=True)
case(
    "evaluate-nan",
    lambda: lb.evaluate(_sq, {"y": NAN, "yhat": 0.0}),
    ValueError,
    "y",
    "real number",
    new=True,
)
case("evaluate-values-list", lambda: lb.evaluate(_sq, [1.0, 2.0]), TypeError, "values", "dict", new=True)
case("evaluate-unknown", lambda: lb.evaluate(_sq, {"w": 1.0}), ValueError, "'w'", "not a symbol", new=True)
case(
    "mp_function-exprs-str",
    lambda: lb.mp_function("z", [nt.z]),
    TypeError,
    "exprs",
    "list of SymPy",
    new=True,
)
case(
    "mp_function-symbols-str",
    lambda: lb.mp_function([nt.z], "z"),
    TypeError,
    "symbols",
    "list of SymPy",
    new=True,
)
case(
    "mp_function-missing", lambda: lb.mp_function([nt.z + nt.y], [nt.z]), ValueError, "symbols", "y", new=True
)
case("symbol-unknown", lambda: lb.symbol("yhatt"), ValueError, "yhatt", "did you mean 'yhat'", new=True)
case("symbol-int", lambda: lb.symbol(3), TypeError, "symbol name", "string", new=True)
case("class_symbols-count-1", lambda: nt.class_symbols("z", 1), ValueError, "count", ">= 2")
case("class_symbols-count-str", lambda: nt.class_symbols("z", "3"), ValueError, "count", ">= 2")


# ------------------------------------------------------------------ Loss, Edge, Hyper, Domain
def _new_loss(**kw: Any) -> Any:
    fields = {
        "name": "mine",
        "expr": _sq,
        "inputs": (nt.yhat,),
        "targets": (nt.y,),
        "torch_fn": lambda x, t: (x - t) ** 2,
    }
    fields.update(kw)
    return lb.Loss(**fields)


for _id, _kw, _err, _arg, _allowed in [
    ("name-space", {"name": "two words"}, ValueError, "name", "identifier"),
    ("name-int", {"name": 3}, ValueError, "name", "identifier"),
    ("expr-str", {"expr": "yhat**2"}, TypeError, "expr", "SymPy expression"),
    ("inputs-empty", {"inputs": ()}, ValueError, "inputs", "at least one"),
    ("inputs-str", {"inputs": ("yhat",)}, TypeError, "inputs", "Symbols"),
    ("undeclared", {"targets": ()}, ValueError, "y", "not declared"),
    (
        "not-real",
        {"expr": (sp.Symbol("d") - nt.y) ** 2, "inputs": (sp.Symbol("d"),)},
        ValueError,
        "d",
        "real=True",
    ),
    ("torch_fn-none", {"torch_fn": None}, TypeError, "torch_fn", r"shape \(N,\)"),
    ("torch_fn-str", {"torch_fn": "mse"}, TypeError, "torch_fn", r"shape \(N,\)"),
    ("domain-str", {"input_domain": "real"}, TypeError, "input_domain", "lb.REAL"),
    ("autograd-length", {"autograd": (nt.yhat, nt.y)}, ValueError, "autograd", "one entry per input"),
    ("edges-length", {"edges": (lb.Edge((0.0, 1.0), (0.0,)),)}, ValueError, "edge", "1 input value"),
    ("edges-not-edge", {"edges": ((0.0, 0.0),)}, TypeError, "edges", "Edge"),
    ("hyper-not-hyper", {"hyper": (1.0,)}, TypeError, "hyper", "Hyper"),
]:
    case(f"Loss-{_id}", lambda kw=_kw: _new_loss(**kw), _err, _arg, _allowed)

for _id, _fn, _arg, _allowed in [
    ("mean", lambda x, t: F.mse_loss(x, t), "reduction", "reduction='none'"),
    ("sum", lambda x, t: F.mse_loss(x, t, reduction="sum"), "reduction", "reduction='none'"),
    ("column", lambda x, t: ((x - t) ** 2)[:, None], "shape", r"\(5,\)"),
    ("detach", lambda x, t: ((x - t) ** 2).detach(), "autograd", "detach"),
    ("numpy", lambda x, t: ((x - t) ** 2).detach().numpy(), "numpy", "torch operations"),
    ("float32", lambda x, t: ((x - t) ** 2).float(), "float32", "dtype"),
    ("int", lambda x, t: (x > t).long(), "dtype", "floating"),
    ("none", lambda x, t: None, "None", "per-example"),
    ("list", lambda x, t: [0.0] * len(x), "list", "torch.Tensor"),
    ("raises", lambda x, t: x.foo(), "torch_fn raised", "contract"),
]:
    case(
        f"torch_fn-contract-{_id}",
        lambda fn=_fn: _new_loss(torch_fn=fn).pytorch([1.0, 2.0], [0.0, 0.0]),
        TypeError if _id in ("raises",) else ValueError,
        _arg,
        _allowed,
    )

case(
    "Edge-kind",
    lambda: lb.Edge((0.0,), (0.0,), kind="knik"),
    ValueError,
    "kind",
    "'edge', 'boundary', 'kink'",
)
case("Edge-inputs-str", lambda: lb.Edge("0"), TypeError, "inputs", "tuple of numbers")
case("Edge-inputs-nan", lambda: lb.Edge((NAN,)), ValueError, "inputs", "real numbers")
case("Edge-targets-none", lambda: lb.Edge((0.0,), None), TypeError, "targets", "tuple of numbers")
case("Hyper-name", lambda: lb.Hyper(nt.delta, "two words", 1.0), ValueError, "name", "identifier")
case("Hyper-symbol", lambda: lb.Hyper("delta", "delta", 1.0), TypeError, "symbol", "Symbol")
case(
    "Hyper-default-out-of-range",
    lambda: lb.Hyper(nt.delta, "delta", -1.0, low=0.0),
    ValueError,
    "default",
    ">= 0",
)
case("Hyper-default-str", lambda: lb.Hyper(nt.delta, "delta", "1"), TypeError, "default", "real number")
case("Domain-check-1d", lambda: lb.REAL.check([1.0, 2.0]), ValueError, "2-D", "rows, columns", new=True)

# ------------------------------------------------------------------ plot
case("plot-ncols-0", lambda: lb.plot.new_axes(0), ValueError, "ncols", "positive integer")
case("plot-wrt", lambda: lb.plot.loss_curve("mse", target=0.0, wrt=1), ValueError, "wrt", "input index")
case(
    "plot-target-count", lambda: lb.plot.loss_curve("mse", target=(0.0, 1.0)), ValueError, "target", "1 value"
)
case("plot-target-nan", lambda: lb.plot.loss_curve("mse", target=NAN), ValueError, "t", "real numbers")
case(
    "plot-grid-nan",
    lambda: lb.plot.loss_curve("mse", target=0.0, grid=[0.0, NAN]),
    ValueError,
    "x",
    "real numbers",
)
case("plot-grid-str", lambda: lb.plot.loss_curve("mse", target=0.0, grid="abc"), TypeError, "grid", "numbers")
case(
    "plot-inputs-count",
    lambda: lb.plot.loss_curve("gaussian_nll", target=0.0, inputs=(0.0,)),
    ValueError,
    "inputs",
    "2 value",
)
case(
    "plot-bce-grid-domain",
    lambda: lb.plot.loss_curve("bce", target=1.0, grid=[-0.5, 0.5]),
    ValueError,
    "x",
    r"\[0, 1\]",
)


# ------------------------------------------------------------------ structured and sequence losses (2026-12)
from lossbook import family_margin as _fm  # noqa: E402
from lossbook import family_sequence as _fs  # noqa: E402

case(
    "by_torch_class-unknown", lambda: lb.by_torch_class("MSE"), ValueError, "MSE", "Classes covered", new=True
)
case("by_torch_class-type", lambda: lb.by_torch_class(3), TypeError, "name", "class name", new=True)
case("multi_hot-list", lambda: _fm.multi_hot_to_indices([[0, 1]]), TypeError, "t", "torch.Tensor", new=True)
case("multi_hot-1d", lambda: _fm.multi_hot_to_indices(torch.ones(3)), ValueError, "t", r"\(N, C\)", new=True)
case(
    "multi_hot-values",
    lambda: _fm.multi_hot_to_indices(torch.tensor([[0.0, 2.0]])),
    ValueError,
    "t",
    "only 0 and 1",
    new=True,
)
case("ctc_paths-blank", lambda: _fs.ctc_paths((0, 1), 3, 3), ValueError, "target", "0 is the blank", new=True)
case(
    "ctc_paths-frames", lambda: _fs.ctc_paths((1,), 0, 3), ValueError, "frames", "positive integer", new=True
)
case("collapse-str", lambda: _fs.collapse("ab"), TypeError, "path", "non-negative integer", new=True)
case("collapse-blank", lambda: _fs.collapse((1, 0), blank=None), TypeError, "blank", "integer", new=True)
ROOT = Path(lb.__file__).resolve().parents[1]


def classify(c: Case) -> tuple[str, str]:
    """``("clear" | "obscure" | "silent", message)`` for one case."""
    import matplotlib.pyplot as plt

    try:
        c.call()
    except Exception as error:
        message = str(error)
        frames = traceback.extract_tb(error.__traceback__)
        origin = frames[-1].filename if frames else ""
        inside = str(ROOT / "lossbook") in origin
        kinds = (ValueError, TypeError) if c.error is not AssertionError else (AssertionError,)
        named = re.search(c.arg, message) is not None
        if isinstance(error, kinds) and inside and named:
            return "clear", message
        return "obscure", f"{type(error).__name__} from {Path(origin).name}: {message[:160]}"
    finally:
        plt.close("all")
    return "silent", ""


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_bad_call_raises_a_clear_error(c: Case):
    with pytest.raises(c.error) as info:
        c.call()
    message = str(info.value)
    assert re.search(c.arg, message), f"the message does not name {c.arg!r}: {message}"
    if c.allowed:
        assert re.search(c.allowed, message), (
            f"the message does not say what is allowed ({c.allowed}): {message}"
        )
    assert "Traceback" not in message
    origin = traceback.extract_tb(info.tb)[-1].filename
    assert str(ROOT / "lossbook") in origin, f"raised from {origin}, not by lossbook itself"


def test_there_are_enough_cases():
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES), "case ids are unique"


def test_nan_in_never_gives_nan_out():
    """NaN anywhere in the numeric arguments of a public call raises instead of returning NaN."""
    for name, loss in lb.LOSSES.items():
        x, t = _valid(loss)
        x[0, 0] = math.nan
        with pytest.raises(ValueError, match=f"{name}: x must hold"):
            loss.pytorch(x, t)


def main() -> None:
    counts = {"clear": 0, "obscure": 0, "silent": 0}
    skipped = 0
    for c in CASES:
        if "--old" in sys.argv and c.new:
            skipped += 1
            continue
        verdict, message = classify(c)
        counts[verdict] += 1
        if verdict != "clear" or "-v" in sys.argv:
            print(f"{verdict:>8}  {c.id}: {message}")
    total = sum(counts.values())
    print(f"lossbook at {ROOT}: {total} calls ({skipped} skipped as new API)")
    for verdict, count in counts.items():
        print(f"  {verdict:>8}: {count:4d} ({100 * count / max(total, 1):.0f} %)")


if __name__ == "__main__":
    main()
