"""lossbook: the helper package of *lossbook*, an executable textbook on loss functions.

Every chapter starts with ``import lossbook as lb``. The package defines each loss once
(``LOSSES``), differentiates it with SymPy (:func:`derive`) and checks the result
against PyTorch autograd and finite differences (:func:`crosscheck`). Everything a reader
needs for a loss of their own is here at the top level: :class:`Loss`, :class:`Edge`,
:class:`Hyper`, the domains (``REAL``, ``NONNEGATIVE``, ...), :func:`evaluate`.

>>> import lossbook as lb
>>> lb.crosscheck("mse").ok
True
"""

from lossbook import convexity, design, gradients, infotheory, notation, plot, reductions, sanity, stability
from lossbook.calculus import PRECISIONS, assert_equivalent, assert_same, derive, evaluate, mp_function, same
from lossbook.check import CrossCheck, Report, crosscheck
from lossbook.convexity import Counterexample, JensenPair, NotRefuted, Proof, check_convexity
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
from lossbook.gradients import canonical_link_check, probe_kink
from lossbook.infotheory import cross_entropy, entropy, js_divergence, kl_divergence
from lossbook.loss import Loss, NoFiniteMinimiser
from lossbook.losses import LOSSES, by_torch_class, get
from lossbook.notation import symbol

__all__ = [
    "BINARY",
    "COUNTS",
    "DOMAINS",
    "LOG_PROBABILITIES",
    "LOSSES",
    "MEAN_AND_VARIANCE",
    "NONNEGATIVE",
    "ONE_HOT",
    "POSITIVE",
    "PRECISIONS",
    "PROBABILITY",
    "REAL",
    "SIGNS",
    "SIMPLEX",
    "Counterexample",
    "CrossCheck",
    "Domain",
    "Edge",
    "Hyper",
    "JensenPair",
    "Loss",
    "NoFiniteMinimiser",
    "NotRefuted",
    "Proof",
    "Report",
    "assert_equivalent",
    "assert_same",
    "by_torch_class",
    "canonical_link_check",
    "check_convexity",
    "convexity",
    "cross_entropy",
    "crosscheck",
    "derive",
    "design",
    "entropy",
    "evaluate",
    "get",
    "gradients",
    "infotheory",
    "js_divergence",
    "kl_divergence",
    "mp_function",
    "notation",
    "plot",
    "probe_kink",
    "reductions",
    "same",
    "sanity",
    "stability",
    "symbol",
]

__version__ = "0.1.0"
