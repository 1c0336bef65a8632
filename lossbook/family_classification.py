"""Registry entries for classification losses: probabilities, logits, margins, distributions.

Every PyTorch function here follows the contract of :mod:`lossbook.loss`: a one-input loss
gets its input as a 1-D tensor of shape ``(N,)``, a class loss its ``(N, C)`` logits.
Best constants take the targets as a 2-D array and every hyperparameter as a keyword,
and raise :class:`~lossbook.loss.NoFiniteMinimiser` where no finite constant is optimal.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

from lossbook import notation as nt
from lossbook.domains import (
    BINARY,
    LOG_PROBABILITIES,
    NONNEGATIVE,
    ONE_HOT,
    PROBABILITY,
    SIGNS,
    SIMPLEX,
    Edge,
    Hyper,
)
from lossbook.loss import Loss, NoFiniteMinimiser, registry_entry

__all__ = ["BCE_GRAD_FLOOR", "ENTRIES", "LOGQ", "Q", "Z", "sigmoid_focal_loss"]

Array = np.ndarray
y, z, p = nt.y, nt.z, nt.p
C = nt.C_DEFAULT
Z = nt.class_symbols("z", real=True)
LOGQ = nt.class_symbols(r"\ell", real=True)
Q = nt.class_symbols("q", nonnegative=True)
#: PyTorch's BCE backward divides by max(p(1-p), EPSILON) with EPSILON = 1e-12 stored as a
#: float32 constant, even for float64 tensors: 9.999999960041972e-13.
BCE_GRAD_FLOOR = sp.Float(float(np.float32(1e-12)), 20)


def sigmoid_focal_loss(z: torch.Tensor, y: torch.Tensor, *, gamma: float, alpha: float) -> torch.Tensor:
    """Binary focal loss on logits, unreduced (Lin et al., 2017, eq. 5).

    ``alpha`` weights the positive class and ``1 - alpha`` the negative one; the
    cross-entropy factor is computed from logits, as ``torchvision.ops.sigmoid_focal_loss``
    does (torchvision is not a dependency of the book).

    >>> z = torch.tensor([0.0], dtype=torch.float64); y = torch.tensor([1.0], dtype=torch.float64)
    >>> float(sigmoid_focal_loss(z, y, gamma=0.0, alpha=0.5) * 2)  # = BCE = ln 2
    0.6931471805599453
    """
    p = torch.sigmoid(z)
    ce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return alpha_t * (1 - p_t) ** gamma * ce


# --------------------------------------------------------------------------- best constants


def _share(t: Array, name: str, low: float, high: float, scale: float = 1.0) -> Array:
    """``scale`` times the log-odds of the share of the high label (soft targets count fractionally)."""
    share = float(np.mean((t[:, 0] - low) / (high - low)))
    if share in (0.0, 1.0):
        label = f"{high:g}" if share == 1.0 else f"{low:g}"
        direction = "+∞" if share == 1.0 else "-∞"
        raise NoFiniteMinimiser(
            f"{name}: no finite best constant: every target is {label}, so the mean loss decreases "
            f"towards its infimum 0 as z → {direction}"
        )
    return np.array([scale * math.log(share / (1.0 - share))])


def _log_class_prior(t: Array, name: str, label_smoothing: float = 0.0) -> Array:
    prior = (1.0 - label_smoothing) * t.mean(axis=0) + label_smoothing / t.shape[1]
    absent = np.flatnonzero(prior == 0)
    if absent.size:
        classes = ", ".join(map(str, absent))
        raise NoFiniteMinimiser(
            f"{name}: no finite best constant: class(es) {classes} never occur in the targets, so "
            "the mean loss keeps decreasing as their logits go to -∞ relative to the others"
        )
    return np.log(prior)


def _majority_sign(t: Array, **_: float) -> Array:
    return np.array([1.0 if np.mean(t[:, 0] == 1) > 0.5 else -1.0])


def _hinge_embedding_constant(t: Array, margin: float = 1.0) -> Array:
    share_positive = float(np.mean(t[:, 0] == 1))
    return np.array([margin if share_positive < 0.5 else 0.0])


def _cross_entropy_expr(smoothing: sp.Expr) -> sp.Expr:
    probs = nt.softmax(Z)
    return -sp.Add(
        *[((1 - smoothing) * q + smoothing / C) * sp.log(pc) for q, pc in zip(Q, probs, strict=True)]
    )


def _xlogx(q: sp.Expr) -> sp.Expr:
    """q log q with its limit 0 at q = 0 (scipy.special.xlogy(q, q))."""
    return sp.Piecewise((0, sp.Eq(q, 0)), (q * sp.log(q), True))


_one_hot_edges = (
    Edge((1000.0, 0.0, -1000.0), (0.0, 0.0, 1.0), note="huge logits, wrong class"),
    Edge((1000.0, 0.0, -1000.0), (1.0, 0.0, 0.0), note="huge logits, right class"),
    Edge((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), note="all logits equal"),
    Edge((-40.0, 40.0, 0.0), (0.0, 0.0, 1.0)),
)
_MARGIN = {"model": "none: a margin-based surrogate of the 0-1 loss"}

ENTRIES: tuple[Loss, ...] = (
    registry_entry(
        name="bce",
        title="Binary cross-entropy on probabilities",
        torch_name="torch.nn.functional.binary_cross_entropy",
        torch_class="BCELoss",
        torch_fn=lambda x, t: F.binary_cross_entropy(x, t, reduction="none"),
        expr=-(y * sp.Max(sp.log(p), -100) + (1 - y) * sp.Max(sp.log(1 - p), -100)),
        textbook=-(y * sp.log(p) + (1 - y) * sp.log(1 - p)),
        departure=(
            "PyTorch clamps each log at -100, so the loss never exceeds 100 per example "
            "(the textbook value is +inf at p = 0 with y = 1); its backward divides by "
            "max(p(1 - p), 1e-12) (the float32 value of 1e-12) instead of p(1 - p), so "
            "the gradient is bounded by about 1e12 in size, not the derivative of the clamped forward."
        ),
        autograd=((p - y) / sp.Max(p * (1 - p), BCE_GRAD_FLOOR),),
        inputs=(p,),
        targets=(y,),
        input_domain=PROBABILITY,
        target_domain=PROBABILITY,
        edges=(
            Edge((1e-7,), (1.0,), note="p near 0, y = 1"),
            Edge((1.0 - 1e-7,), (0.0,), note="p near 1, y = 0"),
            Edge((1e-15,), (1.0,), note="inside the gradient clamp p(1-p) < 1e-12"),
            Edge((1e-50,), (1.0,), note="inside the log clamp: loss is 100"),
            Edge((0.0,), (0.0,), note="p = 0 with y = 0: loss 0"),
            Edge((0.0,), (1.0,), note="p = 0 with y = 1: the clamp gives 100"),
            Edge((1.0,), (1.0,), note="p = 1 with y = 1: loss 0"),
            Edge((0.5,), (0.3,), note="soft target"),
        ),
        model="y ~ Bernoulli(p)",
        link="identity on p: the input is the Bernoulli mean itself",
        mean_function="p",
        convex=True,
        smoothness="C∞ on 0 < p < 1 (textbook form)",
        best_constant=lambda t, **_: np.array([t[:, 0].mean()]),
        best_constant_text="p = mean of y",
        refs=("bishop2006pattern", "pytorch2019"),
        notes=(
            "The convexity and smoothness claims are for the textbook form: PyTorch's clamp "
            "min(-log p, 100) adds a concave kink at p = e^-100, below which the loss is flat."
        ),
    ),
    registry_entry(
        name="bce_with_logits",
        title="Binary cross-entropy on logits",
        torch_name="torch.nn.functional.binary_cross_entropy_with_logits",
        torch_class="BCEWithLogitsLoss",
        torch_fn=lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
        expr=-(y * sp.log(nt.sigmoid(z)) + (1 - y) * sp.log(1 - nt.sigmoid(z))),
        inputs=(z,),
        targets=(y,),
        target_domain=PROBABILITY,
        edges=(
            Edge((1000.0,), (0.0,), note="huge logit, wrong label"),
            Edge((-1000.0,), (1.0,), note="huge negative logit, wrong label"),
            Edge((1000.0,), (1.0,), note="huge logit, right label"),
            Edge((40.0,), (1.0,), note="loss 4e-18: PyTorch must return a tiny value, not 1 - 1"),
        ),
        model="y ~ Bernoulli(p) with p = σ(z)",
        link="logit (canonical): z = log(p / (1 - p))",
        mean_function="p = σ(z)",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t, **_: _share(t, "bce_with_logits", 0.0, 1.0),
        best_constant_text="z = log-odds of the mean target (none when every target is 0 or every target is 1)",
        refs=("bishop2006pattern", "mccullagh1989generalized"),
    ),
    registry_entry(
        name="cross_entropy",
        title="Softmax cross-entropy (class indices)",
        torch_name="torch.nn.functional.cross_entropy",
        torch_class="CrossEntropyLoss",
        torch_fn=lambda x, t: F.cross_entropy(x, t.argmax(dim=1), reduction="none"),
        expr=_cross_entropy_expr(sp.Integer(0)),
        inputs=Z,
        targets=Q,
        target_domain=ONE_HOT,
        edges=_one_hot_edges,
        model="y ~ Categorical(p) with p = softmax(z)",
        link="multinomial logit (canonical): z_c = log p_c + a constant common to all classes",
        mean_function="p = softmax(z)",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t, **_: _log_class_prior(t, "cross_entropy"),
        best_constant_text="z_c = log of the class frequency (plus any common constant; none when a class is absent)",
        refs=("bishop2006pattern", "goodfellow2016deep"),
        notes=f"Written out for C = {C} classes; the target is the one-hot row of the class index.",
    ),
    registry_entry(
        name="cross_entropy_smoothed",
        title="Softmax cross-entropy with label smoothing",
        torch_name="torch.nn.functional.cross_entropy(label_smoothing=ε)",
        torch_class="CrossEntropyLoss",
        torch_fn=lambda x, t, label_smoothing: F.cross_entropy(
            x, t.argmax(dim=1), reduction="none", label_smoothing=label_smoothing
        ),
        expr=_cross_entropy_expr(nt.eps),
        inputs=Z,
        targets=Q,
        hyper=(Hyper(nt.eps, "label_smoothing", 0.1, low=0.0, high=1.0, high_open=True),),
        target_domain=ONE_HOT,
        edges=_one_hot_edges,
        model="cross-entropy H(q, p) against the smoothed target q = (1 - ε)·onehot + ε/C",
        link="multinomial logit: z_c = log p_c + a common constant",
        mean_function="p = softmax(z)",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t, label_smoothing=0.1: _log_class_prior(
            t, "cross_entropy_smoothed", label_smoothing
        ),
        best_constant_text="z_c = log of the smoothed class frequency (1 - ε)·share_c + ε/C",
        refs=("szegedy2016rethinking", "muller2019when"),
    ),
    registry_entry(
        name="nll",
        title="Negative log-likelihood on log-probabilities",
        torch_name="torch.nn.functional.nll_loss",
        torch_class="NLLLoss",
        torch_fn=lambda x, t: F.nll_loss(x, t.argmax(dim=1), reduction="none"),
        expr=-sp.Add(*[q * lq for q, lq in zip(Q, LOGQ, strict=True)]),
        inputs=LOGQ,
        targets=Q,
        input_domain=LOG_PROBABILITIES,
        target_domain=ONE_HOT,
        edges=(
            Edge((-1000.0, 0.0, -1000.0), (1.0, 0.0, 0.0), note="log-probability -1000"),
            Edge((0.0, -800.0, -800.0), (1.0, 0.0, 0.0)),
        ),
        model="y ~ Categorical(p) with p = exp(ℓ) when ℓ are normalised log-probabilities",
        link="log: the input is ℓ_c = log p_c (log_softmax(z) computed by the model)",
        mean_function="p_c = exp(ℓ_c)",
        convex=True,
        smoothness="C∞ (linear)",
        best_constant_text=(
            "none over unconstrained inputs (the loss is linear and unbounded below); "
            "over normalised log-probabilities, the log class prior"
        ),
        refs=("goodfellow2016deep",),
        notes="log_softmax followed by nll equals cross_entropy on the logits.",
    ),
    registry_entry(
        name="kl_div",
        title="Kullback-Leibler divergence (KLDivLoss), summed over classes",
        torch_name="torch.nn.functional.kl_div(...).sum(dim=1)",
        torch_class="KLDivLoss",
        torch_fn=lambda x, t: F.kl_div(x, t, reduction="none").sum(dim=1),
        expr=sp.Add(*[_xlogx(q) - q * lq for q, lq in zip(Q, LOGQ, strict=True)]),
        inputs=LOGQ,
        targets=Q,
        input_domain=LOG_PROBABILITIES,
        target_domain=SIMPLEX,
        edges=(
            Edge((-1000.0, 0.0, -1000.0), (0.0, 1.0, 0.0), note="one-hot target, log-probabilities -1000"),
            Edge((-0.1, -3.0, -1000.0), (1.0, 0.0, 0.0), note="zero targets contribute 0 (0 log 0 = 0)"),
            Edge((-0.5, -1.5, -2.0), (0.25, 0.25, 0.5)),
        ),
        model="KL(q‖p) with p = exp(ℓ): the target q is the first argument, the model p the second",
        link="log: the input is ℓ_c = log p_c",
        mean_function="p_c = exp(ℓ_c)",
        convex=True,
        smoothness="C∞ (linear in ℓ)",
        best_constant_text="none over unconstrained inputs; over normalised ones, log of the mean target",
        refs=("kullback1951information", "pytorch2019"),
        notes=(
            "PyTorch's KLDivLoss is elementwise: reduction='none' gives q_c (log q_c - ℓ_c) per "
            "class, 'batchmean' divides the sum by N (the KL divergence), and 'mean' divides "
            "by N·C. Terms with q_c = 0 contribute 0 when the input ℓ_c is finite (the formula "
            "uses q log q = 0 at q = 0, as scipy.special.xlogy does); if ℓ_c = -inf the term is "
            "NaN (0·inf), and with log_target=True a zero target (log q_c = -inf) gives NaN as well."
        ),
    ),
    registry_entry(
        name="soft_margin",
        title="Soft margin (logistic) loss on ±1 labels",
        torch_name="torch.nn.functional.soft_margin_loss",
        torch_class="SoftMarginLoss",
        torch_fn=lambda x, t: F.soft_margin_loss(x, t, reduction="none"),
        expr=sp.log(1 + sp.exp(-y * z)),
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((700.0,), (-1.0,), note="margin -700: large, but below the 709.78 overflow threshold"),
            Edge((700.0,), (1.0,), note="margin +700"),
            Edge((0.0,), (1.0,)),
        ),
        model="(y + 1)/2 ~ Bernoulli(p) with p = σ(z)",
        link="logit: z = log(P(y = +1) / P(y = -1))",
        mean_function="P(y = +1) = σ(z)",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t, **_: _share(t, "soft_margin", -1.0, 1.0),
        best_constant_text="z = log-odds of the share of +1 labels (none when all labels agree)",
        refs=("bishop2006pattern",),
        notes=(
            "PyTorch evaluates log1p(exp(-y z)) directly, so the loss overflows to inf (and "
            "its gradient to nan) once -y z exceeds about 709.78 in float64 or 88.72 in "
            "float32; binary_cross_entropy_with_logits does not."
        ),
    ),
    registry_entry(
        name="hinge_embedding",
        title="Hinge embedding loss",
        torch_name="torch.nn.functional.hinge_embedding_loss",
        torch_class="HingeEmbeddingLoss",
        torch_fn=lambda x, t, margin: F.hinge_embedding_loss(x, t, margin=margin, reduction="none"),
        expr=(1 + y) / 2 * z + (1 - y) / 2 * sp.Max(0, nt.m - z),
        inputs=(z,),
        targets=(y,),
        hyper=(Hyper(nt.m, "margin", 1.0, low=0.0, low_open=True),),
        input_domain=NONNEGATIVE,
        target_domain=SIGNS,
        edges=(
            Edge((1.0,), (-1.0,), "kink", "distance equals the margin"),
            Edge((0.0,), (-1.0,), note="zero distance, dissimilar pair"),
            Edge((0.0,), (1.0,), note="zero distance, similar pair"),
        ),
        model="none: a contrastive loss on distances, not a likelihood",
        link="none: the input z is a distance between two embeddings, not a mean parameter",
        convex=True,
        smoothness="C⁰ (kink at z = m for y = -1)",
        best_constant=_hinge_embedding_constant,
        best_constant_text="z = m if fewer than half the pairs are similar, else 0",
        refs=("pytorch2019",),
        notes=(
            "z is a distance between two embeddings; y = 1 for similar pairs, -1 for dissimilar. "
            "PyTorch accepts negative z too; over all real z there is no best constant when more "
            "than half the pairs are similar, and at exactly half every z in [0, m] is optimal."
        ),
    ),
    registry_entry(
        name="focal",
        title="Binary focal loss on logits",
        torch_name="lossbook.losses.sigmoid_focal_loss (the torchvision formula)",
        torch_fn=lambda x, t, gamma, alpha: sigmoid_focal_loss(x, t, gamma=gamma, alpha=alpha),
        expr=-(
            nt.alpha * y * (1 - nt.sigmoid(z)) ** nt.gamma * sp.log(nt.sigmoid(z))
            + (1 - nt.alpha) * (1 - y) * nt.sigmoid(z) ** nt.gamma * sp.log(1 - nt.sigmoid(z))
        ),
        inputs=(z,),
        targets=(y,),
        hyper=(
            Hyper(nt.gamma, "gamma", 2.0, low=0.0),
            Hyper(nt.alpha, "alpha", 0.25, low=0.0, high=1.0),
        ),
        target_domain=BINARY,
        edges=(
            Edge((-1000.0,), (1.0,), note="confidently wrong positive"),
            Edge((1000.0,), (0.0,), note="confidently wrong negative"),
            Edge((1000.0,), (1.0,), note="confidently right"),
        ),
        model="none: a reweighted Bernoulli cross-entropy",
        link="logit, as for bce_with_logits (the focal loss is not a likelihood)",
        mean_function="p = σ(z)",
        convex=False,
        smoothness="C∞",
        best_constant_text="no closed form for γ > 0; minimise numerically",
        refs=("lin2017focal",),
        notes=(
            "Both terms matter: negatives are weighted by (1 - α) σ(z)^γ. Not convex in z for any "
            "γ > 0 (for γ = 0 it is α-weighted BCE, which is convex)."
        ),
    ),
    registry_entry(
        name="hinge",
        title="Hinge loss on ±1 labels",
        torch_name="torch.clamp(1 - y z, min=0) (torch.nn.functional has no binary hinge loss)",
        torch_fn=lambda x, t: torch.clamp(1 - t * x, min=0),
        expr=sp.Max(0, 1 - y * z),
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((1.0,), (1.0,), "kink", "margin exactly 1"),
            Edge((-1.0,), (-1.0,), "kink", "margin exactly 1"),
            Edge((1000.0,), (-1.0,), note="huge wrong margin"),
        ),
        **_MARGIN,
        link="none: not calibrated; the population minimiser is sign(2 P(y = +1) - 1)",
        convex=True,
        smoothness="C⁰ (kink at y z = 1)",
        best_constant=_majority_sign,
        best_constant_text="z = +1 if most labels are +1, else -1",
        refs=("cortes1995support",),
    ),
    registry_entry(
        name="squared_hinge",
        title="Squared hinge loss on ±1 labels",
        torch_name="torch.clamp(1 - y z, min=0) ** 2 (torch.nn.functional has no binary squared hinge)",
        torch_fn=lambda x, t: torch.clamp(1 - t * x, min=0) ** 2,
        expr=sp.Max(0, 1 - y * z) ** 2,
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((1.0,), (1.0,), "boundary", "margin exactly 1: the branches meet with slope 0"),
            Edge((-1.0,), (-1.0,), "boundary", "margin exactly 1"),
            Edge((1000.0,), (-1.0,), note="huge wrong margin"),
        ),
        **_MARGIN,
        link="z = 2 P(y = +1) - 1 at the population minimum",
        mean_function="P(y = +1) = (z + 1)/2, clipped to [0, 1]",
        convex=True,
        smoothness="C¹ (second derivative jumps at y z = 1)",
        best_constant=lambda t, **_: np.array([2.0 * float(np.mean(t[:, 0] == 1)) - 1.0]),
        best_constant_text="z = 2ρ - 1, with ρ the share of +1 labels",
        refs=("zhang2004statistical", "bartlett2006convexity"),
    ),
    registry_entry(
        name="exponential",
        title="Exponential loss on ±1 labels (AdaBoost)",
        torch_name="torch.exp(-y z) (no torch.nn.functional exponential loss)",
        torch_fn=lambda x, t: torch.exp(-t * x),
        expr=sp.exp(-y * z),
        inputs=(z,),
        targets=(y,),
        target_domain=SIGNS,
        edges=(
            Edge((700.0,), (-1.0,), note="margin -700: e^700, near the float64 limit"),
            Edge((700.0,), (1.0,), note="margin +700: e^-700"),
            Edge((0.0,), (1.0,)),
        ),
        model="none: a margin-based surrogate of the 0-1 loss; its minimiser is half the log-odds",
        link="half-logit: z = ½ log(P(y = +1) / P(y = -1)) at the population minimum",
        mean_function="P(y = +1) = σ(2z)",
        convex=True,
        smoothness="C∞",
        best_constant=lambda t, **_: _share(t, "exponential", -1.0, 1.0, scale=0.5),
        best_constant_text="z = half the log-odds of the share of +1 labels (none when all labels agree)",
        refs=("freund1997decision", "friedman2000additive"),
        notes="Overflows float64 once the wrong margin exceeds about 709.78.",
    ),
)
