"""Gradients in practice: what autograd returns at a kink, and canonical links.

Three helpers from the chapter "Gradients of losses and their output activations":

* :func:`linear_layer_check` checks a stated gradient with respect to the logits at the
  level of the weights: autograd's ``∂L/∂w`` of a linear layer against ``Xᵀg`` (what
  :func:`lossbook.crosscheck` does not do: it stops at the logits);
* :func:`probe_kink` measures what autograd returns at a point where a function may not be
  differentiable, next to the one-sided derivatives there and the central difference a
  gradient check would compare it with;
* :func:`canonical_link_check` proves, for an exponential family written in its natural
  parameter, that the negative log-likelihood has gradient ``mean - target``
  (``∂NLL/∂η = μ - y``), and confirms it against ``torch.distributions`` and autograd.

>>> import torch
>>> probe = probe_kink(torch.relu, 0.0)
>>> probe.left, probe.autograd, probe.right
(0.0, 0.0, 1.0)
>>> canonical_link_check("bernoulli").gradient
Matrix([[-y + 1/(1 + exp(-z))]])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy as sp
import torch

from lossbook import notation as nt
from lossbook.calculus import same

__all__ = [
    "FAMILIES",
    "CanonicalCheck",
    "ExponentialFamily",
    "KinkProbe",
    "LayerCheck",
    "canonical_link_check",
    "linear_layer_check",
    "probe_kink",
]


# --------------------------------------------------------------------------- linear layer


@dataclass(frozen=True)
class LayerCheck:
    """Result of :func:`linear_layer_check`: how far a stated logit gradient is from autograd.

    Each error is normwise and relative to autograd, ``‖stated - autograd‖ / ‖autograd‖``
    (absolute, ``‖stated‖``, when autograd's gradient is exactly zero): ``logit_error`` for
    ``∂L/∂z`` itself, ``weight_error`` for ``∂L/∂W`` against ``Gᵀ X`` (``Xᵀ g`` for one
    output), ``bias_error`` for ``∂L/∂b`` against the column sums of ``G``. ``ok`` is True
    when all three are at most ``rtol``.
    """

    points: int
    outputs: int
    features: int
    logit_error: float
    weight_error: float
    bias_error: float
    rtol: float

    @property
    def ok(self) -> bool:
        return max(self.logit_error, self.weight_error, self.bias_error) <= self.rtol

    def assert_ok(self, what: str = "linear layer") -> None:
        """Raise ``AssertionError`` naming the worst error unless :attr:`ok`."""
        if not self.ok:
            raise AssertionError(f"{what}: {self}")

    def __str__(self) -> str:
        shape = "w" if self.outputs == 1 else "W"
        return (
            f"{self.points} points, {self.features} features, {self.outputs} output(s): relative error "
            f"{self.logit_error:.1e} for dL/dz, {self.weight_error:.1e} for dL/d{shape}, "
            f"{self.bias_error:.1e} for dL/db (tolerance {self.rtol:.0e})"
        )


def linear_layer_check(
    torch_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    gradient: Callable[[torch.Tensor, torch.Tensor], Any] | sp.Expr | Sequence[sp.Expr],
    X: Any,
    t: Any,
    w: Any,
    b: Any = 0.0,
    *,
    symbols: Sequence[sp.Symbol] = (nt.z, nt.y),
    rtol: float = 1e-12,
) -> LayerCheck:
    """Compare a stated gradient ``g = ∂ℓ/∂z`` with autograd through a linear layer.

    The layer computes ``z = X wᵀ + b`` (float64). Autograd differentiates the summed loss
    ``L = Σ_n torch_loss(z, t)_n`` with respect to ``z``, ``w`` and ``b``; by the chain rule
    these must be ``g``, ``gᵀ X`` and ``Σ_n g_n``, with ``g`` the stated gradient evaluated at
    the layer's logits. Where :func:`lossbook.crosscheck` stops at the logits, this checks
    that the stated gradient is what reaches the weights.

    Args:
        torch_loss: ``(z, t) -> per-example losses`` of shape ``(N,)`` (``reduction='none'``);
            ``z`` has shape ``(N,)`` when ``w`` is a vector and ``(N, k)`` when ``w`` is a
            ``(k, d)`` matrix.
        gradient: the stated ``∂ℓ_n/∂z_n``: a callable ``(z, t) -> tensor shaped like z``, or
            a SymPy expression (one per output for ``k`` outputs) in ``symbols``.
        X: inputs, shape ``(N, d)``.
        t: targets with ``N`` rows, passed to ``torch_loss`` as given.
        w: weights, shape ``(d,)`` or ``(k, d)``.
        b: bias, a number or shape ``(k,)``.
        symbols: the arguments of a SymPy ``gradient``: the ``k`` logits, then one symbol per
            target column. Defaults to ``(z, y)``.
        rtol: tolerance of :attr:`LayerCheck.ok`.

    >>> import torch.nn.functional as F
    >>> from lossbook.notation import sigmoid, y, z
    >>> X = torch.tensor([[1.0, 2.0], [0.5, -1.0], [-2.0, 0.3]], dtype=torch.float64)
    >>> labels = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    >>> bce = lambda s, t: F.binary_cross_entropy_with_logits(s, t, reduction="none")
    >>> linear_layer_check(bce, sigmoid(z) - y, X, labels, w=[0.5, -1.0], b=0.1).ok
    True
    >>> wrong = linear_layer_check(bce, y - sigmoid(z), X, labels, w=[0.5, -1.0])
    >>> wrong.ok, round(wrong.weight_error, 6)
    (False, 2.0)
    >>> linear_layer_check(lambda s, t: F.mse_loss(s, t), 2 * (z - y), X, labels, w=[0.5, -1.0])
    Traceback (most recent call last):
    ...
    TypeError: torch_loss must return the per-example losses, shape (3,), got shape (): use reduction='none'
    """
    if not callable(torch_loss):
        raise TypeError(f"torch_loss must be callable (z, t) -> losses, got {type(torch_loss).__name__}")
    Xt = _float_tensor("X", X, dims=(2,))
    n, d = Xt.shape
    if n < 1 or d < 1:
        raise ValueError(f"X must have at least one row and one column, got shape {tuple(Xt.shape)}")
    wt = _float_tensor("w", w, dims=(1, 2))
    if wt.shape[-1] != d:
        raise ValueError(f"w must have {d} entries per row (the columns of X), got shape {tuple(wt.shape)}")
    k = 1 if wt.dim() == 1 else wt.shape[0]
    bt = _float_tensor("b", b, dims=(0, 1))
    if bt.numel() not in (1, k) or (wt.dim() == 1 and bt.dim() == 1 and bt.numel() != 1):
        raise ValueError(f"b must be a number or have {k} entries, got shape {tuple(bt.shape)}")
    if wt.dim() == 2 and bt.dim() == 0:
        bt = bt.expand(k).clone()
    elif wt.dim() == 1:
        bt = bt.reshape(())
    tt = t if isinstance(t, torch.Tensor) else torch.as_tensor(np.asarray(t))
    if tt.dim() < 1 or tt.shape[0] != n:
        raise ValueError(f"t must have one row per row of X ({n}), got shape {tuple(tt.shape)}")
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0 < rtol < 1:
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    stated = _stated_gradient(gradient, k, symbols)

    wt.requires_grad_(True)
    bt.requires_grad_(True)
    z = Xt @ (wt if k == 1 and wt.dim() == 1 else wt.T) + bt
    z_leaf = z.detach().clone().requires_grad_(True)
    losses = torch_loss(z_leaf, tt)
    if not isinstance(losses, torch.Tensor):
        raise TypeError(f"torch_loss must return a tensor, got {type(losses).__name__}")
    if losses.shape != (n,):
        raise TypeError(
            f"torch_loss must return the per-example losses, shape ({n},), got shape "
            f"{tuple(losses.shape)}: use reduction='none'"
            + (", and sum over the columns of z inside it" if k > 1 and losses.shape == z.shape else "")
        )
    if not losses.requires_grad:
        raise TypeError(
            "torch_loss must return a tensor that depends on z differentiably (no .detach(), no numpy)"
        )
    (g_auto,) = torch.autograd.grad(losses.sum(), z_leaf)
    grad_w, grad_b = torch.autograd.grad(torch_loss(z, tt).sum(), (wt, bt))

    g = stated(z.detach(), tt)
    g = g if isinstance(g, torch.Tensor) else torch.as_tensor(np.asarray(g, dtype=float))
    g = g.to(torch.float64)
    if g.shape != z.shape:
        raise ValueError(
            f"gradient must return one value per logit, shape {tuple(z.shape)}, got {tuple(g.shape)}"
        )
    want_w = Xt.T @ g if g.dim() == 1 else g.T @ Xt
    want_b = g.sum(dim=0)
    return LayerCheck(
        points=n,
        outputs=k,
        features=d,
        logit_error=_relative(g, g_auto),
        weight_error=_relative(want_w, grad_w),
        bias_error=_relative(want_b, grad_b),
        rtol=float(rtol),
    )


def _float_tensor(name: str, value: Any, dims: tuple[int, ...]) -> torch.Tensor:
    """A finite float64 copy of ``value`` with one of the allowed numbers of dimensions."""
    if isinstance(value, torch.Tensor):
        out = value.detach().clone()
    else:
        arr = np.asarray(value)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) and not np.iscomplexobj(arr)):
            raise TypeError(f"{name} must be real numbers, got {value!r:.60} (dtype {arr.dtype})")
        out = torch.as_tensor(arr)
    if out.is_complex() or out.dtype == torch.bool:
        raise TypeError(f"{name} must be real numbers, got dtype {out.dtype}")
    out = out.to(torch.float64)
    if out.dim() not in dims:
        allowed = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be {allowed}, got shape {tuple(out.shape)}")
    if not torch.isfinite(out).all():
        raise ValueError(f"{name} must be finite, got {out.tolist()!r:.80}")
    return out


def _stated_gradient(gradient: Any, k: int, symbols: Sequence[sp.Symbol]) -> Callable[..., Any]:
    """The stated gradient as a function of (z, t) tensors."""
    if isinstance(gradient, (sp.Expr, sp.MatrixBase)) or (
        isinstance(gradient, (list, tuple)) and gradient and all(isinstance(e, sp.Expr) for e in gradient)
    ):
        exprs = list(gradient) if isinstance(gradient, (sp.MatrixBase, list, tuple)) else [gradient]
        if len(exprs) != k:
            raise ValueError(f"gradient must have one expression per output ({k}), got {len(exprs)}")
        if not all(isinstance(s, sp.Symbol) for s in symbols) or len(symbols) < k:
            raise TypeError(
                f"symbols must be at least {k} SymPy symbols (the logits, then the targets), got {symbols!r}"
            )
        free = set().union(*(e.free_symbols for e in exprs))
        if not free <= set(symbols):
            extra = ", ".join(sorted(map(str, free - set(symbols))))
            raise ValueError(f"gradient uses symbols that are not in symbols: {extra}")
        fn = sp.lambdify(list(symbols), exprs, modules="numpy")

        def evaluate(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            zs = z.numpy().reshape(len(z), -1)
            ts = t.detach().double().numpy().reshape(len(z), -1)
            cols = [zs[:, i] for i in range(zs.shape[1])] + [ts[:, i] for i in range(ts.shape[1])]
            if len(cols) != len(symbols):
                raise ValueError(
                    f"symbols has {len(symbols)} entries but z and t have {len(cols)} columns together"
                )
            values = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in fn(*cols)], zs[:, 0])[:-1]
            return torch.as_tensor(np.stack(values, axis=-1).reshape(z.shape))

        return evaluate
    if callable(gradient):
        return gradient
    raise TypeError(
        f"gradient must be a callable (z, t) -> tensor or SymPy expressions, got {type(gradient).__name__}"
    )


def _relative(stated: torch.Tensor, autograd: torch.Tensor) -> float:
    """‖stated - autograd‖ / ‖autograd‖, or ‖stated‖ where autograd's gradient is zero."""
    scale = float(autograd.norm())
    diff = float((stated - autograd).norm())
    if not math.isfinite(diff):
        return math.inf
    return diff / scale if scale > 0 else diff


# --------------------------------------------------------------------------- kinks


@dataclass(frozen=True)
class KinkProbe:
    """What autograd returns at ``point``, beside the one-sided derivatives there.

    ``left`` and ``right`` are one-sided difference quotients with step ``step`` (the step
    actually taken, ``1e-7 * max(1, |point|)`` by default), exact for a function that is
    linear on each side (ReLU, ``|x|``, hinge, clamp) up to float64 rounding; ``central`` is the
    central difference a gradient check compares autograd with, which at a kink is the
    average of the two sides, not either of them. The three difference quotients are
    rounded to 9 significant digits.

    ``tolerance`` is how far apart two slopes may be and still count as equal: four times
    the truncation error ``h·|f''|`` estimated from one-sided second differences, plus the
    rounding error of the quotients. ``jump`` is True when the function is discontinuous
    at ``point`` (an increment that does not shrink with the step); there the difference
    quotients grow like ``1/h`` and no slope comparison is meaningful.
    """

    point: float
    autograd: float
    left: float
    right: float
    central: float
    step: float
    tolerance: float = 0.0
    jump: bool = False

    def _close(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.tolerance

    @property
    def differentiable(self) -> bool:
        """Continuous, and the two one-sided derivatives agree to ``tolerance``."""
        return not self.jump and self._close(self.left, self.right)

    @property
    def side(self) -> str:
        """Which value autograd chose: ``'left'``, ``'right'``, ``'both'`` (no kink),
        ``'between'`` (strictly between the one-sided derivatives, an element of the Clarke
        generalized gradient), ``'outside'`` (not between them) or ``'jump'`` (the
        function is discontinuous, so no value is consistent with it)."""
        if self.jump:
            return "jump"
        if self.differentiable:
            return "both" if self._close(self.autograd, self.left) else "outside"
        if self._close(self.autograd, self.left):
            return "left"
        if self._close(self.autograd, self.right):
            return "right"
        low, high = sorted((self.left, self.right))
        return "between" if low < self.autograd < high else "outside"

    @property
    def check_error(self) -> float:
        """``|autograd - central| / max(|central|, 1)``: the error a gradient check would report."""
        return abs(self.autograd - self.central) / max(abs(self.central), 1.0)


def probe_kink(fn: Callable[[torch.Tensor], torch.Tensor], point: float, *, step: float = 1e-7) -> KinkProbe:
    """Autograd's derivative of a scalar function at ``point``, and the one-sided slopes.

    ``fn`` maps a float64 scalar tensor to a tensor with one element. Differences are
    taken in float64 with the step ``h = step * max(1, |point|)`` (``step`` defaults to
    ``1e-7``), so that large points are not lost to rounding. ``fn`` must be finite on
    ``[point - 2h, point + 2h]``: a point outside its domain, or on the boundary of it
    (``sqrt`` at 0), has no two-sided slopes to compare, and is refused.

    >>> p = probe_kink(torch.abs, 0.0)
    >>> p.autograd, p.side, p.central
    (0.0, 'between', 0.0)
    >>> p = probe_kink(lambda x: torch.clamp(x, min=0.0, max=1.0), 1.0)
    >>> p.left, p.autograd, p.right, p.side
    (1.0, 1.0, 0.0, 'left')
    >>> probe_kink(torch.sign, 0.0).side
    'jump'
    >>> probe_kink(lambda x: torch.exp(20 * x), 0.0).side
    'both'
    >>> probe_kink(torch.abs, float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: point must be a finite real number, got nan
    >>> probe_kink(torch.log, -1.0)
    Traceback (most recent call last):
    ...
    ValueError: point=-1.0 is outside the domain of fn: fn(-1) = nan; probe_kink needs fn finite on [point - 2h, point + 2h] with h = 1e-07
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (a function of one tensor), got {type(fn).__name__}")
    x0 = _real("point", point)
    h0 = _real("step", step)
    if not 0 < h0 <= 1e-2:
        raise ValueError(f"step must be a number in (0, 1e-2], got {step!r}")
    h = h0 * max(1.0, abs(x0))

    def call(at: torch.Tensor) -> torch.Tensor:
        try:
            out = fn(at)
        except (TypeError, AttributeError) as e:
            raise TypeError(
                f"fn must accept a float64 scalar tensor; calling it raised {type(e).__name__}: {e}"
            ) from e
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise TypeError(
                f"fn must return a tensor with one element, got {type(out).__name__}"
                + (f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else "")
            )
        if out.is_complex():
            raise TypeError(f"fn must return a real tensor, got dtype {out.dtype}")
        return out

    def value(at: float) -> float:
        return float(call(torch.tensor(at, dtype=torch.float64)).detach().reshape(()).double())

    def derivative(at: float) -> float:
        x = torch.tensor(at, dtype=torch.float64, requires_grad=True)
        out = call(x)
        if not out.requires_grad:  # fn ignored its input (or detached it): the derivative is 0
            return 0.0
        (g,) = torch.autograd.grad(out.reshape(()), x, allow_unused=True)
        return 0.0 if g is None else float(g)

    # f at x0 + k h for k = -2, -1, -1/4, 0, 1/4, 1, 2, with the steps actually taken
    xs = {k: x0 + k * h for k in (-2, -1, -0.25, 0, 0.25, 1, 2)}
    f = {k: value(at) for k, at in xs.items()}
    undefined = [k for k in (0, -0.25, 0.25, -1, 1, -2, 2) if not math.isfinite(f[k])]
    if undefined:
        k = undefined[0]
        if k != 0:
            where = "on the boundary of the domain of fn, or outside it"
        elif math.isnan(f[0]):
            where = "outside the domain of fn"
        else:
            where = "where fn is infinite (outside its domain, or overflowing float64)"
        raise ValueError(
            f"point={point!r} is {where}: fn({xs[k]:.8g}) = {f[k]}; probe_kink needs fn finite "
            f"on [point - 2h, point + 2h] with h = {h:.3g}"
        )
    scale = max(abs(v) for v in f.values())
    # rounding error of one increment of f; subnormal values (below `tiny`) carry no digits at all
    noise = 64 * float(np.finfo(np.float64).eps) * scale + float(np.finfo(np.float64).tiny)

    def jumps(k: float, quarter: float) -> bool:
        """An increment that does not shrink with the step: the function jumps at x0."""
        big, small = abs(f[k] - f[0]), abs(f[quarter] - f[0])
        return big > noise and small > 0.5 * big

    h_up, h_down = xs[1] - x0, x0 - xs[-1]
    left, right = (f[0] - f[-1]) / h_down, (f[1] - f[0]) / h_up
    second_left = (f[0] - 2 * f[-1] + f[-2]) / h_down**2
    second_right = (f[2] - 2 * f[1] + f[0]) / h_up**2
    slopes = max(abs(left), abs(right))
    # 1e-8 * slopes covers the rounding of the quotients to 9 significant digits
    tolerance = 4 * h * max(abs(second_left), abs(second_right)) + 2 * noise / h + 1e-8 * slopes
    return KinkProbe(
        point=x0,
        autograd=derivative(x0),
        left=_round(left),
        right=_round(right),
        central=_round((f[1] - f[-1]) / (h_up + h_down)),
        step=h,
        tolerance=float(tolerance),
        jump=bool(jumps(1, 0.25) or jumps(-1, -0.25)),
    )


def _real(name: str, value: Any) -> float:
    """``value`` as a finite float, or a TypeError/ValueError that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def _round(v: float) -> float:
    """Round a difference quotient to 9 significant digits."""
    return 0.0 if v == 0 else float(f"{v:.9g}")


# --------------------------------------------------------------------------- canonical links


@dataclass(frozen=True)
class ExponentialFamily:
    """A distribution written with its natural parameter ``eta`` as the model's output.

    ``nll`` is the negative log-likelihood in the distribution's *usual* form (probability,
    rate, mean) with the canonical inverse link substituted, so proving
    ``∂nll/∂η = mean - y`` is a theorem, not a restatement. ``distribution`` builds the
    matching ``torch.distributions`` object from an ``eta`` tensor of shape ``(N, k)``;
    ``sample`` draws ``(eta, y)`` arrays for the numeric check.
    """

    name: str
    eta: tuple[sp.Symbol, ...]
    targets: tuple[sp.Symbol, ...]
    nll: sp.Expr
    mean: tuple[sp.Expr, ...]
    link: str
    distribution: Callable[[torch.Tensor], torch.distributions.Distribution] = field(repr=False)
    sample: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]] = field(repr=False)
    #: turns a target array (N, len(targets)) into the value ``log_prob`` expects
    target_value: Callable[[torch.Tensor], torch.Tensor] = field(repr=False, default=lambda t: t[:, 0])

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.nll, sp.Expr):
            raise TypeError(f"{self.name}: nll must be a SymPy expression, got {type(self.nll).__name__}")
        for what in ("eta", "targets"):
            symbols = getattr(self, what)
            if (
                not isinstance(symbols, tuple)
                or not symbols
                or not all(isinstance(s, sp.Symbol) for s in symbols)
            ):
                raise TypeError(
                    f"{self.name}: {what} must be a non-empty tuple of SymPy symbols, got {symbols!r}"
                )
        if not isinstance(self.mean, tuple) or not all(isinstance(m, sp.Expr) for m in self.mean):
            raise TypeError(f"{self.name}: mean must be a tuple of SymPy expressions, got {self.mean!r}")
        if not (len(self.eta) == len(self.targets) == len(self.mean)):
            raise ValueError(
                f"{self.name}: eta, targets and mean must have the same length (one mean and one "
                f"target per natural parameter), got {len(self.eta)}, {len(self.targets)}, {len(self.mean)}"
            )
        for what in ("distribution", "sample", "target_value"):
            if not callable(getattr(self, what)):
                raise TypeError(
                    f"{self.name}: {what} must be callable, got {type(getattr(self, what)).__name__}"
                )


_Z = nt.class_symbols("z", real=True)
_Y = nt.class_symbols("y", nonnegative=True)
_P = nt.softmax(_Z)


def _sample_real(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return 3.0 * rng.standard_normal((n, 1)), 3.0 * rng.standard_normal((n, 1))


def _sample_bernoulli(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return 3.0 * rng.standard_normal((n, 1)), rng.integers(0, 2, size=(n, 1)).astype(float)


def _sample_poisson(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-2.0, 2.0, size=(n, 1)), rng.poisson(3.0, size=(n, 1)).astype(float)


def _sample_categorical(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return 3.0 * rng.standard_normal((n, len(_Z))), np.eye(len(_Z))[rng.integers(0, len(_Z), size=n)]


FAMILIES: Mapping[str, ExponentialFamily] = MappingProxyType(
    {
        "gaussian": ExponentialFamily(
            name="gaussian",
            eta=(nt.z,),
            targets=(nt.y,),
            nll=(nt.y - nt.z) ** 2 / 2 + sp.log(2 * sp.pi) / 2,
            mean=(nt.z,),
            link="identity: μ = η (unit variance)",
            distribution=lambda eta: torch.distributions.Normal(eta[:, 0], torch.ones_like(eta[:, 0])),
            sample=_sample_real,
        ),
        "bernoulli": ExponentialFamily(
            name="bernoulli",
            eta=(nt.z,),
            targets=(nt.y,),
            nll=-(nt.y * sp.log(nt.sigmoid(nt.z)) + (1 - nt.y) * sp.log(1 - nt.sigmoid(nt.z))),
            mean=(nt.sigmoid(nt.z),),
            link="logit: μ = σ(η)",
            distribution=lambda eta: torch.distributions.Bernoulli(logits=eta[:, 0]),
            sample=_sample_bernoulli,
        ),
        "poisson": ExponentialFamily(
            name="poisson",
            eta=(nt.z,),
            targets=(nt.y,),
            nll=-(nt.y * nt.z - sp.exp(nt.z) - sp.loggamma(nt.y + 1)),
            mean=(sp.exp(nt.z),),
            link="log: μ = e^η",
            distribution=lambda eta: torch.distributions.Poisson(torch.exp(eta[:, 0])),
            sample=_sample_poisson,
        ),
        "categorical": ExponentialFamily(
            name="categorical",
            eta=_Z,
            targets=_Y,
            nll=-sp.Add(*[yc * sp.log(pc) for yc, pc in zip(_Y, _P, strict=True)]),
            mean=_P,
            link="softmax: μ = softmax(η) (one-hot targets)",
            distribution=lambda eta: torch.distributions.Categorical(logits=eta),
            sample=_sample_categorical,
            target_value=lambda t: t.argmax(dim=1),
        ),
    }
)
"""The four families of the chapter, by name: gaussian, bernoulli, poisson, categorical."""


@dataclass(frozen=True)
class CanonicalCheck:
    """Result of :func:`canonical_link_check`: the gradient it proved, ``mean - y``, as a
    column over the natural parameters, and the worst numeric error against autograd."""

    family: str
    gradient: sp.Matrix
    points: int
    worst_error: float


def canonical_link_check(
    family: str | ExponentialFamily, *, n: int = 32, seed: int = 0, tol: float = 1e-10
) -> CanonicalCheck:
    """Prove ``∂NLL/∂η = mean - y`` in SymPy and confirm it with autograd on ``torch.distributions``.

    The symbolic step needs the categorical targets to sum to one, which is substituted
    (``y_0 = 1 - y_1 - ...``) before simplifying. The numeric step differentiates
    ``-distribution(eta).log_prob(y)`` at ``n`` seeded random points and compares with
    ``mean - y``; the error is absolute for values below 1 and relative above.

    >>> check = canonical_link_check("categorical", n=4)
    >>> check.gradient.T
    Matrix([[-y_0 + exp(z_0)/(exp(z_0) + exp(z_1) + exp(z_2)), ...]])
    >>> canonical_link_check("binomial")
    Traceback (most recent call last):
    ...
    ValueError: unknown family 'binomial'; known: gaussian, bernoulli, poisson, categorical
    """
    fam = _family(family)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer, got {seed!r} of type {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")

    gradient = sp.Matrix([sp.diff(fam.nll, e) for e in fam.eta])
    stated = sp.Matrix([m - t for m, t in zip(fam.mean, fam.targets, strict=True)])
    sums_to_one = {fam.targets[0]: 1 - sum(fam.targets[1:])} if len(fam.targets) > 1 else {}
    for got, want, e in zip(gradient, stated, fam.eta, strict=True):
        if not same(got.subs(sums_to_one), want.subs(sums_to_one)):
            raise AssertionError(f"{fam.name}: could not prove d NLL / d {e} == {sp.sstr(want)}")

    rng = np.random.default_rng(seed)
    eta_np, y_np = fam.sample(rng, n)
    eta = torch.tensor(eta_np, dtype=torch.float64, requires_grad=True)
    y = torch.tensor(y_np, dtype=torch.float64)
    nll = -fam.distribution(eta).log_prob(fam.target_value(y))
    (autograd,) = torch.autograd.grad(nll.sum(), eta)
    mean_fn = sp.lambdify([fam.eta], list(fam.mean), modules="numpy")
    means = np.array([mean_fn(tuple(row)) for row in eta_np], dtype=float).reshape(eta_np.shape)
    want_np = means - y_np
    errors = np.abs(autograd.numpy() - want_np) / np.maximum(np.abs(want_np), 1.0)
    worst = float(errors.max())
    if worst > tol:
        raise AssertionError(f"{fam.name}: autograd differs from mean - y by {worst:.3g} (tolerance {tol:g})")
    return CanonicalCheck(fam.name, stated, n, worst)


def _family(family: Any) -> ExponentialFamily:
    if isinstance(family, ExponentialFamily):
        return family
    if not isinstance(family, str):
        raise TypeError(f"family must be a name or an ExponentialFamily, got {type(family).__name__}")
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[family]
