"""What PyTorch's ``reduction='mean'`` divides by, measured rather than assumed.

A PyTorch loss reduces its unreduced values with ``'sum'`` or with a mean whose denominator
depends on the loss and its options: the number of elements, the summed class weights of the
counted targets, the batch size (``'batchmean'``). :func:`measure` calls a loss three ways and
returns the denominator PyTorch used, ``'sum'`` divided by the mean, next to the one a rule
states; :class:`DenominatorTable` collects such rows, renders them and asserts each.

The chapter "The PyTorch loss catalogue" builds its table of every denominator with these.

>>> import torch
>>> import torch.nn.functional as F
>>> import lossbook as lb
>>> x, t = torch.zeros(8, 5, dtype=torch.float64), torch.ones(8, 5, dtype=torch.float64)
>>> row = lb.reductions.measure("mse_loss, input (8, 5)", "elements N·C", 40,
...                             lambda reduction: F.mse_loss(x, t, reduction=reduction))
>>> row.measured, row.ok
(40.0, True)
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = ["Denominator", "DenominatorTable", "measure"]

#: Relative tolerance for "the measured denominator equals the stated one" (float64 round-off).
RTOL = 1e-12
_MEANS = ("mean", "batchmean")


@dataclass(frozen=True)
class Denominator:
    """One row: a loss call, the rule for its mean, the rule's value and PyTorch's."""

    call: str
    rule: str
    stated: float
    measured: float

    @property
    def ok(self) -> bool:
        return math.isclose(self.measured, self.stated, rel_tol=RTOL, abs_tol=0.0)


def _reduce(fn: Callable[[str], torch.Tensor], reduction: str) -> torch.Tensor:
    out = fn(reduction)
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise TypeError(
            f"fn must return a floating torch.Tensor for reduction={reduction!r}, got {type(out).__name__}"
        )
    return out.detach().double()


def measure(
    call: str, rule: str, stated: float, fn: Callable[[str], torch.Tensor], mean: str = "mean"
) -> Denominator:
    """The denominator of ``fn``'s mean: ``fn('sum') / fn(mean)``, with the stated one.

    ``fn(reduction)`` must compute one loss with the given ``reduction``. ``mean`` is
    ``'mean'`` or ``'batchmean'`` (KLDivLoss). Before dividing, the unreduced values are
    checked to add up to ``'sum'``, so a row cannot mix two different calls.

    >>> measure("x", "y", 1, lambda r: torch.zeros(3, dtype=torch.float64).sum())
    Traceback (most recent call last):
    ...
    ValueError: x: fn('none') must return the unreduced losses, got shape ()
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function of the reduction (str), got {fn!r}")
    if mean not in _MEANS:
        raise ValueError(f"mean must be one of {_MEANS}, got {mean!r}")
    if isinstance(stated, bool) or not isinstance(stated, (int, float)) or not stated > 0:
        raise ValueError(f"stated must be a positive number (the rule's denominator), got {stated!r}")
    none, total, averaged = (_reduce(fn, r) for r in ("none", "sum", mean))
    if none.dim() == 0:
        raise ValueError(f"{call}: fn('none') must return the unreduced losses, got shape ()")
    if total.dim() != 0 or averaged.dim() != 0:
        raise ValueError(f"{call}: fn('sum') and fn({mean!r}) must return scalars")
    if not torch.isclose(none.sum(), total, rtol=RTOL, atol=0.0):
        raise ValueError(f"{call}: the 'none' values do not add up to 'sum': is fn one loss call?")
    if averaged.item() == 0 or not math.isfinite(averaged.item()):
        raise ValueError(f"{call}: the {mean!r} value is {averaged.item()}, so 'sum' / {mean!r} is undefined")
    return Denominator(call, rule, float(stated), (total / averaged).item())


@dataclass(frozen=True)
class DenominatorTable:
    """Rows of :func:`measure`; renders as a table and asserts every row with ``assert_ok()``."""

    rows: Sequence[Denominator]

    def assert_ok(self) -> None:
        bad = [r for r in self.rows if not r.ok]
        if bad:
            lines = "; ".join(f"{r.call}: stated {r.stated:g}, PyTorch {r.measured:.6g}" for r in bad)
            raise AssertionError(f"denominator(s) differ from the stated rule: {lines}")

    def _repr_markdown_(self) -> str:
        head = "| call | `'mean'` divides by | rule's value | `'sum'` / mean in PyTorch | equal |\n|---|---|---|---|---|"
        body = [
            f"| {html.escape(r.call, quote=False)} | {r.rule} | {r.stated:g} | {r.measured:.6g} | {'yes' if r.ok else '**no**'} |"
            for r in self.rows
        ]
        return "\n".join([head, *body])

    def __repr__(self) -> str:
        return f"DenominatorTable({len(self.rows)} rows, {'all equal' if all(r.ok for r in self.rows) else 'MISMATCH'})"
