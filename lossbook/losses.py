"""The registry: every loss in the book, declared once, and :func:`get`.

A registry entry (a :class:`~lossbook.Loss`) says four things about a loss and the tests
hold it to each of them:

* **what PyTorch computes** -- :attr:`Loss.expr`, the per-example loss as a SymPy
  expression in the book's notation, equal to the ``torch`` call in :attr:`Loss.torch_fn`
  (``reduction='none'``) at every sampled and edge point;
* **where that departs from the textbook** -- :attr:`Loss.textbook`, :attr:`Loss.departure`
  and, when PyTorch's backward is not the derivative of its forward, :attr:`Loss.autograd`;
* **the statistics** -- the probabilistic model, the GLM link and mean function, the best
  constant predictor;
* **the shape of the function** -- convexity in the inputs and smoothness.

The type lives in :mod:`lossbook.loss`, the domains in :mod:`lossbook.domains` and the
entries, by family, in :mod:`lossbook.family_regression`,
:mod:`lossbook.family_classification`, :mod:`lossbook.family_margin` (margin, ranking,
embedding and multi-label losses) and :mod:`lossbook.family_sequence` (CTC, the fused
linear cross-entropy and the adaptive softmax); this module re-exports them under their old
names. :func:`by_torch_class` finds the entry of a PyTorch loss class.

>>> import lossbook as lb
>>> mse = lb.get("mse")
>>> mse.expr
(\\hat{y} - y)**2
>>> float(mse.pytorch(2.0, 0.5)[0])
2.25
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from lossbook import family_classification as _cls
from lossbook import family_margin as _margin
from lossbook import family_overlap as _overlap
from lossbook import family_regression as _reg
from lossbook import family_sequence as _seq
from lossbook.domains import (
    BINARY,
    COUNTS,
    DOMAINS,
    LOG_PROBABILITIES,
    MEAN_AND_VARIANCE,
    NONNEGATIVE,
    ONE_HOT,
    POSITIVE,
    PROBABILITY,
    REAL,
    SIGNS,
    SIMPLEX,
    Domain,
    Edge,
    Hyper,
)
from lossbook.family_classification import LOGQ, Q, Z, sigmoid_focal_loss
from lossbook.loss import Loss, NoFiniteMinimiser

__all__ = [
    "BINARY",
    "COUNTS",
    "DOMAINS",
    "LOGQ",
    "LOG_PROBABILITIES",
    "LOSSES",
    "MEAN_AND_VARIANCE",
    "NONNEGATIVE",
    "ONE_HOT",
    "POSITIVE",
    "PROBABILITY",
    "REAL",
    "SIGNS",
    "SIMPLEX",
    "TORCH_ALIASES",
    "Domain",
    "Edge",
    "Hyper",
    "Loss",
    "NoFiniteMinimiser",
    "Q",
    "Z",
    "by_torch_class",
    "get",
    "sigmoid_focal_loss",
    "torch_loss_classes",
]

_CLAMP = _reg.CLAMP
_gaussian_nll_smooth = _reg.gaussian_nll_smooth
_BCE_GRAD_FLOOR = _cls.BCE_GRAD_FLOOR

#: The catalogue's order.
_ORDER = (
    "mse", "l1", "huber", "smooth_l1", "bce", "bce_with_logits", "cross_entropy",
    "cross_entropy_smoothed", "nll", "kl_div", "poisson_nll", "poisson_nll_full", "gaussian_nll",
    "soft_margin", "hinge_embedding", "focal", "pinball", "student_t_nll", "hinge",
    "squared_hinge", "exponential",
    "log_cosh",
    "soft_dice", "soft_iou",
    "multi_margin", "multilabel_margin", "multilabel_soft_margin", "cosine_embedding", "margin_ranking",
    "triplet_margin", "triplet_margin_cosine", "ctc", "linear_cross_entropy", "adaptive_log_softmax",
)  # fmt: skip


def _register_all(entries: Sequence[Loss]) -> Mapping[str, Loss]:
    table: dict[str, Loss] = {}
    for entry in entries:
        if entry.name in table:
            raise ValueError(f"duplicate loss name {entry.name!r}")
        table[entry.name] = entry
    if set(table) != set(_ORDER):
        raise ValueError(f"registry and catalogue order differ: {sorted(set(table) ^ set(_ORDER))}")
    return MappingProxyType({name: table[name] for name in _ORDER})


LOSSES: Mapping[str, Loss] = _register_all(
    (*_reg.ENTRIES, *_cls.ENTRIES, *_margin.ENTRIES, *_seq.ENTRIES, *_overlap.ENTRIES)
)
"""Every loss of the book by name, in the order the catalogue lists them (read-only)."""


#: Deprecated PyTorch loss classes that are another class under an old name (a subclass
#: that changes nothing): covered by the entry of the class they alias, not by an entry.
TORCH_ALIASES: Mapping[str, str] = MappingProxyType({"NLLLoss2d": "NLLLoss"})


def torch_loss_classes() -> list[str]:
    """Every loss class the pinned PyTorch exports: ``torch.nn.modules.loss.__all__`` plus
    ``AdaptiveLogSoftmaxWithLoss`` (a module in ``torch.nn`` that returns a loss).

    >>> "CTCLoss" in torch_loss_classes()
    True
    """
    import torch.nn.modules.loss as torch_losses

    return [*torch_losses.__all__, "AdaptiveLogSoftmaxWithLoss"]


def by_torch_class(name: str) -> Loss:
    """The registry entry that writes out PyTorch's loss class ``name`` (aliases resolved).

    >>> by_torch_class("NLLLoss2d").name
    'nll'
    >>> by_torch_class("CTCLoss").name
    'ctc'
    >>> by_torch_class("MSE")
    Traceback (most recent call last):
    ...
    ValueError: no registry entry for the PyTorch class 'MSE'; did you mean 'MSELoss'? Classes covered: ...
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a PyTorch loss class name (str), got {type(name).__name__}")
    target = TORCH_ALIASES.get(name, name)
    for entry in LOSSES.values():
        if entry.torch_class == target:
            return entry
    known = sorted({e.torch_class for e in LOSSES.values() if e.torch_class} | set(TORCH_ALIASES))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"no registry entry for the PyTorch class {name!r}{hint} Classes covered: {', '.join(known)}"
    )


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
        raise TypeError(f"name must be a loss name (str) or a lossbook.Loss, got {type(name).__name__}")
    try:
        return LOSSES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(LOSSES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown loss {name!r}{hint} Known losses: {', '.join(LOSSES)}") from None
