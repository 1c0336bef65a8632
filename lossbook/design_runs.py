"""Small seeded training runs for the design chapter: many seeds at once, with error bars.

The chapter "Choosing and designing losses" compares losses by training tiny models on data
it makes. A difference is only worth reporting if it survives a rerun, so every run is
repeated over seeds. Instead of a Python loop over seeds, the seeds share one tensor: a
parameter has a leading seed dimension ``S`` and the objective is the **sum** over seeds of
each seed's loss. The seeds do not interact, so the gradient of the sum with respect to
seed s's parameters is seed s's own gradient; SGD, Adam and AdamW act elementwise, so one
optimiser step is S independent steps (global-norm clipping or L-BFGS would couple them).

>>> import torch
>>> params = {"w": linear_init(seeds=[0, 1], fan_in=2, fan_out=1)}
>>> x = torch.randn(2, 8, 2, dtype=torch.float64)
>>> y = torch.zeros(2, 8, 1, dtype=torch.float64)
>>> history = train(params, lambda p: ((x @ p["w"] - y) ** 2).mean(dim=(1, 2)), steps=50, lr=0.1)
>>> tuple(history.shape), bool((history[-1] < history[0]).all())
((50, 2), True)
>>> mean, se = mean_se(history[-1]); bool(se >= 0)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = ["OPTIMISERS", "kfold", "linear_init", "mean_se", "pm", "train"]

#: Optimisers :func:`train` accepts (elementwise ones only: they keep seeds independent).
OPTIMISERS = ("sgd", "adam", "adamw")


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
    extra: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Minimise every seed's objective at once, full batch; return the loss history ``(steps, S)``.

    Args:
        params: leaf tensors with ``requires_grad=True`` and a leading seed dimension S.
        objective: maps ``params`` to the per-seed losses, a tensor of shape ``(S,)``.
        steps: optimiser steps.
        lr: learning rate.
        optimiser: ``"sgd"``, ``"adam"`` (its ``weight_decay`` adds λw to the gradient: an L2
            penalty) or ``"adamw"`` (decoupled decay: w ← w − lr·λ·w besides the Adam step).
        weight_decay: λ, passed to the PyTorch optimiser.
        extra: called with the step index after each step (e.g. to update loss weights).

    Each row of the history is the loss *before* that step's update.
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
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimiser]
    opt = cls(list(params.values()), lr=lr, weight_decay=weight_decay)
    seeds = next(iter(params.values())).shape[0]
    history = []
    for step in range(steps):
        opt.zero_grad()
        losses = objective(params)
        if not isinstance(losses, torch.Tensor) or tuple(losses.shape) != (seeds,):
            shape = tuple(losses.shape) if isinstance(losses, torch.Tensor) else type(losses).__name__
            raise ValueError(f"objective must return one loss per seed, shape ({seeds},), got {shape}")
        if not torch.isfinite(losses).all():
            raise FloatingPointError(f"objective is not finite at step {step}: {losses.tolist()}")
        losses.sum().backward()
        history.append(losses.detach().clone())
        opt.step()
        if extra is not None:
            extra(step)
    return torch.stack(history)


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
