"""lossbook.design: metrics against hand-computed values and brute force, training, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import design as D


def _ap_brute_force(scores: np.ndarray, labels: np.ndarray) -> float:
    """Precision at every distinct threshold times the recall gained there (the definition)."""
    total, previous_recall = 0.0, 0.0
    for threshold in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= threshold
        tp = float((labels[chosen] == 1).sum())
        recall = tp / labels.sum()
        total += (recall - previous_recall) * tp / chosen.sum()
        previous_recall = recall
    return total


def test_average_precision_by_hand():
    # ranking 1, 0, 1, 0: precision 1 at recall 1/2, 2/3 at recall 1
    assert D.average_precision([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert D.average_precision([0.1, 0.2, 0.3], [1, 0, 0]) == pytest.approx(1 / 3)
    # a tie between a positive and a negative enters as one step with precision 1/2
    assert D.average_precision([0.5, 0.5], [1, 0]) == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=30))
def test_average_precision_matches_the_definition(pairs):
    scores = np.array([s for s, _ in pairs], dtype=float)  # few distinct values: many ties
    labels = np.array([int(b) for _, b in pairs])
    if labels.sum() == 0:
        return
    assert D.average_precision(scores, labels) == pytest.approx(_ap_brute_force(scores, labels), abs=1e-12)


def test_balanced_accuracy_by_hand():
    assert D.balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1]) == 0.5
    assert D.balanced_accuracy([0, 1, 1, 1], [0, 0, 1, 1]) == pytest.approx((0.5 + 1.0) / 2)
    assert D.balanced_accuracy([2, 1, 0], [2, 1, 1], classes=3) == pytest.approx((1.0 + 0.5) / 2)


def test_reliability_bins_and_ece_by_hand():
    prob = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.5, 0.5]])
    r = D.reliability(prob, [0, 1, 0, 0], bins=2)
    # 0.5 sits on the right edge of bin 1, (0, 0.5]; 0.55 and 0.95 are in (0.5, 1]
    assert r.count.tolist() == [1.0, 3.0]
    assert r.confidence[1] == pytest.approx((0.95 + 0.95 + 0.55) / 3)
    assert r.accuracy.tolist() == pytest.approx([1.0, 2 / 3])
    expected = 0.25 * abs(1.0 - 0.5) + 0.75 * abs(2 / 3 - 2.45 / 3)
    assert r.ece == pytest.approx(expected)
    assert D.expected_calibration_error(prob, [0, 1, 0, 0], bins=2) == pytest.approx(expected)
    empty = D.reliability(prob, [0, 1, 0, 0], bins=10)
    assert np.isnan(empty.accuracy[0])
    assert empty.count.sum() == 4


def test_a_calibrated_sample_has_small_ece_and_an_overconfident_one_does_not():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(20000, 3, generator=g, dtype=torch.float64) * 2
    y = torch.multinomial(torch.softmax(z, 1), 1, generator=g)[:, 0]
    assert D.expected_calibration_error(torch.softmax(z, 1), y) < 0.02
    assert D.expected_calibration_error(torch.softmax(3 * z, 1), y) > 0.1
    assert D.fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.05)


def test_softmax_focal_loss():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 4, (7,), generator=g)
    assert torch.allclose(D.softmax_focal_loss(z, y, gamma=0.0), F.cross_entropy(z, y, reduction="none"))
    torch.autograd.gradcheck(lambda t: D.softmax_focal_loss(t, y, gamma=2.0), (z,))
    # two classes with logits (0, z) are the binary focal loss with α = 1/2, times 2
    zb = torch.randn(9, generator=g, dtype=torch.float64)
    yb = torch.randint(0, 2, (9,), generator=g)
    two = D.softmax_focal_loss(torch.stack([torch.zeros_like(zb), zb], 1), yb, gamma=1.5)
    binary = lb.losses.sigmoid_focal_loss(zb, yb.double(), gamma=1.5, alpha=0.5)
    assert torch.allclose(two, 2 * binary)


@pytest.mark.parametrize("schedule", D.SCHEDULES)
def test_stacked_seeds_train_exactly_as_separate_runs(schedule):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 40, 2, generator=g, dtype=torch.float64)
    t = torch.randn(3, 40, 1, generator=g, dtype=torch.float64)
    stacked = D.init_mlp(3, 2, 1, hidden=5, seed=4)
    separate = [
        {k: v[s : s + 1].detach().clone().requires_grad_() for k, v in stacked.items()} for s in range(3)
    ]
    hist = D.train(
        stacked, lambda p: ((D.mlp(p, x) - t) ** 2).mean(dim=(1, 2)), steps=30, lr=0.05, schedule=schedule
    )
    for s, params in enumerate(separate):
        alone = D.train(
            params,
            lambda p, s=s: ((D.mlp(p, x[s : s + 1]) - t[s : s + 1]) ** 2).mean(dim=(1, 2)),
            steps=30,
            lr=0.05,
            schedule=schedule,
        )
        assert np.allclose(alone[:, 0], hist[:, s], rtol=1e-12, atol=1e-14)
        for k in params:
            assert torch.allclose(params[k], stacked[k][s : s + 1], rtol=1e-12, atol=1e-14)
    assert hist[-1].max() < hist[0].min()


def test_gradient_descent_takes_the_plain_step():
    p = {"w": torch.tensor([[1.0], [2.0]], dtype=torch.float64, requires_grad=True)}
    D.train(p, lambda q: q["w"][:, 0] ** 2, steps=1, lr=0.1, optimiser="sgd")
    assert p["w"].detach()[:, 0].tolist() == pytest.approx([1.0 - 0.1 * 2.0, 2.0 - 0.1 * 4.0])


def test_linear_schedule_falls_to_zero():
    p = {"w": torch.ones(1, 1, dtype=torch.float64, requires_grad=True)}
    D.train(p, lambda q: q["w"][:, 0], steps=4, lr=0.1, optimiser="sgd", schedule="linear")
    # gradient 1 at every step; learning rates 0.1 · (1, 3/4, 1/2, 1/4)
    assert p["w"].item() == pytest.approx(1 - 0.1 * (1 + 0.75 + 0.5 + 0.25), rel=1e-15)


def test_linear_model_and_shared_inputs():
    p = D.init_mlp(2, 3, 4)
    assert set(p) == {"W", "b"}
    assert D.mlp(p, torch.zeros(5, 3, dtype=torch.float64)).shape == (2, 5, 4)


def test_log_cosh_entry_is_robust_and_does_not_overflow():
    entry = lb.get("log_cosh")
    d = torch.tensor([-800.0, -1e-3, 0.0, 1e-3, 800.0], dtype=torch.float64)
    value = entry.pytorch(d.numpy(), np.zeros(5))
    assert torch.isinf(torch.log(torch.cosh(d))).sum() == 2
    assert torch.allclose(
        value, torch.tensor([800 - math.log(2), 5e-7, 0.0, 5e-7, 800 - math.log(2)], dtype=torch.float64)
    )
    # the best constant moves by less than 1 when one of 21 targets goes to 1e6 (the mean moves by ~5e4)
    rng = np.random.default_rng(0)
    t = rng.normal(size=(21, 1))
    before = entry.best_constant_for(t)[0]
    t[0, 0] = 1e6
    after = entry.best_constant_for(t)[0]
    assert abs(after - before) < 1.0
    assert after > before


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: D.average_precision([0.1, 0.2], [0, 0]), ValueError, "at least one positive"),
        (lambda: D.average_precision([0.1, float("nan")], [0, 1]), ValueError, "finite"),
        (lambda: D.average_precision([0.1, 0.2], [0, 2]), ValueError, "labels in 0..1"),
        (lambda: D.average_precision([0.1, 0.2], [0, 1, 1]), ValueError, "2 entries"),
        (lambda: D.average_precision("abc", [1]), TypeError, "scores must be numbers"),
        (lambda: D.balanced_accuracy([0.5], [1]), ValueError, "integer class labels"),
        (lambda: D.balanced_accuracy([0], [1], classes=1), ValueError, "classes must be"),
        (lambda: D.reliability([[0.5, 0.6]], [0]), ValueError, "sum to 1"),
        (lambda: D.reliability([[0.5, 0.5]], [0], bins=0), ValueError, "bins must be"),
        (lambda: D.reliability([0.5, 0.5], [0]), ValueError, "2 dimension"),
        (lambda: D.fit_temperature([[1.0, 2.0]], [3]), ValueError, "labels in 0..1"),
        (lambda: D.mean_se([1.0]), ValueError, "at least 2 seeds"),
        (lambda: D.mean_se([1.0, 2.0], axis=3), ValueError, "axis must index"),
        (lambda: D.mean_se([1.0, float("nan")]), ValueError, "finite"),
        (
            lambda: D.softmax_focal_loss(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), gamma=-1),
            ValueError,
            "gamma",
        ),
        (
            lambda: D.softmax_focal_loss(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long), gamma=1),
            ValueError,
            "target",
        ),
        (lambda: D.init_mlp(0, 2, 1), ValueError, "seeds must be"),
        (
            lambda: D.train(D.init_mlp(1, 1, 1), lambda p: p["W"].sum(), steps=1, lr=0.1),
            ValueError,
            "one loss per seed",
        ),
        (
            lambda: D.train({"W": torch.zeros(1)}, lambda p: p["W"], steps=1, lr=0.1),
            ValueError,
            "requires_grad",
        ),
        (
            lambda: D.train(
                D.init_mlp(1, 1, 1), lambda p: p["W"][:, 0, 0], steps=1, lr=0.1, schedule="cosine"
            ),
            ValueError,
            "schedule must be one of constant, linear, got 'cosine'",
        ),
        (
            lambda: D.train(D.init_mlp(1, 1, 1), lambda p: p["W"][:, 0, 0], steps=0, lr=0.1),
            ValueError,
            "steps",
        ),
        (
            lambda: D.train(D.init_mlp(1, 1, 1), lambda p: p["W"][:, 0, 0], steps=1, lr=float("nan")),
            ValueError,
            "lr",
        ),
    ],
)
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
