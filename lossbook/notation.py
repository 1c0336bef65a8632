"""The book's SymPy symbols, declared once.

Every chapter and every registry entry builds its formulas from these names, so the
notation page, the registry and the prose cannot drift apart. The table
:data:`SYMBOLS` is what the notation page renders.

>>> from lossbook.notation import z, y, sigmoid
>>> sigmoid(z)
1/(1 + exp(-z))
"""

from __future__ import annotations

import difflib

import sympy as sp
from sympy.printing.str import StrPrinter

__all__ = [
    "BOOK_SYMBOLS",
    "C_DEFAULT",
    "SYMBOLS",
    "alpha",
    "b",
    "beta",
    "class_symbols",
    "delta",
    "eps",
    "gamma",
    "lam",
    "m",
    "mu",
    "nu",
    "p",
    "plain",
    "q",
    "rho",
    "sigma",
    "sigmoid",
    "softmax",
    "symbol",
    "tau",
    "tau_q",
    "text",
    "var",
    "y",
    "yhat",
    "z",
]

#: Number of classes used when a vector loss is written out symbolically.
C_DEFAULT = 3

y = sp.Symbol("y", real=True)
"""Target: a real number, a label in {0, 1} or {-1, +1}, or a count."""
z = sp.Symbol("z", real=True)
"""Raw score (logit) produced by a model before any output activation."""
p = sp.Symbol("p", positive=True)
"""The MODEL's probability, p = σ(z) or a softmax component (p is the model's distribution)."""
q = sp.Symbol("q", nonnegative=True)
"""A probability of the target (data) distribution: cross-entropy H(q, p), forward KL(q‖p)."""
rho = sp.Symbol(r"\rho", nonnegative=True)
"""A class share or label prior (π is only the constant 3.14159…)."""
yhat = sp.Symbol(r"\hat{y}", real=True)
"""Regression prediction."""
mu = sp.Symbol(r"\mu", real=True)
"""Predicted mean of a distribution over the target."""
var = sp.Symbol(r"\sigma^{2}", positive=True)
"""Predicted variance (GaussianNLLLoss's ``var``)."""
delta = sp.Symbol(r"\delta", positive=True)
"""Huber threshold."""
beta = sp.Symbol(r"\beta", positive=True)
"""SmoothL1 threshold."""
gamma = sp.Symbol(r"\gamma", nonnegative=True)
"""Focusing parameter of the focal loss."""
alpha = sp.Symbol(r"\alpha", positive=True)
"""Class weight of the focal loss (weight of the positive class)."""
eps = sp.Symbol(r"\varepsilon", nonnegative=True)
"""Label-smoothing strength, or a numerical clamp where a section says so."""
m = sp.Symbol("m", positive=True)
"""Margin."""
tau = sp.Symbol(r"\tau", positive=True)
"""Temperature."""
lam = sp.Symbol(r"\lambda", positive=True)
"""Penalty (regularisation) strength, and nothing else: a rate is μ or a named rate symbol."""
tau_q = sp.Symbol(r"\tau_{q}", positive=True)
"""Quantile level of the pinball loss, in (0, 1)."""
nu = sp.Symbol(r"\nu", positive=True)
"""Degrees of freedom of a Student-t distribution."""
b = sp.Symbol("b", positive=True)
"""Scale of a Laplace or Student-t distribution."""
sigma = sp.Symbol(r"\sigma", positive=True)
"""Fixed noise standard deviation (a predicted variance is ``var``)."""


def sigmoid(x: sp.Expr) -> sp.Expr:
    """The logistic function σ(x) = 1 / (1 + e^{-x}).

    >>> sigmoid(sp.Integer(0))
    1/2
    """
    return 1 / (1 + sp.exp(-x))


def class_symbols(name: str, count: int = C_DEFAULT, **assumptions: bool) -> tuple[sp.Symbol, ...]:
    """Indexed symbols ``name_0 … name_{count-1}`` for a vector over classes.

    >>> class_symbols("z", 3, real=True)
    (z_0, z_1, z_2)
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 2:
        raise ValueError(f"count must be an integer >= 2 (number of classes), got {count!r}")
    return tuple(sp.Symbol(f"{name}_{c}", **assumptions) for c in range(count))


def softmax(logits: tuple[sp.Expr, ...]) -> tuple[sp.Expr, ...]:
    """Softmax of a tuple of logits, p_c = e^{z_c} / Σ_k e^{z_k}.

    >>> sum(softmax(class_symbols("z", 2, real=True))).simplify()
    1
    """
    denominator = sp.Add(*[sp.exp(v) for v in logits])
    return tuple(sp.exp(v) / denominator for v in logits)


#: (symbol, LaTeX, meaning) for the notation page, in reading order.
SYMBOLS: tuple[tuple[str, str, str], ...] = (
    ("y", "y", "target: real value, class label, label in {0, 1} or {-1, +1}, or count"),
    ("z", "z", "raw score (logit) before the output activation"),
    (
        "p",
        r"p = \sigma(z)\ \text{or}\ \operatorname{softmax}(z)_c",
        "the model's probability (its distribution)",
    ),
    ("q", "q", "the target (data) distribution; p is the model's"),
    ("rho", r"\rho", "class share or label prior (π is only the constant)"),
    ("yhat", r"\hat{y}", "regression prediction"),
    ("mu", r"\mu", "predicted mean of a distribution over the target"),
    ("var", r"\sigma^{2}", "predicted variance"),
    ("C", "C", "number of classes"),
    ("N", "N", "batch size (number of examples a reduction averages over)"),
    ("K", "K", "number of negatives in a contrastive loss"),
    ("tau", r"\tau", "temperature"),
    ("delta", r"\delta", "Huber threshold"),
    ("beta", r"\beta", "SmoothL1 threshold"),
    ("gamma", r"\gamma", "focal-loss focusing parameter"),
    ("alpha", r"\alpha", "focal-loss weight of the positive class"),
    ("eps", r"\varepsilon", "label-smoothing strength"),
    ("m", "m", "margin"),
    ("lam", r"\lambda", "penalty (regularisation) strength only; a rate is μ"),
    ("tau_q", r"\tau_{q}", "quantile level of the pinball loss"),
    ("sigma", r"\sigma", "fixed noise standard deviation"),
    ("nu", r"\nu", "degrees of freedom of a Student-t distribution"),
    ("b", "b", "scale of a Laplace or Student-t distribution"),
)


_PLAIN = {
    r"\hat{y}": "ŷ",
    r"\mu": "μ",
    r"\sigma^{2}": "σ²",
    r"\ell": "ℓ",
    r"\delta": "δ",
    r"\beta": "β",
    r"\gamma": "γ",
    r"\alpha": "α",
    r"\varepsilon": "ε",
    r"\epsilon_{\sigma}": "eps",
    r"\tau_{q}": "τ_q",
    r"\tau": "τ",
    r"\lambda": "λ",
    r"\nu": "ν",
    r"\rho": "ρ",
    r"\sigma": "σ",
}


def plain(symbol: sp.Symbol) -> str:
    """A symbol's name as plain Unicode text, for tables and error messages.

    >>> plain(yhat), plain(var), plain(class_symbols(r"\\ell", 2)[1])
    ('ŷ', 'σ²', 'ℓ_1')
    """
    name = symbol.name
    for tex, text in _PLAIN.items():
        name = name.replace(tex, text)
    return name


def _book_symbols() -> dict[str, sp.Symbol]:
    table: dict[str, sp.Symbol] = {}
    for name in __all__:
        value = globals().get(name)
        if isinstance(value, sp.Symbol):
            table.setdefault(name, value)
            table.setdefault(plain(value), value)
            table.setdefault(value.name, value)
    return table


#: Every name a book symbol is known by (``"yhat"``, ``"ŷ"`` and ``"\\hat{y}"`` are ŷ).
BOOK_SYMBOLS: dict[str, sp.Symbol] = _book_symbols()


def symbol(name: str) -> sp.Symbol:
    """The book's symbol called ``name`` (its Python name, its Unicode name or its LaTeX name).

    >>> symbol("yhat") is yhat and symbol("ŷ") is yhat
    True
    >>> symbol("yhatt")
    Traceback (most recent call last):
    ...
    ValueError: 'yhatt' is not a symbol of the book (did you mean 'yhat'?). Build expressions from lossbook.notation (y, z, p, yhat, mu, var, ...) or declare your own sp.Symbol(name, real=True)
    """
    if isinstance(name, sp.Symbol):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a symbol name must be a string, got {type(name).__name__}")
    try:
        return BOOK_SYMBOLS[name]
    except KeyError:
        close = difflib.get_close_matches(name, [n for n in BOOK_SYMBOLS if n.isidentifier()], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"{name!r} is not a symbol of the book{hint}. Build expressions from lossbook.notation "
            "(y, z, p, yhat, mu, var, ...) or declare your own sp.Symbol(name, real=True)"
        ) from None


def text(expr: sp.Basic) -> str:
    """An expression as one line of plain text for messages: Unicode names, ``^`` for powers.

    >>> text((yhat - y) ** 2 / (2 * sigma**2))
    '(ŷ - y)^2/(2*σ^2)'
    """
    return _TextPrinter().doprint(sp.sympify(expr)).replace("**", "^")


class _TextPrinter(StrPrinter):
    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return plain(expr)
