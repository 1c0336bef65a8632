"""Floating-point facts the stability chapter measures: limits, exact references, summation.

* :func:`float_limits`: ``torch.finfo`` plus the *measured* thresholds where ``torch.exp``
  overflows and underflows in each dtype (found by bisection over the representable numbers);
* :func:`boundary`: the exact last number of a dtype before a property starts to hold;
* :func:`exact`: an arbitrary-precision (mpmath) evaluation that raises the working precision
  until two precisions agree, the reference every error in the chapter is measured against;
* :func:`sequential_sum`, :func:`pairwise_sum`, :func:`kahan_sum`: summation in a chosen dtype.

:mod:`lossbook.stability` re-exports all of them.

>>> import torch
>>> round(float_limits(torch.float32).exp_overflow, 4)
88.7228
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import mpmath
import torch

__all__ = [
    "DIGITS",
    "DTYPES",
    "FloatLimits",
    "boundary",
    "dtype_name",
    "exact",
    "float_limits",
    "kahan_sum",
    "pairwise_sum",
    "sequential_sum",
]

#: The four floating-point types the chapter measures, narrowest first.
DTYPES: tuple[torch.dtype, ...] = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INT_OF = {
    torch.float16: torch.int16,
    torch.bfloat16: torch.int16,
    torch.float32: torch.int32,
    torch.float64: torch.int64,
}
#: Working precisions (decimal digits) tried by :func:`exact`, in order.
DIGITS: tuple[int, ...] = (30, 60, 120, 240, 480, 960)


def _check_dtype(dtype: Any, arg: str = "dtype") -> torch.dtype:
    if dtype not in _INT_OF:
        allowed = ", ".join(dtype_name(d) for d in DTYPES)
        raise ValueError(f"{arg} must be one of {allowed}, got {dtype!r}")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` -> ``'float32'``."""
    return str(dtype).removeprefix("torch.")


# --------------------------------------------------------------------------- float limits


@dataclass(frozen=True)
class FloatLimits:
    """What ``torch.finfo`` says about a dtype, and where ``torch.exp`` breaks in it.

    ``exp_overflow`` is the largest representable x with a finite ``torch.exp(x)``;
    ``exp_subnormal`` the largest x whose exponential is below the smallest normal number;
    ``exp_zero`` the largest x whose exponential is exactly 0.
    """

    dtype: torch.dtype
    max: float
    smallest_normal: float
    smallest_subnormal: float
    eps: float
    exp_overflow: float
    exp_subnormal: float
    exp_zero: float


def _bisect_bits(dtype: torch.dtype, low: float, high: float, bad: Callable[[torch.Tensor], bool]) -> float:
    """The largest representable x in [low, high] with ``bad(x)`` False, given bad(low) is False
    and bad(high) is True and bad is monotone in x. Works on bit patterns, so it is exact."""

    def key(v: float) -> int:
        # order-preserving integer key of a float of this dtype
        bits = int(torch.tensor([v], dtype=dtype).view(_INT_OF[dtype])[0])
        return bits if bits >= 0 else -(bits + (1 << (torch.iinfo(_INT_OF[dtype]).bits - 1)))

    def value(k: int) -> torch.Tensor:
        width = torch.iinfo(_INT_OF[dtype]).bits
        bits = k if k >= 0 else (-k) | (1 << (width - 1))
        if bits >= 1 << (width - 1):
            bits -= 1 << width
        return torch.tensor([bits], dtype=_INT_OF[dtype]).view(dtype)

    lo, hi = key(low), key(high)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bad(value(mid)):
            hi = mid
        else:
            lo = mid
    return float(value(lo)[0])


def boundary(fails: Callable[[torch.Tensor], Any], dtype: torch.dtype, low: float, high: float) -> float:
    """The largest number of ``dtype`` in [low, high] where ``fails`` is still False.

    ``fails`` gets a one-element tensor of ``dtype`` and must be False at ``low``, True at
    ``high``, and switch once in between; the search bisects the bit patterns, so the answer
    is exact: the next representable number fails.

    >>> boundary(lambda z: torch.sigmoid(z) == 1, torch.float32, 0.0, 100.0)
    16.635530471801758
    >>> boundary(lambda z: torch.sigmoid(z) == 1, torch.float32, 50.0, 100.0)
    Traceback (most recent call last):
    ...
    ValueError: fails must be False at low=50.0 and True at high=100.0
    """
    _check_dtype(dtype)
    if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high):
        raise ValueError(f"low and high must be numbers with low < high, got {low!r} and {high!r}")

    def bad(x: torch.Tensor) -> bool:
        return bool(torch.as_tensor(fails(x)).reshape(-1)[0])

    if bad(torch.tensor([low], dtype=dtype)) or not bad(torch.tensor([high], dtype=dtype)):
        raise ValueError(f"fails must be False at low={low!r} and True at high={high!r}")
    return _bisect_bits(dtype, low, high, bad)


@cache
def float_limits(dtype: torch.dtype) -> FloatLimits:
    """``torch.finfo`` of ``dtype`` and the measured thresholds of ``torch.exp`` in it.

    >>> lim = float_limits(torch.float16)
    >>> lim.max, lim.exp_overflow
    (65504.0, 11.0859375)
    >>> float_limits(torch.int32)
    Traceback (most recent call last):
    ...
    ValueError: dtype must be one of float16, bfloat16, float32, float64, got torch.int32
    """
    _check_dtype(dtype)
    fi = torch.finfo(dtype)
    subnormal = float(torch.nextafter(torch.zeros(1, dtype=dtype), torch.ones(1, dtype=dtype))[0])
    top = math.log(fi.max) + 1.0
    bottom = math.log(subnormal) - 2.0
    return FloatLimits(
        dtype=dtype,
        max=float(fi.max),
        smallest_normal=float(fi.smallest_normal),
        smallest_subnormal=subnormal,
        eps=float(fi.eps),
        exp_overflow=_bisect_bits(dtype, 0.0, top, lambda x: not bool(torch.isfinite(torch.exp(x))[0])),
        exp_subnormal=_largest_below(
            dtype, bottom, 0.0, lambda x: bool(torch.exp(x)[0] < fi.smallest_normal)
        ),
        exp_zero=_largest_below(dtype, bottom, 0.0, lambda x: bool(torch.exp(x)[0] == 0)),
    )


def _largest_below(
    dtype: torch.dtype, low: float, high: float, holds: Callable[[torch.Tensor], bool]
) -> float:
    """The largest representable x in [low, high] where ``holds(x)``, for a property that holds
    at ``low`` and stops holding once (monotone)."""
    return _bisect_bits(dtype, low, high, lambda x: not holds(x))


# --------------------------------------------------------------------------- exact references


def exact(
    f: Callable[..., Sequence[Any]], args: Sequence[float], *, digits: Sequence[int] = DIGITS
) -> list[float] | None:
    """Evaluate an mpmath function exactly enough to be a reference for float64, or ``None``.

    ``f`` takes mpmath numbers and returns a list of them (for example a function made by
    ``sympy.lambdify(..., modules="mpmath")``); ``args`` are the float inputs, taken as exact.
    The working precision goes through ``digits`` until two successive precisions agree to
    20 significant digits. A zero counts as agreement only at the last precision, since
    cancellation produces zeros at any precision that is too low (1 - σ(200) is 0 below
    about 87 digits); a result that is not finite, or never agrees, gives ``None``.

    >>> import mpmath
    >>> exact(lambda v: [mpmath.log(1 - 1 / (1 + mpmath.exp(-v)))], [100.0])
    [-100.0]
    >>> exact(lambda v: [mpmath.log(1 - 1 / (1 + mpmath.exp(-v)))], [5000.0]) is None
    True
    """
    found = _exact_at(f, args, digits)
    return None if found is None else found[0]


def _exact_at(
    f: Callable[..., Sequence[Any]], args: Sequence[float], digits: Sequence[int], *, floor: float = 0.0
) -> tuple[list[float], int] | None:
    """:func:`exact`, also returning the precision that agreed.

    With ``floor > 0`` two values agree when they differ by at most 1e-20 times the larger
    of their sizes and ``floor``: enough for a comparison whose tolerance is itself absolute
    below ``floor``, and it accepts a result that is exactly zero (two parallel unit vectors
    cancelling) or far below ``floor``, which no precision pins down relatively.
    """
    if not digits or any(isinstance(d, bool) or not isinstance(d, int) or d < 15 for d in digits):
        raise ValueError(f"digits must be a non-empty sequence of integers >= 15, got {digits!r}")
    previous: list[Any] | None = None
    for i, d in enumerate(digits):
        with mpmath.workdps(d):
            try:
                values = list(f(*map(mpmath.mpf, args)))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                values = None
            last = i >= len(digits) - 1
            if (
                values is not None
                and previous is not None
                and all(
                    _agree(a, b, zero_ok=last, floor=floor) for a, b in zip(previous, values, strict=True)
                )
            ):
                return [float(v) for v in values], d
        previous = values
    return None


def _agree(a: Any, b: Any, *, zero_ok: bool, floor: float = 0.0) -> bool:
    if isinstance(a, mpmath.mpc) or isinstance(b, mpmath.mpc):
        return False
    if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
        return False
    if floor > 0:
        return bool(abs(a - b) <= mpmath.mpf(10) ** -20 * max(abs(a), abs(b), floor))
    if a == 0 or b == 0:
        return zero_ok and a == b
    return bool(abs(a - b) <= mpmath.mpf(10) ** -20 * max(abs(a), abs(b)))


# --------------------------------------------------------------------------- summation


def _floating(x: Any, arg: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(
            f"{arg} must be a floating-point torch.Tensor, got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, torch.Tensor) else "")
        )
    if x.dim() != 2:
        raise ValueError(f"{arg} must have shape (sequences, length), got {tuple(x.shape)}")
    return x


def sequential_sum(x: torch.Tensor) -> torch.Tensor:
    """Add the columns of ``x`` one at a time, rounding every partial sum to ``x.dtype``.

    Each row is an independent sequence, so many sums run side by side. This is the
    textbook ``for`` loop; its error grows like (length) × eps.

    >>> x = torch.full((1, 4096), 0.1, dtype=torch.bfloat16)
    >>> float(sequential_sum(x)[0])   # stagnates: adding 0.1 to 32 rounds back to 32
    32.0
    """
    x = _floating(x)
    acc = torch.zeros(x.shape[0], dtype=x.dtype)
    for j in range(x.shape[1]):
        acc = acc + x[:, j]
    return acc


def kahan_sum(x: torch.Tensor) -> torch.Tensor:
    """Compensated (Kahan) summation of the columns of ``x``, all arithmetic in ``x.dtype``.

    >>> x = torch.full((1, 4096), 0.1, dtype=torch.bfloat16)
    >>> float(kahan_sum(x)[0])
    410.0
    """
    x = _floating(x)
    acc = torch.zeros(x.shape[0], dtype=x.dtype)
    carry = torch.zeros_like(acc)
    for j in range(x.shape[1]):
        step = x[:, j] - carry
        total = acc + step
        carry = (total - acc) - step
        acc = total
    return acc


def pairwise_sum(x: torch.Tensor) -> torch.Tensor:
    """Pairwise (cascade) summation of the columns of ``x``, rounding each level to ``x.dtype``.

    >>> x = torch.full((1, 4096), 0.1, dtype=torch.bfloat16)
    >>> float(pairwise_sum(x)[0])
    410.0
    """
    x = _floating(x)
    while x.shape[1] > 1:
        if x.shape[1] % 2:
            x = torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)
        x = x[:, 0::2] + x[:, 1::2]
    return x[:, 0]
