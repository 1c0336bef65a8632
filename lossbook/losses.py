"""The :class:`Loss` type and the registry: every loss in the book, declared once.

A registry entry says four things about a loss and the tests hold it to each of them:

* **what PyTorch computes** -- :attr:`Loss.expr`, the per-example loss as a SymPy
  expression in the book's notation, equal to the ``torch`` call in :attr:`Loss.torch_fn`
  (``reduction='none'``) at every sampled and edge point;
* **where that departs from the textbook** -- :attr:`Loss.textbook`, :attr:`Loss.departure`
  and, when PyTorch's backward is not the derivative of its forward, :attr:`Loss.autograd`;
* **the statistics** -- the probabilistic model and link, the best constant predictor;
* **the shape of the function** -- convexity in the inputs and smoothness.

>>> import lossbook as lb
>>> mse = lb.get("mse")
>>> mse.expr
(\\hat{y} - y)**2
>>> float(mse.pytorch([[2.0]], [[0.5]])[0])
2.25
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

from lossbook import notation as nt

__all__ = [
    "LOSSES",
    "Domain",
    "Edge",
    "Hyper",
    "Loss",
    "get",
    "sigmoid_focal_loss",
]

Array = np.ndarray
EdgeKind = Literal["edge", "boundary", "kink"]


# --------------------------------------------------------------------------- domains


@dataclass(frozen=True)
class Domain:
    """A set of valid values for a loss's inputs or targets, as an ``(N, width)`` array.

    ``check`` says whether an array lies in the set; ``draw`` samples ``n`` rows of
    ``width`` columns that are safely inside it (away from boundaries, so that finite
    differences with a step of 1e-6 stay valid).
    """

    description: str
    check: Callable[[Array], bool] = field(repr=False)
    draw: Callable[[np.random.Generator, int, int], Array] = field(repr=False)


def _all_finite(a: Array) -> bool:
    return bool(np.all(np.isfinite(a)))


def _is_int(a: Array) -> bool:
    return bool(np.all(a == np.round(a)))


def _rows_sum_to_one(a: Array) -> bool:
    return bool(np.allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-9))


def _draw_one_hot(rng: np.random.Generator, n: int, width: int) -> Array:
    # every class appears once before the rest is random, so class frequencies are > 0
    labels = np.concatenate([np.arange(width), rng.integers(0, width, size=max(n - width, 0))])
    return np.eye(width)[rng.permutation(labels[:n])]


def _draw_binary(rng: np.random.Generator, n: int, width: int) -> Array:
    labels = rng.integers(0, 2, size=(n, width)).astype(float)
    labels[0], labels[-1] = 0.0, 1.0  # both labels present
    return labels


REAL = Domain(
    "real numbers",
    _all_finite,
    lambda rng, n, w: 3.0 * rng.standard_normal((n, w)),
)
PROBABILITY = Domain(
    "probabilities in [0, 1]",
    lambda a: bool(np.all((a >= 0) & (a <= 1))),
    lambda rng, n, w: rng.uniform(0.02, 0.98, size=(n, w)),
)
BINARY = Domain(
    "labels in {0, 1}",
    lambda a: bool(np.all((a == 0) | (a == 1))),
    _draw_binary,
)
SIGNS = Domain(
    "labels in {-1, +1}",
    lambda a: bool(np.all((a == -1) | (a == 1))),
    lambda rng, n, w: 2.0 * _draw_binary(rng, n, w) - 1.0,
)
NONNEGATIVE = Domain(
    "non-negative numbers (distances)",
    lambda a: _all_finite(a) and bool(np.all(a >= 0)),
    lambda rng, n, w: rng.uniform(0.0, 3.0, size=(n, w)),
)
COUNTS = Domain(
    "counts (non-negative integers)",
    lambda a: _all_finite(a) and bool(np.all(a >= 0)) and _is_int(a),
    lambda rng, n, w: rng.poisson(3.0, size=(n, w)).astype(float),
)
ONE_HOT = Domain(
    "one-hot rows (class labels)",
    lambda a: bool(np.all((a == 0) | (a == 1))) and bool(np.all(a.sum(axis=1) == 1)),
    _draw_one_hot,
)
SIMPLEX = Domain(
    "rows of probabilities summing to 1",
    lambda a: bool(np.all(a >= 0)) and _rows_sum_to_one(a),
    lambda rng, n, w: rng.dirichlet(np.ones(w), size=n),
)
LOG_PROBABILITIES = Domain(
    "log-probabilities (entries <= 0)",
    lambda a: bool(np.all(a <= 0)) and not bool(np.any(np.isnan(a))),
    lambda rng, n, w: np.log(rng.dirichlet(np.ones(w), size=n)),
)
MEAN_AND_VARIANCE = Domain(
    "rows (mean, variance) with variance >= 0",
    lambda a: _all_finite(a) and bool(np.all(a[:, 1] >= 0)),
    lambda rng, n, w: np.column_stack([3.0 * rng.standard_normal(n), np.exp(rng.uniform(-2.0, 2.0, size=n))]),
)


# --------------------------------------------------------------------------- hyperparameters


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: its symbol, the keyword PyTorch uses, a default and its valid range.

    >>> h = Hyper(nt.delta, "delta", 1.0, low=0.0, low_open=True)
    >>> h.allowed
    'delta > 0'
    >>> h.validate("huber", 0.0)
    Traceback (most recent call last):
    ...
    ValueError: huber: delta must satisfy delta > 0, got 0.0
    """

    symbol: sp.Symbol
    name: str
    default: float
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    @property
    def allowed(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{self.name} {'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{self.name} {'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts) or f"{self.name} finite"

    def validate(self, loss_name: str, value: Any) -> float:
        """Return ``value`` as a float, or raise naming the loss, the argument and the range."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise TypeError(
                f"{loss_name}: {self.name} must be a real number, got {value!r} "
                f"of type {type(value).__name__}"
            )
        v = float(value)
        too_low = self.low is not None and (v <= self.low if self.low_open else v < self.low)
        too_high = self.high is not None and (v >= self.high if self.high_open else v > self.high)
        if not math.isfinite(v) or too_low or too_high:
            raise ValueError(f"{loss_name}: {self.name} must satisfy {self.allowed}, got {value!r}")
        return v


# --------------------------------------------------------------------------- edge points


@dataclass(frozen=True)
class Edge:
    """A hand-picked point where a loss is easy to get wrong.

    ``kind`` is ``"edge"`` (extreme values: huge logits, probabilities near 0 or 1),
    ``"boundary"`` (where a piecewise formula switches branch but the gradient is
    continuous) or ``"kink"`` (where the loss is not differentiable; the cross-check then
    asks autograd for *a* subgradient rather than the gradient).
    """

    inputs: tuple[float, ...]
    targets: tuple[float, ...] = ()
    kind: EdgeKind = "edge"
    note: str = ""


# --------------------------------------------------------------------------- the Loss type


TorchFn = Callable[..., torch.Tensor]


@dataclass(frozen=True, eq=False)
class Loss:
    """One loss: its formula, its PyTorch twin, and the facts the book states about it.

    Readers can build their own and pass it to :func:`lossbook.crosscheck`; see the
    chapter "How this book checks itself". Only ``name``, ``expr``, ``inputs`` and
    ``torch_fn`` are required.

    >>> import sympy as sp, torch
    >>> from lossbook import notation as nt
    >>> cube = Loss(name="cube", expr=(nt.yhat - nt.y) ** 2 * sp.Abs(nt.yhat - nt.y),
    ...             inputs=(nt.yhat,), targets=(nt.y,),
    ...             torch_fn=lambda x, t: (x - t).abs().pow(3)[:, 0])
    >>> cube.n_inputs, cube.n_targets
    (1, 1)
    """

    name: str
    expr: sp.Expr
    inputs: tuple[sp.Symbol, ...]
    torch_fn: TorchFn = field(repr=False)
    title: str = ""
    torch_name: str = ""
    targets: tuple[sp.Symbol, ...] = ()
    hyper: tuple[Hyper, ...] = ()
    input_domain: Domain = REAL
    target_domain: Domain = REAL
    textbook: sp.Expr | None = None
    departure: str = ""
    autograd: tuple[sp.Expr, ...] | None = None
    edges: tuple[Edge, ...] = ()
    model: str = ""
    link: str = ""
    convex: bool | None = None
    smoothness: str = ""
    best_constant: Callable[[Array], Array] | None = field(default=None, repr=False)
    best_constant_text: str = ""
    refs: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier, got {self.name!r}")
        if not isinstance(self.expr, sp.Expr):
            raise TypeError(f"{self.name}: expr must be a SymPy expression, got {type(self.expr).__name__}")
        if not self.inputs:
            raise ValueError(f"{self.name}: inputs must name at least one symbol to differentiate")
        free = self.expr.free_symbols
        declared = set(self.inputs) | set(self.targets) | {h.symbol for h in self.hyper}
        if not free <= declared:
            extra = ", ".join(sorted(map(str, free - declared)))
            raise ValueError(
                f"{self.name}: expr uses symbols that are not declared as inputs, targets or "
                f"hyperparameters: {extra}"
            )
        if self.autograd is not None and len(self.autograd) != len(self.inputs):
            raise ValueError(
                f"{self.name}: autograd must have one entry per input ({len(self.inputs)}), "
                f"got {len(self.autograd)}"
            )
        for e in self.edges:
            if len(e.inputs) != len(self.inputs) or len(e.targets) != len(self.targets):
                raise ValueError(f"{self.name}: edge point {e} does not match inputs/targets")

    # ---- sizes and symbols
    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_targets(self) -> int:
        return len(self.targets)

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """Arguments of every lambdified function: inputs, then targets, then hyperparameters."""
        return (*self.inputs, *self.targets, *(h.symbol for h in self.hyper))

    def hyperparameters(self, **values: Any) -> dict[str, float]:
        """Defaults overridden by ``values``, validated.

        >>> get("huber").hyperparameters(delta=2)
        {'delta': 2.0}
        >>> get("huber").hyperparameters(delta=-1)
        Traceback (most recent call last):
        ...
        ValueError: huber: delta must satisfy delta > 0, got -1
        """
        known = {h.name: h for h in self.hyper}
        unknown = sorted(set(values) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise TypeError(f"{self.name}: unknown hyperparameter(s) {unknown}; allowed: {allowed}")
        return {n: h.validate(self.name, values.get(n, h.default)) for n, h in known.items()}

    def substitutions(self, **values: Any) -> dict[sp.Symbol, sp.Expr]:
        """SymPy substitutions that set the hyperparameters (exact rationals where possible)."""
        hp = self.hyperparameters(**values)
        return {h.symbol: sp.nsimplify(hp[h.name]) for h in self.hyper}

    # ---- numerics
    def _as_2d(self, arg: str, a: Any, width: int, domain: Domain) -> torch.Tensor:
        if isinstance(a, torch.Tensor):
            t = a
        else:
            arr = np.asarray(a)
            if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise TypeError(f"{self.name}: {arg} must be numeric, got dtype {arr.dtype}")
            t = torch.as_tensor(arr)
        if t.dim() == 1 and width == 1:
            t = t[:, None]
        if t.dim() != 2 or t.shape[1] != width:
            names = ", ".join(map(str, self.inputs if arg == "x" else self.targets))
            raise ValueError(
                f"{self.name}: {arg} must have shape (N, {width}) (columns: {names}), got {tuple(t.shape)}"
            )
        values = t.detach().cpu().double().numpy()
        if not domain.check(values):
            raise ValueError(f"{self.name}: {arg} must hold {domain.description}, got {values.tolist()!r}")
        return t

    def pytorch(self, x: Any, t: Any = (), **hyper: Any) -> torch.Tensor:
        """Per-example loss as PyTorch computes it (``reduction='none'``), shape ``(N,)``.

        ``x`` has one column per input symbol and ``t`` one column per target symbol.
        Inputs are validated against the loss's domains first.

        >>> get("bce").pytorch([[1.5]], [[1.0]])
        Traceback (most recent call last):
        ...
        ValueError: bce: x must hold probabilities in [0, 1], got [[1.5]]
        """
        hp = self.hyperparameters(**hyper)
        xt = self._as_2d("x", x, self.n_inputs, self.input_domain)
        if self.n_targets:
            tt = self._as_2d("t", t, self.n_targets, self.target_domain)
            if tt.shape[0] != xt.shape[0]:
                raise ValueError(
                    f"{self.name}: x and t must have the same number of rows, got "
                    f"{xt.shape[0]} and {tt.shape[0]}"
                )
        else:
            tt = xt.new_zeros((xt.shape[0], 0))
        if not xt.is_floating_point():
            xt = xt.double()
        return self.torch_fn(xt, tt.to(xt.dtype), **hp)

    def gradient(self, x: Any, t: Any = (), **hyper: Any) -> torch.Tensor:
        """Autograd's gradient of the summed loss with respect to ``x`` (shape of ``x``).

        >>> get("mse").gradient(torch.tensor([[1]]), [[0.0]])
        Traceback (most recent call last):
        ...
        TypeError: mse: x must be a floating-point tensor to take gradients, got torch.int64
        """
        if isinstance(x, torch.Tensor) and not x.is_floating_point():
            raise TypeError(
                f"{self.name}: x must be a floating-point tensor to take gradients, got {x.dtype}"
            )
        xt = torch.as_tensor(np.asarray(x, dtype=float)) if not isinstance(x, torch.Tensor) else x
        xt = xt.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self.pytorch(xt, t, **hyper).sum(), xt)
        return g

    def sample(self, rng: np.random.Generator, n: int) -> tuple[Array, Array]:
        """``n`` random valid points ``(x, t)`` drawn from the domains."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"{self.name}: n must be a positive integer, got {n!r}")
        x = self.input_domain.draw(rng, n, self.n_inputs)
        t = self.target_domain.draw(rng, n, self.n_targets) if self.n_targets else np.zeros((n, 0))
        return x, t

    # ---- display
    def latex(self, textbook: bool = False) -> str:
        """The formula as LaTeX: ``ℓ(inputs; targets) = expr``."""
        expr = self.textbook if textbook and self.textbook is not None else self.expr
        args = ", ".join(sp.latex(s) for s in self.inputs)
        if self.targets:
            args += "; " + ", ".join(sp.latex(s) for s in self.targets)
        label = self.name.replace("_", r"\_")
        return rf"\ell_{{\mathrm{{{label}}}}}({args}) = {sp.latex(expr)}"

    def _repr_latex_(self) -> str:
        out = rf"$\displaystyle {self.latex()}$"
        if self.textbook is not None:
            out += rf" (PyTorch); textbook: $\displaystyle {sp.latex(self.textbook)}$"
        return out

    def __repr__(self) -> str:
        return f"Loss({self.name!r}: {self.expr})"


# --------------------------------------------------------------------------- torch functions
# Each takes x of shape (N, n_inputs), t of shape (N, n_targets) and the hyperparameters,
# and returns the unreduced loss of shape (N,).


def sigmoid_focal_loss(z: torch.Tensor, y: torch.Tensor, *, gamma: float, alpha: float) -> torch.Tensor:
    """Binary focal loss on logits, unreduced (Lin et al., 2017, eq. 5).

    ``alpha`` weights the positive class and ``1 - alpha`` the negative one; the
    cross-entropy factor is computed from logits, as ``torchvision.ops.sigmoid_focal_loss``
    does (torchvision is not a dependency of the book).

    >>> z = torch.tensor([0.0], dtype=torch.float64); y = torch.tensor([1.0], dtype=torch.float64)
    >>> float(sigmoid_focal_loss(z, y, gamma=0.0, alpha=0.5) * 2)  # = BCE = ln 2
    0.6931471805599453
    """
    p = torch.sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return alpha_t * (1 - p_t) ** gamma * ce


def _col(a: torch.Tensor) -> torch.Tensor:
    return a[:, 0]


_TORCH: dict[str, TorchFn] = {
    "mse": lambda x, t: F.mse_loss(_col(x), _col(t), reduction="none"),
    "l1": lambda x, t: F.l1_loss(_col(x), _col(t), reduction="none"),
    "huber": lambda x, t, delta: F.huber_loss(_col(x), _col(t), reduction="none", delta=delta),
    "smooth_l1": lambda x, t, beta: F.smooth_l1_loss(_col(x), _col(t), reduction="none", beta=beta),
    "bce": lambda x, t: F.binary_cross_entropy(_col(x), _col(t), reduction="none"),
    "bce_with_logits": lambda x, t: F.binary_cross_entropy_with_logits(_col(x), _col(t), reduction="none"),
    "cross_entropy": lambda x, t: F.cross_entropy(x, t.argmax(dim=1), reduction="none"),
    "cross_entropy_smoothed": lambda x, t, label_smoothing: F.cross_entropy(
        x, t.argmax(dim=1), reduction="none", label_smoothing=label_smoothing
    ),
    "nll": lambda x, t: F.nll_loss(x, t.argmax(dim=1), reduction="none"),
    "kl_div": lambda x, t: F.kl_div(x, t, reduction="none").sum(dim=1),
    "poisson_nll": lambda x, t: F.poisson_nll_loss(
        _col(x), _col(t), log_input=True, full=False, reduction="none"
    ),
    "poisson_nll_full": lambda x, t: F.poisson_nll_loss(
        _col(x), _col(t), log_input=True, full=True, reduction="none"
    ),
    "gaussian_nll": lambda x, t, eps: F.gaussian_nll_loss(
        x[:, 0], _col(t), x[:, 1], full=False, eps=eps, reduction="none"
    ),
    "soft_margin": lambda x, t: F.soft_margin_loss(_col(x), _col(t), reduction="none"),
    "hinge_embedding": lambda x, t, margin: F.hinge_embedding_loss(
        _col(x), _col(t), margin=margin, reduction="none"
    ),
    "focal": lambda x, t, gamma, alpha: sigmoid_focal_loss(_col(x), _col(t), gamma=gamma, alpha=alpha),
    "pinball": lambda x, t, quantile: torch.maximum(
        quantile * (_col(t) - _col(x)), (quantile - 1) * (_col(t) - _col(x))
    ),
    "student_t_nll": lambda x, t, df, scale: (
        -torch.distributions.StudentT(
            torch.tensor(df, dtype=x.dtype), _col(x), torch.tensor(scale, dtype=x.dtype)
        ).log_prob(_col(t))
    ),
    "hinge": lambda x, t: torch.clamp(1 - _col(t) * _col(x), min=0),
    "squared_hinge": lambda x, t: torch.clamp(1 - _col(t) * _col(x), min=0) ** 2,
    "exponential": lambda x, t: torch.exp(-_col(t) * _col(x)),
}


# --------------------------------------------------------------------------- best constants


def _mean(t: Array) -> Array:
    return np.array([t[:, 0].mean()])


def _median(t: Array) -> Array:
    return np.array([np.median(t[:, 0])])


def _log_odds(t: Array, labels: tuple[float, float] = (0.0, 1.0)) -> Array:
    low, high = labels
    share = float(np.mean((t[:, 0] - low) / (high - low)))  # soft targets count fractionally
    return np.array([math.log(share / (1.0 - share))])


def _log_class_prior(t: Array, label_smoothing: float = 0.0) -> Array:
    c = t.shape[1]
    prior = (1.0 - label_smoothing) * t.mean(axis=0) + label_smoothing / c
    return np.log(prior)


def _mean_and_variance(t: Array) -> Array:
    return np.array([t[:, 0].mean(), t[:, 0].var()])


def _quantile(t: Array, level: float) -> Array:
    return np.array([np.quantile(t[:, 0], level, method="inverted_cdf")])


def _majority_sign(t: Array) -> Array:
    return np.array([1.0 if np.mean(t[:, 0] == 1) > 0.5 else -1.0])


def _log_mean(t: Array) -> Array:
    return np.array([math.log(t[:, 0].mean())])


def _hinge_embedding_constant(t: Array, margin: float) -> Array:
    share_positive = float(np.mean(t[:, 0] == 1))
    return np.array([margin if share_positive < 0.5 else 0.0])


# --------------------------------------------------------------------------- the registry

y, z, p, yhat, mu, var = nt.y, nt.z, nt.p, nt.yhat, nt.mu, nt.var
d = yhat - y
half = sp.Rational(1, 2)
Z = nt.class_symbols("z", real=True)
LOGQ = nt.class_symbols(r"\ell", real=True)
Q = nt.class_symbols("q", nonnegative=True)
C = nt.C_DEFAULT
#: PyTorch's BCE backward divides by max(p(1-p), EPSILON) with EPSILON = 1e-12 stored as a
#: float32 constant, even for float64 tensors: 9.999999960041972e-13.
_BCE_GRAD_FLOOR = sp.Float(float(np.float32(1e-12)), 20)
_CLAMP = sp.Symbol(r"\epsilon_{\sigma}", positive=True)


def _cross_entropy_expr(smoothing: sp.Expr) -> sp.Expr:
    probs = nt.softmax(Z)
    return -sp.Add(
        *[((1 - smoothing) * q + smoothing / C) * sp.log(pc) for q, pc in zip(Q, probs, strict=True)]
    )


_one_hot_edges = (
    Edge((1000.0, 0.0, -1000.0), (0.0, 0.0, 1.0), note="huge logits, wrong class"),
    Edge((1000.0, 0.0, -1000.0), (1.0, 0.0, 0.0), note="huge logits, right class"),
    Edge((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), note="all logits equal"),
    Edge((-40.0, 40.0, 0.0), (0.0, 0.0, 1.0)),
)

#: What both Poisson entries (with and without the Stirling term) state about the model.
_POISSON_FACTS: dict[str, Any] = {
    "model": "y ~ Poisson(e^z)",
    "link": "log (canonical)",
    "convex": True,
    "smoothness": "C∞",
    "best_constant": _log_mean,
    "best_constant_text": "z = log of the mean count",
    "refs": ("mccullagh1989generalized",),
}

_gaussian_nll_smooth = half * (sp.log(var) + (y - mu) ** 2 / var)


def _loss(**fields: Any) -> Loss:
    """A registry entry whose PyTorch function is looked up by name in ``_TORCH``."""
    return Loss(torch_fn=_TORCH[fields["name"]], **fields)


def _register_all(entries: Sequence[Loss]) -> Mapping[str, Loss]:
    table: dict[str, Loss] = {}
    for entry in entries:
        if entry.name in table:
            raise ValueError(f"duplicate loss name {entry.name!r}")
        table[entry.name] = entry
    return MappingProxyType(table)


_ENTRIES: tuple[Loss, ...] = (
    _loss(
        name="mse",
        title="Mean squared error",
        torch_name="torch.nn.functional.mse_loss",
        expr=d**2,
        inputs=(yhat,),
        targets=(y,),
        edges=(
            Edge((1e8,), (-1e8,), note="large residual"),
            Edge((0.5,), (0.5,), note="zero residual"),
        ),
        model="y ~ Normal(ŷ, σ²) with σ² fixed",
        link="identity",
        convex=True,
        smoothness="C∞",
        best_constant=_mean,
        best_constant_text="mean of y",
        refs=("bishop2006pattern", "prince2023understanding"),
    ),
    _loss(
        name="l1",
        title="Absolute error (L1)",
        torch_name="torch.nn.functional.l1_loss",
        expr=sp.Abs(d),
        inputs=(yhat,),
        targets=(y,),
        edges=(
            Edge((0.5,), (0.5,), "kink", "zero residual: |·| has no derivative"),
            Edge((1e8,), (-1e8,), note="large residual"),
        ),
        model="y ~ Laplace(ŷ, b) with b fixed",
        link="identity",
        convex=True,
        smoothness="C⁰ (kink at ŷ = y)",
        best_constant=_median,
        best_constant_text="median of y",
        refs=("bishop2006pattern",),
    ),
    _loss(
        name="huber",
        title="Huber loss",
        torch_name="torch.nn.functional.huber_loss",
        expr=sp.Piecewise(
            (half * d**2, sp.Abs(d) <= nt.delta),
            (nt.delta * (sp.Abs(d) - half * nt.delta), True),
        ),
        inputs=(yhat,),
        targets=(y,),
        hyper=(Hyper(nt.delta, "delta", 1.0, low=0.0, low_open=True),),
        edges=(
            Edge((1.0,), (0.0,), "boundary", "|ŷ - y| = δ: branches meet"),
            Edge((-1.0,), (0.0,), "boundary", "|ŷ - y| = δ: branches meet"),
            Edge((0.0,), (0.0,), note="zero residual"),
            Edge((1e8,), (-1e8,), note="large residual"),
        ),
        model="density ∝ exp(-Huber_δ(y - ŷ)): Gaussian centre, Laplace tails, normalisable for every δ > 0",
        link="identity",
        convex=True,
        smoothness="C¹ (second derivative jumps at |ŷ - y| = δ)",
        best_constant_text="a Huber M-estimate of location (no closed form; not always between median and mean)",
        refs=("huber1964robust",),
    ),
    _loss(
        name="smooth_l1",
        title="Smooth L1 loss",
        torch_name="torch.nn.functional.smooth_l1_loss",
        expr=sp.Piecewise(
            (half * d**2 / nt.beta, sp.Abs(d) < nt.beta),
            (sp.Abs(d) - half * nt.beta, True),
        ),
        inputs=(yhat,),
        targets=(y,),
        hyper=(Hyper(nt.beta, "beta", 1.0, low=0.0, low_open=True),),
        edges=(
            Edge((1.0,), (0.0,), "boundary", "|ŷ - y| = β: branches meet"),
            Edge((0.0,), (0.0,), note="zero residual"),
            Edge((1e8,), (-1e8,), note="large residual"),
        ),
        link="identity",
        convex=True,
        smoothness="C¹ (second derivative jumps at |ŷ - y| = β)",
        best_constant_text="as Huber with δ = β (SmoothL1_β = Huber_β / β)",
        refs=("girshick2015fast",),
        notes="PyTorch also accepts beta = 0, where the loss is L1; the symbolic form needs β > 0.",
    ),
    _loss(
        name="bce",
        title="Binary cross-entropy on probabilities",
        torch_name="torch.nn.functional.binary_cross_entropy",
        expr=-(y * sp.Max(sp.log(p), -100) + (1 - y) * sp.Max(sp.log(1 - p), -100)),
        textbook=-(y * sp.log(p) + (1 - y) * sp.log(1 - p)),
        departure=(
            "PyTorch clamps each log at -100, so the loss never exceeds 100 per example "
            "(the textbook value is +inf at p = 0 with y = 1); its backward divides by "
            "max(p(1 - p), 1e-12) (the float32 value of 1e-12) instead of p(1 - p), so "
            "the gradient is bounded by about 1e12 in size, not the derivative of the clamped forward."
        ),
        autograd=((p - y) / sp.Max(p * (1 - p), _BCE_GRAD_FLOOR),),
        inputs=(p,),
        targets=(y,),
        input_domain=PROBABILITY,
        target_domain=PROBABILITY,
        edges=(
            Edge((1e-7,), (1.0,), note="p near 0, y = 1"),
            Edge((1.0 - 1e-7,), (0.0,), note="p near 1, y = 0"),
            Edge((1e-15,), (1.0,), note="inside the gradient clamp p(1-p) < 1e-12"),
            Edge((1e-50,), (1.0,), note="inside the log clamp: loss is 100"),
            Edge((0.0,), (0.0,), note="p = 0 with y = 0: loss 0"),
            Edge((0.5,), (0.3,), note="soft target"),
        ),
        model="y ~ Bernoulli(p)",
        link="none: the input is already a probability",
        convex=True,
        smoothness="C∞ on 0 < p < 1 (textbook form)",
        best_constant=_mean,
        best_constant_text="p = mean of y",
        refs=("bishop2006pattern", "pytorch2019"),
        notes=(
            "The convexity and smoothness claims are for the textbook form: PyTorch's clamp "
            "min(-log p, 100) adds a concave kink at p = e^-100, below which the loss is flat."
        ),
    ),
    _loss(
        name="bce_with_logits",
        title="Binary cross-entropy on logits",
        torch_name="torch.nn.functional.binary_cross_entropy_with_logits",
        expr=-(y * sp.log(nt.sigmoid(z)) + (1 - y) * sp.log(1 - nt.sigmoid(z))),
        inputs=(z,),
        targets=(y,),
        target_domain=PROBABILITY,
        edges=(
            Edge((1000.0,), (0.0,), note="huge logit, wrong label"),
            Edge((-1000.0,), (1.0,), note="huge negative logit, wrong label"),
            Edge((1000.0,), (1.0,), note="huge logit, right label"),
            Edge((40.0,), (1.0,), note="loss 4e-18: PyTorch must return a tiny value, not 1 - 1"),
        ),
        model="y ~ Bernoulli(σ(z))",
        link="logit (canonical): z = log(p / (1 - p))",
        convex=True,
        smoothness="C∞",
        best_constant=_log_odds,
        best_constant_text="z = log-odds of the mean target (the share of positives)",
        refs=("bishop2006pattern", "mccullagh1989generalized"),
    ),
    _loss(
        name="cross_entropy",
        title="Softmax cross-entropy (class indices)",
        torch_name="torch.nn.functional.cross_entropy",
        expr=_cross_entropy_expr(sp.Integer(0)),
        inputs=Z,
        targets=Q,
        target_domain=ONE_HOT,
        edges=_one_hot_edges,
        model="y ~ Categorical(softmax(z))",
        link="softmax (canonical, up to a shift of all logits)",
        convex=True,
        smoothness="C∞",
        best_constant=_log_class_prior,
        best_constant_text="z_c = log of the class frequency (plus any common constant)",
        refs=("bishop2006pattern", "goodfellow2016deep"),
        notes=f"Written out for C = {C} classes; the target is the one-hot row of the class index.",
    ),
    _loss(
        name="cross_entropy_smoothed",
        title="Softmax cross-entropy with label smoothing",
        torch_name="torch.nn.functional.cross_entropy(label_smoothing=ε)",
        expr=_cross_entropy_expr(nt.eps),
        inputs=Z,
        targets=Q,
        hyper=(Hyper(nt.eps, "label_smoothing", 0.1, low=0.0, high=1.0, high_open=True),),
        target_domain=ONE_HOT,
        edges=_one_hot_edges,
        model="cross-entropy against the smoothed target (1 - ε)·onehot + ε/C",
        link="softmax",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t: _log_class_prior(t, 0.1),
        best_constant_text="z_c = log of the smoothed class frequency (at the default ε = 0.1)",
        refs=("szegedy2016rethinking", "muller2019when"),
    ),
    _loss(
        name="nll",
        title="Negative log-likelihood on log-probabilities",
        torch_name="torch.nn.functional.nll_loss",
        expr=-sp.Add(*[q * lq for q, lq in zip(Q, LOGQ, strict=True)]),
        inputs=LOGQ,
        targets=Q,
        input_domain=LOG_PROBABILITIES,
        target_domain=ONE_HOT,
        edges=(
            Edge((-1000.0, 0.0, -1000.0), (1.0, 0.0, 0.0), note="log-probability -1000"),
            Edge((0.0, -800.0, -800.0), (1.0, 0.0, 0.0)),
        ),
        model="y ~ Categorical(exp(ℓ)) when ℓ are normalised log-probabilities",
        link="none: the input is log_softmax(z) computed by the model",
        convex=True,
        smoothness="C∞ (linear)",
        best_constant_text=(
            "none over unconstrained inputs (the loss is linear and unbounded below); "
            "over normalised log-probabilities, the log class prior"
        ),
        refs=("goodfellow2016deep",),
        notes="log_softmax followed by nll equals cross_entropy on the logits.",
    ),
    _loss(
        name="kl_div",
        title="Kullback-Leibler divergence (KLDivLoss), summed over classes",
        torch_name="torch.nn.functional.kl_div(...).sum(dim=1)",
        expr=sp.Add(*[q * (sp.log(q) - lq) for q, lq in zip(Q, LOGQ, strict=True)]),
        inputs=LOGQ,
        targets=Q,
        input_domain=LOG_PROBABILITIES,
        target_domain=SIMPLEX,
        edges=(
            Edge((-1000.0, 0.0, -1000.0), (1e-300, 1.0 - 2e-300, 1e-300), note="near-zero targets"),
            Edge((-0.5, -1.5, -2.0), (0.25, 0.25, 0.5)),
        ),
        model="KL(q‖exp ℓ): the target q is the first argument, the input the second",
        link="none: the input is log-probabilities",
        convex=True,
        smoothness="C∞ (linear in ℓ)",
        best_constant_text="none over unconstrained inputs; over normalised ones, log of the mean target",
        refs=("kullback1951information", "pytorch2019"),
        notes=(
            "PyTorch's KLDivLoss is elementwise: reduction='none' gives q_c (log q_c - ℓ_c) per "
            "class, 'batchmean' divides the sum by N (the KL divergence), and 'mean' divides "
            "by N·C. Terms with q_c = 0 contribute 0 when the input ℓ_c is finite; if ℓ_c = -inf "
            "the term is NaN (0·inf), and with log_target=True a zero target (log q_c = -inf) "
            "gives NaN as well."
        ),
    ),
    _loss(
        name="poisson_nll",
        title="Poisson negative log-likelihood (log-rate input)",
        torch_name="torch.nn.functional.poisson_nll_loss(log_input=True)",
        expr=sp.exp(z) - y * z,
        textbook=sp.exp(z) - y * z + sp.loggamma(y + 1),
        departure="PyTorch drops log(y!), which does not depend on z; gradients are unchanged.",
        inputs=(z,),
        targets=(y,),
        target_domain=COUNTS,
        edges=(
            Edge((-30.0,), (0.0,), note="rate near 0, no events"),
            Edge((30.0,), (5.0,), note="rate e^30"),
            Edge((700.0,), (0.0,), note="rate e^700, still finite"),
        ),
        **_POISSON_FACTS,
    ),
    _loss(
        name="poisson_nll_full",
        title="Poisson negative log-likelihood with Stirling term (full=True)",
        torch_name="torch.nn.functional.poisson_nll_loss(log_input=True, full=True)",
        expr=sp.exp(z)
        - y * z
        + sp.Piecewise((y * sp.log(y) - y + half * sp.log(2 * sp.pi * y), y > 1), (0, True)),
        textbook=sp.exp(z) - y * z + sp.loggamma(y + 1),
        departure=(
            "full=True does not add log(y!): it adds Stirling's approximation "
            "y log y - y + ½ log(2πy), and only for y > 1 (nothing for y in {0, 1}). "
            "The approximation undershoots log(y!) by about 1/(12y)."
        ),
        inputs=(z,),
        targets=(y,),
        target_domain=COUNTS,
        edges=(
            Edge((-30.0,), (0.0,)),
            Edge((0.0,), (2.0,), note="smallest count that gets the Stirling term"),
            Edge((30.0,), (1e6,), note="large count"),
        ),
        **_POISSON_FACTS,
    ),
    _loss(
        name="gaussian_nll",
        title="Gaussian negative log-likelihood (predicted mean and variance)",
        torch_name="torch.nn.functional.gaussian_nll_loss",
        expr=half * (sp.log(sp.Max(var, _CLAMP)) + (y - mu) ** 2 / sp.Max(var, _CLAMP)),
        textbook=half * sp.log(2 * sp.pi * var) + (y - mu) ** 2 / (2 * var),
        departure=(
            "PyTorch drops ½ log 2π unless full=True, and clamps the variance at eps (default "
            "1e-6) inside torch.no_grad(): below eps the forward uses eps, but the gradient "
            "passes through the clamp as if it were not there."
        ),
        autograd=tuple(sp.diff(_gaussian_nll_smooth, s).subs(var, sp.Max(var, _CLAMP)) for s in (mu, var)),
        inputs=(mu, var),
        targets=(y,),
        hyper=(Hyper(_CLAMP, "eps", 1e-6, low=0.0, low_open=True),),
        input_domain=MEAN_AND_VARIANCE,
        edges=(
            Edge((0.0, 1e-9), (1.0,), note="variance below the clamp"),
            Edge((0.0, 1e-6), (1.0,), note="variance at the clamp"),
            Edge((1e4, 1e-3), (0.0,), note="large residual, small variance"),
        ),
        model="y ~ Normal(μ, σ²), both predicted",
        link="identity for μ; the variance head needs a positive output (softplus or exp)",
        convex=False,
        smoothness="C∞ for σ² > eps",
        best_constant=_mean_and_variance,
        best_constant_text="μ = mean of y, σ² = its (population) variance",
        refs=("nix1994estimating", "pytorch2019"),
        notes=(
            "Convex in μ for a fixed σ², but not in σ²: the second derivative in σ² is negative "
            "where σ² > 2(y - μ)². The Hessian in (μ, σ²) has determinant -1/(2σ⁶) < 0, so the "
            "loss is nowhere jointly convex. It is convex in the log-variance for a fixed μ, but "
            "not jointly convex in (μ, log σ²) either."
        ),
    ),
    _loss(
        name="soft_margin",
        title="Soft margin (logistic) loss on ±1 labels",
        torch_name="torch.nn.functional.soft_margin_loss",
        expr=sp.log(1 + sp.exp(-y * z)),
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((700.0,), (-1.0,), note="margin -700: large, but below the 709.78 overflow threshold"),
            Edge((700.0,), (1.0,), note="margin +700"),
            Edge((0.0,), (1.0,)),
        ),
        model="(y + 1)/2 ~ Bernoulli(σ(z))",
        link="logit",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t: _log_odds(t, (-1.0, 1.0)),
        best_constant_text="z = log-odds of the share of +1 labels",
        refs=("bishop2006pattern",),
        notes=(
            "PyTorch evaluates log1p(exp(-y z)) directly, so the loss overflows to inf (and "
            "its gradient to nan) once -y z exceeds about 709.78 in float64 or 88.72 in "
            "float32; binary_cross_entropy_with_logits does not."
        ),
    ),
    _loss(
        name="hinge_embedding",
        title="Hinge embedding loss",
        torch_name="torch.nn.functional.hinge_embedding_loss",
        expr=(1 + y) / 2 * z + (1 - y) / 2 * sp.Max(0, nt.m - z),
        inputs=(z,),
        targets=(y,),
        hyper=(Hyper(nt.m, "margin", 1.0, low=0.0, low_open=True),),
        input_domain=NONNEGATIVE,
        target_domain=SIGNS,
        edges=(
            Edge((1.0,), (-1.0,), "kink", "distance equals the margin"),
            Edge((0.0,), (-1.0,), note="zero distance, dissimilar pair"),
            Edge((0.0,), (1.0,), note="zero distance, similar pair"),
        ),
        convex=True,
        smoothness="C⁰ (kink at z = m for y = -1)",
        best_constant=lambda t: _hinge_embedding_constant(t, 1.0),
        best_constant_text="z = m if fewer than half the pairs are similar, else 0 (default m = 1)",
        refs=("pytorch2019",),
        notes=(
            "z is a distance between two embeddings; y = 1 for similar pairs, -1 for dissimilar. "
            "PyTorch accepts negative z too; over all real z there is no best constant when more "
            "than half the pairs are similar, and at exactly half every z in [0, m] is optimal."
        ),
    ),
    _loss(
        name="focal",
        title="Binary focal loss on logits",
        torch_name="lossbook.losses.sigmoid_focal_loss (the torchvision formula)",
        expr=-(
            nt.alpha * y * (1 - nt.sigmoid(z)) ** nt.gamma * sp.log(nt.sigmoid(z))
            + (1 - nt.alpha) * (1 - y) * nt.sigmoid(z) ** nt.gamma * sp.log(1 - nt.sigmoid(z))
        ),
        inputs=(z,),
        targets=(y,),
        hyper=(
            Hyper(nt.gamma, "gamma", 2.0, low=0.0),
            Hyper(nt.alpha, "alpha", 0.25, low=0.0, high=1.0),
        ),
        target_domain=BINARY,
        edges=(
            Edge((-1000.0,), (1.0,), note="confidently wrong positive"),
            Edge((1000.0,), (0.0,), note="confidently wrong negative"),
            Edge((1000.0,), (1.0,), note="confidently right"),
        ),
        model="none: a reweighted Bernoulli cross-entropy",
        link="logit",
        convex=False,
        smoothness="C∞",
        best_constant_text="no closed form for γ > 0; minimise numerically",
        refs=("lin2017focal",),
        notes=(
            "Both terms matter: negatives are weighted by (1 - α) σ(z)^γ. Not convex in z for any "
            "γ > 0 (for γ = 0 it is α-weighted BCE, which is convex)."
        ),
    ),
    _loss(
        name="pinball",
        title="Pinball (quantile) loss",
        torch_name="torch.maximum(τ_q d, (τ_q - 1) d) with d = y - ŷ (no torch.nn.functional quantile loss)",
        expr=sp.Max(nt.tau_q * (y - yhat), (nt.tau_q - 1) * (y - yhat)),
        inputs=(yhat,),
        targets=(y,),
        hyper=(Hyper(nt.tau_q, "quantile", 0.9, low=0.0, high=1.0, low_open=True, high_open=True),),
        edges=(
            Edge((0.5,), (0.5,), "kink", "zero residual"),
            Edge((1e8,), (-1e8,), note="large residual"),
        ),
        model="y ~ AsymmetricLaplace(ŷ, b, τ_q) with b fixed",
        link="identity",
        convex=True,
        smoothness="C⁰ (kink at ŷ = y)",
        best_constant=lambda t: _quantile(t, 0.9),
        best_constant_text="the τ_q-quantile of y (the 0.9-quantile at the default)",
        refs=("koenker1978regression", "yu2001bayesian"),
        notes="At the kink PyTorch's maximum splits the gradient evenly: autograd returns 1/2 - τ_q.",
    ),
    _loss(
        name="student_t_nll",
        title="Student-t negative log-likelihood (location input)",
        torch_name="-torch.distributions.StudentT(df, loc, scale).log_prob(y)",
        expr=sp.log(nt.b)
        + half * sp.log(nt.nu)
        + half * sp.log(sp.pi)
        + sp.loggamma(nt.nu / 2)
        - sp.loggamma((nt.nu + 1) / 2)
        + (nt.nu + 1) / 2 * sp.log(1 + ((y - mu) / nt.b) ** 2 / nt.nu),
        inputs=(mu,),
        targets=(y,),
        hyper=(
            Hyper(nt.nu, "df", 3.0, low=0.0, low_open=True),
            Hyper(nt.b, "scale", 1.0, low=0.0, low_open=True),
        ),
        edges=(
            Edge((1e8,), (-1e8,), note="huge residual: the gradient fades like 1/d"),
            Edge((0.0,), (0.0,), note="zero residual"),
        ),
        model="y ~ StudentT(ν, μ, b); ν = 1 is the Cauchy distribution",
        link="identity",
        convex=False,
        smoothness="C∞",
        best_constant_text="an M-estimate of location (no closed form); robust to outliers",
        refs=("lange1989robust",),
        notes="Convex in μ only where |y - μ| < b√ν: beyond that the second derivative is negative.",
    ),
    _loss(
        name="hinge",
        title="Hinge loss on ±1 labels",
        torch_name="torch.clamp(1 - y z, min=0) (torch.nn.functional has no binary hinge loss)",
        expr=sp.Max(0, 1 - y * z),
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((1.0,), (1.0,), "kink", "margin exactly 1"),
            Edge((-1.0,), (-1.0,), "kink", "margin exactly 1"),
            Edge((1000.0,), (-1.0,), note="huge wrong margin"),
        ),
        model="none: a margin-based surrogate of the 0-1 loss",
        link="sign(z) predicts the class",
        convex=True,
        smoothness="C⁰ (kink at y z = 1)",
        best_constant=_majority_sign,
        best_constant_text="z = +1 if most labels are +1, else -1",
        refs=("cortes1995support",),
    ),
    _loss(
        name="squared_hinge",
        title="Squared hinge loss on ±1 labels",
        torch_name="torch.clamp(1 - y z, min=0) ** 2 (torch.nn.functional has no binary squared hinge)",
        expr=sp.Max(0, 1 - y * z) ** 2,
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((1.0,), (1.0,), "boundary", "margin exactly 1: the branches meet with slope 0"),
            Edge((-1.0,), (-1.0,), "boundary", "margin exactly 1"),
            Edge((1000.0,), (-1.0,), note="huge wrong margin"),
        ),
        model="none: a margin-based surrogate of the 0-1 loss",
        link="sign(z) predicts the class; (z + 1)/2 clipped to [0, 1] estimates P(y = 1)",
        convex=True,
        smoothness="C¹ (second derivative jumps at y z = 1)",
        best_constant=lambda t: np.array([2.0 * float(np.mean(t[:, 0] == 1)) - 1.0]),
        best_constant_text="z = 2π - 1, with π the share of +1 labels",
        refs=("zhang2004statistical", "bartlett2006convexity"),
    ),
    _loss(
        name="exponential",
        title="Exponential loss on ±1 labels (AdaBoost)",
        torch_name="torch.exp(-y z) (no torch.nn.functional exponential loss)",
        expr=sp.exp(-y * z),
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((700.0,), (-1.0,), note="margin -700: e^700, near the float64 limit"),
            Edge((700.0,), (1.0,), note="margin +700: e^-700"),
            Edge((0.0,), (1.0,)),
        ),
        model="none: a margin-based surrogate of the 0-1 loss; its minimiser is half the log-odds",
        link="z = ½ log(P(y = 1) / P(y = -1)) at the population minimum",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t: _log_odds(t, (-1.0, 1.0)) / 2,
        best_constant_text="z = half the log-odds of the share of +1 labels",
        refs=("freund1997decision", "friedman2000additive"),
        notes="Overflows float64 once the wrong margin exceeds about 709.78.",
    ),
)


LOSSES: Mapping[str, Loss] = _register_all(_ENTRIES)
"""Every loss of the book by name, in the order the catalogue lists them (read-only)."""


def get(name: str | Loss) -> Loss:
    """The registry entry called ``name`` (a :class:`Loss` is returned unchanged).

    >>> get("huber").title
    'Huber loss'
    >>> get("hubber")
    Traceback (most recent call last):
    ...
    ValueError: unknown loss 'hubber'; did you mean 'huber'? Known losses: mse, l1, huber, ...
    """
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a loss name (str) or a Loss, got {type(name).__name__}")
    try:
        return LOSSES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(LOSSES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown loss {name!r}{hint} Known losses: {', '.join(LOSSES)}") from None
