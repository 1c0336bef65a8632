"""A seeded suite of broken and healthy models, to measure :func:`check_initial_loss` on.

Each case builds a tiny freshly initialised PyTorch model, a batch and the loss a reader
would train with; faulty cases carry one deliberate mistake. :func:`run` calls the check on
every case and seed; :func:`confusion` counts faults caught, healthy models passed and false
alarms. The chapter page "The check, measured" shows the table and the tests assert it.

>>> rows = run(seeds=(0,), names=("MLP, default init", "softmax before CrossEntropyLoss"))
>>> [(r.case, r.flagged) for r in rows]
[('MLP, default init', False), ('softmax before CrossEntropyLoss', True)]
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from lossbook.sanity.check import InitialLossReport, check_initial_loss
from lossbook.sanity.tools import init_output_bias

__all__ = ["CASES", "Case", "Confusion", "Row", "bias_detection", "confusion", "run"]

N, FEATURES, CLASSES = 256, 20, 10


def mlp(out: int, *, inputs: int = FEATURES, width: int = 64, depth: int = 3) -> nn.Sequential:
    """A ReLU MLP with PyTorch's default initialisation."""
    layers: list[nn.Module] = []
    for i in range(depth - 1):
        layers += [nn.Linear(inputs if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, out))


def convnet(out: int, *, batchnorm: bool = False) -> nn.Sequential:
    """Two 3×3 convolutions on 1×8×8 images, average pooling, a linear head."""
    norm = (lambda c: nn.BatchNorm2d(c)) if batchnorm else (lambda c: nn.Identity())
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), norm(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), norm(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, out),
    )  # fmt: skip


def _init(model: nn.Module, fn: Callable[[torch.Tensor], object]) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            fn(m.weight)
            nn.init.zeros_(m.bias)
    return model


class _Detached(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x).detach()


def _features(g):
    return torch.randn(N, FEATURES, generator=g)


def _classes(g, c=CLASSES):
    return torch.randint(0, c, (N,), generator=g)


def _binary(g, share=0.5):
    return (torch.rand(N, generator=g) < share).float()


def _ce(model, g, **extra):
    return dict(model=model, inputs=_features(g), targets=_classes(g), loss_fn=nn.CrossEntropyLoss(), **extra)


def _bce(model, g, share=0.5):
    x = _features(g)
    return dict(model=nn.Sequential(model, nn.Flatten(0)), inputs=x, targets=_binary(g, share),
                loss_fn=nn.BCEWithLogitsLoss())  # fmt: skip


def _kaiming(model: nn.Module) -> nn.Module:
    return _init(model, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))


def _dead(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        model[0].bias.fill_(-10.0)  # every first-layer ReLU is off for standardised inputs
    return model


def _prior_head(g):
    model = mlp(1)
    init_output_bias(model[-1].bias, 0.05)
    return _bce(model, g, share=0.05)


def _bias(model, value):
    with torch.no_grad():
        model[-1].bias.fill_(value)
    return model


def _spread_bias(model, g):
    with torch.no_grad():
        model[-1].bias.copy_(torch.linspace(-6, 6, CLASSES)[torch.randperm(CLASSES, generator=g)])
    return model


def _regression(model, g, squeeze=True):
    x = _features(g)
    y = x[:, 0] + 0.5 * torch.randn(N, generator=g)
    y = (y - y.mean()) / y.std()
    return dict(model=nn.Sequential(model, nn.Flatten(0)) if squeeze else model, inputs=x, targets=y,
                loss_fn=F.mse_loss)  # fmt: skip


def _images(model, g):
    return dict(model=model, inputs=torch.randn(N, 1, 8, 8, generator=g), targets=_classes(g),
                loss_fn=nn.CrossEntropyLoss())  # fmt: skip


def _shuffled(g):
    case = _ce(mlp(CLASSES), g)
    case["targets"] = case["targets"][torch.randperm(N, generator=g)]
    return case


@dataclass(frozen=True)
class Case:
    """One model-and-loss setup: ``fault`` is None for a healthy one."""

    name: str
    fault: str | None
    build: Callable[[torch.Generator], dict]


#: Healthy setups first, then one per fault.
CASES: tuple[Case, ...] = (
    Case("MLP, default init", None, lambda g: _ce(mlp(CLASSES), g)),
    Case("ConvNet, default init", None, lambda g: _images(convnet(CLASSES), g)),
    Case("ConvNet with BatchNorm", None, lambda g: _images(convnet(CLASSES, batchnorm=True), g)),
    Case("MLP, Kaiming normal", None, lambda g: _ce(_kaiming(mlp(CLASSES)), g)),
    Case("3-class MLP, Kaiming normal", None,
         lambda g: _ce(_kaiming(mlp(3)), g) | dict(targets=_classes(g, 3))),
    Case("binary MLP, Kaiming normal", None, lambda g: _bce(_kaiming(mlp(1)), g)),
    Case("MLP, Xavier normal", None, lambda g: _ce(_init(mlp(CLASSES), nn.init.xavier_normal_), g)),
    Case("binary MLP, default init", None, lambda g: _bce(mlp(1), g)),
    Case("imbalanced head, prior bias (5 %)", None, _prior_head),
    Case("regression MLP, MSE", None, lambda g: _regression(mlp(1), g)),
    Case("output bias +5 (BCE)", "bad output bias", lambda g: _bce(_bias(mlp(1), 5.0), g)),
    Case("class biases in [-6, 6]", "bad output bias", lambda g: _ce(_spread_bias(mlp(CLASSES), g), g)),
    Case("weights ~ Normal(0, 1)", "init gain too large",
         lambda g: _ce(_init(mlp(CLASSES), lambda w: nn.init.normal_(w, std=1.0)), g)),
    Case("softmax before CrossEntropyLoss", "softmax/sigmoid before a logits loss",
         lambda g: _ce(nn.Sequential(mlp(CLASSES), nn.Softmax(dim=1)), g)),
    Case("sigmoid before BCEWithLogitsLoss", "softmax/sigmoid before a logits loss",
         lambda g: _bce(nn.Sequential(mlp(1), nn.Sigmoid()), g)),
    Case("(N, 1) output, (N,) targets", "shape broadcast", lambda g: _regression(mlp(1), g, squeeze=False)),
    Case("detached graph", "detached graph", lambda g: _ce(_Detached(mlp(CLASSES)), g)),
    Case("reduction='sum' in the loop", "reduction='sum'",
         lambda g: _ce(mlp(CLASSES), g) | dict(loss_fn=lambda o, t: F.cross_entropy(o, t, reduction="sum"),
                                                 loss="cross_entropy")),
    Case("dead first layer (bias -10)", "dead ReLUs", lambda g: _ce(_dead(mlp(CLASSES)), g)),
    Case("shuffled labels", "shuffled labels", _shuffled),
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    case: str
    fault: str | None
    seed: int
    report: InitialLossReport

    @property
    def flagged(self) -> bool:
        return not self.report.ok

    @property
    def kind(self) -> str | None:
        """'statistical' when the first diagnosis is the loss leaving the accepted range,
        'structural' for any other diagnosis (seen whatever the loss value), None when passed."""
        if not self.flagged:
            return None
        first = self.report.diagnoses[0]
        return (
            "statistical" if "is above the largest" in first or "is below the best" in first else "structural"
        )


def run(seeds: Sequence[int] = (0, 1, 2, 3, 4), names: Sequence[str] | None = None) -> list[Row]:
    """Build every case (or those in ``names``) for every seed and run the check on it."""
    known = {c.name for c in CASES}
    unknown = set(names or ()) - known
    if unknown:
        raise ValueError(f"unknown case names {sorted(unknown)}; known: {sorted(known)}")
    rows = []
    for case in CASES:
        if names is not None and case.name not in names:
            continue
        for seed in seeds:
            torch.manual_seed(seed)
            setup = case.build(torch.Generator().manual_seed(1000 + seed))
            model = setup.pop("model")
            report = check_initial_loss(model, setup.pop("inputs"), setup.pop("targets"), setup.pop("loss_fn"),
                                        **setup)  # fmt: skip
            rows.append(Row(case.name, case.fault, seed, report))
    return rows


def bias_detection(sizes: Sequence[float], seeds: Sequence[int] = range(5)) -> dict[str, list[int]]:
    """How many of ``seeds`` the check flags, per size v: a binary MLP whose head bias is +v
    (balanced labels), and a 10-class MLP whose class biases are spread over [-v, v]."""
    found: dict[str, list[int]] = {"BCE head bias +v": [], "CE class biases in [-v, v]": []}
    for v in sizes:
        hits = [0, 0]
        for seed in seeds:
            torch.manual_seed(seed)
            g = torch.Generator().manual_seed(1000 + seed)
            hits[0] += not check_initial_loss(**_bce(_bias(mlp(1), v), g)).ok
            torch.manual_seed(seed)
            net = mlp(CLASSES)
            with torch.no_grad():
                net[-1].bias.copy_(torch.linspace(-v, v, CLASSES)[torch.randperm(CLASSES, generator=g)])
            hits[1] += not check_initial_loss(**_ce(net, g)).ok
        for key, k in zip(found, hits, strict=True):
            found[key].append(k)
    return found


@dataclass(frozen=True)
class Confusion:
    """Per case: how often the check flagged it; totals for faults and healthy models."""

    per_case: tuple[tuple[str, str | None, int, int], ...]  # name, fault, flagged, runs

    @property
    def faults_caught(self) -> tuple[int, int]:
        rows = [r for r in self.per_case if r[1] is not None]
        return sum(r[2] for r in rows), sum(r[3] for r in rows)

    @property
    def false_alarms(self) -> tuple[int, int]:
        rows = [r for r in self.per_case if r[1] is None]
        return sum(r[2] for r in rows), sum(r[3] for r in rows)

    def __str__(self) -> str:
        lines = [f"{'case':<36}{'fault':<38}{'flagged':>8}"]
        lines += [f"{n:<36}{f or '(healthy)':<38}{k:>4} / {t}" for n, f, k, t in self.per_case]
        c, ct = self.faults_caught
        a, at = self.false_alarms
        lines.append(f"faults caught {c} / {ct}; healthy passed {at - a} / {at}; false alarms {a}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{html.escape(n)}</td><td>{html.escape(f or 'none (healthy)')}</td>"
            f"<td>{'flagged' if f else 'false alarms'}: {k} / {t}</td></tr>"
            for n, f, k, t in self.per_case
        )
        c, ct = self.faults_caught
        a, at = self.false_alarms
        return (
            "<table><thead><tr><th>setup</th><th>fault</th><th>verdict over seeds</th></tr></thead>"
            f"<tbody>{body}</tbody></table><p>Faults caught {c} of {ct}; healthy models passed "
            f"{at - a} of {at}; false alarms {a}.</p>"
        )


def confusion(rows: Sequence[Row]) -> Confusion:
    """Count, per case, how many seeds the check flagged."""
    order: dict[str, list] = {}
    for r in rows:
        entry = order.setdefault(r.case, [r.case, r.fault, 0, 0])
        entry[2] += r.flagged
        entry[3] += 1
    return Confusion(tuple(tuple(v) for v in order.values()))
