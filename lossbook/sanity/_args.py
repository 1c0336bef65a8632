"""Argument checks shared by the sanity modules: every number is range-checked, NaN is refused."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def real(name: str, value: Any) -> float:
    """A finite real number (NaN and ±inf refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with ``allow_zero``)."""
    v = real(name, value)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def count(name: str, value: Any, minimum: int) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def share(name: str, value: Any) -> float:
    """A probability strictly between 0 and 1."""
    v = real(name, value)
    if not 0 < v < 1:
        raise ValueError(f"{name} (a share of positives) must lie in (0, 1), got {value!r}")
    return v


def shares(name: str, value: Any, size: int) -> np.ndarray:
    """One share in (0, 1), or one per output, broadcast to ``size``."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(size, share(name, float(arr)))
    if arr.shape != (size,) or not np.all((arr > 0) & (arr < 1)):
        raise ValueError(f"{name} must be one share in (0, 1) or {size} of them, got {value!r}")
    return arr


def prior(value: Any, classes: int | None) -> np.ndarray:
    """A class distribution: positive entries summing to 1."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"prior must be a vector of class probabilities, got {value!r}") from None
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"prior must be a vector of at least 2 class probabilities, got {value!r}")
    if classes is not None and arr.size != classes:
        raise ValueError(f"prior has {arr.size} entries but classes={classes}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0) or not math.isclose(arr.sum(), 1.0, abs_tol=1e-9):
        raise ValueError(f"prior must be positive and sum to 1, got {value!r}")
    return arr


def means(name: str, value: float | Sequence[float], size: int) -> np.ndarray:
    """One finite mean, or one per class."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a vector of {size} numbers, got {value!r}") from None
    if arr.ndim == 0:
        arr = np.full(size, real(name, float(arr)))
    if arr.shape != (size,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be one finite number or {size} of them, got {value!r}")
    return arr


def choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value
