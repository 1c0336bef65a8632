"""Experiment plumbing for the chapter "Choosing and designing losses".

Small models trained for many seeds at once, and the metrics the chapter reports:

* :func:`train` runs full-batch Adam on parameters stacked along a leading *seed* axis.
  Adam's update is elementwise, so minimising the **sum** of the per-seed losses trains every
  seed exactly as if it ran alone (the tests check this against separate runs);
* :func:`init_mlp` and :func:`mlp` build and apply a one-hidden-layer ReLU network (or a
  linear model) for ``S`` seeds with batched matrix products;
* :func:`average_precision` (the area under the precision-recall curve as a step sum),
  :func:`balanced_accuracy`, :func:`reliability` and :func:`expected_calibration_error`
  (equal-width confidence bins), :func:`fit_temperature` (temperature scaling on held-out
  logits) and :func:`mean_and_error` (a mean over seeds with its standard error).

>>> import torch, lossbook as lb
>>> lb.design.average_precision(torch.tensor([0.9, 0.8, 0.3, 0.1]), torch.tensor([1, 0, 1, 0]))
0.8333333333333333
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize_scalar

__all__ = [
    "Reliability",
    "average_precision",
    "balanced_accuracy",
    "expected_calibration_error",
    "fit_temperature",
    "init_mlp",
    "mean_and_error",
    "mlp",
    "reliability",
    "softmax_focal_loss",
    "train",
]

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


def mean_and_error(values: object, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds and its standard error s / √S (``axis`` is the seed axis).

    >>> m, e = mean_and_error([[1.0, 10.0], [3.0, 10.0]])
    >>> m.tolist(), e.tolist()
    ([2.0, 10.0], [1.0, 0.0])
    """
    v = np.asarray(_tensor(values, "values").double().numpy())
    if isinstance(axis, bool) or not isinstance(axis, int) or not -v.ndim <= axis < v.ndim:
        raise ValueError(f"axis must be an axis of values (shape {v.shape}), got {axis!r}")
    if v.shape[axis] < 2:
        raise ValueError(
            f"values need at least 2 seeds along axis {axis} for an error bar, got {v.shape[axis]}"
        )
    return np.asarray(v.mean(axis=axis)), np.asarray(v.std(axis=axis, ddof=1) / math.sqrt(v.shape[axis]))


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


def train(
    params: Params,
    objective: Callable[[Params], torch.Tensor],
    *,
    steps: int,
    lr: float,
    decay: bool = True,
    optimiser: str = "adam",
) -> np.ndarray:
    """Full-batch Adam (or plain gradient descent) on ``params``, in place; returns the per-seed loss history.

    ``objective(params)`` returns one loss per seed, shape (S,). Adam and gradient descent
    (``optimiser="sgd"``) are elementwise, so stepping on the sum trains each seed
    independently. With ``decay`` the learning rate falls linearly to 0, which lets non-smooth
    losses (L1, pinball) settle instead of oscillating. Gradient descent shows the size of
    the gradient directly; Adam divides it out.
    """
    if optimiser not in ("adam", "sgd"):
        raise ValueError(f"optimiser must be 'adam' or 'sgd', got {optimiser!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if not isinstance(lr, (int, float)) or not lr > 0 or math.isinf(lr):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    leaves = list(params.values())
    if not leaves or not all(isinstance(p, torch.Tensor) and p.requires_grad for p in leaves):
        raise TypeError("params must map names to tensors with requires_grad=True (see init_mlp)")
    opt = torch.optim.Adam(leaves, lr=lr) if optimiser == "adam" else torch.optim.SGD(leaves, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1 - k / steps if decay else 1.0)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        per_seed = objective(params)
        if per_seed.dim() != 1:
            raise ValueError(
                f"objective must return one loss per seed, shape (S,), got {tuple(per_seed.shape)}"
            )
        per_seed.sum().backward()
        opt.step()
        sched.step()
        history.append(per_seed.detach().numpy().copy())
    return np.array(history)
