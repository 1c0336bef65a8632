"""Approximations of the initial loss: small- and large-spread laws, and where each holds.

Derived in the chapter "Sanity checks" (proposition prop-ce-spread).
"""

from __future__ import annotations

import math
from functools import lru_cache

import scipy.integrate
import scipy.optimize
import scipy.special
import scipy.stats

from lossbook.sanity import _args

__all__ = ["large_spread", "quadratic_range", "sphere_mgf"]

_PHI = scipy.stats.norm


@lru_cache(maxsize=64)
def _max_and_gap(classes: int) -> tuple[float, float]:
    """E[max of C standard normals] and the density at 0 of the gap between the top two."""
    c = classes
    mean_max, _ = scipy.integrate.quad(
        lambda x: c * x * _PHI.pdf(x) * _PHI.cdf(x) ** (c - 1), -12, 12, limit=200
    )
    gap0, _ = scipy.integrate.quad(
        lambda x: c * (c - 1) * _PHI.pdf(x) ** 2 * _PHI.cdf(x) ** (c - 2), -12, 12, limit=200
    )
    return float(mean_max), float(gap0)


def large_spread(loss: str, spread: float, classes: int = 2) -> float:
    """Large-spread asymptote of the initial loss for zero-mean logits of spread s.

    * ``"bce_with_logits"``: s/√(2π) + π²/(6√(2π) s);
    * ``"cross_entropy"``: e_C s + (π²/12) g_C / s, with e_C the mean of the largest of C
      standard normals and g_C the density at 0 of the gap between the two largest.

    >>> round(large_spread("bce_with_logits", 10.0), 3)
    4.055
    """
    s = _args.positive("spread", spread)
    _args.choice("loss", loss, ("bce_with_logits", "cross_entropy"))
    if loss == "bce_with_logits":
        return s / math.sqrt(2 * math.pi) + math.pi**2 / (6 * math.sqrt(2 * math.pi) * s)
    mean_max, gap0 = _max_and_gap(_args.count("classes", classes, 2))
    return mean_max * s + math.pi**2 / 12 * gap0 / s


def sphere_mgf(kappa: float, dim: int) -> float:
    """E[exp(κ cos)] for the cosine of two independent uniform unit vectors in R^dim.

    The hypergeometric function 0F1(; d/2; κ²/4) (equivalently Γ(d/2)(κ/2)^{1-d/2} I_{d/2-1}(κ)).

    >>> round(sphere_mgf(1.0, 3), 12) == round(math.sinh(1.0), 12)  # d = 3: sinh(κ)/κ
    True
    """
    k = _args.positive("kappa", kappa, allow_zero=True)
    d = _args.count("dim", dim, 2)
    return float(scipy.special.hyp0f1(d / 2, k * k / 4))


def quadratic_range(loss: str, level: float, *, classes: int = 2, samples: int = 40_000) -> float:
    """Largest logit spread s at which the second-order rule is within ``level`` (relative).

    For ``"bce_with_logits"`` (ln 2 + s²/8) or ``"cross_entropy"`` with ``classes``
    (ln C + (C - 1)s²/(2C)); zero-mean logits. Cross-entropy uses Monte Carlo with common
    random numbers, so the answer is accurate to about the Monte Carlo error.

    >>> round(quadratic_range("bce_with_logits", 0.01), 2)
    0.89
    """
    lv = _args.positive("level", level)
    _args.choice("loss", loss, ("bce_with_logits", "cross_entropy"))

    from lossbook.sanity.expect import expected_initial_loss

    def error(s: float) -> float:
        if loss == "bce_with_logits":
            e = expected_initial_loss(loss, logit_std=s)
        else:
            e = expected_initial_loss(loss, classes=classes, logit_std=s, samples=samples)
        return abs(e.second_order - e.value) / e.value - lv

    return float(scipy.optimize.brentq(error, 0.05, 20.0, xtol=1e-3))
