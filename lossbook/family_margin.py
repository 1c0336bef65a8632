"""Registry entries for margin, ranking, embedding and multi-label losses.

Each entry is written out at a small fixed size: ``C = 3`` classes for the multi-class and
multi-label losses, two-dimensional embeddings for the cosine and triplet losses. The
PyTorch functions take a batch of such rows (one row per example) and follow the contract
of :mod:`lossbook.loss`.

PyTorch departs from the textbook formulas in three ways written into the expressions:

* the multi-class and multi-label margin losses divide their sum of hinges by ``C``;
* ``cosine_embedding_loss`` adds ``EPS = float32(1e-12)`` to each squared norm, so two zero
  vectors have cosine 0, not 0/0;
* ``pairwise_distance`` (the triplet loss's distance) adds ``1e-6`` to the *difference*
  before taking the norm, so d(a, a) = 1e-6·√D, not 0.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

from lossbook import notation as nt
from lossbook.domains import BINARY, ONE_HOT, SIGNS, Edge, Hyper
from lossbook.loss import Loss, StopGradient, registry_entry

__all__ = ["COSINE_EPS", "DISTANCE_EPS", "ENTRIES", "SIMILARITY_EPS", "multi_hot_to_indices"]

C = nt.C_DEFAULT
y = nt.y
Z = nt.class_symbols("z", real=True)
Q = nt.class_symbols("q", nonnegative=True)
Y = nt.class_symbols("y", real=True)
#: A margin that may be 0 or negative (CosineEmbeddingLoss, MarginRankingLoss default to 0).
M0 = sp.Symbol("m", real=True)
#: The two embeddings of a pair (D = 2) and the two scores of a ranked pair.
U = nt.class_symbols("u", 2, real=True)
V = nt.class_symbols("v", 2, real=True)
S = (sp.Symbol("s_1", real=True), sp.Symbol("s_2", real=True))
#: Anchor, positive and negative embeddings of a triplet (D = 2).
A = nt.class_symbols("a", 2, real=True)
POS = tuple(sp.Symbol(f"a^{{+}}_{i}", real=True) for i in range(2))
NEG = tuple(sp.Symbol(f"a^{{-}}_{i}", real=True) for i in range(2))

#: cosine_embedding_loss adds EPSILON = 1e-12, a float32 constant, to each squared norm.
COSINE_EPS = sp.Float(float(np.float32(1e-12)), 20)
#: pairwise_distance's default eps, added to the difference x1 - x2 before the norm.
DISTANCE_EPS = sp.Rational(1, 10**6)
#: cosine_similarity's default eps: each norm is clamped below at 1e-8.
SIMILARITY_EPS = sp.Rational(1, 10**8)


def multi_hot_to_indices(t: torch.Tensor) -> torch.Tensor:
    """Multi-hot rows ``(N, C)`` as MultiLabelMarginLoss wants them: indices, then -1 padding.

    >>> multi_hot_to_indices(torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])).tolist()
    [[1, 2, -1], [-1, -1, -1]]
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"t must be a torch.Tensor of multi-hot rows (N, C), got {type(t).__name__}")
    if t.dim() != 2:
        raise ValueError(f"t must have shape (N, C) (one multi-hot row per example), got {tuple(t.shape)}")
    bad = t[(t != 0) & (t != 1)]
    if bad.numel():
        raise ValueError(f"t must hold only 0 and 1 (a multi-hot row per example), got {bad[0].item()!r}")
    order = torch.argsort(-t, dim=1, stable=True)
    return torch.where(t.gather(1, order) > 0, order, torch.full_like(order, -1))


def _cosine(u: tuple[sp.Symbol, ...], v: tuple[sp.Symbol, ...], eps: sp.Expr = COSINE_EPS) -> sp.Expr:
    """cos(u, v) as cosine_embedding_loss computes it, with ``eps`` inside each squared norm."""
    dot = sp.Add(*[a * b for a, b in zip(u, v, strict=True)])
    return dot / sp.sqrt((sp.Add(*[a**2 for a in u]) + eps) * (sp.Add(*[b**2 for b in v]) + eps))


def _distance(u: tuple[sp.Symbol, ...], v: tuple[sp.Symbol, ...]) -> sp.Expr:
    """pairwise_distance(u, v) (p = 2): the norm of u - v + eps."""
    return sp.sqrt(sp.Add(*[(a - b + DISTANCE_EPS) ** 2 for a, b in zip(u, v, strict=True)]))


def _cosine_distance(
    u: tuple[sp.Symbol, ...], v: tuple[sp.Symbol, ...], eps: sp.Expr = SIMILARITY_EPS
) -> sp.Expr:
    """1 - cosine_similarity(u, v): each vector divided by max(its norm, eps) (``eps=0``: the textbook)."""
    # max(|u|, eps) written as sqrt(max(|u|², eps²)): equal, and its derivative is 0 (not 0·∞) at u = 0
    if eps == 0:
        nu, nv = (sp.sqrt(sp.Add(*[c**2 for c in w])) for w in (u, v))
    else:
        nu = sp.sqrt(sp.Max(sp.Add(*[a**2 for a in u]), eps**2))
        nv = sp.sqrt(sp.Max(sp.Add(*[b**2 for b in v]), eps**2))
    return 1 - sp.Add(*[(a / nu) * (b / nv) for a, b in zip(u, v, strict=True)])


def _triplet_cosine_autograd() -> tuple[sp.Expr, ...]:
    """What autograd returns for the triplet loss with distance 1 - cosine_similarity.

    ``cosine_similarity`` clamps each norm at 1e-8 outside autograd's record: the value it
    divides by is max(|u|, 1e-8), but the backward differentiates the unclamped norm |u|,
    whose derivative PyTorch sets to 0 at u = 0. Written with :class:`StopGradient`, this is
    PyTorch's gradient and, differentiated again, its Hessian wherever u != 0 and |u|² does not
    underflow (there PyTorch's double backward gives NaN, this formula a finite value).
    """

    def clamped_norm(u: tuple[sp.Symbol, ...]) -> sp.Expr:
        squares = sp.Add(*[c**2 for c in u])
        # |u| as S / sqrt(max(S, 1e-1000)): sqrt(S) for every S > 0 that float inputs can give
        # (at least 2.4e-647), and at u = 0 both it and its derivative are 0 with no 0/0 to
        # evaluate, like PyTorch's masked norm backward (a Piecewise would say the same, but
        # lambdify cannot share common subexpressions across it: 4 times slower in the sweep)
        norm = squares / sp.sqrt(sp.Max(squares, sp.Rational(1, 10**1000)))
        return norm + StopGradient(sp.Max(norm, SIMILARITY_EPS) - norm)

    def distance(u: tuple[sp.Symbol, ...], v: tuple[sp.Symbol, ...]) -> sp.Expr:
        return 1 - sp.Add(*[a * b for a, b in zip(u, v, strict=True)]) / (clamped_norm(u) * clamped_norm(v))

    f = sp.Max(0, distance(A, POS) - distance(A, NEG) + nt.m)
    return tuple(sp.diff(f, s) for s in (*A, *POS, *NEG))


def _pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return x[:, :2], x[:, 2:4]


def _triplet(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return x[:, 0:2], x[:, 2:4], x[:, 4:6]


def _cosine_distance_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1 - F.cosine_similarity(a, b)


_NONE = "none: a margin (ranking) surrogate, not a likelihood"

ENTRIES: tuple[Loss, ...] = (
    registry_entry(
        name="multi_margin",
        title="Multi-class hinge loss (MultiMarginLoss, p = 1)",
        torch_name="torch.nn.functional.multi_margin_loss",
        torch_class="MultiMarginLoss",
        torch_fn=lambda x, t, margin: F.multi_margin_loss(
            x, t.argmax(dim=1), margin=margin, reduction="none"
        ),
        expr=sp.Add(*[q * sp.Max(0, nt.m - Z[c] + Z[i]) for c, q in enumerate(Q) for i in range(C) if i != c])
        / C,
        textbook=sp.Add(
            *[q * sp.Max(0, nt.m - Z[c] + Z[i]) for c, q in enumerate(Q) for i in range(C) if i != c]
        ),
        departure=(
            "PyTorch divides the sum of hinges over the wrong classes by C (the number of classes), "
            "so 'none' already averages over classes; Crammer and Singer's multi-class hinge takes "
            "the maximum over wrong classes and Weston and Watkins' the plain sum."
        ),
        inputs=Z,
        targets=Q,
        hyper=(Hyper(nt.m, "margin", 1.0, low=0.0, low_open=True),),
        target_domain=ONE_HOT,
        edges=(
            Edge((1.0, 0.0, 0.0), (1.0, 0.0, 0.0), "kink", "both wrong classes exactly at the margin"),
            Edge((2.0, 1.0, -5.0), (1.0, 0.0, 0.0), "kink", "one wrong class at the margin"),
            Edge((1000.0, 0.0, -1000.0), (0.0, 0.0, 1.0), note="huge logits, wrong class"),
            Edge((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), note="all logits equal: loss (C - 1)·m / C"),
        ),
        model=_NONE,
        link="none: the population minimiser is not a calibrated probability",
        convex=True,
        smoothness="C⁰ (kinks where z_y - z_i = m)",
        best_constant_text="no closed form in general; the majority class scored m above the rest is optimal",
        refs=("weston1999support", "pytorch2019"),
        notes=(
            "p = 2 (squared hinges) and a class weight w_y multiplying each example are PyTorch "
            "options not written out here; 'mean' divides the sum over examples by N (the 1/C is "
            "already inside each example)."
        ),
    ),
    registry_entry(
        name="multilabel_margin",
        title="Multi-label hinge loss (MultiLabelMarginLoss)",
        torch_name="torch.nn.functional.multilabel_margin_loss",
        torch_class="MultiLabelMarginLoss",
        torch_fn=lambda x, t: F.multilabel_margin_loss(x, multi_hot_to_indices(t), reduction="none"),
        expr=sp.Add(
            *[Y[j] * (1 - Y[i]) * sp.Max(0, 1 - (Z[j] - Z[i])) for j in range(C) for i in range(C) if i != j]
        )
        / C,
        textbook=sp.Add(
            *[Y[j] * (1 - Y[i]) * sp.Max(0, 1 - (Z[j] - Z[i])) for j in range(C) for i in range(C) if i != j]
        ),
        departure=(
            "PyTorch divides the sum of hinges over (label, non-label) pairs by C, whatever the "
            "number of pairs; the margin is fixed at 1. PyTorch takes the labels as class indices "
            "padded with -1 (everything after the first -1 is ignored), written here as a "
            "multi-hot row y."
        ),
        inputs=Z,
        targets=Y,
        target_domain=BINARY,
        edges=(
            Edge((1.0, 0.0, 0.0), (1.0, 0.0, 0.0), "kink", "label scores exactly 1 above both others"),
            Edge((0.5, -0.5, 3.0), (1.0, 0.0, 1.0), "kink", "one pair exactly at the margin"),
            Edge((1000.0, 0.0, -1000.0), (0.0, 0.0, 1.0), note="huge logits, label scored lowest"),
            Edge((5.0, -2.0, 0.0), (0.0, 0.0, 0.0), note="no labels: no pairs, loss 0"),
            Edge((5.0, -2.0, 0.0), (1.0, 1.0, 1.0), note="every class a label: no pairs, loss 0"),
        ),
        model=_NONE,
        link="none: scores, not probabilities",
        convex=True,
        smoothness="C⁰ (kinks where z_j - z_i = 1)",
        best_constant_text="no closed form; minimise numerically",
        refs=("crammer2003family", "pytorch2019"),
    ),
    registry_entry(
        name="multilabel_soft_margin",
        title="Multi-label soft margin loss (MultiLabelSoftMarginLoss)",
        torch_name="torch.nn.functional.multilabel_soft_margin_loss",
        torch_class="MultiLabelSoftMarginLoss",
        torch_fn=lambda x, t: F.multilabel_soft_margin_loss(x, t, reduction="none"),
        expr=-sp.Add(
            *[Y[c] * sp.log(nt.sigmoid(Z[c])) + (1 - Y[c]) * sp.log(1 - nt.sigmoid(Z[c])) for c in range(C)]
        )
        / C,
        textbook=-sp.Add(
            *[Y[c] * sp.log(nt.sigmoid(Z[c])) + (1 - Y[c]) * sp.log(1 - nt.sigmoid(Z[c])) for c in range(C)]
        ),
        departure=(
            "PyTorch averages the C binary cross-entropies of an example (divides by C) instead of "
            "summing them; it is BCEWithLogitsLoss with 'mean' taken over the classes first."
        ),
        inputs=Z,
        targets=Y,
        target_domain=BINARY,
        edges=(
            Edge((1000.0, -1000.0, 0.0), (0.0, 1.0, 1.0), note="huge logits, both wrong"),
            Edge((1000.0, -1000.0, 0.0), (1.0, 0.0, 1.0), note="huge logits, both right"),
            Edge((40.0, 0.0, -40.0), (1.0, 0.0, 0.0), note="tiny terms must stay tiny"),
        ),
        model="each y_c ~ Bernoulli(σ(z_c)) independently; the loss is the NLL divided by C",
        link="logit per class: z_c = log(p_c / (1 - p_c))",
        mean_function="p_c = σ(z_c)",
        convex=True,
        smoothness="C∞",
        best_constant_text="z_c = log-odds of the share of examples carrying label c (none when a share is 0 or 1)",
        refs=("pytorch2019", "bishop2006pattern"),
    ),
    registry_entry(
        name="cosine_embedding",
        title="Cosine embedding loss (CosineEmbeddingLoss)",
        torch_name="torch.nn.functional.cosine_embedding_loss",
        torch_class="CosineEmbeddingLoss",
        torch_fn=lambda x, t, margin: F.cosine_embedding_loss(*_pair(x), t, margin=margin, reduction="none"),
        expr=(1 + y) / 2 * (1 - _cosine(U, V)) + (1 - y) / 2 * sp.Max(0, _cosine(U, V) - M0),
        textbook=(1 + y) / 2 * (1 - _cosine(U, V, eps=0))
        + (1 - y) / 2 * sp.Max(0, _cosine(U, V, eps=0) - M0),
        departure=(
            "PyTorch adds EPS = 1e-12 (a float32 constant) to each squared norm before dividing, so "
            "the cosine of a zero vector is 0 (loss 1 for a similar pair) where the textbook cosine "
            "is 0/0; near zero the gradient is large (about 1e6 times the other vector) but finite."
        ),
        inputs=(*U, *V),
        targets=(y,),
        hyper=(Hyper(M0, "margin", 0.0, low=-1.0, high=1.0),),
        target_domain=SIGNS,
        edges=(
            Edge((0.0, 0.0, 1.0, 2.0), (1.0,), note="zero vector, similar pair: cosine 0 by eps"),
            Edge((0.0, 0.0, 0.0, 0.0), (-1.0,), "kink", "two zero vectors: cosine 0 = margin"),
            Edge((1.0, 0.0, 0.0, 1.0), (-1.0,), "kink", "orthogonal pair: cosine exactly the margin 0"),
            Edge((1.0, 2.0, 2.0, 4.0), (1.0,), note="parallel pair"),
            Edge((1000.0, -1000.0, -1000.0, 1000.0), (-1.0,), note="huge opposite vectors"),
            Edge((1e-7, 0.0, 1e-7, 0.0), (1.0,), note="tiny vectors: eps visible (loss 0.0099, not 0)"),
        ),
        model="none: a metric-learning loss on pairs",
        link="none: the inputs are embeddings",
        convex=False,
        smoothness="C⁰ (kink where cos = m for dissimilar pairs)",
        best_constant_text="none: the inputs are two embeddings, not a prediction of the target",
        refs=("pytorch2019", "hadsell2006dimensionality"),
        notes="u and v are the two embeddings of a pair (D = 2); y = 1 for similar, -1 for dissimilar pairs.",
    ),
    registry_entry(
        name="margin_ranking",
        title="Margin ranking loss (MarginRankingLoss)",
        torch_name="torch.nn.functional.margin_ranking_loss",
        torch_class="MarginRankingLoss",
        torch_fn=lambda x, t, margin: F.margin_ranking_loss(
            x[:, 0], x[:, 1], t, margin=margin, reduction="none"
        ),
        expr=sp.Max(0, -y * (S[0] - S[1]) + M0),
        inputs=S,
        targets=(y,),
        hyper=(Hyper(M0, "margin", 0.0),),
        target_domain=SIGNS,
        edges=(
            Edge((1.0, 1.0), (1.0,), "kink", "tied scores with margin 0"),
            Edge((1000.0, -1000.0), (-1.0,), note="huge wrong order"),
            Edge((-3.0, 5.0), (-1.0,), note="right order: loss 0"),
        ),
        model=_NONE,
        link="none: scores, only their difference matters",
        convex=True,
        smoothness="C⁰ (kink at y(s₁ - s₂) = m)",
        best_constant_text="none: only the difference of the two scores matters (any tie is optimal at m = 0)",
        refs=("herbrich2000large", "pytorch2019"),
    ),
    registry_entry(
        name="triplet_margin",
        title="Triplet margin loss (TripletMarginLoss, p = 2)",
        torch_name="torch.nn.functional.triplet_margin_loss",
        torch_class="TripletMarginLoss",
        torch_fn=lambda x, t, margin: F.triplet_margin_loss(*_triplet(x), margin=margin, reduction="none"),
        expr=sp.Max(0, _distance(A, POS) - _distance(A, NEG) + nt.m),
        textbook=sp.Max(
            0,
            sp.sqrt(sp.Add(*[(a - b) ** 2 for a, b in zip(A, POS, strict=True)]))
            - sp.sqrt(sp.Add(*[(a - b) ** 2 for a, b in zip(A, NEG, strict=True)]))
            + nt.m,
        ),
        departure=(
            "PyTorch adds eps = 1e-6 to each component of the difference (in pairwise_distance) "
            "before the norm, so d(a, a) = 1e-6·√2 and the gradient at a = a⁺ is finite (the "
            "Euclidean norm has no gradient at 0); FaceNet uses squared distances."
        ),
        inputs=(*A, *POS, *NEG),
        hyper=(Hyper(nt.m, "margin", 1.0, low=0.0, low_open=True),),
        edges=(
            Edge((1.0, 2.0, 1.0, 2.0, 4.0, 6.0), note="anchor equals positive: distance 1e-6·√2"),
            Edge((0.0, 0.0, 1.0, 0.0, 0.0, 0.0), note="anchor equals negative"),
            Edge((0.0, 0.0, 3.0, 4.0, 0.0, 1000.0), note="far negative: loss 0"),
            Edge((1000.0, -1000.0, -1000.0, 1000.0, 1000.0, -999.0), note="huge coordinates"),
        ),
        model="none: a metric-learning loss on triplets",
        link="none: the inputs are embeddings",
        convex=False,
        smoothness="C⁰ (kink where d(a, a⁺) + m = d(a, a⁻))",
        best_constant_text="none: the inputs are three embeddings; the loss has no targets",
        refs=("schroff2015facenet", "weinberger2009distance", "pytorch2019"),
        notes=(
            "Anchor a, positive a⁺, negative a⁻ in D = 2. swap=True replaces d(a, a⁻) by "
            "min(d(a, a⁻), d(a⁺, a⁻)); 'mean' divides by N."
        ),
    ),
    registry_entry(
        name="triplet_margin_cosine",
        title="Triplet loss with a cosine distance (TripletMarginWithDistanceLoss)",
        torch_name="torch.nn.functional.triplet_margin_with_distance_loss(distance_function=1 - cosine_similarity)",
        torch_class="TripletMarginWithDistanceLoss",
        torch_fn=lambda x, t, margin: F.triplet_margin_with_distance_loss(
            *_triplet(x), distance_function=_cosine_distance_torch, margin=margin, reduction="none"
        ),
        expr=sp.Max(0, _cosine_distance(A, POS) - _cosine_distance(A, NEG) + nt.m),
        textbook=sp.Max(0, _cosine_distance(A, POS, eps=0) - _cosine_distance(A, NEG, eps=0) + nt.m),
        departure=(
            "cosine_similarity divides each vector by max(norm, 1e-8), so a zero vector has "
            "cosine 0 (the textbook cosine is 0/0); it clamps the norm under no_grad, so below "
            "1e-8 its backward differentiates the unclamped norm and is not the derivative of "
            "the clamped forward (9e7, not 1e8, for the cosine of a = (1, 0) and a⁺ = (1e-9, 0) in a⁺₁)."
        ),
        autograd=_triplet_cosine_autograd(),
        inputs=(*A, *POS, *NEG),
        hyper=(Hyper(nt.m, "margin", 1.0, low=0.0, low_open=True),),
        edges=(
            Edge(
                (1.0, 0.0, 2.0, 0.0, -3.0, 0.0), note="positive parallel, negative opposite: loss 0 at m < 2"
            ),
            Edge((1.0, 0.0, 0.0, 1.0, 0.0, 5.0), note="positive and negative equally far: loss m"),
            Edge((1000.0, 0.0, -1000.0, 1.0, 1000.0, 1.0), note="huge coordinates, wrong order"),
            Edge(
                (1.0, 0.0, 1e-9, 0.0, 0.0, 5.0),
                note="positive below the norm clamp: autograd 9e7, d(forward) 1e8",
            ),
        ),
        model="none: a metric-learning loss on triplets",
        link="none: the inputs are embeddings",
        convex=False,
        smoothness="C⁰ (kink where the two distances differ by m)",
        best_constant_text="none: the inputs are three embeddings; the loss has no targets",
        refs=("schroff2015facenet", "pytorch2019"),
        notes=(
            "The class takes any distance; this entry uses 1 - cosine_similarity, whose norms "
            "are clamped below at 1e-8. With the default distance (pairwise_distance) it equals "
            "triplet_margin."
        ),
    ),
)
