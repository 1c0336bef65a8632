"""Symbolic derivatives of registry losses, equality checks, and numeric evaluation.

>>> import lossbook as lb
>>> from lossbook.notation import sigmoid, y, z
>>> grad = lb.derive("bce_with_logits")
>>> lb.assert_same(grad[0], sigmoid(z) - y)   # silent: SymPy proved it
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import mpmath
import sympy as sp

from lossbook.loss import Loss
from lossbook.losses import get
from lossbook.notation import BOOK_SYMBOLS, plain, symbol, text

__all__ = [
    "PRECISIONS",
    "assert_equivalent",
    "assert_same",
    "derive",
    "evaluate",
    "gradient_exprs",
    "mp_function",
    "same",
]

#: Working precisions (significant digits) tried in turn by :func:`evaluate` and the cross-check.
PRECISIONS: tuple[int, ...] = (30, 60, 120, 240, 480, 960, 1920)


def _names(symbols: Any) -> dict[str, sp.Symbol]:
    table: dict[str, sp.Symbol] = {}
    for s in symbols:
        table.setdefault(str(s), s)
        table.setdefault(plain(s), s)
    for name, s in BOOK_SYMBOLS.items():
        if s in set(symbols):
            table.setdefault(name, s)
    return table


def _wrt(loss: Loss, wrt: Any) -> tuple[sp.Symbol, ...]:
    if wrt is None:
        return loss.inputs
    items = tuple(wrt) if isinstance(wrt, (list, tuple)) else (wrt,)
    if not items:
        raise ValueError(
            f"{loss.name}: wrt is empty; name at least one variable (or pass None for the inputs)"
        )
    variables = (*loss.inputs, *loss.targets, *(h.symbol for h in loss.hyper))
    by_name = _names(variables)
    by_name.update({h.name: h.symbol for h in loss.hyper})
    out = []
    for item in items:
        if isinstance(item, sp.Symbol) and item in variables:
            out.append(item)
        elif isinstance(item, str) and item in by_name:
            out.append(by_name[item])
        else:
            shown = ", ".join(dict.fromkeys(n for n in by_name if n.isidentifier() or len(n) <= 3))
            raise ValueError(
                f"{loss.name}: wrt must be symbols or names of the loss's variables ({shown}), got {item!r}"
            )
    if len(set(out)) != len(out):
        raise ValueError(f"{loss.name}: wrt names a variable twice: {items!r}")
    return tuple(out)


@cache
def _derive(loss: Loss, wrt: tuple[sp.Symbol, ...], order: int, simplify: bool) -> sp.Matrix:
    expr = loss.expr
    result = sp.Matrix([sp.diff(expr, s) for s in wrt]) if order == 1 else sp.hessian(expr, wrt)
    if simplify:
        result = result.applyfunc(lambda e: sp.simplify(sp.piecewise_fold(e)))
    return result


def derive(loss: str | Loss, wrt: Any = None, order: int = 1, *, simplify: bool = True) -> sp.Matrix:
    """Gradient (``order=1``, a column) or Hessian (``order=2``) of a loss's expression.

    ``wrt`` is a symbol, a name (``"yhat"``, ``"ŷ"`` or a hyperparameter's keyword), or a
    non-empty sequence of them; by default the loss's inputs. This differentiates
    :attr:`Loss.expr`, the function PyTorch's *forward* computes; where PyTorch's backward
    computes something else, :attr:`Loss.autograd` says what.

    >>> derive("mse")
    Matrix([[2*\\hat{y} - 2*y]])
    >>> derive("mse", wrt="yhat") == derive("mse")
    True
    >>> derive("cross_entropy", order=2).shape
    (3, 3)
    >>> derive("mse", order=3)
    Traceback (most recent call last):
    ...
    ValueError: order must be 1 (gradient) or 2 (Hessian), got 3
    """
    loss = get(loss)
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 (gradient) or 2 (Hessian), got {order!r}")
    if not isinstance(simplify, bool):
        raise TypeError(f"simplify must be True or False, got {simplify!r}")
    return _derive(loss, _wrt(loss, wrt), order, simplify)


def gradient_exprs(loss: Loss) -> tuple[sp.Expr, ...]:
    """What autograd should return: :attr:`Loss.autograd`, else the derivative of ``expr``."""
    if loss.autograd is not None:
        return loss.autograd
    return tuple(_derive(loss, loss.inputs, 1, False))


def _expr(value: Any, arg: str, what: str) -> sp.Expr:
    """``value`` as a SymPy expression; a string may only use the book's symbol names."""
    if isinstance(value, str):
        try:
            parsed = sp.parse_expr(value, local_dict=dict(BOOK_SYMBOLS))
        except (SyntaxError, TypeError, ValueError, sp.SympifyError) as error:
            raise ValueError(f"{what}: {arg} {value!r} is not a formula SymPy can read: {error}") from None
        for s in parsed.free_symbols:
            if BOOK_SYMBOLS.get(s.name) is not s:
                symbol(s.name)  # raises: not one of the book's symbols
        return parsed
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{what}: {arg} must be a SymPy expression or a number, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{what}: {arg} must be finite, got {value!r}")
        return sp.sympify(value)
    if isinstance(value, sp.Expr):
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise ValueError(f"{what}: {arg} contains nan or an infinity: {text(value)}")
        return value
    raise TypeError(f"{what}: {arg} must be a SymPy expression or a number, got {type(value).__name__}")


def _check_names(exprs: Sequence[sp.Expr], what: str) -> None:
    """Refuse two different symbols of one name (``sp.Symbol('y')`` next to the book's real ``y``)."""
    seen: dict[str, sp.Symbol] = {}
    for s in set().union(*(e.free_symbols for e in exprs)):
        other = seen.setdefault(s.name, s)
        if other is not s:
            raise ValueError(
                f"{what}: two different symbols are called {s.name!r} (with assumptions "
                f"{other.assumptions0 or 'none'} and {s.assumptions0 or 'none'}); SymPy treats them as "
                "unrelated. Use one symbol, e.g. the book's from lossbook.notation"
            )


def _unreal_hint(exprs: Sequence[sp.Expr]) -> str:
    unreal = sorted({str(s) for e in exprs for s in e.free_symbols if s.is_real is not True})
    if not unreal:
        return ""
    return (
        f" (note: {', '.join(unreal)} not declared real; SymPy treats such symbols as complex, "
        "which can block a proof: use sp.Symbol(name, real=True))"
    )


def same(expr: Any, stated: Any) -> bool:
    """True when SymPy can prove ``expr == stated`` (simplifying the difference to 0).

    False means "not proven", not "different". Strings may use the book's symbol names.

    >>> from lossbook.notation import z, sigmoid
    >>> same(sigmoid(z) * (1 - sigmoid(z)), sp.exp(-z) / (1 + sp.exp(-z)) ** 2)
    True
    """
    a, b = _expr(expr, "expr", "same"), _expr(stated, "stated", "same")
    _check_names((a, b), "same")
    difference = sp.piecewise_fold(a - b)
    if difference == 0:
        return True
    return sp.simplify(difference) == 0 or sp.simplify(difference.rewrite(sp.exp)) == 0


def _matrix(value: Any, arg: str, what: str) -> sp.Matrix:
    if isinstance(value, sp.MatrixBase):
        return sp.Matrix(value)
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{what}: {arg} is empty; there is nothing to prove")
        return sp.Matrix([_expr(v, arg, what) for v in value])
    return sp.Matrix([_expr(value, arg, what)])


def assert_same(expr: Any, stated: Any, what: str = "expression") -> None:
    """Raise ``AssertionError`` unless SymPy proves that ``expr`` equals ``stated``.

    Matrices are compared entry by entry. The message shows the unsimplified residual.

    >>> from lossbook.notation import y, yhat
    >>> assert_same(sp.diff((yhat - y) ** 2, yhat), 2 * (y - yhat), "dMSE/dŷ")
    Traceback (most recent call last):
    ...
    AssertionError: dMSE/dŷ: could not prove 2*ŷ - 2*y == -2*ŷ + 2*y; residual 4*ŷ - 4*y
    """
    if not isinstance(what, str):
        raise TypeError(f"what must be a string (a label for messages), got {type(what).__name__}")
    a, b = _matrix(expr, "expr", what), _matrix(stated, "stated", what)
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {a.shape} and {b.shape}")
    _check_names((*a, *b), what)
    for left, right in zip(a, b, strict=True):
        if not same(left, right):
            residual = sp.simplify(left - right)
            raise AssertionError(
                f"{what}: could not prove {text(left)} == {text(right)}; residual {text(residual)}"
                + _unreal_hint((left, right))
            )


def assert_equivalent(
    expr: Any, stated: Any, wrt: Any, *, scale: Any = 1, what: str = "expression"
) -> sp.Expr:
    """Prove ``expr == scale * stated + constant`` with a constant free of ``wrt``; return it.

    This is how the book says "a negative log-likelihood *is* a loss": equal up to a
    positive scale and an additive term that does not depend on the prediction, so both
    have the same minimiser and proportional gradients. ``wrt`` is a symbol, a name of one
    (``"yhat"``), or a non-empty sequence; each must occur in ``expr`` or ``stated``.
    ``scale`` must be provably positive and free of ``wrt``.

    >>> from lossbook.notation import y, yhat, sigma
    >>> nll = (y - yhat) ** 2 / (2 * sigma**2) + sp.log(2 * sp.pi * sigma**2) / 2
    >>> assert_equivalent(nll, (yhat - y) ** 2, yhat, scale=1 / (2 * sigma**2))
    log(\\sigma) + log(2)/2 + log(pi)/2
    >>> assert_equivalent(nll, (yhat - y) ** 2, yhat, scale=1)
    Traceback (most recent call last):
    ...
    AssertionError: expression: the remainder depends on ŷ (its derivative is not provably 0: ...)
    >>> assert_equivalent((yhat - y) ** 2 + yhat, (yhat - y) ** 2, "yhat")
    Traceback (most recent call last):
    ...
    AssertionError: expression: the remainder depends on ŷ (its derivative is not provably 0: 1)
    """
    if not isinstance(what, str):
        raise TypeError(f"what must be a string (a label for messages), got {type(what).__name__}")
    a, b = _expr(expr, "expr", what), _expr(stated, "stated", what)
    factor = _expr(scale, "scale", what)
    _check_names((a, b, factor), what)
    present = _names(a.free_symbols | b.free_symbols)
    items = tuple(wrt) if isinstance(wrt, (list, tuple)) else (wrt,)
    if not items:
        raise ValueError(f"{what}: wrt is empty; name the variable(s) the remainder must not depend on")
    symbols = []
    for item in items:
        if isinstance(item, str):
            s = present.get(item) or symbol(item)
        elif isinstance(item, sp.Symbol):
            s = item
        else:
            raise TypeError(f"{what}: wrt must be symbols or their names, got {item!r}")
        if s not in a.free_symbols | b.free_symbols:
            raise ValueError(
                f"{what}: wrt {plain(s)} occurs in neither expression, so the check would prove nothing; "
                f"the expressions use {', '.join(sorted(map(plain, a.free_symbols | b.free_symbols))) or 'no symbols'}"
            )
        symbols.append(s)
    if factor.is_positive is not True:
        if factor.is_positive is False or factor.is_zero:
            raise ValueError(f"{what}: scale must be positive, got {text(factor)}")
        raise ValueError(
            f"{what}: scale must be provably positive, but SymPy cannot tell the sign of {text(factor)}; "
            "declare its symbols positive (sp.Symbol(name, positive=True), as lossbook.notation.sigma is)"
        )
    if factor.free_symbols & set(symbols):
        raise ValueError(f"{what}: scale {text(factor)} depends on wrt; it must be a constant factor")
    remainder = a - factor * b
    for s in symbols:
        derivative = sp.diff(remainder, s)
        if not same(derivative, 0):
            raise AssertionError(
                f"{what}: the remainder depends on {plain(s)} (its derivative is not provably 0: "
                f"{text(sp.simplify(derivative))})" + _unreal_hint((a, b))
            )
    return sp.simplify(remainder)


def _mp_heaviside(x: Any, at_zero: Any = 0.5) -> Any:
    if x > 0:
        return mpmath.mpf(1)
    if x < 0:
        return mpmath.mpf(0)
    return mpmath.mpf(at_zero)


def _mp_max(*args: Any) -> Any:
    return max(args)


def _mp_min(*args: Any) -> Any:
    return min(args)


_MP_MODULES: Sequence[Any] = (
    {"Heaviside": _mp_heaviside, "Max": _mp_max, "Min": _mp_min},
    "mpmath",
)


def mp_function(exprs: Sequence[sp.Expr], symbols: Sequence[sp.Symbol]) -> Callable[..., list[Any]]:
    """Lambdify ``exprs`` for exact-enough evaluation in :mod:`mpmath` (arbitrary precision).

    mpmath has no overflow: a naive formula such as log(1 + e^z) is accurate even at
    z = 1000, where float64 gives inf. The cross-check evaluates the reference starting at
    30 significant digits and doubling the precision until two results agree.

    >>> from lossbook.notation import z
    >>> f = mp_function([sp.log(1 + sp.exp(z))], [z])
    >>> with mpmath.workdps(50):
    ...     float(f(mpmath.mpf(1000))[0])
    1000.0
    """
    for arg, value, kind in (("exprs", exprs, sp.Expr), ("symbols", symbols, sp.Symbol)):
        if isinstance(value, (str, sp.Basic)) or not isinstance(value, (list, tuple)):
            raise TypeError(f"mp_function: {arg} must be a list of SymPy {kind.__name__}s, got {value!r}")
        if not all(isinstance(v, kind) for v in value):
            raise TypeError(f"mp_function: {arg} must be a list of SymPy {kind.__name__}s, got {value!r}")
    missing = set().union(*(e.free_symbols for e in exprs)) - set(symbols)
    if missing:
        raise ValueError(
            f"mp_function: symbols must include every free symbol of exprs; missing {', '.join(sorted(map(plain, missing)))}"
        )
    return sp.lambdify(list(symbols), list(exprs), modules=list(_MP_MODULES), cse=_cse_safe(exprs))


def _cse_safe(exprs: Sequence[sp.Expr]) -> bool:
    """Whether lambdify may share common subexpressions among ``exprs`` (several times faster).

    Not across a Piecewise: hoisting would evaluate the branches it guards (1/|u| at u = 0)
    eagerly. Not where a difference holds a tiny constant: cse may share ``a + 1e-6`` between
    ``a - b + 1e-6`` and ``a - c + 1e-6``, and a huge ``a`` then absorbs the constant
    identically at every precision, where ``a - b`` first would not.
    """
    for e in exprs:
        if e.has(sp.Piecewise):
            return False
        for node in sp.preorder_traversal(e):
            if (
                isinstance(node, sp.Add)
                and len(node.args) > 2
                and any(a.is_Number and 0 < abs(float(a)) < 1e-3 for a in node.args)
                and any(a.could_extract_minus_sign() for a in node.args if not a.is_Number)
            ):
                return False
    return True


def _mpf(v: Any) -> Any:
    return v if isinstance(v, mpmath.mpf) else mpmath.mpf(float(v))


def _agree(a: Any, b: Any) -> bool:
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)) or a == 0 or b == 0:
        return False
    return bool(abs(a - b) <= mpmath.mpf(10) ** -25 * max(abs(a), abs(b)))


def _to_float(v: Any) -> float:
    try:
        if isinstance(v, mpmath.mpc) and v.imag != 0:
            return math.nan
        return float(mpmath.re(v)) if isinstance(v, mpmath.mpc) else float(v)
    except (TypeError, ValueError):
        return math.nan


def _eval(f: Any, args: Sequence[float], size: int) -> list[float]:
    """Evaluate a lambdified list exactly enough to be a reference for float64.

    Precision doubles from 30 digits until two successive precisions agree to 25 digits
    on every entry. Zeros and non-finite values never count as agreement, because
    cancellation produces them at any too-low precision (1 - σ(1000) is 0 below 435
    digits); they are accepted only at the last precision, 1920 digits.
    """
    previous: list[Any] | None = None
    values: list[Any] = [mpmath.nan] * size
    for digits in PRECISIONS:
        with mpmath.workdps(digits):
            try:
                values = list(f(*(_mpf(a) for a in args)))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                values = [mpmath.nan] * size
            if previous is not None and all(_agree(a, b) for a, b in zip(previous, values, strict=True)):
                break
        previous = values
    return [_to_float(v) for v in values]


def evaluate(exprs: Any, values: Mapping[Any, Any]) -> Any:
    """Evaluate an expression (or a list of them) at ``values`` exactly enough for float64.

    ``values`` maps symbols (or their names) to numbers. The working precision starts at
    ``PRECISIONS[0]`` digits and doubles until two successive precisions agree to 25
    digits; the result is rounded to float once, at the end.

    >>> from lossbook.notation import z
    >>> evaluate(sp.log(1 + sp.exp(z)), {z: 1000})
    1000.0
    >>> evaluate(sp.log(1 + sp.exp(z)), {"w": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: 'w' is not a symbol of the book. Build expressions from lossbook.notation (y, z, p, yhat, mu, var, ...) or declare your own sp.Symbol(name, real=True)
    """
    many = isinstance(exprs, (list, tuple, sp.MatrixBase))
    items = [_expr(e, "exprs", "evaluate") for e in (exprs if many else [exprs])]
    if not isinstance(values, Mapping):
        raise TypeError(f"evaluate: values must be a dict {{symbol: number}}, got {type(values).__name__}")
    point: dict[sp.Symbol, float] = {}
    for key, value in values.items():
        s = key if isinstance(key, sp.Symbol) else symbol(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"evaluate: the value of {plain(s)} must be a real number, got {value!r}")
        point[s] = value
    missing = set().union(*(e.free_symbols for e in items)) - set(point)
    if missing:
        raise ValueError(f"evaluate: no value given for {', '.join(sorted(map(plain, missing)))}")
    symbols = list(point)
    out = _eval(mp_function(items, symbols), [point[s] for s in symbols], len(items))
    return out if many else out[0]
