"""The :class:`Loss` type: a formula, its PyTorch twin, and the facts the book states about it.

The PyTorch function of a loss (``torch_fn``) follows one contract, checked the first time
the loss is evaluated:

* it is called as ``torch_fn(x, t, **hyperparameters)`` in float64;
* ``x`` holds the inputs: shape ``(N,)`` when the loss has **one** input, ``(N, k)`` for
  ``k`` inputs (one column per input symbol, e.g. the ``C`` logits of a softmax);
* ``t`` holds the targets the same way: ``(N,)`` for one target, ``(N, m)`` for several,
  ``(N, 0)`` for none;
* it returns the unreduced loss: a floating tensor of shape ``(N,)``, connected to ``x`` by
  autograd (``reduction='none'`` for ``torch.nn.functional`` losses).

A function written for the older column layout (``x[:, 0]``) is still accepted: when the
1-D call fails and the ``(N, 1)`` call satisfies the contract, the loss uses columns.

>>> import sympy as sp, torch
>>> import lossbook as lb
>>> from lossbook.notation import y, yhat
>>> cube = lb.Loss(name="cube", expr=sp.Abs(yhat - y) ** 3, inputs=(yhat,), targets=(y,),
...                torch_fn=lambda x, t: (x - t).abs() ** 3)
>>> cube.pytorch([2.0, 0.0], [0.0, 0.0]).tolist()
[8.0, 0.0]
>>> bad = lb.Loss(name="bad", expr=(yhat - y) ** 2, inputs=(yhat,), targets=(y,),
...               torch_fn=lambda x, t: torch.nn.functional.mse_loss(x, t))
>>> bad.pytorch([1.0], [0.0])
Traceback (most recent call last):
...
ValueError: bad: torch_fn returned a tensor of shape () for N = 5 examples: a reduced loss. Pass reduction='none' to torch.nn.functional losses (their default 'mean' averages over the batch). The contract: torch_fn(x, t) gets x of shape (N,) and t of shape (N,) in float64 (and each hyperparameter as a keyword argument) and returns the per-example loss, a floating tensor of shape (N,) connected to x by autograd.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
import torch

from lossbook.domains import REAL, Domain, Edge, Hyper

__all__ = ["Loss", "NoFiniteMinimiser", "StopGradient"]


class StopGradient(sp.Function):
    """Its argument's value, with derivative 0: ``.detach()`` in a formula for :attr:`Loss.autograd`.

    PyTorch sometimes clamps a value outside autograd's record (``cosine_similarity``'s norm);
    the backward then differentiates the unclamped value. ``n + StopGradient(max(n, eps) - n)``
    has the clamped value and the unclamped derivative, to every order (PyTorch's own higher
    derivatives may still differ where its backward divides by an underflowed or zero number).
    ``lambdify`` evaluates it as the identity.

    >>> x = sp.Symbol("x", real=True)
    >>> sp.diff(x**2 + StopGradient(sp.Max(x, 3) - x), x)
    2*x
    >>> float(sp.lambdify([x], x**2 + StopGradient(sp.Max(x, 3) - x))(1.0))
    3.0
    """

    _imp_ = staticmethod(lambda value: value)

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{sg}}\left({printer._print(self.args[0])}\right)"


Array = np.ndarray
TorchFn = Callable[..., torch.Tensor]
#: Rows used to check the torch_fn contract (5: distinct from C = 3 and from 2 inputs).
_PROBE_ROWS = 5


def registry_entry(**fields: Any) -> Loss:
    """A registry :class:`Loss` whose ``torch_fn`` also takes ``(N, 1)`` columns.

    Registry functions follow the 1-D contract; this wrapper lets older code that calls
    ``entry.torch_fn`` directly with ``(N, 1)`` arrays keep getting shape ``(N,)``.
    """
    fn, k, m = fields["torch_fn"], len(fields["inputs"]), len(fields.get("targets", ()))

    @functools.wraps(fn)
    def torch_fn(x: torch.Tensor, t: torch.Tensor, **hyper: Any) -> torch.Tensor:
        if k == 1 and x.dim() == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if m == 1 and t.dim() == 2 and t.shape[1] == 1:
            t = t[:, 0]
        return fn(x, t, **hyper)

    return Loss(**{**fields, "torch_fn": torch_fn})


class NoFiniteMinimiser(ValueError):
    """Raised by :meth:`Loss.best_constant_for` when no finite constant minimises the mean loss."""


def _unreal(symbols: Any) -> list[sp.Symbol]:
    return sorted((s for s in symbols if s.is_real is not True), key=str)


@dataclass(frozen=True, eq=False)
class Loss:
    """One loss: its formula, its PyTorch twin, and the facts the book states about it.

    Readers can build their own and pass it to :func:`lossbook.crosscheck`; see the
    chapter "How this book checks itself". Only ``name``, ``expr``, ``inputs`` and
    ``torch_fn`` are required; the module docstring states the ``torch_fn`` contract.

    Fields about the statistics follow the GLM convention: ``link`` names the link function
    g that maps the mean of the model's distribution to the loss's input (η = g(μ): "logit"
    for a Bernoulli mean, "log" for a Poisson mean, "identity" for a Gaussian mean), and
    ``mean_function`` is its inverse g⁻¹, which maps the input back to the mean (σ(z),
    exp(z), ŷ). Losses that are not a GLM's negative log-likelihood say "none: ..." and why.
    """

    name: str
    expr: sp.Expr
    inputs: tuple[sp.Symbol, ...]
    torch_fn: TorchFn = field(repr=False)
    title: str = ""
    torch_name: str = ""
    torch_class: str = ""
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
    mean_function: str = ""
    convex: bool | None = None
    smoothness: str = ""
    best_constant: Callable[..., Array] | None = field(default=None, repr=False)
    best_constant_text: str = ""
    refs: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"name must be a Python identifier, got {self.name!r}")
        if not isinstance(self.torch_class, str):
            raise TypeError(
                f"{self.name}: torch_class must be a PyTorch class name (str), got {self.torch_class!r}"
            )
        if not isinstance(self.expr, sp.Expr):
            raise TypeError(f"{self.name}: expr must be a SymPy expression, got {type(self.expr).__name__}")
        for arg in ("inputs", "targets", "hyper", "edges"):
            value = getattr(self, arg)
            if isinstance(value, list):
                object.__setattr__(self, arg, tuple(value))
            elif not isinstance(value, tuple):
                raise TypeError(f"{self.name}: {arg} must be a tuple, got {value!r}")
        if not self.inputs:
            raise ValueError(f"{self.name}: inputs must name at least one symbol to differentiate")
        for arg in ("inputs", "targets"):
            bad = [s for s in getattr(self, arg) if not isinstance(s, sp.Symbol)]
            if bad:
                raise TypeError(f"{self.name}: {arg} must be SymPy Symbols, got {bad[0]!r}")
        if not all(isinstance(h, Hyper) for h in self.hyper):
            raise TypeError(f"{self.name}: hyper must hold lossbook.Hyper objects")
        if not all(isinstance(e, Edge) for e in self.edges):
            raise TypeError(f"{self.name}: edges must hold lossbook.Edge objects")
        for arg in ("input_domain", "target_domain"):
            if not isinstance(getattr(self, arg), Domain):
                raise TypeError(
                    f"{self.name}: {arg} must be a lossbook.Domain such as lb.REAL or lb.NONNEGATIVE, "
                    f"got {getattr(self, arg)!r}"
                )
        if not callable(self.torch_fn):
            raise TypeError(
                f"{self.name}: torch_fn must be a function torch_fn(x, t, **hyperparameters) returning the "
                f"per-example loss as a tensor of shape (N,), got {self.torch_fn!r}"
            )
        free = self.expr.free_symbols
        declared = set(self.inputs) | set(self.targets) | {h.symbol for h in self.hyper}
        if not free <= declared:
            extra = ", ".join(sorted(map(str, free - declared)))
            raise ValueError(
                f"{self.name}: expr uses symbols that are not declared as inputs, targets or "
                f"hyperparameters: {extra}"
            )
        unreal = _unreal(declared | free)
        if unreal:
            raise ValueError(
                f"{self.name}: symbol(s) {', '.join(map(str, unreal))} are not declared real; SymPy then "
                "treats them as complex and derivatives gain re/im terms. Use the book's symbols "
                "(lossbook.notation) or declare your own with sp.Symbol(name, real=True)"
            )
        if len(set(self.inputs) | set(self.targets)) != self.n_inputs + self.n_targets:
            raise ValueError(f"{self.name}: inputs and targets must be distinct symbols")
        if self.autograd is not None and len(self.autograd) != len(self.inputs):
            raise ValueError(
                f"{self.name}: autograd must have one entry per input ({len(self.inputs)}), "
                f"got {len(self.autograd)}"
            )
        for e in self.edges:
            if len(e.inputs) != len(self.inputs) or len(e.targets) != len(self.targets):
                raise ValueError(
                    f"{self.name}: edge point {e} must have {self.n_inputs} input value(s) and "
                    f"{self.n_targets} target value(s)"
                )

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

        >>> from lossbook import get
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

    # ---- shapes
    def as_rows(self, arg: str, a: Any, width: int, domain: Domain) -> torch.Tensor:
        """``a`` as an ``(N, width)`` tensor in ``domain``, or a ValueError/TypeError naming ``arg``.

        A scalar or a 1-D array is accepted where ``width`` is 1 (one column).
        """
        names = ", ".join(map(str, self.inputs if arg.startswith("x") else self.targets))
        if isinstance(a, torch.Tensor):
            t = a
        else:
            if a is None or isinstance(a, (str, bytes, dict, set)):
                raise TypeError(f"{self.name}: {arg} must be an array of numbers, got {type(a).__name__}")
            try:
                arr = np.asarray(a)
            except ValueError as error:  # ragged nested lists
                raise ValueError(
                    f"{self.name}: {arg} must be a rectangular array of numbers: {error}"
                ) from None
            if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                raise TypeError(f"{self.name}: {arg} must be numeric, got dtype {arr.dtype}")
            if np.iscomplexobj(arr):
                raise TypeError(f"{self.name}: {arg} must be real, got dtype {arr.dtype}")
            t = torch.as_tensor(arr)
        if t.is_complex():
            raise TypeError(f"{self.name}: {arg} must be real, got dtype {t.dtype}")
        if t.dim() == 0 and width == 1:
            t = t.reshape(1, 1)
        elif t.dim() == 1 and width == 1:
            t = t[:, None]
        if t.dim() != 2 or t.shape[1] != width:
            one = " or (N,)" if width == 1 else f"; one example is [[{', '.join(['…'] * width)}]]"
            raise ValueError(
                f"{self.name}: {arg} must have shape (N, {width}){one} (columns: {names}), got {tuple(t.shape)}"
            )
        if t.shape[0] == 0:
            raise ValueError(f"{self.name}: {arg} is empty; it must hold at least one example (row)")
        values = t.detach().cpu().double().numpy()
        if not domain.check(values):
            raise ValueError(
                f"{self.name}: {arg} must hold {domain.description}; {domain.first_violation(values)}"
            )
        return t

    _as_2d = as_rows  # the name used before 2026-12; kept for callers outside the package

    def _layout(self) -> str:
        """``"1d"`` (the contract) or ``"2d"`` (legacy columns), checked once per loss."""
        cached = self.__dict__.get("_layout_cache")
        if cached is None:
            cached = self.check_contract()
        return cached

    def _call(self, x: torch.Tensor, t: torch.Tensor, hp: dict[str, float], layout: str) -> Any:
        xa = x[:, 0] if layout == "1d" and self.n_inputs == 1 else x
        ta = t[:, 0] if layout == "1d" and self.n_targets == 1 else t
        return self.torch_fn(xa, ta, **hp)

    def _contract(self, layout: str = "1d") -> str:
        xs = "(N,)" if layout == "1d" and self.n_inputs == 1 else f"(N, {self.n_inputs})"
        ts = "(N,)" if layout == "1d" and self.n_targets == 1 else f"(N, {self.n_targets})"
        return (
            f"The contract: torch_fn(x, t) gets x of shape {xs} and t of shape {ts} in float64 (and "
            "each hyperparameter as a keyword argument) and returns the per-example loss, a floating "
            "tensor of shape (N,) connected to x by autograd."
        )

    def _problem(self, out: Any, x: torch.Tensor) -> str:
        n = x.shape[0]
        if out is None:
            return "torch_fn returned None: return the per-example losses"
        if isinstance(out, np.ndarray):
            return (
                "torch_fn returned a numpy array: compute with torch operations (torch.log, not "
                "np.log; no .numpy()) so that autograd can differentiate it"
            )
        if not isinstance(out, torch.Tensor):
            return f"torch_fn returned a {type(out).__name__}, not a torch.Tensor"
        if not out.is_floating_point():
            return f"torch_fn returned a tensor of dtype {out.dtype}; it must be floating point"
        if out.dim() == 0:
            return (
                f"torch_fn returned a tensor of shape () for N = {n} examples: a reduced loss. Pass "
                "reduction='none' to torch.nn.functional losses (their default 'mean' averages over the batch)"
            )
        if tuple(out.shape) == (n, 1):
            return f"torch_fn returned shape ({n}, 1): return shape ({n},), e.g. with .squeeze(1)"
        if tuple(out.shape) != (n,):
            hint = " (sum over the classes yourself, e.g. .sum(dim=1))" if out.dim() == 2 else ""
            return f"torch_fn returned shape {tuple(out.shape)} for N = {n} examples; expected ({n},){hint}"
        if out.dtype != x.dtype:
            return f"torch_fn returned {out.dtype} for {x.dtype} inputs: keep the input's dtype (no .float())"
        if x.requires_grad and out.grad_fn is None:
            return (
                "torch_fn's output is not connected to x by autograd: a .detach(), .item(), "
                "torch.no_grad() or a round trip through numpy cut the graph"
            )
        return ""

    def check_contract(self) -> str:
        """Check ``torch_fn`` against the contract on a few valid points; return the layout.

        Raises a ValueError (wrong output) or TypeError (torch_fn failed) that says what to
        fix. Called automatically the first time the loss is evaluated.
        """
        rng = np.random.default_rng(20261201)
        xs, ts = self.sample(rng, _PROBE_ROWS)
        hp = self.hyperparameters()
        problems: dict[str, str] = {}
        layouts = ("1d", "2d") if self.n_inputs == 1 or self.n_targets == 1 else ("1d",)
        for layout in layouts:
            x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
            t = torch.tensor(ts, dtype=torch.float64)
            try:
                out = self._call(x, t, hp, layout)
            except Exception as error:
                problems[layout] = f"torch_fn raised {type(error).__name__}: {error}"
                continue
            problems[layout] = self._problem(out, x)
            if not problems[layout]:
                object.__setattr__(self, "_layout_cache", layout)
                return layout
        first = problems["1d"]
        cls = TypeError if first.startswith("torch_fn raised") else ValueError
        raise cls(f"{self.name}: {first}. {self._contract()}")

    # ---- numerics
    def pytorch(self, x: Any, t: Any = (), **hyper: Any) -> torch.Tensor:
        """Per-example loss as PyTorch computes it (``reduction='none'``), shape ``(N,)``.

        ``x`` has one column per input symbol and ``t`` one column per target symbol; a
        one-input (one-target) loss also takes a 1-D array or a number. Inputs are
        validated against the loss's domains first.

        >>> from lossbook import get
        >>> get("mse").pytorch([2.0, 1.0], [0.5, 1.0]).tolist()
        [2.25, 0.0]
        >>> get("bce").pytorch(1.5, 1.0)
        Traceback (most recent call last):
        ...
        ValueError: bce: x must hold probabilities in [0, 1]; row 0 is [1.5]
        """
        hp = self.hyperparameters(**hyper)
        xt = self.as_rows("x", x, self.n_inputs, self.input_domain)
        if self.n_targets:
            tt = self.as_rows("t", t, self.n_targets, self.target_domain)
            if tt.shape[0] != xt.shape[0]:
                raise ValueError(
                    f"{self.name}: x and t must have the same number of rows, got "
                    f"{xt.shape[0]} and {tt.shape[0]}"
                )
        else:
            if not (isinstance(t, tuple) and t == ()) and t is not None and np.size(np.asarray(t)) != 0:
                raise ValueError(f"{self.name}: this loss has no targets, but t was given: {t!r}")
            tt = xt.new_zeros((xt.shape[0], 0))
        if not xt.is_floating_point():
            xt = xt.double()
        layout = self._layout()
        out = self._call(xt, tt.to(xt.dtype), hp, layout)
        problem = (
            self._problem(out, xt) if not isinstance(out, torch.Tensor) or out.shape != (xt.shape[0],) else ""
        )
        if problem:
            raise ValueError(f"{self.name}: {problem}. {self._contract(layout)}")
        return out

    def gradient(self, x: Any, t: Any = (), **hyper: Any) -> torch.Tensor:
        """Autograd's gradient of the summed loss with respect to ``x`` (same shape as ``x``).

        >>> import torch
        >>> from lossbook import get
        >>> get("mse").gradient([1.0, 3.0], [0.0, 0.0]).tolist()
        [2.0, 6.0]
        >>> get("mse").gradient(torch.tensor([[1]]), [[0.0]])
        Traceback (most recent call last):
        ...
        TypeError: mse: x must be a floating-point tensor to take gradients, got torch.int64
        """
        if isinstance(x, torch.Tensor):
            if not x.is_floating_point():
                raise TypeError(
                    f"{self.name}: x must be a floating-point tensor to take gradients, got {x.dtype}"
                )
            xt = x
        else:
            xt = self.as_rows("x", x, self.n_inputs, self.input_domain).double()
            xt = xt.reshape(np.shape(x)) if np.ndim(x) < 2 else xt
        xt = xt.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self.pytorch(xt, t, **hyper).sum(), xt)
        return g

    def sample(self, rng: np.random.Generator, n: int) -> tuple[Array, Array]:
        """``n`` random valid points ``(x, t)`` drawn from the domains, as 2-D arrays."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{self.name}: rng must be a numpy Generator (np.random.default_rng(seed))")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{self.name}: n must be a positive integer, got {n!r}")
        x = self.input_domain.draw(rng, int(n), self.n_inputs)
        t = self.target_domain.draw(rng, int(n), self.n_targets) if self.n_targets else np.zeros((n, 0))
        return x, t

    def best_constant_for(self, t: Any, **hyper: Any) -> Array:
        """The constant input that minimises the mean loss over targets ``t``.

        Hyperparameters are passed on (the pinball loss's best constant is the
        ``quantile``-quantile). Raises :class:`NoFiniteMinimiser` (a ValueError) when the
        infimum is only approached as the input goes to infinity, and a ValueError when the
        entry states no closed form.

        >>> from lossbook import get
        >>> get("pinball").best_constant_for([0.0, 1.0, 2.0, 3.0, 10.0], quantile=0.1).tolist()
        [0.0]
        >>> get("bce_with_logits").best_constant_for([0.0, 0.0])
        Traceback (most recent call last):
        ...
        lossbook.loss.NoFiniteMinimiser: bce_with_logits: no finite best constant: every target is 0, so the mean loss decreases towards its infimum 0 as z → -∞
        """
        if self.best_constant is None:
            raise ValueError(
                f"{self.name}: no closed-form best constant ({self.best_constant_text or 'not stated'}); "
                "minimise the mean loss numerically"
            )
        hp = self.hyperparameters(**hyper)
        if self.n_targets:
            tt = self.as_rows("t", t, self.n_targets, self.target_domain).detach().double().numpy()
        else:
            raise ValueError(f"{self.name}: the loss has no targets, so every input is a constant")
        return np.asarray(self.best_constant(tt, **hp), dtype=float)

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
        """Only the formula PyTorch computes: one display, no prose."""
        return rf"$\displaystyle {self.latex()}$"

    def _repr_markdown_(self) -> str:
        """Formula as display math, the textbook form and the departure as prose."""
        parts = [f"**{html.escape(self.title or self.name)}**", f"$$\n{self.latex()}\n$$"]
        if self.textbook is not None:
            parts.append("PyTorch computes the formula above; the textbook writes")
            parts.append(f"$$\n{self.latex(textbook=True)}\n$$")
            parts.append(html.escape(self.departure))
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return f"Loss({self.name!r}: {self.expr})"
