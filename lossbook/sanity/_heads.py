"""Helpers of :func:`lossbook.sanity.check_initial_loss`: the reader's loss options, and the
spread of the first loss over fresh heads drawn from an init scheme on the recorded head input.

A ReLU network feeds its head an input with a non-zero mean, so every weight draw gives each
class a fixed offset w_c·E[h]: the first loss varies *between* models, not only between
examples. :func:`redraw_losses` measures that variation by drawing the head's weights again
(never reading the model's logits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F


def loss_options(loss_fn, name: str) -> dict:
    """``weight``, ``pos_weight``, ``ignore_index``, ``label_smoothing`` of a loss module."""
    opts: dict = {}
    if name == "cross_entropy" and isinstance(loss_fn, nn.CrossEntropyLoss):
        opts = dict(
            weight=loss_fn.weight, ignore_index=loss_fn.ignore_index, label_smoothing=loss_fn.label_smoothing
        )
    elif name == "bce_with_logits" and isinstance(loss_fn, nn.BCEWithLogitsLoss):
        opts = dict(weight=loss_fn.weight, pos_weight=loss_fn.pos_weight)
    return {k: (v.double() if isinstance(v, torch.Tensor) else v) for k, v in opts.items() if v is not None}


def non_default(opts: dict) -> list[str]:
    """Names of the options that change the loss from the plain per-example mean."""
    return [k for k, v in opts.items() if not (k == "ignore_index" or (k == "label_smoothing" and v == 0))]


def reference(name: str, opts: dict) -> Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]:
    """The loss as the reader's module computes it, with their options, for any reduction."""

    def ref(z, t, reduction="mean"):
        if name == "cross_entropy":
            return F.cross_entropy(z, t, reduction=reduction, **opts)
        if name == "bce_with_logits":
            return F.binary_cross_entropy_with_logits(z, t, reduction=reduction, **opts)
        return F.mse_loss(z, t, reduction=reduction)

    ref.name, ref.opts = name, opts
    return ref


def best_constant(ref, shape: tuple[int, ...], targets: torch.Tensor) -> float:
    """The lowest loss a constant output (one value per class/column) reaches on this batch."""
    b = torch.zeros(shape[1:], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([b], max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = ref(b.expand(shape), targets)
        value.backward()
        return value

    opt.step(closure)
    with torch.no_grad():
        return float(ref(b.expand(shape), targets))


def redraw_losses(
    ref,
    head: nn.Module | None,
    head_input: torch.Tensor | None,
    out_shape: torch.Size,
    targets: torch.Tensor,
    *,
    scale: float,
    cap: float,
    biases: list,
    default_bias: bool,
    spread: float,
    draws: int = 200,
) -> torch.Tensor:
    """First losses of ``draws`` fresh heads per bias in ``biases``.

    With a Linear head whose output is the model's output, the weights are drawn as
    N(0, scale / fan_in) and applied to the recorded head input (rescaled to a second moment
    of at most ``cap``); PyTorch's default bias U(±1/√fan_in) is added when ``default_bias``.
    Otherwise the logits are drawn independently as N(bias, spread²).
    """
    g = torch.Generator().manual_seed(0)
    usable = (
        isinstance(head, nn.Linear)
        and head_input is not None
        and head_input.shape[:-1].numel() * head.out_features == out_shape.numel()
        and (head.out_features == 1 or tuple(out_shape) == (*head_input.shape[:-1], head.out_features))
    )
    losses = []
    if usable:
        h = head_input.double()
        m2 = float((h**2).mean())
        if m2 > cap:
            h = h * math.sqrt(cap / m2)
        fan_in, fan_out = head.in_features, head.out_features
        for bias in biases:
            bias = torch.as_tensor(bias, dtype=torch.float64).reshape(-1)
            w = torch.randn(draws, fan_out, fan_in, generator=g, dtype=torch.float64) * math.sqrt(
                scale / fan_in
            )
            z = torch.einsum("...f,rof->r...o", h, w) + (bias if bias.numel() == fan_out else bias.mean())
            if default_bias:
                u = 2 * torch.rand(draws, fan_out, generator=g, dtype=torch.float64) - 1
                z = z + u.reshape((draws,) + (1,) * (h.dim() - 1) + (fan_out,)) / math.sqrt(fan_in)
            losses += _batch_means(ref, z.reshape(draws, *out_shape), targets)
    else:
        for bias in biases:
            bias = torch.as_tensor(bias, dtype=torch.float64)
            for _ in range(draws // 4):
                z = torch.randn(out_shape, generator=g, dtype=torch.float64) * spread
                losses.append(float(ref(z + _broadcast(bias, out_shape), targets)))
    return torch.tensor(losses, dtype=torch.float64)


def _batch_means(ref, z: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """The loss of each of ``z``'s rows (one batch of logits each), in one call when possible."""
    if ref.opts.keys() - {"ignore_index", "label_smoothing"}:  # weighted means: one call per draw
        return [float(ref(zr, targets)) for zr in z]
    tt = targets.expand(len(z), *targets.shape)
    if ref.name == "cross_entropy":
        per = ref(z.movedim(-1, 1), tt, "none")
        kept = (tt != ref.opts.get("ignore_index", -(10**9))).double()
        return (per.sum(dim=1) / kept.sum(dim=1)).tolist()
    return ref(z, tt, "none").reshape(len(z), -1).mean(dim=1).tolist()


def _broadcast(bias: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if bias.dim() == 0:
        return bias
    if len(shape) >= 2 and bias.numel() == shape[1]:
        return bias.reshape((1, shape[1]) + (1,) * (len(shape) - 2))
    return bias.reshape(shape[1:]) if bias.numel() == shape[1:].numel() else bias.mean()


class Recorder:
    """Forward hooks on every Linear/Conv layer: the last one called is the head."""

    def __init__(self, model: Any):
        self.calls: list[tuple[nn.Module, float]] = []
        self.handles = []
        if isinstance(model, nn.Module):
            for module in model.modules():
                if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                    self.handles.append(module.register_forward_pre_hook(self._hook))

    def _hook(self, module, args):
        x = args[0].detach().double()
        self.calls.append((module, float((x**2).mean()), x))

    def close(self):
        for h in self.handles:
            h.remove()


class kept_buffers:
    """Restore a module's buffers (BatchNorm running statistics) on exit."""

    def __init__(self, model: Any):
        self.model = model if isinstance(model, nn.Module) else None

    def __enter__(self):
        if self.model is not None:
            self.saved = {k: v.clone() for k, v in self.model.named_buffers()}

    def __exit__(self, *exc):
        if self.model is not None:
            with torch.no_grad():
                for k, v in self.model.named_buffers():
                    v.copy_(self.saved[k])


def simulated_stderr(name, targets, shape, spread, prior_bias) -> float:
    """Standard error of the batch mean for a correct head (zero or prior bias, the largest spread)."""
    g = torch.Generator().manual_seed(0)
    worst = 0.0
    for bias in (torch.zeros(()), prior_bias):
        z = bias + spread * torch.randn(shape, generator=g, dtype=torch.float64)
        if name == "cross_entropy":
            per = F.cross_entropy(z, targets, reduction="none")
        elif name == "bce_with_logits":
            per = F.binary_cross_entropy_with_logits(z, targets.double().clamp(0, 1), reduction="none")
        else:
            per = F.mse_loss(z, targets.double(), reduction="none")
        worst = max(worst, float(per.std()))
    return worst / math.sqrt(max(shape[0], 2) - 1)
