"""Registry entries for sequence and large-vocabulary losses: CTC, fused and adaptive softmax.

The sizes are small and fixed so that every formula can be written out in SymPy:

* ``ctc``: T = 3 frames, an alphabet of three symbols (0 is the blank, 1 and 2 are labels)
  and a target of S = 2 labels. The loss is minus the log of the sum over every alignment
  (path of T symbols) that collapses to the target, written out term by term from
  :func:`ctc_paths`;
* ``linear_cross_entropy``: a hidden vector of D = 2 features and a 3 × 2 weight matrix;
* ``adaptive_log_softmax``: D = 2 features, 4 classes, one cutoff at 2 (a head of 2
  frequent classes plus one cluster token, a tail of 2 rare classes behind a 1-dimensional
  projection).
"""

from __future__ import annotations

import itertools
from functools import cache

import sympy as sp
import torch
import torch.nn.functional as F
from torch.func import functional_call

from lossbook import notation as nt
from lossbook.domains import BINARY, ONE_HOT, Edge, Hyper
from lossbook.loss import Loss, registry_entry

__all__ = [
    "ASM_CUTOFFS",
    "ASM_SIZES",
    "CTC_FRAMES",
    "CTC_SYMBOLS",
    "ENTRIES",
    "adaptive_module",
    "collapse",
    "ctc_paths",
]

C = nt.C_DEFAULT
Q = nt.class_symbols("q", nonnegative=True)
#: T frames, alphabet size (blank 0 plus labels) and target length of the ctc entry.
CTC_FRAMES, CTC_SYMBOLS, CTC_LENGTH = 3, 3, 2
ZT = tuple(
    tuple(sp.Symbol(f"z_{{{t + 1},{k}}}", real=True) for k in range(CTC_SYMBOLS)) for t in range(CTC_FRAMES)
)
#: The target bits: label s of the target is 1 + b_s (so labels 1 and 2, never the blank 0).
B = tuple(sp.Symbol(f"b_{s + 1}", real=True) for s in range(CTC_LENGTH))
H = nt.class_symbols("h", 2, real=True)
W = tuple(tuple(sp.Symbol(f"w_{{{c},{d}}}", real=True) for d in range(2)) for c in range(C))


def collapse(path: tuple[int, ...], blank: int = 0) -> tuple[int, ...]:
    """CTC's many-to-one map B: merge repeated symbols, then drop blanks.

    >>> collapse((1, 1, 0, 1, 2, 2))
    (1, 1, 2)
    """
    if not isinstance(path, (tuple, list)) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in path
    ):
        raise TypeError(f"path must be a tuple of non-negative integer symbols, got {path!r}")
    if isinstance(blank, bool) or not isinstance(blank, int):
        raise TypeError(f"blank must be an integer symbol, got {blank!r}")
    merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
    return tuple(s for s in merged if s != blank)


def ctc_paths(target: tuple[int, ...], frames: int, symbols: int) -> list[tuple[int, ...]]:
    """Every alignment of ``frames`` symbols (0 = blank) that collapses to ``target``.

    >>> ctc_paths((1, 1), 3, 3)
    [(1, 0, 1)]
    >>> len(ctc_paths((1, 2), 3, 3))
    5
    """
    for name, value in (("frames", frames), ("symbols", symbols)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not all(isinstance(s, int) and 0 < s < symbols for s in target):
        raise ValueError(f"target must hold labels 1 … {symbols - 1} (0 is the blank), got {target!r}")
    return [p for p in itertools.product(range(symbols), repeat=frames) if collapse(p) == tuple(target)]


def _ctc_expr() -> sp.Expr:
    """-log Σ over alignments of Π_t softmax(z_t)_{π_t}, for a target of bits b (label 1 + b)."""
    indicator = {1: lambda b: 1 - b, 2: lambda b: b}
    total = []
    for path in itertools.product(range(CTC_SYMBOLS), repeat=CTC_FRAMES):
        labels = collapse(path)
        if len(labels) != CTC_LENGTH:
            continue
        weight = sp.Mul(*[indicator[lab](b) for lab, b in zip(labels, B, strict=True)])
        total.append(weight * sp.exp(sp.Add(*[ZT[t][k] for t, k in enumerate(path)])))
    log_normaliser = sp.Add(*[sp.log(sp.Add(*[sp.exp(v) for v in frame])) for frame in ZT])
    return log_normaliser - sp.log(sp.Add(*total))


def _ctc_torch(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    log_probs = F.log_softmax(x.reshape(n, CTC_FRAMES, CTC_SYMBOLS), dim=2).transpose(0, 1)
    targets = (1 + t.round()).long()
    lengths = torch.full((n,), CTC_FRAMES, dtype=torch.long)
    return F.ctc_loss(
        log_probs, targets, lengths, torch.full((n,), CTC_LENGTH, dtype=torch.long), reduction="none"
    )


def _linear_ce_torch(x: torch.Tensor, t: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    # one weight matrix per example (a row holds h and W), so call the fused loss row by row
    rows = [
        F.linear_cross_entropy(
            x[i : i + 1, :2],
            x[i, 2:].reshape(C, 2),
            t[i : i + 1].argmax(dim=1),
            reduction="none",
            label_smoothing=label_smoothing,
        )
        for i in range(x.shape[0])
    ]
    return torch.cat(rows)


#: adaptive_log_softmax: classes, cutoffs and division factor of the written-out module.
ASM_SIZES, ASM_CUTOFFS, ASM_DIV = 4, (2,), 2.0
G = nt.class_symbols("g", 3 * 2, real=True)  # head weight: 3 outputs (2 classes + 1 cluster) × 2
R = nt.class_symbols("r", 2, real=True)  # tail projection 2 → 1
TAIL = nt.class_symbols("o", 2, real=True)  # tail output 1 → 2
QA = nt.class_symbols("q", ASM_SIZES, nonnegative=True)


@cache
def adaptive_module() -> torch.nn.AdaptiveLogSoftmaxWithLoss:
    """The written-out module: in_features 2, 4 classes, cutoffs [2], div_value 2 (float64)."""
    return torch.nn.AdaptiveLogSoftmaxWithLoss(
        2, ASM_SIZES, list(ASM_CUTOFFS), div_value=ASM_DIV, head_bias=False, dtype=torch.float64
    )


def _adaptive_torch(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    module = adaptive_module()
    rows = []
    for i in range(x.shape[0]):
        params = {
            "head.weight": x[i, 2:8].reshape(3, 2),
            "tail.0.0.weight": x[i, 8:10].reshape(1, 2),
            "tail.0.1.weight": x[i, 10:12].reshape(2, 1),
        }
        output, _ = functional_call(module, params, (x[i : i + 1, :2], t[i : i + 1].argmax(dim=1)))
        rows.append(-output)
    return torch.cat(rows)


def _adaptive_expr() -> sp.Expr:
    head = [G[2 * c] * H[0] + G[2 * c + 1] * H[1] for c in range(3)]
    hidden = R[0] * H[0] + R[1] * H[1]
    tail = [TAIL[0] * hidden, TAIL[1] * hidden]
    log_head = [v - sp.log(sp.Add(*[sp.exp(u) for u in head])) for v in head]
    log_tail = [v - sp.log(sp.Add(*[sp.exp(u) for u in tail])) for v in tail]
    log_p = [log_head[0], log_head[1], log_head[2] + log_tail[0], log_head[2] + log_tail[1]]
    return -sp.Add(*[q * lp for q, lp in zip(QA, log_p, strict=True)])


def _linear_ce_expr() -> sp.Expr:
    logits = [W[c][0] * H[0] + W[c][1] * H[1] for c in range(C)]
    log_z = sp.log(sp.Add(*[sp.exp(v) for v in logits]))
    return -sp.Add(*[((1 - nt.eps) * q + nt.eps / C) * (v - log_z) for q, v in zip(Q, logits, strict=True)])


_BIG = (1000.0, -1000.0)

ENTRIES: tuple[Loss, ...] = (
    registry_entry(
        name="ctc",
        title="Connectionist temporal classification (CTCLoss), on logits",
        torch_name="torch.nn.functional.ctc_loss(log_softmax(z))",
        torch_class="CTCLoss",
        torch_fn=_ctc_torch,
        expr=_ctc_expr(),
        inputs=tuple(v for frame in ZT for v in frame),
        targets=B,
        target_domain=BINARY,
        edges=(
            Edge((0.0,) * 9, (0.0, 0.0), note="uniform frames, repeated label: one alignment (1, 0, 1)"),
            Edge((0.0,) * 9, (0.0, 1.0), note="uniform frames, target (1, 2): five alignments"),
            Edge((1000.0, -1000.0, 0.0) * 3, (1.0, 0.0), note="±1000 logits, blank certain"),
            Edge((-1000.0, 1000.0, 0.0, 1000.0, 0.0, -1000.0, 0.0, -1000.0, 1000.0), (0.0, 1.0)),
        ),
        model="the target sequence's probability: the sum over alignments of Π_t softmax(z_t)_{π_t}",
        link="multinomial logit per frame: z_{t,k} = log p_{t,k} + a constant per frame",
        mean_function="p_t = softmax(z_t) per frame",
        convex=False,
        smoothness="C∞",
        best_constant_text="none in closed form: minimise numerically",
        refs=("graves2006connectionist", "pytorch2019"),
        notes=(
            "Logits z of T = 3 frames over blank, 1, 2; the target (1 + b_1, 1 + b_2). PyTorch's "
            "ctc_loss takes log-probabilities and its backward assumes they came from a "
            "log_softmax (it returns p - γ, the gradient with respect to the logits, which "
            "differs from the derivative with respect to unnormalised log-probabilities); this "
            "entry therefore differentiates through log_softmax. 'mean' divides each sequence's "
            "loss by its target length, then averages over the batch; zero_infinity=True "
            "replaces the +inf of an impossible alignment (target too long for T) and its "
            "gradient by 0."
        ),
    ),
    registry_entry(
        name="linear_cross_entropy",
        title="Fused linear layer and cross-entropy (LinearCrossEntropyLoss)",
        torch_name="torch.nn.functional.linear_cross_entropy",
        torch_class="LinearCrossEntropyLoss",
        torch_fn=_linear_ce_torch,
        expr=_linear_ce_expr(),
        inputs=(*H, *(w for row in W for w in row)),
        targets=Q,
        hyper=(Hyper(nt.eps, "label_smoothing", 0.0, low=0.0, high=1.0, high_open=True),),
        target_domain=ONE_HOT,
        edges=(
            Edge(
                (1.0, 0.0, 1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0), (0.0, 0.0, 1.0), note="logits ±1000, wrong"
            ),
            Edge(
                (1.0, 0.0, 1000.0, 0.0, 0.0, 0.0, -1000.0, 0.0), (1.0, 0.0, 0.0), note="logits ±1000, right"
            ),
            Edge((0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0), (0.0, 1.0, 0.0), note="zero hidden vector: log C"),
        ),
        model="y ~ Categorical(softmax(W h))",
        link="multinomial logit of the projected features W h",
        mean_function="p = softmax(W h)",
        convex=False,
        smoothness="C∞",
        best_constant_text="as cross_entropy for the logits W h (the log class prior)",
        refs=("wijmans2025cut", "pytorch2019"),
        notes=(
            "Hidden vector h (D = 2) and weight W (C × D) are both inputs. Equal to "
            "F.cross_entropy(h @ W.T, y); the chunked path (options=LinearCrossEntropyOptions()) "
            "never stores the (N, C) logits. Convex in h for fixed W and in W for fixed h, not "
            "jointly (the logits are bilinear)."
        ),
    ),
    registry_entry(
        name="adaptive_log_softmax",
        title="Adaptive softmax (AdaptiveLogSoftmaxWithLoss)",
        torch_name="torch.nn.AdaptiveLogSoftmaxWithLoss(2, 4, [2], div_value=2)",
        torch_class="AdaptiveLogSoftmaxWithLoss",
        torch_fn=_adaptive_torch,
        expr=_adaptive_expr(),
        inputs=(*H, *G, *R, *TAIL),
        targets=QA,
        target_domain=ONE_HOT,
        edges=(
            Edge((1.0, 0.0, 1000.0, 0.0, -1000.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, -1.0), (0.0, 0.0, 0.0, 1.0)),
            Edge((1.0, 0.0, 1000.0, 0.0, -1000.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, -1.0), (1.0, 0.0, 0.0, 0.0)),
            Edge((0.0,) * 12, (0.0, 0.0, 1.0, 0.0), note="all zero: head log 3 plus tail log 2"),
        ),
        model="y ~ Categorical(p) with p factored into a head softmax and a tail cluster softmax",
        link="two-level multinomial logit: head over frequent classes and clusters, then within a cluster",
        mean_function="p_c = softmax(head)_c for c < 2; softmax(head)_2 · softmax(tail)_{c-2} otherwise",
        convex=False,
        smoothness="C∞",
        best_constant_text="none in the weights (the model is bilinear); see cross_entropy for the logits",
        refs=("grave2017efficient", "pytorch2019"),
        notes=(
            "h (D = 2), head weight g (3 × 2: classes 0 and 1, then the cluster token), tail "
            "projection r (1 × 2) and tail output o (2 × 1); the module returns the per-example "
            "log-probability of the target, so the loss is its negative and .loss is its mean."
        ),
    ),
)
