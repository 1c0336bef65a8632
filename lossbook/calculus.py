"""Symbolic derivatives of registry losses, equality checks, and numeric evaluation.

>>> import lossbook as lb
>>> from lossbook.notation import sigmoid, y, z
>>> grad = lb.derive("bce_with_logits")
>>> lb.assert_same(grad[0], sigmoid(z) - y)   # silent: SymPy proved it
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import mpmath
import sympy as sp

from lossbook.losses import Loss, get

__all__ = ["assert_equivalent", "assert_same", "derive", "gradient_exprs", "mp_function", "same"]


def _wrt(loss: Loss, wrt: Any) -> tuple[sp.Symbol, ...]:
    if wrt is None:
        return loss.inputs
    items = wrt if isinstance(wrt, (list, tuple)) else (wrt,)
    by_name = {str(s): s for s in (*loss.inputs, *loss.targets, *(h.symbol for h in loss.hyper))}
    by_name.update({h.name: h.symbol for h in loss.hyper})
    out = []
    for item in items:
        if isinstance(item, sp.Symbol) and item in by_name.values():
            out.append(item)
        elif isinstance(item, str) and item in by_name:
            out.append(by_name[item])
        else:
            raise ValueError(
                f"{loss.name}: wrt must be symbols or names of the loss's variables "
                f"({', '.join(by_name)}), got {item!r}"
            )
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

    ``wrt`` is a symbol, a name, or a sequence of them; by default the loss's inputs.
    This differentiates :attr:`Loss.expr`, the function PyTorch's *forward* computes; where
    PyTorch's backward computes something else, :attr:`Loss.autograd` says what.

    >>> derive("mse")
    Matrix([[2*\\hat{y} - 2*y]])
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
    return _derive(loss, _wrt(loss, wrt), order, simplify)


def gradient_exprs(loss: Loss) -> tuple[sp.Expr, ...]:
    """What autograd should return: :attr:`Loss.autograd`, else the derivative of ``expr``."""
    if loss.autograd is not None:
        return loss.autograd
    return tuple(_derive(loss, loss.inputs, 1, False))


def same(expr: sp.Expr, stated: sp.Expr) -> bool:
    """True when SymPy can prove ``expr == stated`` (simplifying the difference to 0).

    False means "not proven", not "different".

    >>> from lossbook.notation import z, sigmoid
    >>> same(sigmoid(z) * (1 - sigmoid(z)), sp.exp(-z) / (1 + sp.exp(-z)) ** 2)
    True
    """
    difference = sp.piecewise_fold(sp.sympify(expr) - sp.sympify(stated))
    if difference == 0:
        return True
    return sp.simplify(difference) == 0 or sp.simplify(difference.rewrite(sp.exp)) == 0


def assert_same(expr: Any, stated: Any, what: str = "expression") -> None:
    """Raise ``AssertionError`` unless SymPy proves that ``expr`` equals ``stated``.

    Matrices are compared entry by entry. The message shows the unsimplified residual.

    >>> from lossbook.notation import y, yhat
    >>> assert_same(sp.diff((yhat - y) ** 2, yhat), 2 * (y - yhat), "dMSE/dŷ")
    Traceback (most recent call last):
    ...
    AssertionError: dMSE/dŷ: could not prove 2*\\hat{y} - 2*y == -2*\\hat{y} + 2*y; residual 4*\\hat{y} - 4*y
    """
    a = sp.Matrix(expr) if isinstance(expr, (sp.MatrixBase, list, tuple)) else sp.Matrix([expr])
    b = sp.Matrix(stated) if isinstance(stated, (sp.MatrixBase, list, tuple)) else sp.Matrix([stated])
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {a.shape} and {b.shape}")
    for left, right in zip(a, b, strict=True):
        if not same(left, right):
            residual = sp.simplify(left - right)
            raise AssertionError(
                f"{what}: could not prove {sp.sstr(left)} == {sp.sstr(right)}; residual {sp.sstr(residual)}"
            )


def assert_equivalent(
    expr: Any, stated: Any, wrt: Any, *, scale: Any = 1, what: str = "expression"
) -> sp.Expr:
    """Prove ``expr == scale * stated + constant`` with a constant free of ``wrt``; return it.

    This is how the book says "a negative log-likelihood *is* a loss": equal up to a
    positive scale and an additive term that does not depend on the prediction, so both
    have the same minimiser and proportional gradients.

    >>> from lossbook.notation import y, yhat, sigma
    >>> nll = (y - yhat) ** 2 / (2 * sigma**2) + sp.log(2 * sp.pi * sigma**2) / 2
    >>> assert_equivalent(nll, (yhat - y) ** 2, yhat, scale=1 / (2 * sigma**2))
    log(\\sigma) + log(2)/2 + log(pi)/2
    >>> assert_equivalent(nll, (yhat - y) ** 2, yhat, scale=1)
    Traceback (most recent call last):
    ...
    AssertionError: expression: the remainder depends on \\hat{y} (its derivative is not provably 0: ...)
    """
    symbols = wrt if isinstance(wrt, (list, tuple)) else (wrt,)
    scale = sp.sympify(scale)
    if scale.is_positive is False or scale.is_zero:
        raise ValueError(f"{what}: scale must be positive, got {scale}")
    remainder = sp.sympify(expr) - scale * sp.sympify(stated)
    for s in symbols:
        derivative = sp.diff(remainder, s)
        if not same(derivative, 0):
            raise AssertionError(
                f"{what}: the remainder depends on {s} (its derivative is not provably 0: "
                f"{sp.sstr(sp.simplify(derivative))})"
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
    return sp.lambdify(list(symbols), list(exprs), modules=list(_MP_MODULES))
