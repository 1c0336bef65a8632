"""The check a reader runs before the first optimiser step.

:func:`check_initial_loss` takes the reader's model, one batch and the loss they train
with. Its expectation comes from the task (label prior, the head's fan-in, the init scheme),
never from the logits it judges; the logits are used only to *explain* a miss.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from lossbook.sanity import _args, _heads
from lossbook.sanity.expect import Expectation, expected_initial_loss

__all__ = ["INIT_SCALES", "InitialLossReport", "check_initial_loss"]

#: Var(w)·fan_in of the standard schemes for a head (Xavier's depends on fan_out too).
INIT_SCALES: dict[str, float] = {"default": 1 / 3, "lecun": 1.0, "kaiming": 2.0}
_KNOWN = ("cross_entropy", "bce_with_logits", "mse")
_MODULES = {nn.CrossEntropyLoss: "cross_entropy", nn.BCEWithLogitsLoss: "bce_with_logits", nn.MSELoss: "mse"}
_FUNCTIONS = {
    F.cross_entropy: "cross_entropy",
    F.binary_cross_entropy_with_logits: "bce_with_logits",
    F.mse_loss: "mse",
}


@dataclass(frozen=True)
class InitialLossReport:
    """What :func:`check_initial_loss` measured, what a correct initialisation gives, the verdict.

    ``diagnoses`` are findings (most likely first) that make ``ok`` False; ``notes`` are
    what the expectation assumed and what was measured on the side.
    """

    loss: str
    measured: float
    per_example: float
    stderr: float
    expected: Expectation
    band: tuple[float, float]
    with_prior_bias: float
    diagnoses: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.diagnoses

    @property
    def verdict(self) -> str:
        return "ok" if self.ok else "FAULT"

    def __str__(self) -> str:
        lo, hi = self.band

        def wrap(text: str, first: str, rest: str = "     ") -> str:
            return textwrap.fill(
                text, 72, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
            )

        lines = [
            f"initial {self.loss}: your loss_fn gave {self.measured:.4f}",
            f"  per-example mean {self.per_example:.4f} ± {self.stderr:.4f}",
            wrap(
                f"a correct initialisation gives {self.expected.value:.4f} with a zero bias, "
                f"{self.with_prior_bias:.4f} with the bias at the label prior; accepted range "
                f"[{lo:.4f}, {hi:.4f}]",
                "  ",
                "  ",
            ),
            f"  verdict: {self.verdict}",
        ]
        lines += [wrap(d, f"  {rank}. ") for rank, d in enumerate(self.diagnoses, start=1)]
        lines += [wrap(n, "  - ", "    ") for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__


def _loss_name(loss_fn: Any, loss: str | None) -> tuple[Callable, str, str | None]:
    """Which of the known losses ``loss_fn`` computes, and its reduction when it says."""
    if isinstance(loss_fn, str):
        name = _args.choice("loss_fn", loss_fn, _KNOWN)
        return dict(zip(_FUNCTIONS.values(), _FUNCTIONS.keys(), strict=True))[name], name, "mean"
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be a loss (e.g. nn.CrossEntropyLoss()) or a callable, got {loss_fn!r}")
    found = next((n for cls, n in _MODULES.items() if isinstance(loss_fn, cls)), None)
    found = found or _FUNCTIONS.get(loss_fn)
    if loss is not None:
        _args.choice("loss", loss, _KNOWN)
        if found is not None and found != loss:
            raise ValueError(f"loss={loss!r} but loss_fn is {found}")
        found = loss
    if found is None:
        raise ValueError(
            "cannot tell which loss loss_fn computes: pass loss='cross_entropy', 'bce_with_logits' or 'mse'"
        )
    return loss_fn, found, getattr(loss_fn, "reduction", None)


def _forward(model: Callable, inputs: torch.Tensor) -> torch.Tensor:
    out = model(inputs)
    if isinstance(out, (tuple, list, dict)):
        raise TypeError(
            f"the model returned a {type(out).__name__}, not a tensor of logits: pass a function that "
            "returns the logits, e.g. lambda x: model(x)[0]"
        )
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise TypeError(f"the model must return a floating-point tensor, got {type(out).__name__}")
    return out


def _prepare_targets(
    name: str, out: torch.Tensor, targets: torch.Tensor, ignore: int | None = None
) -> tuple[torch.Tensor, list[str]]:
    """Validate targets; return the per-example-shaped version and structural diagnoses."""
    if targets.shape[:1] != out.shape[:1]:
        raise ValueError(
            f"the model returned {tuple(out.shape)} for the batch but targets have shape {tuple(targets.shape)}: "
            "the first dimensions must match"
        )
    found: list[str] = []
    if name == "cross_entropy":
        if out.dim() < 2:
            raise ValueError(
                f"cross_entropy needs logits of shape (N, C) or (N, C, ...), got {tuple(out.shape)}"
            )
        want = (out.shape[0], *out.shape[2:])
        if targets.is_floating_point() or tuple(targets.shape) != want:
            raise TypeError(
                f"cross_entropy here needs integer class indices of shape {want}, got {targets.dtype} "
                f"of shape {tuple(targets.shape)} (use targets.long())"
            )
        kept = targets[targets != ignore] if ignore is not None else targets
        if kept.numel() == 0:
            raise ValueError(f"every target equals ignore_index={ignore}: nothing to check")
        if int(kept.min()) < 0 or int(kept.max()) >= out.shape[1]:
            raise ValueError(
                f"class indices must lie in [0, {out.shape[1]}) or equal ignore_index, got "
                f"[{int(kept.min())}, {int(kept.max())}]"
            )
        return targets, found
    if not targets.is_floating_point():
        raise TypeError(
            f"{name} needs floating-point targets, got {targets.dtype}: use targets.float() "
            "(integer labels are not cast for you)"
        )
    if out.shape != targets.shape:
        if out.numel() == targets.numel():
            found.append(
                f"shape mismatch: the model returns {tuple(out.shape)} and the targets are {tuple(targets.shape)}; "
                f"{name} broadcasts (or refuses) instead of pairing them. Squeeze the output: out[:, 0]"
            )
            targets = targets.reshape(out.shape)
        else:
            raise ValueError(
                f"{name} needs one target per output: the model returns {tuple(out.shape)}, targets are "
                f"{tuple(targets.shape)}"
            )
    if name == "bce_with_logits" and bool(((targets < 0) | (targets > 1)).any()):
        found.append(
            f"targets outside [0, 1] (values in [{float(targets.min()):g}, {float(targets.max()):g}]): "
            "labels in {-1, 1}? BCE needs {0, 1} or probabilities"
        )
    return targets, found


def _squashed(model: Callable, inputs: torch.Tensor) -> bool:
    """Do the outputs stay in [0, 1] when the inputs are scaled by 1000 (a sigmoid at the end)?"""
    if not inputs.is_floating_point():
        return True
    with torch.no_grad():
        probe = _forward(model, inputs * 1000.0)
    return bool(((probe >= 0) & (probe <= 1)).all())


def _fan(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    k = int(np.prod(module.kernel_size))
    return module.in_channels * k // module.groups, module.out_channels * k // module.groups


def _excess_explained(
    name: str, expect: Callable[..., float], out: torch.Tensor, head_bias, point: float, s_point
):
    """How much of the gap each cause alone explains: (amount, message) pairs.

    A bad bias is read from the head's ``bias`` parameter when there is one (the logits' mean
    also moves with the layers below the head); otherwise from the logits' mean.
    """
    z = out.detach().double()
    found = []
    c = z.shape[1] if name == "cross_entropy" else 1
    if head_bias is not None and head_bias.numel() == c:
        b = head_bias.numpy() if name == "cross_entropy" else float(head_bias[0])
        text = (
            f"the head's bias spans [{float(head_bias.min()):+.2f}, {float(head_bias.max()):+.2f}]"
            if c > 1
            else f"the head's bias is {float(head_bias[0]):+.3g}"
        )
        found.append(
            (
                expect(bias=b, spread=s_point) - point,
                f"{text}: a bad output bias (expected 0 or the prior's log-odds)",
            )
        )
        head_bias_used = True
    else:
        head_bias_used = False
    if name == "mse":
        bias = float(z.mean())
        spread = float(z.std()) if z.numel() > 1 else 0.0
        if not head_bias_used and abs(bias) > 3 * spread / math.sqrt(len(z)):
            found.append(
                (expect(bias=bias, spread=s_point) - point, f"output mean {bias:+.3g}: a bad output bias")
            )
        found.append(
            (
                expect(bias=0.0, spread=spread) - point,
                f"output spread {spread:.3g} (expected about {s_point:.3g}): "
                "init gain too large, or unscaled inputs",
            )
        )
        return found
    if name == "cross_entropy":
        centre = z.mean(dim=0)
        spread = float((z - centre).std())
        bias_msg = f"class biases spread over [{float(centre.min()):+.2f}, {float(centre.max()):+.2f}]"
        bias_value = expect(bias=centre.numpy(), spread=s_point)
    else:
        centre = z.mean()
        spread = float(z.std()) if z.numel() > 1 else 0.0
        bias_msg = f"mean logit {float(centre):+.2f} (no head bias found)"
        bias_value = expect(bias=float(centre), spread=s_point)
    noise = 3 * spread / math.sqrt(len(z))
    if not head_bias_used and (
        float(centre.max() - centre.min()) > 2 * noise or float(centre.abs().max()) > noise
    ):
        found.append(
            (bias_value - point, f"{bias_msg}: a bad output bias (expected 0 or the prior's log-odds)")
        )
    found.append(
        (
            expect(bias=None, spread=spread) - point,
            f"logit spread {spread:.3g} where a correct initialisation gives about {s_point:.3g}: "
            "init gain too large, or unscaled inputs",
        )
    )
    return found


def check_initial_loss(
    model: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | str,
    *,
    loss: str | None = None,
    init: str = "any",
    rtol: float = 0.1,
) -> InitialLossReport:
    """Check a model, a batch and the loss you train with, before the first optimiser step.

    ``loss_fn`` is what your training loop calls (``nn.CrossEntropyLoss()``,
    ``F.binary_cross_entropy_with_logits``, a lambda, ...); pass ``loss=`` to say which of
    ``'cross_entropy'``, ``'bce_with_logits'``, ``'mse'`` a lambda computes. ``init`` is the
    head's init scheme (``'default'``, ``'lecun'``, ``'kaiming'``, ``'xavier'``), or ``'any'``
    to accept all of them.

    The expectation is computed from the task, not from the logits: the label prior of the
    batch, the head's fan-in (found by a forward hook on the last Linear/Conv layer called),
    the init scheme, and the second moment of the head's input capped at 1, what a
    variance-preserving network gives on standardised inputs. The loss is accepted between the
    loss of the best constant (bias = label prior, spread 0) and the largest first loss among
    200 fresh Linear heads per bias (zero, prior) drawn from the widest scheme and applied to
    the recorded head input (so the spread *between* models, from a head input with a
    non-zero mean, is included), widened by ``rtol`` and four standard errors. The loss
    module's ``weight``, ``pos_weight``, ``ignore_index`` and ``label_smoothing`` are used,
    and ``(N, C, ...)`` logits are read per position. Only Linear and Conv layers are
    recognised as the head; a bad bias is read from the head's ``bias`` parameter.
    Structural faults are found directly: outputs that are probabilities (a softmax or
    sigmoid before a logits loss; probed by rescaling the inputs), a target shape that
    broadcasts, targets in the wrong encoding, a graph that gives no parameter a gradient,
    parameter tensors whose gradient is exactly zero and a head input that does not vary
    across the batch (dead ReLUs), a reduction that is not the per-example mean. The model's buffers (BatchNorm running
    statistics) are restored and no ``.grad`` is written.
    """
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    for arg, value in (("inputs", inputs), ("targets", targets)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{arg} must be a tensor, got {type(value).__name__}")
    tol = _args.positive("rtol", rtol, allow_zero=True)
    _args.choice("init", init, ("any", "default", "lecun", "kaiming", "xavier"))
    loss_fn, name, reduction = _loss_name(loss_fn, loss)

    with _heads.kept_buffers(model):
        return _check(model, inputs, targets, loss_fn, name, reduction, init, tol)


def _check(model, inputs, targets, loss_fn, name, reduction, init, tol) -> InitialLossReport:
    recorder = _heads.Recorder(model)
    try:
        out = _forward(model, inputs)
    finally:
        recorder.close()
    head_calls = recorder.calls

    diagnoses: list[tuple[float, str]] = []  # (priority, message); structural faults first
    opts = _heads.loss_options(loss_fn, name)
    ref = _heads.reference(name, opts)
    targets_used, found = _prepare_targets(name, out, targets, opts.get("ignore_index"))
    diagnoses += [(1e9, f) for f in found]
    z = out.detach()
    finite = bool(torch.isfinite(z).all())
    if not finite:
        diagnoses.append(
            (2e9, "the model's outputs contain NaN or inf: check the inputs and the initialisation")
        )
        z = torch.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
    if (
        name == "cross_entropy"
        and bool((z >= 0).all())
        and torch.allclose(z.sum(dim=1), torch.ones(len(z), dtype=z.dtype), atol=1e-4)
    ):
        diagnoses.append(
            (
                1e9,
                "the outputs are probabilities (non-negative, rows sum to 1): a softmax before "
                "cross_entropy? It applies log_softmax itself",
            )
        )
    elif name == "bce_with_logits" and bool(((z >= 0) & (z <= 1)).all()) and _squashed(model, inputs):
        diagnoses.append(
            (
                1e9,
                "the outputs stay in [0, 1] even for inputs scaled by 1000: a sigmoid before "
                "binary_cross_entropy_with_logits? It applies the sigmoid itself",
            )
        )

    # the reader's own loss, exactly as their loop computes it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = loss_fn(out, targets)
        except (ValueError, RuntimeError) as error:
            if not found:
                raise ValueError(f"loss_fn failed on the model's output: {error}") from None
            value = None
    for w in caught:
        if "target size" in str(w.message):
            diagnoses.append((1e9 - 1, f"PyTorch warned: {' '.join(str(w.message).split())}"))

    t_ref = targets_used.double() if targets_used.is_floating_point() else targets_used
    per = ref(z.double(), t_ref, "none").reshape(-1)
    per_mean, per_sum = float(ref(z.double(), t_ref)), float(ref(z.double(), t_ref, "sum"))
    if name == "cross_entropy":  # (N, C, ...) logits: one row per position; ignored targets dropped
        c = out.shape[1]
        flat_t = targets_used.reshape(-1)
        kept = flat_t != opts.get("ignore_index", -(10**9))
        per = per[kept]
        out_rows, targets_rows = out.movedim(1, -1).reshape(-1, c)[kept], flat_t[kept]
    else:
        out_rows, targets_rows = out, targets_used
    stderr = float(per.std() / math.sqrt(per.numel())) if per.numel() > 1 else 0.0
    measured = per_mean if value is None else float(torch.as_tensor(value).detach().double().mean())

    if not finite:
        measured = per_mean = math.nan
    elif value is not None and not math.isfinite(measured):
        diagnoses.append((1e8, "the loss is not finite: log(0), an overflow, or NaN in the inputs"))
    elif value is not None and torch.as_tensor(value).numel() > 1:
        diagnoses.append(
            (
                1e7,
                f"loss_fn returned shape {tuple(torch.as_tensor(value).shape)}, not a scalar: "
                "reduction='none' left in? The optimiser needs a scalar",
            )
        )
    elif value is not None and not math.isclose(measured, per_mean, rel_tol=1e-3, abs_tol=1e-6) and not found:
        ratio = measured / per_mean if per_mean else math.inf
        if math.isclose(measured, per_sum, rel_tol=1e-3):
            diagnoses.append(
                (
                    1e7,
                    f"your loss is {ratio:.4g} × the per-example mean: the sum over the batch, "
                    "reduction='sum', so the gradient and the step are that many times larger",
                )
            )
        else:
            declared = ", ".join(f"{k}" for k in _heads.non_default(opts)) or "no weights"
            diagnoses.append(
                (
                    1e7,
                    f"your loss is {ratio:.4g} × the mean of {name} ({declared}) over the batch: a "
                    "different reduction, weights or loss than declared",
                )
            )
    if reduction not in (None, "mean"):
        diagnoses.append(
            (
                1e7 + 1,
                f"loss_fn has reduction={reduction!r}: the first loss and every gradient "
                "are not per-example means",
            )
        )

    # gradients: does the loss reach every parameter?
    grad_note = "gradients not checked (pass an nn.Module to check them)"
    if isinstance(model, nn.Module) and value is not None:
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        params = [p for _, p in named]
        loss_tensor = value if isinstance(value, torch.Tensor) else None
        if params and (loss_tensor is None or not loss_tensor.requires_grad):
            grad_note = "no parameter receives a gradient"
            diagnoses.append(
                (
                    1e9,
                    "the loss has no graph (requires_grad is False): a .detach(), .item(), "
                    "numpy or torch.no_grad between the parameters and the loss",
                )
            )
        elif params:
            grads = torch.autograd.grad(loss_tensor.sum(), params, allow_unused=True, retain_graph=False)
            reached = [g for g in grads if g is not None]
            norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in reached))
            names = [n for (n, _), g in zip(named, grads, strict=True) if g is not None]
            zero = [n for n, g in zip(names, reached, strict=True) if not bool(g.any())]
            if reached and zero:
                diagnoses.append(
                    (
                        1e8 + 1,
                        f"{len(zero)} of {len(params)} parameter tensors get a gradient that is exactly "
                        f"zero ({', '.join(zero[:4])}{', ...' if len(zero) > 4 else ''}): dead ReLUs "
                        "(a large negative bias), or a layer initialised to zero after them; "
                        "expected only if you zero-initialise a layer on purpose",
                    )
                )
            if not reached:
                diagnoses.append(
                    (
                        1e9,
                        "no parameter receives a gradient (every .grad would be None): the graph "
                        "is cut, e.g. .detach().requires_grad_()",
                    )
                )
            grad_note = (
                f"{len(reached) - len(zero)} of {len(params)} parameter tensors receive a non-zero "
                f"gradient (norm {norm:.3g})"
            )

    # the expectation, from the task only
    head = head_calls[-1] if head_calls else None
    m2_in = float((inputs.double() ** 2).mean()) if inputs.is_floating_point() else 1.0
    cap = 1.0  # a variance-preserving network on standardised inputs feeds its head at most this
    if head is not None:
        fan_in, fan_out = _fan(head[0])
        m2_head = min(head[1], cap)
    else:
        fan_in, fan_out, m2_head = 0, 0, cap
    scales = dict(INIT_SCALES)
    scales["xavier"] = 2 * fan_in / (fan_in + fan_out) if fan_in else 1.0
    point_scale = scales["default" if init == "any" else init]
    upper_scale = max(scales.values()) if init == "any" else point_scale
    bias_var = 1 / (3 * fan_in) if fan_in and init in ("any", "default") else 0.0
    s_point = math.sqrt(point_scale * m2_head + bias_var)
    s_upper = math.sqrt(upper_scale * m2_head + bias_var)

    if name == "cross_entropy":
        c = out.shape[1]
        mc = min(5_000, max(1_000, 5_000_000 // c))
        counts = torch.bincount(targets_rows, minlength=c).double()
        rho = ((counts + 0.5) / (counts + 0.5).sum()).numpy()
        log_rho = np.log(rho) - np.log(rho).mean()
        prior_bias = torch.as_tensor(log_rho)

        def expect(bias=None, spread=0.0):
            b = 0.0 if bias is None else bias
            return expected_initial_loss(
                "cross_entropy", classes=c, prior=rho, logit_mean=b, logit_std=spread, samples=mc
            ).value

        point_e = expected_initial_loss("cross_entropy", classes=c, prior=rho, logit_std=s_point, samples=mc)
        upper = max(expect(spread=s_upper), expect(bias=log_rho, spread=s_upper))
        lower = float(-(rho * np.log(rho)).sum())
        prior_note = f"label frequencies of the batch (entropy {lower:.4f})"
    elif name == "bce_with_logits":
        t = targets_rows.double().clamp(0, 1)
        rho_all = float(t.mean().clamp(1e-3, 1 - 1e-3))
        cols = t.reshape(len(t), -1).mean(dim=0).clamp(1e-3, 1 - 1e-3).numpy()
        prior_bias = torch.as_tensor(np.log(cols / (1 - cols))).reshape(t.shape[1:])

        def expect(bias=None, spread=0.0):
            b = np.zeros_like(cols) if bias is None else np.broadcast_to(np.asarray(bias, float), cols.shape)
            return float(
                np.mean(
                    [
                        expected_initial_loss(
                            "bce_with_logits", prior=r, logit_mean=float(bb), logit_std=spread
                        ).value
                        for r, bb in zip(cols, b, strict=True)
                    ]
                )
            )

        point_e = expected_initial_loss("bce_with_logits", prior=rho_all, logit_std=s_point)
        upper = max(expect(spread=s_upper), expect(bias=np.log(cols / (1 - cols)), spread=s_upper))
        lower = float(np.mean(-(cols * np.log(cols) + (1 - cols) * np.log(1 - cols))))
        prior_note = f"share of positives {rho_all:.3f} (entropy {lower:.4f})"
    else:
        t = targets_rows.double()
        ym, yv = float(t.mean()), float(t.var(unbiased=False))
        prior_bias = torch.tensor(ym, dtype=torch.float64)

        def expect(bias=None, spread=0.0):
            b = 0.0 if bias is None else float(bias)
            return expected_initial_loss(
                "mse", target_mean=ym, target_var=yv, output_mean=b, output_var=spread**2
            ).value

        point_e = expected_initial_loss("mse", target_mean=ym, target_var=yv, output_var=s_point**2)
        upper = expect(spread=s_upper)
        lower = yv
        prior_note = f"targets: mean {ym:.3g}, variance {yv:.3g}"

    with_prior = expect(bias=prior_bias.numpy() if prior_bias.dim() else float(prior_bias), spread=s_point)
    spread_se = _heads.simulated_stderr(name, targets_rows, out_rows.shape, s_upper, prior_bias)
    # between-model spread: heads redrawn from the scheme on the recorded head input
    if _heads.non_default(opts):
        lower = _heads.best_constant(ref, tuple(out.shape), t_ref)
    redrawn = _heads.redraw_losses(
        ref, head[0] if head else None, head[2] if head else None, out.shape, t_ref,
        scale=upper_scale, cap=cap, biases=[0.0, prior_bias], default_bias=init in ("any", "default"),
        spread=s_upper,
    )  # fmt: skip
    upper = max(upper, float(redrawn.max()))
    head_bias = None
    if head is not None and getattr(head[0], "bias", None) is not None:
        head_bias = head[0].bias.detach().double().reshape(-1)
    if head is not None and head[2].shape[0] > 1:
        hx = head[2].reshape(head[2].shape[0], -1)
        varying = float(hx.var(dim=0).mean()) / max(head[1], 1e-300)
        if head[1] == 0 or varying < 1e-6:
            diagnoses.append(
                (
                    1e8 + 2,
                    f"the head's input does not depend on the example (second moment {head[1]:.3g}, "
                    f"variation across the batch {varying:.2g} of it): dead ReLUs or a layer that "
                    "ignores its input; the loss cannot fall below the best constant's",
                )
            )
    lo = lower * (1 - tol) - 4 * spread_se
    hi = upper * (1 + tol) + 4 * spread_se
    if math.isfinite(per_mean) and not lo <= per_mean <= hi:
        above = per_mean > hi
        causes = []
        if above:
            causes = [
                (a, m)
                for a, m in _excess_explained(name, expect, out_rows, head_bias, point_e.value, s_point)
                if a > 0.25 * (per_mean - point_e.value)
            ]
            if m2_in > 4:
                causes.append(
                    (
                        per_mean - point_e.value,
                        f"inputs are not standardised: E[x²] = {m2_in:.3g} "
                        "(standardise them, or every layer's spread scales with them)",
                    )
                )
            elif head is not None and head[1] > 4 * cap:
                causes.append(
                    (
                        per_mean - point_e.value,
                        f"activations grow through the network: second moment "
                        f"{head[1]:.3g} at the head's input against {m2_in:.3g} at the input (init gain > 1)",
                    )
                )
            causes.sort(key=lambda c: -c[0])
            gap = f"{per_mean:.4f} is above the largest value a correct initialisation gives ({upper:.4f})"
            diagnoses.append((1e6, gap + (": likely causes, most likely first, follow" if causes else "")))
            diagnoses += [
                (1e6 - 1 - i, f"{m} (alone raises the loss by {a:.3g})") for i, (a, m) in enumerate(causes)
            ]
        else:
            diagnoses.append(
                (
                    1e6,
                    f"{per_mean:.4f} is below the best constant's loss ({lower:.4f}): the model "
                    "sees the labels (leakage), or it has been trained already",
                )
            )
    notes = (
        f"assumed: {prior_note}; head fan-in {fan_in or 'unknown'}, init {init!r}, logit spread "
        f"{s_point:.3g} (at most {s_upper:.3g})",
        grad_note,
    )
    ordered = tuple(m for _, m in sorted(diagnoses, key=lambda d: -d[0]))
    return InitialLossReport(name, measured, per_mean, stderr, point_e, (lo, hi), with_prior, ordered, notes)
