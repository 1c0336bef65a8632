"""Experiment plumbing for the chapter "Choosing and designing losses".

Small models trained for many seeds at once, and the metrics the chapter reports. A
difference between losses is only worth reporting if it survives a rerun, so every run is
repeated over seeds; instead of a Python loop, the seeds share one tensor:

* :func:`train` minimises parameters stacked along a leading *seed* axis S, full batch. The
  objective is the **sum** of the per-seed losses; the seeds do not interact, so the gradient
  of the sum with respect to seed s's parameters is seed s's own gradient, and SGD, Adam and
  AdamW act elementwise, so one step is S independent steps (the tests check this against
  separate runs; global-norm clipping or L-BFGS would couple the seeds);
* :func:`init_mlp` and :func:`mlp` build and apply a one-hidden-layer ReLU network (or a
  linear model) for S seeds with batched matrix products, drawn from one generator;
  :func:`linear_init` draws one weight matrix per seed from that seed's own generator;
* :func:`average_precision` (the area under the precision-recall curve as a step sum),
  :func:`balanced_accuracy`, :func:`reliability` and :func:`expected_calibration_error`
  (equal-width confidence bins), :func:`fit_temperature` (temperature scaling on held-out
  logits), :func:`mean_se` and :func:`pm` (a mean over seeds with its standard error) and
  :func:`kfold` (cross-validation folds).

>>> import torch, lossbook as lb
>>> lb.design.average_precision(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([1, 0, 1, 0]))
0.8333333333333333
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar

__all__ = [
    "OPTIMISERS",
    "SCHEDULES",
    "Reliability",
    "average_precision",
    "balanced_accuracy",
    "expected_calibration_error",
    "fit_temperature",
    "init_mlp",
    "kfold",
    "linear_init",
    "mean_se",
    "mlp",
    "pm",
    "reliability",
    "softmax_focal_loss",
    "train",
]

#: Optimisers :func:`train` accepts (elementwise ones only: they keep seeds independent).
OPTIMISERS = ("sgd", "adam", "adamw")
#: Learning-rate schedules of :func:`train`: constant, or falling linearly to 0.
SCHEDULES = ("constant", "linear")

Params = dict[str, torch.Tensor]


# --------------------------------------------------------------------------- validation


def _tensor(value: object, name: str, *, dims: tuple[int, ...] | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=float))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numbers (a tensor or array), got {value!r}") from None
    if not (
        t.is_floating_point() or t.dtype in (torch.bool, torch.int64, torch.int32, torch.int16, torch.uint8)
    ):
        raise TypeError(f"{name} must be a real tensor, got dtype {t.dtype}")
    if dims is not None and t.dim() not in dims:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, dims))} dimension(s), got shape {tuple(t.shape)}"
        )
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    return t


def _labels(value: object, name: str, n: int, *, classes: int | None = 2) -> torch.Tensor:
    t = _tensor(value, name, dims=(1,))
    if t.shape[0] != n:
        raise ValueError(f"{name} must have {n} entries (one per example), got {t.shape[0]}")
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise ValueError(f"{name} must hold integer class labels, got non-integer values")
    t = t.long()
    high = classes if classes is not None else None
    if bool((t < 0).any()) or (high is not None and bool((t >= high).any())):
        allowed = f"0..{high - 1}" if high is not None else "non-negative integers"
        raise ValueError(f"{name} must hold labels in {allowed}, got values {sorted(set(t.tolist()))[:6]}")
    return t


def _seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0]
    if bad:
        raise ValueError(f"seeds must be non-negative integers, got {bad[0]!r}")
    return [int(s) for s in seeds]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _nonnegative(name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return v


# --------------------------------------------------------------------------- metrics


def average_precision(scores: object, labels: object) -> float:
    """Area under the precision-recall curve as the step sum Σ (R_n - R_{n-1}) P_n.

    The thresholds are the distinct scores from the highest down; tied scores enter
    together. This is the definition scikit-learn's ``average_precision_score`` uses (no
    interpolation). A random ranking scores about the positive share, not 0.5.

    >>> average_precision([0.2, 0.4, 0.6], [0, 0, 1])
    1.0
    """
    s = _tensor(scores, "scores", dims=(1,)).double()
    y = _labels(labels, "labels", s.shape[0])
    positives = int(y.sum())
    if positives == 0:
        raise ValueError("labels must contain at least one positive (1): precision-recall needs positives")
    order = torch.argsort(s, descending=True, stable=True)
    s, y = s[order], y[order].double()
    tp = torch.cumsum(y, 0)
    last = torch.ones_like(s, dtype=torch.bool)  # last index of every run of tied scores
    last[:-1] = s[1:] != s[:-1]
    tp, rank = tp[last], (torch.arange(1, len(s) + 1, dtype=torch.float64))[last]
    precision, recall = tp / rank, tp / positives
    steps = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return float((steps * precision).sum())


def balanced_accuracy(predicted: object, labels: object, *, classes: int = 2) -> float:
    """Mean over classes of the recall (share of each class predicted correctly).

    Every class that occurs in ``labels`` counts equally, so predicting the majority class
    everywhere scores ``1 / (number of classes present)`` however rare the others are.

    >>> balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1])
    0.5
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"classes must be an integer >= 2, got {classes!r}")
    n = _tensor(labels, "labels", dims=(1,)).shape[0]
    y = _labels(labels, "labels", n, classes=classes)
    p = _labels(predicted, "predicted", y.shape[0], classes=classes)
    recalls = [float((p[y == c] == c).double().mean()) for c in range(classes) if bool((y == c).any())]
    return float(np.mean(recalls))


@dataclass(frozen=True)
class Reliability:
    """Equal-width confidence bins: bin m holds confidences in ((m - 1)/M, m/M], bin 1 also 0.

    ``count``, ``confidence`` (mean confidence) and ``accuracy`` have one entry per bin;
    empty bins have count 0 and NaN means (they do not enter the ECE).
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        """``Σₘ (nₘ / N) |accuracyₘ - confidenceₘ|`` over non-empty bins."""
        used = self.count > 0
        weights = self.count[used] / self.count.sum()
        return float((weights * np.abs(self.accuracy[used] - self.confidence[used])).sum())


def reliability(probabilities: object, labels: object, *, bins: int = 15) -> Reliability:
    """Bin the top-class confidence of ``probabilities`` (N, C) and compare it with accuracy.

    The confidence of an example is its largest class probability and it is correct when
    that class (the first, on ties) is its label. ``bins`` equal-width bins on [0, 1], right
    edges included, as in Guo et al. (2017); 15 is their default.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    prob = _tensor(probabilities, "probabilities", dims=(2,)).double()
    if bool((prob < 0).any()) or not torch.allclose(
        prob.sum(1), torch.ones(len(prob), dtype=prob.dtype), atol=1e-6
    ):
        raise ValueError(
            "probabilities must be non-negative rows that sum to 1 (apply softmax to logits first)"
        )
    y = _labels(labels, "labels", prob.shape[0], classes=prob.shape[1])
    confidence, predicted = prob.max(1)
    correct = (predicted == y).double().numpy()
    conf = confidence.numpy()
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=bins) / count
        accuracy = np.bincount(index, weights=correct, minlength=bins) / count
    return Reliability(edges, count, mean_conf, accuracy)


def expected_calibration_error(probabilities: object, labels: object, *, bins: int = 15) -> float:
    """Expected calibration error with ``bins`` equal-width bins (see :func:`reliability`).

    >>> expected_calibration_error([[0.9, 0.1], [0.9, 0.1]], [0, 1], bins=10)
    0.4
    """
    return reliability(probabilities, labels, bins=bins).ece


def fit_temperature(logits: object, labels: object) -> float:
    """The temperature τ > 0 that minimises the mean cross-entropy of ``logits / τ``.

    Fit it on held-out data, never on the training set. The objective is convex in 1/τ
    (a log-sum-exp of linear functions plus a linear term), so a bounded scalar search on
    log τ in [log 0.05, log 20] finds the minimiser; dividing by τ never changes the argmax.
    """
    z = _tensor(logits, "logits", dims=(2,)).double()
    y = _labels(labels, "labels", z.shape[0], classes=z.shape[1])

    def nll(log_tau: float) -> float:
        return float(torch.nn.functional.cross_entropy(z / math.exp(log_tau), y))

    found = minimize_scalar(
        nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded", options={"xatol": 1e-9}
    )
    return float(math.exp(found.x))


def mean_se(values: Any, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and its standard error (sample standard deviation / √S) along ``axis``.

    >>> m, se = mean_se([1.0, 2.0, 3.0])
    >>> float(m), round(float(se), 6)
    (2.0, 0.57735)
    >>> mean_se([1.0])
    Traceback (most recent call last):
    ...
    ValueError: values must hold at least 2 seeds along axis 0 for a standard error, got 1
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0 or not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis must index a dimension of values (shape {arr.shape}), got {axis!r}")
    if arr.shape[axis] < 2:
        raise ValueError(
            f"values must hold at least 2 seeds along axis {axis} for a standard error, got {arr.shape[axis]}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("values must be finite (a diverged run is reported, not averaged)")
    return arr.mean(axis=axis), arr.std(axis=axis, ddof=1) / math.sqrt(arr.shape[axis])


def pm(values: Any, digits: int = 3) -> str:
    """``"mean ± se"`` over seeds (axis 0) at ``digits`` decimals.

    >>> pm([0.1, 0.2, 0.3], digits=2)
    '0.20 ± 0.06'
    """
    digits = _positive_int("digits", digits) if digits else 0
    m, se = mean_se(values)
    return f"{float(m):.{digits}f} ± {float(se):.{digits}f}"


def kfold(n: int, k: int, *, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` (train, validation) index pairs over ``n`` shuffled examples; folds differ by ≤ 1.

    >>> folds = kfold(10, 3, seed=0)
    >>> [len(v) for _, v in folds], sorted(np.concatenate([v for _, v in folds]).tolist()) == list(range(10))
    ([4, 3, 3], True)
    """
    n, k = _positive_int("n", n), _positive_int("k", k)
    if not 2 <= k <= n:
        raise ValueError(f"k must satisfy 2 <= k <= n = {n}, got {k}")
    order = np.random.default_rng(_seeds([seed])[0]).permutation(n)
    folds = np.array_split(order, k)
    return [(np.sort(np.concatenate(folds[:i] + folds[i + 1 :])), np.sort(f)) for i, f in enumerate(folds)]


# --------------------------------------------------------------------------- losses


def softmax_focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float) -> torch.Tensor:
    """Multi-class focal loss -(1 - p_y)^γ log p_y, unreduced (Lin et al., 2017, for C classes).

    ``logits`` has shape (..., C) and ``target`` the matching class indices; γ = 0 is
    ``F.cross_entropy(reduction='none')``. log p_y comes from ``log_softmax``.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma >= 0 or math.isinf(gamma):
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() < 1:
        raise TypeError("logits must be a floating-point tensor of shape (..., C)")
    if (
        not isinstance(target, torch.Tensor)
        or target.dtype != torch.long
        or target.shape != logits.shape[:-1]
    ):
        raise ValueError(
            f"target must be a long tensor of class indices with shape {tuple(logits.shape[:-1])}, "
            f"got {getattr(target, 'dtype', type(target).__name__)} {tuple(getattr(target, 'shape', ()))}"
        )
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return -((1 - log_p.exp()) ** gamma) * log_p


# --------------------------------------------------------------------------- models and training


def init_mlp(seeds: int, inputs: int, outputs: int, *, hidden: int = 0, seed: int = 0) -> Params:
    """Parameters of ``seeds`` independent networks, stacked along a leading seed axis.

    ``hidden = 0`` gives a linear model; otherwise one ReLU layer of that width. Weights are
    drawn like PyTorch's ``nn.Linear`` default (uniform in ±1/√fan_in), from one generator.
    """
    for name, v, low in (
        ("seeds", seeds, 1),
        ("inputs", inputs, 1),
        ("outputs", outputs, 1),
        ("hidden", hidden, 0),
    ):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, fan_in: int) -> torch.Tensor:
        return (
            (torch.rand(seeds, *shape, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)
        ).requires_grad_()

    if hidden == 0:
        return {"W": uniform(inputs, outputs, fan_in=inputs), "b": uniform(1, outputs, fan_in=inputs)}
    return {
        "W1": uniform(inputs, hidden, fan_in=inputs),
        "b1": uniform(1, hidden, fan_in=inputs),
        "W": uniform(hidden, outputs, fan_in=hidden),
        "b": uniform(1, outputs, fan_in=hidden),
    }


def mlp(params: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply the stacked networks of :func:`init_mlp` to ``x`` of shape (S, N, inputs) or (N, inputs)."""
    if x.dim() == 2:
        x = x.expand(params["W"].shape[0], *x.shape)
    if "W1" in params:
        x = torch.relu(torch.baddbmm(params["b1"], x, params["W1"]))
    return torch.baddbmm(params["b"], x, params["W"])


def linear_init(
    seeds: Sequence[int], fan_in: int, fan_out: int, *, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """One weight matrix per seed, shape ``(S, fan_in, fan_out)``, drawn as ``nn.Linear`` draws.

    Entries are uniform on ±1/√fan_in (PyTorch's default for ``nn.Linear`` weights); seed s
    uses ``torch.Generator().manual_seed(s)``, so a seed's matrix does not depend on which
    other seeds are in the batch.

    >>> w = linear_init([3, 7], 4, 2)
    >>> tuple(w.shape), bool(w.abs().max() <= 0.5)
    ((2, 4, 2), True)
    >>> bool((linear_init([7], 4, 2)[0] == w[1]).all())
    True
    """
    seeds = _seeds(seeds)
    fan_in, fan_out = _positive_int("fan_in", fan_in), _positive_int("fan_out", fan_out)
    bound = 1.0 / math.sqrt(fan_in)
    mats = []
    for s in seeds:
        g = torch.Generator().manual_seed(s)
        mats.append((torch.rand(fan_in, fan_out, generator=g, dtype=dtype) * 2 - 1) * bound)
    return torch.stack(mats).requires_grad_(True)


def train(
    params: Mapping[str, torch.Tensor],
    objective: Callable[[Mapping[str, torch.Tensor]], torch.Tensor],
    *,
    steps: int,
    lr: float,
    optimiser: str = "adam",
    weight_decay: float = 0.0,
    schedule: str = "constant",
    extra: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Minimise every seed's objective at once, full batch; return the loss history ``(steps, S)``.

    Args:
        params: leaf tensors with ``requires_grad=True`` and a leading seed dimension S
            (:func:`init_mlp`, :func:`linear_init`); trained in place.
        objective: maps ``params`` to the per-seed losses, a tensor of shape ``(S,)`` (S may
            count several variants times seeds, when the leading axes of ``params`` do).
        steps: optimiser steps.
        lr: learning rate.
        optimiser: ``"sgd"`` (plain gradient descent: the step shows the gradient's size),
            ``"adam"`` (its ``weight_decay`` adds λw to the gradient: an L2 penalty) or
            ``"adamw"`` (decoupled decay: w ← w − lr·λ·w besides the Adam step).
        weight_decay: λ, passed to the PyTorch optimiser.
        schedule: ``"constant"``, or ``"linear"``: the learning rate falls linearly to 0, which
            lets non-smooth losses (L1, pinball) settle instead of oscillating.
        extra: called with the step index after each step (e.g. to update loss weights).

    Each row of the history is the loss *before* that step's update.

    >>> params = {"w": linear_init([0, 1], fan_in=2, fan_out=1)}
    >>> x = torch.randn(2, 8, 2, dtype=torch.float64)
    >>> history = train(params, lambda p: ((x @ p["w"]) ** 2).mean(dim=(1, 2)), steps=50, lr=0.1)
    >>> tuple(history.shape), bool((history[-1] < history[0]).all())
    ((50, 2), True)
    """
    if not isinstance(params, Mapping) or not params:
        raise TypeError(f"params must be a non-empty dict of tensors, got {type(params).__name__}")
    for name, p in params.items():
        if (
            not isinstance(p, torch.Tensor)
            or not p.is_floating_point()
            or not p.requires_grad
            or not p.is_leaf
        ):
            raise ValueError(f"params[{name!r}] must be a floating leaf tensor with requires_grad=True")
    if not callable(objective):
        raise TypeError(
            f"objective must be a function of params returning per-seed losses, got {objective!r}"
        )
    steps = _positive_int("steps", steps)
    lr = _nonnegative("lr", lr, positive=True)
    weight_decay = _nonnegative("weight_decay", weight_decay)
    if optimiser not in OPTIMISERS:
        raise ValueError(f"optimiser must be one of {', '.join(OPTIMISERS)}, got {optimiser!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimiser]
    opt = cls(list(params.values()), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / steps if schedule == "linear" else 1.0)
    history = []
    for step in range(steps):
        opt.zero_grad()
        losses = objective(params)
        if not isinstance(losses, torch.Tensor) or losses.dim() != 1:
            shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
            raise ValueError(f"objective must return one loss per seed, a tensor of shape (S,), got {shape}")
        if not torch.isfinite(losses).all():
            raise FloatingPointError(f"objective is not finite at step {step}: {losses.tolist()}")
        losses.sum().backward()
        history.append(losses.detach().clone())
        opt.step()
        sched.step()
        if extra is not None:
            extra(step)
    return torch.stack(history)
