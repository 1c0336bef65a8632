"""Expected initial loss of every common PyTorch loss, for outputs independent of the targets.

Derived in the chapter "Sanity checks". Each loss has a model of what a freshly initialised
network outputs (logits ``Normal(b, s²)``, random unit embeddings, a uniform distribution);
:func:`expected_initial_loss` returns the value under that model, how it was computed, the
rule of thumb beside it and, where one exists, the small- and large-spread approximations.

>>> e = expected_initial_loss("cross_entropy", classes=10)
>>> round(e.value, 6), e.rule_of_thumb == e.value
(2.302585, True)
>>> e = expected_initial_loss("bce_with_logits", logit_std=2.0)
>>> round(e.value, 4), round(e.second_order, 4)  # the expansion overshoots at s = 2
(1.0677, 1.1931)
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.integrate
import scipy.optimize
import scipy.special
import scipy.stats

from lossbook.sanity import _args
from lossbook.sanity.approx import large_spread, sphere_mgf

__all__ = ["LOSSES", "Expectation", "expected_initial_loss"]

_CHUNK = 2_000_000
_PHI = scipy.stats.norm
_SQRT_2PI = math.sqrt(2 * math.pi)


@dataclass(frozen=True)
class Expectation:
    """An expected initial loss, how it was computed, and the approximations beside it.

    ``second_order`` is the small-spread expansion and ``large_spread`` the large-spread
    asymptote, each ``None`` where the loss has none or the conditions for it do not hold.
    """

    loss: str
    value: float
    method: str
    rule_of_thumb: float
    second_order: float | None = None
    stderr: float = 0.0
    assumptions: tuple[str, ...] = ()
    large_spread: float | None = None

    def __str__(self) -> str:
        head = f"expected initial {self.loss}: {self.value:.4f}"
        how = f"  ({self.method}" + (f", standard error {self.stderr:.1e})" if self.stderr else ")")
        lines = [head, how, f"  rule of thumb: {self.rule_of_thumb:.4f}"]
        if self.second_order is not None:
            lines.append(f"  second-order approximation: {self.second_order:.4f}")
        if self.large_spread is not None:
            lines.append(f"  large-spread approximation: {self.large_spread:.4f}")
        lines.extend(
            textwrap.fill(
                f"assumes {a}", 72, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False
            )
            for a in self.assumptions
        )
        return "\n".join(lines)

    __repr__ = __str__


# ---------------------------------------------------------------- shared numerics


def _mc_mean(draw: Callable[[np.random.Generator, int], np.ndarray], samples: int, seed: int, width: int):
    """Monte Carlo mean and standard error of ``draw(rng, rows)``, in bounded chunks."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK // max(width, 1))
    total = total_sq = 0.0
    done = 0
    while done < samples:
        rows = min(chunk, samples - done)
        values = draw(rng, rows)
        total += float(values.sum())
        total_sq += float((values**2).sum())
        done += rows
    mean = total / samples
    variance = max(total_sq / samples - mean**2, 0.0) * samples / (samples - 1)
    return mean, math.sqrt(variance / samples)


def _samples(samples: int | None, width: int) -> int:
    """200 000 draws for narrow problems, fewer for wide ones (at least 2 000)."""
    if samples is not None:
        return _args.count("samples", samples, 100)
    return int(min(200_000, max(2_000, 20_000_000 // width)))


def _softplus_mean(mean: float, std: float) -> float:
    """E[softplus(z)] for z ~ Normal(mean, std²), by quadrature."""
    if std == 0:
        return float(np.logaddexp(0.0, mean))
    value, _ = scipy.integrate.quad(
        lambda u: np.logaddexp(0.0, mean + std * u) * math.exp(-0.5 * u * u) / _SQRT_2PI,
        -14,
        14,
        epsabs=1e-13,
        epsrel=1e-12,
        limit=200,
    )
    return float(value)


def _bce_mean(rho: float, mean: float, std: float) -> float:
    # BCE = softplus(z) - y z, and E[y z] = rho * mean for z independent of y
    return _softplus_mean(mean, std) - rho * mean


def _hinge_mean(margin: float, sd: float, power: int = 1) -> float:
    """E[max(0, margin + D)^power] for D ~ Normal(0, sd²), closed form (power 1 or 2)."""
    if sd == 0:
        return max(margin, 0.0) ** power
    a = margin / sd
    if power == 1:
        return float(margin * _PHI.cdf(a) + sd * _PHI.pdf(a))
    return float((margin**2 + sd**2) * _PHI.cdf(a) + margin * sd * _PHI.pdf(a))


def _truncated(mu: np.ndarray, sd: float, a: float, b: float):
    """P, E[d·1], E[d²·1] over a <= d <= b for d ~ Normal(mu, sd²) (a, b may be infinite)."""
    alpha, beta = (a - mu) / sd, (b - mu) / sd
    pa, pb = _PHI.pdf(alpha), _PHI.pdf(beta)
    p = _PHI.cdf(beta) - _PHI.cdf(alpha)
    first = mu * p + sd * (pa - pb)
    ta = 0.0 if math.isinf(a) else (a + mu) * pa
    tb = 0.0 if math.isinf(b) else (b + mu) * pb
    second = (mu**2 + sd**2) * p + sd * (ta - tb)
    return p, first, second


def _huber_mean(mu: np.ndarray, sd: float, delta: float) -> np.ndarray:
    """E[huber_delta(d)] for d ~ Normal(mu, sd²), closed form (vectorised over mu)."""
    if sd == 0:
        d = np.abs(mu)
        return np.where(d <= delta, 0.5 * d**2, delta * (d - 0.5 * delta))
    _, _, inner2 = _truncated(mu, sd, -delta, delta)
    p_hi, first_hi, _ = _truncated(mu, sd, delta, math.inf)
    p_lo, first_lo, _ = _truncated(mu, sd, -math.inf, -delta)
    return 0.5 * inner2 + delta * (first_hi - first_lo) - 0.5 * delta**2 * (p_hi + p_lo)


def _abs_mean(mu: np.ndarray, sd: float) -> np.ndarray:
    """E|d| for d ~ Normal(mu, sd²): the folded-normal mean."""
    if sd == 0:
        return np.abs(mu)
    return sd * math.sqrt(2 / math.pi) * np.exp(-(mu**2) / (2 * sd**2)) + mu * (1 - 2 * _PHI.cdf(-mu / sd))


# ---------------------------------------------------------------- one function per loss


def _bce_with_logits(*, prior: float = 0.5, logit_mean: float = 0.0, logit_std: float = 0.0):
    rho = _args.share("prior", prior)
    b = _args.real("logit_mean", logit_mean)
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    entropy = -(rho * math.log(rho) + (1 - rho) * math.log(1 - rho))
    return dict(
        value=_bce_mean(rho, b, s),
        method="exact (quadrature)",
        rule_of_thumb=math.log(2),
        second_order=math.log(2) + s**2 / 8 if b == 0 else None,
        large_spread=large_spread("bce_with_logits", s) if b == 0 and s > 0 else None,
        assumptions=(
            f"logits ~ Normal({b:g}, {s:g}²) independent of the labels",
            f"share of positives {rho:g} (its entropy, the best constant loss, is {entropy:.4f})",
        ),
    )


def _lse_mean(centres: np.ndarray, s: float, samples: int | None, seed: int) -> tuple[float, float, str]:
    if s == 0:
        return float(scipy.special.logsumexp(centres)), 0.0, "exact (spread 0)"
    n = _samples(samples, centres.size)

    def draw(rng, rows):
        return scipy.special.logsumexp(centres + s * rng.standard_normal((rows, centres.size)), axis=1)

    mean, err = _mc_mean(draw, n, seed, centres.size)
    return mean, err, f"Monte Carlo, {n} samples"


def _cross_entropy(
    *,
    classes: int,
    prior: Sequence[float] | None = None,
    logit_mean: float | Sequence[float] = 0.0,
    logit_std: float = 0.0,
    seed: int = 0,
    samples: int | None = None,
):
    c = _args.count("classes", classes, 2)
    rho = np.full(c, 1.0 / c) if prior is None else _args.prior(prior, c)
    b = _args.means("logit_mean", logit_mean, c)
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    lse, err, method = _lse_mean(b, s, samples, _args.count("seed", seed, 0))
    equal = bool(np.all(b == b[0]))
    return dict(
        value=lse - float(rho @ b),
        method=method,
        stderr=err,
        rule_of_thumb=math.log(c),
        second_order=math.log(c) + s**2 * (c - 1) / (2 * c) if equal else None,
        large_spread=large_spread("cross_entropy", s, c) if equal and s > 0 else None,
        assumptions=(
            f"logits ~ Normal(bias, {s:g}²) independent across classes and of the labels",
            "label distribution " + ("uniform" if prior is None else "as given by prior"),
        ),
    )


def _sphere_cosines(rng: np.random.Generator, shape: tuple[int, ...], dim: int) -> np.ndarray:
    """Cosines of independent uniform unit vectors in R^dim: (1 + cos)/2 ~ Beta((d-1)/2, (d-1)/2)."""
    a = (dim - 1) / 2
    return 2 * rng.beta(a, a, size=shape) - 1


def _info_nce(
    *,
    negatives: int,
    temperature: float,
    dim: int,
    model: str = "sphere",
    seed: int = 0,
    samples: int | None = None,
):
    k = _args.count("negatives", negatives, 1)
    tau = _args.positive("temperature", temperature)
    d = _args.count("dim", dim, 2)
    _args.choice("model", model, ("sphere", "gaussian"))
    width = k + 1
    n = _samples(samples, width)
    seed = _args.count("seed", seed, 0)
    if model == "sphere":

        def draw(rng, rows):
            cos = _sphere_cosines(rng, (rows, width), d) / tau
            return scipy.special.logsumexp(cos, axis=1) - cos[:, 0]

        assumption = (
            f"anchor, positive and {k} negatives are independent uniform unit vectors in R^{d}: "
            f"(1 + cos)/2 ~ Beta({(d - 1) / 2:g}, {(d - 1) / 2:g})"
        )
    else:

        def draw(rng, rows):
            z = rng.standard_normal((rows, width)) / (tau * math.sqrt(d))
            return scipy.special.logsumexp(z, axis=1) - z[:, 0]

        assumption = f"cosines ~ Normal(0, 1/d) (an approximation that ignores |cos| <= 1), d = {d}"
    value, err = _mc_mean(draw, n, seed, width)
    s = 1.0 / (tau * math.sqrt(d))
    bound = math.log(width) + (math.log(sphere_mgf(1 / tau, d)) if model == "sphere" else s**2 / 2)
    return dict(
        value=value,
        method=f"Monte Carlo, {n} samples",
        stderr=err,
        rule_of_thumb=math.log(width),
        second_order=math.log(width) + s**2 * k / (2 * width),
        assumptions=(
            assumption,
            f"logit spread 1/(τ√d) = {s:.4f}; Jensen upper bound {bound:.4f}",
            "real encoders at initialisation are NOT random directions (chapter: sanity_encoders)",
        ),
    )


def _mse(
    *, target_mean: float = 0.0, target_var: float = 1.0, output_mean: float = 0.0, output_var: float = 0.0
):
    ym = _args.real("target_mean", target_mean)
    yv = _args.positive("target_var", target_var, allow_zero=True)
    om = _args.real("output_mean", output_mean)
    ov = _args.positive("output_var", output_var, allow_zero=True)
    return dict(
        value=ov + (om - ym) ** 2 + yv,
        method="exact for outputs independent of targets",
        rule_of_thumb=ym**2 + yv,
        assumptions=("E[(ŷ - y)²] = Var ŷ + (E ŷ - E y)² + Var y",),
    )


def _residual(target_mean, target_var, output_mean, output_var):
    ym = _args.real("target_mean", target_mean)
    yv = _args.positive("target_var", target_var, allow_zero=True)
    om = _args.real("output_mean", output_mean)
    ov = _args.positive("output_var", output_var, allow_zero=True)
    return np.array(om - ym), math.sqrt(ov + yv)


_GAUSS = (
    "outputs ~ Normal(output_mean, output_var) and targets ~ Normal(target_mean, target_var), independent"
)


def _l1(
    *, target_mean: float = 0.0, target_var: float = 1.0, output_mean: float = 0.0, output_var: float = 0.0
):
    mu, sd = _residual(target_mean, target_var, output_mean, output_var)
    return dict(
        value=float(_abs_mean(mu, sd)),
        method="exact (folded-normal mean)",
        rule_of_thumb=float(abs(mu)) if sd == 0 else sd * math.sqrt(2 / math.pi),
        assumptions=(_GAUSS,),
    )


def _huber(
    *,
    delta: float = 1.0,
    target_mean: float = 0.0,
    target_var: float = 1.0,
    output_mean: float = 0.0,
    output_var: float = 0.0,
):
    dl = _args.positive("delta", delta)
    mu, sd = _residual(target_mean, target_var, output_mean, output_var)
    return dict(
        value=float(_huber_mean(mu, sd, dl)),
        method="exact (truncated-normal moments)",
        rule_of_thumb=0.5 * (float(mu) ** 2 + sd**2),
        assumptions=(_GAUSS, f"huber with delta = {dl:g}; the rule of thumb is half the MSE"),
    )


def _smooth_l1(
    *,
    beta: float = 1.0,
    target_mean: float = 0.0,
    target_var: float = 1.0,
    output_mean: float = 0.0,
    output_var: float = 0.0,
):
    b = _args.positive("beta", beta, allow_zero=True)
    mu, sd = _residual(target_mean, target_var, output_mean, output_var)
    value = float(_abs_mean(mu, sd)) if b == 0 else float(_huber_mean(mu, sd, b)) / b
    return dict(
        value=value,
        method="exact (smooth_l1 = huber_β / β; L1 at β = 0)",
        rule_of_thumb=float(_abs_mean(mu, sd)),
        assumptions=(_GAUSS, f"beta = {b:g}; the rule of thumb is the L1 value"),
    )


def _gaussian_nll(
    *,
    variance: float = 1.0,
    target_mean: float = 0.0,
    target_var: float = 1.0,
    output_mean: float = 0.0,
    output_var: float = 0.0,
    full: bool = False,
    eps: float = 1e-6,
):
    v = _args.positive("variance", variance)
    e = _args.positive("eps", eps)
    second = _mse(
        target_mean=target_mean, target_var=target_var, output_mean=output_mean, output_var=output_var
    )
    clamped = max(v, e)
    value = 0.5 * (math.log(clamped) + second["value"] / clamped) + (
        0.5 * math.log(2 * math.pi) if full else 0
    )
    return dict(
        value=value,
        method=f"exact (PyTorch's form, full={bool(full)}, variance clamped at eps={e:g})",
        rule_of_thumb=0.5 * second["rule_of_thumb"],
        assumptions=(f"predicted variance {v:g} for every example", "means independent of targets"),
    )


def _poisson_nll(*, target_mean: float, logit_mean: float = 0.0, logit_std: float = 0.0):
    ybar = _args.positive("target_mean", target_mean, allow_zero=True)
    b = _args.real("logit_mean", logit_mean)
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    return dict(
        value=math.exp(b + s**2 / 2) - ybar * b,
        method="exact (log-normal mean)",
        rule_of_thumb=1.0,
        second_order=math.exp(b) * (1 + s**2 / 2) - ybar * b,
        assumptions=(
            f"log-rates ~ Normal({b:g}, {s:g}²) independent of the counts",
            f"mean count {ybar:g}; log_input=True, full=False (PyTorch's defaults)",
        ),
    )


def _multi_margin(*, classes: int, margin: float = 1.0, logit_std: float = 0.0, p: int = 1):
    c = _args.count("classes", classes, 2)
    m = _args.positive("margin", margin)
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    power = p if p in (1, 2) and not isinstance(p, bool) else None
    if power is None:
        raise ValueError(f"p must be 1 or 2 (PyTorch's choices), got {p!r}")
    return dict(
        value=(c - 1) / c * _hinge_mean(m, s * math.sqrt(2), power),
        method="exact (closed form)",
        rule_of_thumb=(c - 1) / c * m**power,
        assumptions=(
            f"logits ~ Normal(0, {s:g}²) independent; z_i - z_y ~ Normal(0, 2s²)",
            "PyTorch sums over the C - 1 wrong classes and divides by C; no class weights",
        ),
    )


def _multilabel_soft_margin(
    *, labels: int, prior: float | Sequence[float] = 0.5, logit_mean: float = 0.0, logit_std: float = 0.0
):
    c = _args.count("labels", labels, 1)
    rho = _args.shares("prior", prior, c)
    b = _args.means("logit_mean", logit_mean, c)
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    value = float(np.mean([_bce_mean(r, bb, s) for r, bb in zip(rho, b, strict=True)]))
    return dict(
        value=value,
        method="exact (quadrature per label, mean over labels)",
        rule_of_thumb=math.log(2),
        second_order=math.log(2) + s**2 / 8 if not np.any(b) else None,
        assumptions=("the mean over labels of BCE with logits", f"logits ~ Normal(bias, {s:g}²)"),
    )


def _margin_ranking(*, margin: float = 0.0, logit_std: float = 0.0):
    m = _args.real("margin", margin)
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    return dict(
        value=_hinge_mean(m, s * math.sqrt(2)),
        method="exact (closed form)",
        rule_of_thumb=max(m, 0.0),
        assumptions=(f"both scores ~ Normal(b, {s:g}²) independent; any labels in {{-1, 1}}",),
    )


def _cosine_embedding(*, dim: int, margin: float = 0.0, prior: float = 0.5):
    d = _args.count("dim", dim, 2)
    m = _args.real("margin", margin)
    if not -1 <= m <= 1:
        raise ValueError(f"margin must lie in [-1, 1] for cosine_embedding, got {margin!r}")
    rho = _args.share("prior", prior)
    a = (d - 1) / 2
    law = scipy.stats.beta(a, a, loc=-1, scale=2)
    tail, _ = scipy.integrate.quad(lambda c: (c - m) * law.pdf(c), m, 1, epsabs=1e-13, limit=200)
    return dict(
        value=rho * 1.0 + (1 - rho) * tail,
        method="exact (quadrature over the Beta law of the cosine)",
        rule_of_thumb=rho,
        assumptions=(
            f"the two embeddings are independent uniform unit vectors in R^{d}",
            f"share of similar pairs (y = 1) {rho:g}; real encoders are not random directions",
        ),
    )


def _triplet(
    *,
    dim: int,
    margin: float = 1.0,
    normalized: bool = False,
    embedding_std: float = 1.0,
    eps: float = 1e-6,
    seed: int = 0,
    samples: int | None = None,
):
    d = _args.count("dim", dim, 1)
    m = _args.positive("margin", margin, allow_zero=True)
    sd = _args.positive("embedding_std", embedding_std)
    e = _args.positive("eps", eps, allow_zero=True)
    n = _samples(samples, 3 * d)

    def draw(rng, rows):
        a, p, q = (rng.standard_normal((rows, d)) for _ in range(3))
        if normalized:
            a, p, q = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (a, p, q))
        else:
            a, p, q = a * sd, p * sd, q * sd
        dp = np.linalg.norm(a - p + e, axis=1)
        dn = np.linalg.norm(a - q + e, axis=1)
        return np.maximum(0.0, dp - dn + m)

    value, err = _mc_mean(draw, n, _args.count("seed", seed, 0), 3 * d)
    kind = "unit vectors" if normalized else f"Normal(0, {sd:g}² I) vectors"
    return dict(
        value=value,
        method=f"Monte Carlo, {n} samples",
        stderr=err,
        rule_of_thumb=m,
        assumptions=(
            f"anchor, positive and negative are independent {kind} in R^{d}",
            f"PyTorch's pairwise distance adds eps = {e:g}; p = 2, no swap",
        ),
    )


def _kl_div(
    *,
    classes: int,
    target_entropy: float = 0.0,
    logit_std: float = 0.0,
    reduction: str = "mean",
    batch: int | None = None,
    seed: int = 0,
    samples: int | None = None,
):
    c = _args.count("classes", classes, 2)
    h = _args.positive("target_entropy", target_entropy, allow_zero=True)
    if h > math.log(c) + 1e-12:
        raise ValueError(f"target_entropy must be at most ln C = {math.log(c):.4f}, got {target_entropy!r}")
    s = _args.positive("logit_std", logit_std, allow_zero=True)
    _args.choice("reduction", reduction, ("mean", "batchmean", "sum", "none"))
    if reduction == "sum":
        n = _args.count("batch", batch, 1)
    lse, err, method = _lse_mean(np.zeros(c), s, samples, _args.count("seed", seed, 0))
    divergence = lse - h
    scale = {"mean": 1 / c, "none": 1 / c, "batchmean": 1.0, "sum": n if reduction == "sum" else 1.0}[
        reduction
    ]
    return dict(
        value=divergence * scale,
        method=f"{method} (reduction={reduction!r}; 'none' reported as its mean)",
        stderr=err * scale,
        rule_of_thumb=(math.log(c) - h) * scale,
        assumptions=(
            f"model log-probabilities log_softmax(z), z ~ Normal(0, {s:g}²) independent of the targets",
            f"targets have entropy {h:g} nats; 'mean' divides by N·C, 'batchmean' by N",
        ),
    )


def _ctc(*, classes: int, frames: int, target_length: int, repeats: int = 0, reduction: str = "mean"):
    c = _args.count("classes", classes, 2)
    t = _args.count("frames", frames, 1)
    length = _args.count("target_length", target_length, 1)
    r = _args.count("repeats", repeats, 0)
    if r >= length or t < length + r:
        raise ValueError(
            f"need repeats < target_length and frames >= target_length + repeats, got "
            f"frames={frames}, target_length={target_length}, repeats={repeats}"
        )
    _args.choice("reduction", reduction, ("mean", "sum", "none"))
    total = t * math.log(c) - math.log(math.comb(t + length - r, 2 * length))
    per = length if reduction == "mean" else 1
    return dict(
        value=total / per,
        method=f"exact (alignment count, reduction={reduction!r})",
        rule_of_thumb=t * math.log(c) / per,
        assumptions=(f"uniform outputs over {c} symbols (blank included) at each of {t} frames",),
    )


_EXPECTERS: dict[str, Callable[..., dict]] = {
    "bce_with_logits": _bce_with_logits,
    "cross_entropy": _cross_entropy,
    "info_nce": _info_nce,
    "mse": _mse,
    "l1": _l1,
    "huber": _huber,
    "smooth_l1": _smooth_l1,
    "gaussian_nll": _gaussian_nll,
    "poisson_nll": _poisson_nll,
    "multi_margin": _multi_margin,
    "multilabel_soft_margin": _multilabel_soft_margin,
    "margin_ranking": _margin_ranking,
    "cosine_embedding": _cosine_embedding,
    "triplet": _triplet,
    "kl_div": _kl_div,
    "ctc": _ctc,
}
#: The losses :func:`expected_initial_loss` knows.
LOSSES: tuple[str, ...] = tuple(_EXPECTERS)


def expected_initial_loss(loss: str, **parameters) -> Expectation:
    """Expected loss of a freshly initialised model whose outputs are independent of the targets.

    ``loss`` is one of :data:`~lossbook.sanity.expect.LOSSES`; the keyword arguments it takes (all range-checked,
    NaN refused) are listed in the error when a wrong one is passed. Outputs are modelled
    as Normal logits ``logit_mean + logit_std·ε`` (classification), Normal predictions
    (regression: residual ``Normal(output_mean - target_mean, output_var + target_var)``),
    independent uniform unit vectors (``info_nce``, ``cosine_embedding``, normalised
    ``triplet``) or a uniform distribution (``ctc``). Values are exact (closed form or
    quadrature) where possible and Monte Carlo with a seeded generator and a standard error
    otherwise.

    >>> expected_initial_loss("mse", target_mean=2.0, target_var=1.0).value
    5.0
    >>> expected_initial_loss("hinge")
    Traceback (most recent call last):
    ...
    ValueError: loss must be one of bce_with_logits, cross_entropy, info_nce, mse, l1, huber, smooth_l1, gaussian_nll, poisson_nll, multi_margin, multilabel_soft_margin, margin_ranking, cosine_embedding, triplet, kl_div, ctc; got 'hinge'
    """
    if loss not in _EXPECTERS:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
    fn = _EXPECTERS[loss]
    allowed = list(inspect.signature(fn).parameters)
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        raise TypeError(f"{loss} does not take {', '.join(unknown)}; it takes {', '.join(allowed)}")
    missing = [
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.default is inspect.Parameter.empty and name not in parameters
    ]
    if missing:
        raise TypeError(f"{loss} needs {', '.join(missing)}")
    return Expectation(loss=loss, **fn(**parameters))
