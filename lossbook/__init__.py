"""lossbook: the helper package of *lossbook*, an executable textbook on loss functions.

Every chapter starts with ``import lossbook as lb``. The package defines each loss once
(:data:`LOSSES`), differentiates it with SymPy (:func:`derive`) and checks the result
against PyTorch autograd and finite differences (:func:`crosscheck`).

>>> import lossbook as lb
>>> lb.crosscheck("mse").ok
True
"""

from lossbook import convexity, gradients, infotheory, notation, plot, sanity, stability
from lossbook.calculus import assert_equivalent, assert_same, derive, same
from lossbook.check import CrossCheck, Report, crosscheck
from lossbook.convexity import Counterexample, JensenPair, NotRefuted, Proof, check_convexity
from lossbook.gradients import canonical_link_check, probe_kink
from lossbook.infotheory import cross_entropy, entropy, js_divergence, kl_divergence
from lossbook.losses import LOSSES, Domain, Edge, Hyper, Loss, get

__all__ = [
    "LOSSES",
    "Counterexample",
    "CrossCheck",
    "Domain",
    "Edge",
    "Hyper",
    "JensenPair",
    "Loss",
    "NotRefuted",
    "Proof",
    "Report",
    "assert_equivalent",
    "assert_same",
    "canonical_link_check",
    "check_convexity",
    "convexity",
    "cross_entropy",
    "crosscheck",
    "derive",
    "entropy",
    "get",
    "gradients",
    "infotheory",
    "js_divergence",
    "kl_divergence",
    "notation",
    "plot",
    "probe_kink",
    "same",
    "sanity",
    "stability",
]

__version__ = "0.1.0"
