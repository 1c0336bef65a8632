"""Sanity checks: the loss you should see at initialisation, and checks to run on a model.

Derived in the chapter "Sanity checks" and its sub-pages. :func:`expected_initial_loss`
gives the first loss of a correctly initialised model for sixteen PyTorch losses, with the
assumptions and approximations beside it; :func:`check_initial_loss` is the one call a
reader makes before the first optimiser step; :mod:`lossbook.sanity.suite` is the seeded set
of broken and healthy models the check is measured on.

>>> import lossbook as lb
>>> e = lb.sanity.expected_initial_loss("cross_entropy", classes=10)
>>> round(e.value, 6), e.rule_of_thumb == e.value
(2.302585, True)
"""

from lossbook.sanity import suite
from lossbook.sanity.approx import large_spread, quadratic_range, sphere_mgf
from lossbook.sanity.check import INIT_SCALES, InitialLossReport, check_initial_loss
from lossbook.sanity.contrastive import ContrastiveStats, contrastive_stats
from lossbook.sanity.expect import LOSSES, Expectation, expected_initial_loss
from lossbook.sanity.tools import gradient_check, init_output_bias

__all__ = [
    "INIT_SCALES",
    "LOSSES",
    "ContrastiveStats",
    "Expectation",
    "InitialLossReport",
    "check_initial_loss",
    "contrastive_stats",
    "expected_initial_loss",
    "gradient_check",
    "init_output_bias",
    "large_spread",
    "quadratic_range",
    "sphere_mgf",
    "suite",
]
