"""Sanity checks: the loss you should see at initialisation, and checks to run on a model.

Derived in the chapter "Sanity checks". The rules of thumb (BCE ≈ ln 2, CE ≈ ln C,
InfoNCE ≈ ln(K + 1)) hold only when all logits are equal; :func:`expected_initial_loss`
returns the value for logits with a given mean and spread, says how it was computed, and
keeps the rule of thumb next to it for comparison.

>>> import lossbook as lb
>>> e = lb.sanity.expected_initial_loss("cross_entropy", classes=10)
>>> round(e.value, 6), e.rule_of_thumb == e.value
(2.302585, True)
>>> e = lb.sanity.expected_initial_loss("bce_with_logits", logit_std=2.0)
>>> round(e.value, 4), round(e.second_order, 4)  # the expansion overshoots at s = 2
(1.0677, 1.1931)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.integrate
import scipy.special
import scipy.stats
import torch
import torch.nn.functional as F
from torch.autograd.gradcheck import GradcheckError

__all__ = [
    "Expectation",
    "InitialLossReport",
    "check_initial_loss",
    "expected_initial_loss",
    "gradient_check",
    "init_output_bias",
]

_LOSSES = (
    "bce_with_logits",
    "cross_entropy",
    "info_nce",
    "mse",
    "gaussian_nll",
    "poisson_nll",
    "multi_margin",
    "kl_div",
    "ctc",
)
_CHUNK = 2_000_000


@dataclass(frozen=True)
class Expectation:
    """An expected initial loss, how it was computed, and the rule of thumb beside it."""

    loss: str
    value: float
    method: str
    rule_of_thumb: float
    second_order: float | None = None
    stderr: float = 0.0
    assumptions: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"expected initial {self.loss}: {self.value:.4f} ({self.method})"]
        if self.stderr:
            lines[0] = lines[0][:-1] + f", standard error {self.stderr:.1e})"
        lines.append(f"  rule of thumb: {self.rule_of_thumb:.4f}")
        if self.second_order is not None:
            lines.append(f"  second-order approximation: {self.second_order:.4f}")
        lines.extend(f"  assumes {a}" for a in self.assumptions)
        return "\n".join(lines)

    __repr__ = __str__


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {allowed}, got {value!r}")
    return v


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _prior(value: Any, classes: int | None) -> np.ndarray:
    prior = np.asarray(value, dtype=float)
    if prior.ndim != 1 or prior.size < 2:
        raise ValueError(f"prior must be a vector of at least 2 class probabilities, got {value!r}")
    if classes is not None and prior.size != classes:
        raise ValueError(f"prior has {prior.size} entries but classes={classes}")
    if np.any(prior <= 0) or not math.isclose(prior.sum(), 1.0, abs_tol=1e-9):
        raise ValueError(f"prior must be positive and sum to 1, got {value!r}")
    return prior


def _bce_expectation(share: float, mean: float, std: float) -> float:
    def integrand(u: float) -> float:
        zz = mean + std * u
        return (share * np.logaddexp(0.0, -zz) + (1 - share) * np.logaddexp(0.0, zz)) * scipy.stats.norm.pdf(
            u
        )

    if std == 0:
        return float(share * np.logaddexp(0.0, -mean) + (1 - share) * np.logaddexp(0.0, mean))
    return float(scipy.integrate.quad(integrand, -12, 12, epsabs=1e-12, epsrel=1e-12, limit=200)[0])


def _logsumexp_expectation(means: np.ndarray, std: float, seed: int, samples: int) -> tuple[float, float]:
    """Monte Carlo mean of logsumexp(means + std·ε), in chunks of at most 2 million numbers."""
    if std == 0:
        return float(scipy.special.logsumexp(means)), 0.0
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK // means.size)
    total, total_sq, done = 0.0, 0.0, 0
    while done < samples:
        rows = min(chunk, samples - done)
        draws = scipy.special.logsumexp(means + std * rng.standard_normal((rows, means.size)), axis=1)
        total += float(draws.sum())
        total_sq += float((draws**2).sum())
        done += rows
    mean = total / samples
    variance = max(total_sq / samples - mean**2, 0.0) * samples / (samples - 1)
    return mean, math.sqrt(variance / samples)


def _default_samples(classes: int) -> int:
    """200 000 draws for few classes, fewer for many (at least 2 000), to bound the work."""
    return int(min(200_000, max(2_000, 20_000_000 // classes)))


def expected_initial_loss(
    loss: str,
    *,
    classes: int | None = None,
    prior: Sequence[float] | float | None = None,
    logit_mean: float | Sequence[float] = 0.0,
    logit_std: float = 0.0,
    negatives: int | None = None,
    temperature: float | None = None,
    dim: int | None = None,
    target_mean: float = 0.0,
    target_var: float = 1.0,
    output_mean: float = 0.0,
    output_var: float = 0.0,
    variance: float = 1.0,
    margin: float = 1.0,
    target_entropy: float | None = None,
    reduction: str = "mean",
    frames: int | None = None,
    target_length: int | None = None,
    repeats: int = 0,
    seed: int = 0,
    samples: int | None = None,
) -> Expectation:
    """Expected loss of a freshly initialised model whose outputs are independent of the labels.

    Logits are modelled as independent ``Normal(logit_mean, logit_std²)`` across examples
    and classes, independent of the targets. Per loss:

    * ``"bce_with_logits"``: ``prior`` = share of positives (default 0.5); exact by
      quadrature. Rule of thumb ln 2; second order ln 2 + s²/8 (zero-mean logits, any prior
      with zero bias gives the same).
    * ``"cross_entropy"``: ``classes`` C, optional ``prior`` over classes and per-class
      ``logit_mean`` (a bias); exact at zero spread, Monte Carlo otherwise. Rule of thumb
      ln C; second order ln C + s²(C - 1)/(2C).
    * ``"info_nce"``: ``negatives`` K, ``temperature`` τ, embedding ``dim`` d; random unit
      embeddings give cosine logits of spread 1/(τ√d), then as cross-entropy over K + 1.
    * ``"mse"``: E[(ŷ - y)²] = Var ŷ + (E ŷ - E y)² + Var y (exact for independent ŷ, y).
    * ``"gaussian_nll"``: PyTorch's form with a constant predicted ``variance``.
    * ``"poisson_nll"``: log-rate logits, ``target_mean`` E[y]: e^{b + s²/2} - E[y]·b.

    * ``"multi_margin"``: ``classes`` C, ``margin`` m, logit spread s (PyTorch's
      ``multi_margin_loss``, p = 1): (C - 1)/C · E max(0, m + D) with D ~ Normal(0, 2s²),
      which is (C - 1)/C · (m Φ(m/σ) + σ φ(m/σ)) for σ = s√2.
    * ``"kl_div"``: a uniform model (log q = -ln C) against targets of entropy
      ``target_entropy`` (default 0, one-hot): ln C - H per example; ``reduction`` "mean"
      (PyTorch's default, divides by N·C) or "batchmean".
    * ``"ctc"``: uniform outputs over ``classes`` C symbols (blank included) for ``frames``
      T, a target of ``target_length`` S with ``repeats`` r adjacent equal symbols:
      T ln C - ln binom(T + S - r, 2S); ``reduction`` "mean" divides by S (PyTorch's
      default), "sum" does not.

    Monte Carlo estimates use ``samples`` draws (default: 200 000, fewer for many classes)
    from a generator seeded with ``seed``; the result carries its standard error.

    >>> expected_initial_loss("mse", target_mean=2.0, target_var=1.0).value
    5.0
    >>> expected_initial_loss("hinge")
    Traceback (most recent call last):
    ...
    ValueError: loss must be one of bce_with_logits, cross_entropy, info_nce, mse, gaussian_nll, poisson_nll, multi_margin, kl_div, ctc; got 'hinge'
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {', '.join(_LOSSES)}; got {loss!r}")
    s = _positive("logit_std", logit_std, allow_zero=True)
    if samples is not None:
        samples = _count("samples", samples, 100)

    if loss == "bce_with_logits":
        share = 0.5 if prior is None else float(np.asarray(prior))
        if not 0 < share < 1:
            raise ValueError(f"prior (share of positives) must be in (0, 1), got {prior!r}")
        b = float(np.asarray(logit_mean))
        value = _bce_expectation(share, b, s)
        entropy = -(share * math.log(share) + (1 - share) * math.log(1 - share))
        return Expectation(
            loss,
            value,
            "exact (quadrature)",
            math.log(2),
            math.log(2) + s**2 / 8 if b == 0 else None,
            assumptions=(
                f"logits ~ Normal({b:g}, {s:g}²) independent of labels",
                f"share of positives {share:g} (its entropy, the best constant loss, is {entropy:.4f})",
            ),
        )

    if loss in ("cross_entropy", "info_nce"):
        if loss == "info_nce":
            k = _count("negatives", negatives, 1)
            tau = _positive("temperature", temperature)
            d = _count("dim", dim, 2)
            c = k + 1
            s = 1.0 / (tau * math.sqrt(d))
            pi = np.full(c, 1.0 / c)
            means = np.zeros(c)
            assumptions = (
                f"anchor, positive and {k} negatives are independent random unit vectors in R^{d}",
                f"cosine similarity has variance 1/d, so logits have spread 1/(τ√d) = {s:.4f}",
            )
        else:
            c = _count("classes", classes, 2)
            pi = np.full(c, 1.0 / c) if prior is None else _prior(prior, c)
            means = np.broadcast_to(np.asarray(logit_mean, dtype=float), (c,)).copy()
            assumptions = (
                f"logits ~ Normal(bias, {s:g}²) independent across classes and of the labels",
                "label distribution " + ("uniform" if prior is None else "as given by prior"),
            )
        samples = _default_samples(c) if samples is None else samples
        lse, stderr = _logsumexp_expectation(means, s, seed, samples)
        value = lse - float(pi @ means)
        method = "exact (equal spread 0)" if s == 0 else f"Monte Carlo, {samples} samples"
        return Expectation(
            loss,
            value,
            method,
            math.log(c),
            math.log(c) + s**2 * (c - 1) / (2 * c) if not np.any(means) else None,
            stderr,
            assumptions,
        )

    if loss == "mse":
        for name, v in (("target_var", target_var), ("output_var", output_var)):
            _positive(name, v, allow_zero=True)
        value = output_var + (output_mean - target_mean) ** 2 + target_var
        return Expectation(
            loss,
            float(value),
            "exact for outputs independent of targets",
            float(target_mean**2 + target_var),
            assumptions=("E[(ŷ - y)²] = Var ŷ + (E ŷ - E y)² + Var y",),
        )

    if loss == "gaussian_nll":
        v = _positive("variance", variance)
        second_moment = output_var + (output_mean - target_mean) ** 2 + target_var
        value = 0.5 * (math.log(max(v, 1e-6)) + second_moment / max(v, 1e-6))
        return Expectation(
            loss,
            value,
            "exact (PyTorch's form, full=False)",
            0.5 * (target_mean**2 + target_var),
            assumptions=(f"predicted variance {v:g} for every example", "outputs independent of targets"),
        )

    if loss == "multi_margin":
        c = _count("classes", classes, 2)
        m = _positive("margin", margin)
        sd = s * math.sqrt(2)
        per_term = m if sd == 0 else m * scipy.stats.norm.cdf(m / sd) + sd * scipy.stats.norm.pdf(m / sd)
        return Expectation(
            loss,
            (c - 1) / c * float(per_term),
            "exact (closed form)",
            (c - 1) / c * m,
            assumptions=(f"logits ~ Normal(0, {s:g}²) independent", "PyTorch's p = 1, no class weights"),
        )

    if loss == "kl_div":
        c = _count("classes", classes, 2)
        h = 0.0 if target_entropy is None else _positive("target_entropy", target_entropy, allow_zero=True)
        if h > math.log(c) + 1e-12:
            raise ValueError(
                f"target_entropy must be at most ln C = {math.log(c):.4f}, got {target_entropy!r}"
            )
        if reduction not in ("mean", "batchmean"):
            raise ValueError(f"reduction must be 'mean' or 'batchmean' for kl_div, got {reduction!r}")
        divergence = math.log(c) - h
        return Expectation(
            loss,
            divergence / c if reduction == "mean" else divergence,
            f"exact (reduction={reduction!r})",
            divergence,
            assumptions=("the model predicts the uniform distribution", f"targets have entropy {h:g} nats"),
        )

    if loss == "ctc":
        c = _count("classes", classes, 2)
        t_frames = _count("frames", frames, 1)
        length = _count("target_length", target_length, 1)
        r = _count("repeats", repeats, 0)
        if r >= length or t_frames < length + r:
            raise ValueError(
                f"need repeats < target_length and frames >= target_length + repeats, got "
                f"frames={frames}, target_length={target_length}, repeats={repeats}"
            )
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum' for ctc, got {reduction!r}")
        total = t_frames * math.log(c) - math.log(math.comb(t_frames + length - r, 2 * length))
        return Expectation(
            loss,
            total / length if reduction == "mean" else total,
            f"exact (alignment count, reduction={reduction!r})",
            t_frames * math.log(c) / (length if reduction == "mean" else 1),
            assumptions=(f"uniform outputs over {c} symbols at each of {t_frames} frames",),
        )

    b = float(np.asarray(logit_mean))
    value = math.exp(b + s**2 / 2) - target_mean * b
    return Expectation(
        loss,
        value,
        "exact (log-normal mean)",
        1.0,
        assumptions=(f"log-rates ~ Normal({b:g}, {s:g}²)", f"mean count {target_mean:g}"),
    )


def init_output_bias(
    bias: torch.Tensor, prior: Sequence[float] | float, *, multilabel: bool = False
) -> torch.Tensor:
    """Set an output layer's bias to the best constant: log-odds or log prior.

    * one output (binary): ``prior`` is the share of positives; the bias becomes its log-odds;
    * several outputs, ``multilabel=False`` (softmax over classes): ``prior`` is the class
      distribution; the bias becomes its logarithm;
    * several outputs, ``multilabel=True`` (one sigmoid per label): ``prior`` is the share of
      positives of each label (a scalar for all of them, or one per output); each bias
      becomes its log-odds.

    With the weights near zero, the first loss is then the entropy of the label prior
    instead of ln 2 or ln C. Works in place under ``torch.no_grad()`` and returns ``bias``.

    >>> init_output_bias(torch.zeros(1), 0.1)
    tensor([-2.1972])
    >>> round(init_output_bias(torch.zeros(3), [0.5, 0.3, 0.2]).exp().sum().item(), 6)
    1.0
    >>> init_output_bias(torch.zeros(2), 0.05, multilabel=True)
    tensor([-2.9444, -2.9444])
    """
    if not isinstance(bias, torch.Tensor) or not bias.is_floating_point():
        raise TypeError(f"bias must be a floating-point tensor, got {type(bias).__name__}")
    with torch.no_grad():
        if bias.numel() == 1 or multilabel:
            shares = (
                np.broadcast_to(np.asarray(prior, dtype=float), (bias.numel(),))
                if np.ndim(prior) == 0
                else (np.asarray(prior, dtype=float))
            )
            if shares.shape != (bias.numel(),) or not np.all((shares > 0) & (shares < 1)):
                raise ValueError(
                    f"prior must be the share of positives in (0, 1), one value or one per output "
                    f"({bias.numel()}), got {prior!r}"
                )
            values = np.log(shares / (1 - shares))
        else:
            values = np.log(_prior(prior, bias.numel()))
        bias.copy_(torch.as_tensor(values, dtype=bias.dtype).reshape(bias.shape))
    return bias


@dataclass(frozen=True)
class InitialLossReport:
    """What :func:`check_initial_loss` measured, what it expected, and what it concludes.

    ``diagnoses`` are findings that make ``ok`` False; ``hints`` are weaker signals that
    are worth a look but are also produced by some correct models.
    """

    loss: str
    measured: float
    stderr: float
    expected: Expectation
    logit_mean: float
    logit_std: float
    diagnoses: tuple[str, ...] = field(default_factory=tuple)
    hints: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.diagnoses

    def __str__(self) -> str:
        lines = [
            f"initial {self.loss}: measured {self.measured:.4f} ± {self.stderr:.4f}, expected "
            f"{self.expected.value:.4f} for the measured logit spread {self.logit_std:.3f} "
            f"(rule of thumb {self.expected.rule_of_thumb:.4f})"
        ]
        lines += [f"  ! {d}" for d in self.diagnoses] or [
            "  ok: the first loss matches what initialisation predicts"
        ]
        lines += [f"  ? {h}" for h in self.hints]
        return "\n".join(lines)

    __repr__ = __str__


def check_initial_loss(
    model: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss: str,
    *,
    rtol: float = 0.05,
    samples: int | None = None,
) -> InitialLossReport:
    """Run ``model`` on one batch and compare its loss with the expected initial loss.

    ``loss`` is ``"cross_entropy"`` (targets: integer class indices) or
    ``"bce_with_logits"`` (targets in [0, 1], one per output). The expectation uses the
    measured mean and spread of the logits and the batch's own label frequencies. The loss
    is flagged when it differs from the expectation by more than both ``rtol`` (relative)
    and four standard errors of the batch mean, so small batches do not raise false alarms.

    The model runs in whatever mode it is in (train mode updates BatchNorm running
    statistics); gradients are not recorded.
    """
    if loss not in ("cross_entropy", "bce_with_logits"):
        raise ValueError(f"loss must be 'cross_entropy' or 'bce_with_logits', got {loss!r}")
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    if not isinstance(targets, torch.Tensor):
        raise TypeError(f"targets must be a tensor, got {type(targets).__name__}")
    with torch.no_grad():
        logits = model(inputs)
    diagnoses: list[str] = []
    hints: list[str] = []
    if not bool(torch.isfinite(logits).all()):
        diagnoses.append("the model's outputs contain NaN or inf: check the inputs and the initialisation")
        logits = torch.nan_to_num(logits, nan=0.0, posinf=0.0, neginf=0.0)
    logits = logits.double()
    if loss == "cross_entropy":
        if logits.dim() != 2:
            raise ValueError(f"cross_entropy needs logits of shape (N, C), got {tuple(logits.shape)}")
        c = logits.shape[1]
        if targets.is_floating_point() or targets.dim() != 1 or len(targets) != len(logits):
            raise ValueError(
                f"cross_entropy needs integer class indices of shape ({len(logits)},), got "
                f"{targets.dtype} of shape {tuple(targets.shape)}"
            )
        if targets.min() < 0 or targets.max() >= c:
            raise ValueError(
                f"class indices must lie in [0, {c}), got values in [{int(targets.min())}, {int(targets.max())}]"
            )
        per_example = F.cross_entropy(logits, targets, reduction="none")
        counts = torch.bincount(targets, minlength=c).double()
        prior = (counts / counts.sum()).clamp_min(1e-12)
        prior = (prior / prior.sum()).numpy()
        bias = logits.mean(dim=0).numpy()
        spread = float((logits - logits.mean(dim=0)).std())
        expected = expected_initial_loss(
            "cross_entropy", classes=c, prior=prior, logit_mean=bias, logit_std=spread, samples=samples
        )
        if bool(torch.all(logits >= 0)) and torch.allclose(
            logits.sum(dim=1), torch.ones(len(logits), dtype=logits.dtype), atol=1e-4
        ):
            diagnoses.append("the outputs are non-negative and sum to 1: a softmax before cross_entropy?")
    else:
        if logits.numel() != targets.numel():
            raise ValueError(
                f"bce_with_logits needs one target per output: {logits.numel()} outputs, {targets.numel()} targets"
            )
        target = targets.double().reshape(logits.shape)
        if bool(torch.any((target < 0) | (target > 1))):
            raise ValueError("bce_with_logits needs targets in [0, 1] (labels {0, 1} or probabilities)")
        per_example = F.binary_cross_entropy_with_logits(logits, target, reduction="none").reshape(-1)
        share = float(target.mean().clamp(1e-6, 1 - 1e-6))
        bias = float(logits.mean())
        spread = float(logits.std()) if logits.numel() > 1 else 0.0
        expected = expected_initial_loss("bce_with_logits", prior=share, logit_mean=bias, logit_std=spread)
        if bool(torch.all((logits >= 0) & (logits <= 1))) and 0 < spread < 0.3:
            hints.append(
                "all outputs lie in [0, 1] with a small spread: if a sigmoid comes before "
                "binary_cross_entropy_with_logits, remove it (some correct heads look like this too)"
            )
    measured = float(per_example.mean())
    stderr = float(per_example.std() / math.sqrt(per_example.numel())) if per_example.numel() > 1 else 0.0
    if diagnoses and "NaN or inf" in diagnoses[0]:
        measured = math.nan
    elif not math.isfinite(measured):
        diagnoses.append("the loss is not finite: log(0), an overflow, or NaN inputs")
    else:
        gap = abs(measured - expected.value)
        allowed = max(rtol * expected.value, 4 * (stderr + expected.stderr))
        if gap > allowed:
            if measured > expected.value:
                diagnoses.append(
                    f"the loss is {measured / expected.value - 1:.0%} above the expectation: a 'sum' "
                    "reduction, targets in an encoding this loss does not expect, or a different loss?"
                )
            else:
                diagnoses.append(
                    f"the loss is {1 - measured / expected.value:.0%} below the expectation: does the "
                    "model see the labels (leakage), or has it been trained already?"
                )
    return InitialLossReport(
        loss, measured, stderr, expected, float(np.mean(bias)), spread, tuple(diagnoses), tuple(hints)
    )


def gradient_check(
    fn: Callable[..., torch.Tensor],
    *inputs: torch.Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """``torch.autograd.gradcheck`` in float64 with the book's thresholds; True or a clear error.

    Inputs are copied to float64 (float32 central differences are accurate to about 1e-3
    only, see the chapter "How this book checks itself") and marked as requiring gradients.

    >>> gradient_check(lambda x: (x**3).sum(), torch.tensor([1.0, 2.0]))
    True
    >>> gradient_check(lambda x: (x**3).detach().sum() + x.sum(), torch.tensor([1.0, 2.0]))
    Traceback (most recent call last):
    ...
    AssertionError: gradient check failed (eps=1e-06, atol=1e-05, rtol=0.001): Jacobian mismatch for output 0 with respect to input 0, numerical:tensor([[ 4.0000], [13.0000]], dtype=torch.float64) analytical:tensor([[1.], [1.]], dtype=torch.float64)
    """
    if not inputs:
        raise ValueError("gradient_check needs at least one input tensor")
    prepared = []
    for position, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(
                f"input {position} must be a floating-point tensor, got "
                f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        prepared.append(x.detach().to(torch.float64).requires_grad_(True))
    try:
        return bool(torch.autograd.gradcheck(fn, tuple(prepared), eps=eps, atol=atol, rtol=rtol))
    except GradcheckError as error:
        detail = " ".join(str(error).split())
        raise AssertionError(
            f"gradient check failed (eps={eps:g}, atol={atol:g}, rtol={rtol:g}): {detail}"
        ) from None
    except RuntimeError as error:
        if "dtype" not in str(error) and "Double" not in str(error) and "Float" not in str(error):
            raise
        raise TypeError(
            "gradient_check runs in float64: convert modules and captured tensors with .double() "
            f"first (PyTorch said: {' '.join(str(error).split())[:200]})"
        ) from None
