"""Registry entries for overlap losses: soft Dice and soft IoU (Jaccard) on a small mask.

A segmentation loss scores a whole mask, not one pixel: the loss of an example is a ratio of
sums over its pixels. The registry states such a loss over a fixed mask of ``PIXELS`` = 3
pixels (inputs: one logit per pixel, targets: one 0/1 label per pixel), which is enough for
SymPy to derive and for the tests to cross-check every sum and ratio; the PyTorch functions
here take a mask of any size (the last dimension).

The ``smooth`` term s > 0 sits in numerator and denominator. It is what defines the loss on an
**empty target** (no foreground pixel): without it the Dice ratio is 0/0 when the prediction is
empty too. With it, an empty target and an empty prediction give loss 0, and an empty target
with predicted foreground mass P = Σ p gives 1 − s/(P + s).

>>> import torch
>>> z = torch.tensor([[-30.0, -30.0, -30.0]], dtype=torch.float64)
>>> float(soft_dice_loss(z, torch.zeros(1, 3, dtype=torch.float64))) < 1e-12  # empty target and prediction
True
"""

from __future__ import annotations

import sympy as sp
import torch

from lossbook import notation as nt
from lossbook.domains import BINARY, REAL, Edge, Hyper
from lossbook.loss import Loss, registry_entry

__all__ = ["ENTRIES", "PIXELS", "YS", "ZS", "S", "soft_dice_loss", "soft_iou_loss"]

#: Pixels of the registry's mask (the width of its rows).
PIXELS = 3
ZS = nt.class_symbols("z", PIXELS, real=True)
YS = nt.class_symbols("y", PIXELS, real=True)
#: The smoothing term of both losses.
S = sp.Symbol("s", positive=True)


def _check(z: torch.Tensor, y: torch.Tensor, smooth: float, name: str) -> None:
    if not isinstance(z, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(
            f"{name}: z and y must be torch tensors, got {type(z).__name__} and {type(y).__name__}"
        )
    if z.shape != y.shape or z.dim() < 1:
        raise ValueError(
            f"{name}: z (logits) and y (0/1 mask) must have the same shape (..., pixels), "
            f"got {tuple(z.shape)} and {tuple(y.shape)}"
        )
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or not smooth > 0:
        raise ValueError(
            f"{name}: smooth must be a number > 0 (it defines the loss on empty masks), got {smooth!r}"
        )


def soft_dice_loss(z: torch.Tensor, y: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft Dice loss of each mask, 1 − (2 Σ p y + s) / (Σ p + Σ y + s) with p = σ(z).

    Sums run over the last dimension (the pixels); the result has the shape of ``z`` without
    it. The linear denominator Σ p + Σ y is used (Milletari et al. 2016 square both sums).

    >>> z = torch.zeros(1, 2, dtype=torch.float64); y = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    >>> float(soft_dice_loss(z, y, smooth=1.0))  # 1 - (2*0.5 + 1) / (1 + 1 + 1)
    0.33333333333333337
    """
    _check(z, y, smooth, "soft_dice_loss")
    p = torch.sigmoid(z)
    overlap = (p * y).sum(-1)
    return 1 - (2 * overlap + smooth) / (p.sum(-1) + y.sum(-1) + smooth)


def soft_iou_loss(z: torch.Tensor, y: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """Soft IoU (Jaccard) loss of each mask, 1 − (Σ p y + s) / (Σ p + Σ y − Σ p y + s), p = σ(z).

    >>> z = torch.zeros(1, 2, dtype=torch.float64); y = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    >>> round(float(soft_iou_loss(z, y, smooth=1.0)), 6)  # 1 - 1.5 / 2.5
    0.4
    """
    _check(z, y, smooth, "soft_iou_loss")
    p = torch.sigmoid(z)
    overlap = (p * y).sum(-1)
    return 1 - (overlap + smooth) / (p.sum(-1) + y.sum(-1) - overlap + smooth)


_P = tuple(nt.sigmoid(v) for v in ZS)
_OVERLAP = sp.Add(*[p * t for p, t in zip(_P, YS, strict=True)])
_MASS = sp.Add(*_P)
_TRUE = sp.Add(*YS)
_EDGES = (
    Edge((-30.0, -30.0, -30.0), (0.0, 0.0, 0.0), note="empty target, empty prediction: loss 0"),
    Edge((30.0, 30.0, 30.0), (0.0, 0.0, 0.0), note="empty target, full prediction"),
    Edge((1000.0, -1000.0, 0.0), (1.0, 0.0, 1.0), note="saturated logits"),
    Edge((-1000.0, -1000.0, -1000.0), (1.0, 1.0, 1.0), note="everything missed"),
)
_COMMON = {
    "inputs": ZS,
    "targets": YS,
    "hyper": (Hyper(S, "smooth", 1.0, low=0.0, low_open=True),),
    "input_domain": REAL,
    "target_domain": BINARY,
    "edges": _EDGES,
    "model": "none: a set-overlap score made differentiable, not a likelihood",
    "link": "none: σ(z) turns each logit into a soft pixel membership, but the loss is not a GLM NLL",
    "convex": False,
    "smoothness": "C∞",
    "best_constant_text": (
        "no closed form: the constant logit that minimises the mean loss depends on every mask's "
        "foreground count; minimise numerically"
    ),
}

ENTRIES: tuple[Loss, ...] = (
    registry_entry(
        name="soft_dice",
        title=f"Soft Dice loss on a {PIXELS}-pixel mask of logits",
        torch_name="lossbook.family_overlap.soft_dice_loss (no torch.nn loss)",
        torch_fn=lambda x, t, smooth: soft_dice_loss(x, t, smooth=smooth),
        expr=1 - (2 * _OVERLAP + S) / (_MASS + _TRUE + S),
        refs=("milletari2016v",),
        notes=(
            "A ratio of sums over the pixels of one mask, so examples do not decompose into pixels. "
            "Not convex in the logits. s > 0 defines the loss on empty targets."
        ),
        **_COMMON,
    ),
    registry_entry(
        name="soft_iou",
        title=f"Soft IoU (Jaccard) loss on a {PIXELS}-pixel mask of logits",
        torch_name="lossbook.family_overlap.soft_iou_loss (no torch.nn loss)",
        torch_fn=lambda x, t, smooth: soft_iou_loss(x, t, smooth=smooth),
        expr=1 - (_OVERLAP + S) / (_MASS + _TRUE - _OVERLAP + S),
        refs=("rahman2016optimizing",),
        notes=(
            "Intersection over union with products for intersections; Dice D and IoU J of the same "
            "sets satisfy J = D / (2 - D) when s = 0."
        ),
        **_COMMON,
    ),
)
