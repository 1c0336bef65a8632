"""The book's figure style and plotting helpers. Helpers return Axes and never call show.

The palette is Okabe and Ito's, which stays distinguishable under the common forms of
colour blindness; every line also gets its own dash pattern so figures survive greyscale.

>>> import lossbook as lb
>>> ax = lb.plot.loss_curve("huber", target=0.0)
>>> [line.get_label() for line in ax.get_lines()]
['loss', 'gradient']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes

from lossbook.losses import PROBABILITY, Loss, get
from lossbook.notation import plain

__all__ = ["DASHES", "PALETTE", "loss_curve", "new_axes", "use_book_style"]

#: Okabe-Ito colours (Okabe & Ito, 2008), black last.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
#: One dash pattern per colour, in the same order.
DASHES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (3, 1)), (0, (1, 2)), "-")


def use_book_style() -> None:
    """Apply the book's matplotlib style (palette, dashes, sizes) for this session."""
    mpl.rcParams.update(
        {
            "axes.prop_cycle": cycler(color=PALETTE) + cycler(linestyle=DASHES),
            "figure.figsize": (6.0, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 11,
            "lines.linewidth": 2.0,
        }
    )


def new_axes(ncols: int = 1, **kwargs: Any) -> Axes | np.ndarray:
    """A new figure in the book's style with ``ncols`` side-by-side Axes."""
    if not isinstance(ncols, int) or isinstance(ncols, bool) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    use_book_style()
    width, height = mpl.rcParams["figure.figsize"]
    _, axes = plt.subplots(1, ncols, figsize=(width * min(ncols, 2), height), **kwargs)
    return axes


def loss_curve(
    loss: str | Loss,
    *,
    target: float | Sequence[float] = (),
    inputs: Sequence[float] | None = None,
    wrt: int = 0,
    grid: Sequence[float] | np.ndarray | None = None,
    gradient: bool = True,
    ax: Axes | None = None,
    **hyper: Any,
) -> Axes:
    """Plot a loss (and autograd's derivative) against one input, the others held fixed.

    Values come from the PyTorch function of the registry entry, so the figure shows what
    PyTorch computes.

    Args:
        loss: registry name or :class:`~lossbook.Loss`.
        target: the target values, one per target symbol.
        inputs: values of all inputs; input ``wrt`` is replaced by the grid.
        wrt: index of the input on the horizontal axis.
        grid: values for that input (default: 401 points in [-3, 3] or the input's domain).
        gradient: also plot the derivative with respect to that input.
        ax: Axes to draw on (default: a new one).
        **hyper: hyperparameters.
    """
    loss = get(loss)
    if isinstance(wrt, bool) or not isinstance(wrt, int) or not 0 <= wrt < loss.n_inputs:
        raise ValueError(f"{loss.name}: wrt must be an input index in [0, {loss.n_inputs}), got {wrt!r}")
    try:
        t = np.atleast_1d(np.asarray(target, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(
            f"{loss.name}: target must be numbers, one per target symbol, got {target!r}"
        ) from None
    if t.size != loss.n_targets:
        raise ValueError(f"{loss.name}: target must have {loss.n_targets} value(s), got {t.size}")
    if grid is None:
        low, high = (1e-3, 1 - 1e-3) if loss.input_domain is PROBABILITY else (-3, 3)
        grid = np.linspace(low, high, 401)
    try:
        grid = np.asarray(grid, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"{loss.name}: grid must be a sequence of numbers, got {grid!r}") from None
    try:
        base = np.zeros(loss.n_inputs) if inputs is None else np.asarray(inputs, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            f"{loss.name}: inputs must be numbers, one per input symbol, got {inputs!r}"
        ) from None
    if base.shape != (loss.n_inputs,):
        raise ValueError(f"{loss.name}: inputs must have {loss.n_inputs} value(s), got {base.shape}")
    x = np.tile(base, (grid.size, 1))
    x[:, wrt] = grid
    targets = np.tile(t, (grid.size, 1))
    values = loss.pytorch(x, targets, **hyper).detach().numpy()
    if ax is None:
        ax = new_axes()
    name = plain(loss.inputs[wrt])
    ax.plot(grid, values, label="loss")
    if gradient:
        slope = loss.gradient(x, targets, **hyper)[:, wrt].numpy()
        ax.plot(grid, slope, label="gradient")
    ax.set_xlabel(name)
    ax.legend()
    return ax
