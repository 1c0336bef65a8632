"""lossbook.design's training and statistics: batched seeds train as independent runs with every
optimiser; least squares; mean ± standard error; folds; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lossbook import design as dr


def _problem(seeds):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(len(seeds), 16, 3, generator=g, dtype=torch.float64)
    y = torch.randn(len(seeds), 16, 1, generator=g, dtype=torch.float64)
    return x, y


@pytest.mark.parametrize("optimiser", dr.OPTIMISERS)
def test_batched_seeds_equal_separate_runs(optimiser):
    """Training seeds together gives, seed by seed, the same weights as training each alone."""
    seeds = [0, 1, 2]
    x, y = _problem(seeds)
    together = {"w": dr.linear_init(seeds, 3, 1)}
    dr.train(together, lambda p: ((x @ p["w"] - y) ** 2).mean(dim=(1, 2)), steps=40, lr=0.05,
             optimiser=optimiser, weight_decay=0.1)  # fmt: skip
    for i, s in enumerate(seeds):
        alone = {"w": dr.linear_init([s], 3, 1)}
        xi, yi = x[i : i + 1], y[i : i + 1]
        dr.train(alone, lambda p, xi=xi, yi=yi: ((xi @ p["w"] - yi) ** 2).mean(dim=(1, 2)), steps=40, lr=0.05,
                 optimiser=optimiser, weight_decay=0.1)  # fmt: skip
        torch.testing.assert_close(together["w"][i], alone["w"][0], rtol=1e-12, atol=1e-12)


def test_train_reaches_least_squares():
    x, y = _problem([0, 1])
    p = {"w": dr.linear_init([0, 1], 3, 1)}
    dr.train(p, lambda p: ((x @ p["w"] - y) ** 2).mean(dim=(1, 2)), steps=3000, lr=0.1, optimiser="sgd")
    exact = torch.linalg.lstsq(x, y).solution
    torch.testing.assert_close(p["w"].detach(), exact, rtol=0, atol=1e-8)


def test_adam_weight_decay_is_an_l2_penalty_and_adamw_is_not():
    x, y = _problem([0])
    lam = 0.3
    runs = {}
    for name, opt, wd, pen in (
        ("coupled", "adam", lam, 0.0),
        ("penalty", "adam", 0.0, lam),
        ("w", "adamw", lam, 0.0),
    ):
        p = {"w": dr.linear_init([0], 3, 1)}
        dr.train(p, lambda p, pen=pen: ((x @ p["w"] - y) ** 2).mean(dim=(1, 2)) + pen / 2 * (p["w"] ** 2).sum(dim=(1, 2)),
                 steps=30, lr=0.05, optimiser=opt, weight_decay=wd)  # fmt: skip
        runs[name] = p["w"].detach()
    torch.testing.assert_close(runs["coupled"], runs["penalty"], rtol=1e-12, atol=1e-12)
    assert (runs["coupled"] - runs["w"]).abs().max() > 1e-4


def test_linear_init_matches_nn_linear_bound_and_is_per_seed():
    w = dr.linear_init([5, 6], 9, 4)
    assert w.shape == (2, 9, 4)
    assert w.requires_grad
    assert float(w.detach().abs().max()) <= 1 / 3
    assert not torch.equal(w[0], w[1])
    assert torch.equal(dr.linear_init([6], 9, 4)[0], w[1])


def test_mean_se_against_numpy_and_pm():
    v = np.array([[1.0, 4.0], [3.0, 8.0], [5.0, 6.0]])
    m, se = dr.mean_se(v)
    np.testing.assert_allclose(m, [3.0, 6.0])
    np.testing.assert_allclose(se, [2.0 / math.sqrt(3), 2.0 / math.sqrt(3)])
    assert dr.pm([1.0, 3.0], digits=1) == "2.0 ± 1.0"


def test_kfold_partitions():
    folds = dr.kfold(23, 5, seed=3)
    vals = np.concatenate([v for _, v in folds])
    assert sorted(vals.tolist()) == list(range(23))
    for tr, va in folds:
        assert not set(tr) & set(va)
        assert len(tr) + len(va) == 23


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: dr.linear_init([], 2, 2), TypeError, "seeds"),
        (lambda: dr.linear_init([-1], 2, 2), ValueError, "seeds .* -1"),
        (lambda: dr.linear_init([0], 0, 2), ValueError, "fan_in .* 0"),
        (lambda: dr.mean_se([1.0]), ValueError, "at least 2 seeds"),
        (lambda: dr.mean_se([1.0, math.nan]), ValueError, "finite"),
        (lambda: dr.mean_se([1.0, 2.0], axis=2), ValueError, "axis"),
        (lambda: dr.kfold(5, 6), ValueError, "k must satisfy"),
        (lambda: dr.kfold(5, 1), ValueError, "k must satisfy"),
        (lambda: dr.kfold(5, 2.5), ValueError, "k must be a positive integer"),
        (lambda: dr.train({}, lambda p: p, steps=1, lr=0.1), TypeError, "params"),
        (lambda: dr.train({"w": torch.zeros(2, 1)}, lambda p: p["w"][:, 0], steps=1, lr=0.1), ValueError, "requires_grad"),
        (lambda: dr.train({"w": dr.linear_init([0], 1, 1)}, lambda p: p["w"].sum(), steps=1, lr=0.1), ValueError, r"one loss per seed, a tensor of shape \(S,\), got \(\)"),
        (lambda: dr.train({"w": dr.linear_init([0], 1, 1)}, lambda p: p["w"][:, 0, 0], steps=0, lr=0.1), ValueError, "steps"),
        (lambda: dr.train({"w": dr.linear_init([0], 1, 1)}, lambda p: p["w"][:, 0, 0], steps=1, lr=-1.0), ValueError, "lr"),
        (lambda: dr.train({"w": dr.linear_init([0], 1, 1)}, lambda p: p["w"][:, 0, 0], steps=1, lr=math.nan), ValueError, "lr"),
        (lambda: dr.train({"w": dr.linear_init([0], 1, 1)}, lambda p: p["w"][:, 0, 0], steps=1, lr=0.1, optimiser="lbfgs"), ValueError, "optimiser must be one of .*lbfgs"),
        (lambda: dr.train({"w": dr.linear_init([0], 1, 1)}, lambda p: p["w"][:, 0, 0] * math.inf, steps=1, lr=0.1), FloatingPointError, "not finite"),
    ],
)  # fmt: skip
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
