"""lossbook.sanity: expected initial losses against independent simulation, and the checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook.sanity import check_initial_loss, expected_initial_loss, gradient_check, init_output_bias

FEW = settings(max_examples=5, deadline=None)


def test_rules_of_thumb_are_exact_at_zero_spread():
    assert expected_initial_loss("bce_with_logits").value == pytest.approx(math.log(2), abs=1e-12)
    for c in (2, 10, 1000):
        assert expected_initial_loss("cross_entropy", classes=c).value == pytest.approx(
            math.log(c), abs=1e-12
        )
    huge_temperature = expected_initial_loss("info_nce", negatives=63, temperature=1e4, dim=128)
    assert huge_temperature.value == pytest.approx(math.log(64), abs=1e-6)


@FEW
@given(share=st.floats(0.05, 0.95), mean=st.floats(-3, 3), std=st.floats(0, 5))
def test_bce_quadrature_matches_torch_simulation(share, mean, std):
    g = torch.Generator().manual_seed(0)
    n = 400_000
    z = mean + std * torch.randn(n, generator=g, dtype=torch.float64)
    y = (torch.rand(n, generator=g, dtype=torch.float64) < share).double()
    losses = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    # the quadrature uses the exact share; compare with the simulation's own share
    expected = expected_initial_loss("bce_with_logits", prior=float(y.mean()), logit_mean=mean, logit_std=std)
    assert abs(expected.value - float(losses.mean())) < 5 * float(losses.std()) / math.sqrt(n) + 1e-9


@FEW
@given(classes=st.integers(2, 20), std=st.floats(0.05, 4))
def test_cross_entropy_expectation_matches_torch_and_jensen_bounds(classes, std):
    e = expected_initial_loss("cross_entropy", classes=classes, logit_std=std)
    g = torch.Generator().manual_seed(1)
    logits = std * torch.randn(100_000, classes, generator=g, dtype=torch.float64)
    labels = torch.randint(0, classes, (100_000,), generator=g)
    losses = F.cross_entropy(logits, labels, reduction="none")
    tolerance = 5 * (float(losses.std()) / math.sqrt(100_000) + e.stderr)
    assert abs(e.value - float(losses.mean())) < tolerance
    # Jensen: ln C <= E[logsumexp] <= ln C + s²/2
    assert math.log(classes) - 5 * e.stderr <= e.value <= math.log(classes) + std**2 / 2 + 5 * e.stderr


def test_second_order_approximation_error_vanishes_like_s_to_the_fourth():
    errors = []
    for s in (0.4, 0.2, 0.1):
        e = expected_initial_loss("bce_with_logits", logit_std=s)
        errors.append(abs(e.second_order - e.value))
    assert errors[0] / errors[1] == pytest.approx(16, rel=0.1)
    assert errors[1] / errors[2] == pytest.approx(16, rel=0.1)


def test_prior_bias_gives_the_entropy_of_the_prior():
    prior = np.array([0.7, 0.2, 0.1])
    e = expected_initial_loss("cross_entropy", classes=3, prior=prior, logit_mean=np.log(prior))
    assert e.value == pytest.approx(-(prior * np.log(prior)).sum(), abs=1e-12)
    share = 0.1
    e = expected_initial_loss("bce_with_logits", prior=share, logit_mean=math.log(share / (1 - share)))
    assert e.value == pytest.approx(-(share * math.log(share) + (1 - share) * math.log(1 - share)), abs=1e-10)


def test_mse_gaussian_and_poisson_expectations_match_simulation():
    g = torch.Generator().manual_seed(2)
    n = 400_000
    y = 2.0 + 1.5 * torch.randn(n, generator=g, dtype=torch.float64)
    out = 0.3 + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    mse = expected_initial_loss("mse", target_mean=2.0, target_var=2.25, output_mean=0.3, output_var=0.25)
    assert mse.value == pytest.approx(float(F.mse_loss(out, y)), rel=1e-2)
    gnll = expected_initial_loss(
        "gaussian_nll",
        target_mean=2.0,
        target_var=2.25,
        output_mean=0.3,
        output_var=0.25,
        variance=math.log(2),
    )
    simulated = F.gaussian_nll_loss(out, y, torch.full_like(y, math.log(2)))
    assert gnll.value == pytest.approx(float(simulated), rel=1e-2)
    counts = torch.poisson(torch.full((n,), 3.0, dtype=torch.float64), generator=g)
    z = -0.2 + 0.7 * torch.randn(n, generator=g, dtype=torch.float64)
    pois = expected_initial_loss("poisson_nll", target_mean=3.0, logit_mean=-0.2, logit_std=0.7)
    assert pois.value == pytest.approx(float(F.poisson_nll_loss(z, counts)), rel=1e-2)


def test_init_output_bias_makes_the_initial_loss_the_prior_entropy():
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 3, dtype=torch.float64)
    torch.nn.init.zeros_(layer.weight)
    prior = [0.6, 0.3, 0.1]
    init_output_bias(layer.bias, prior)
    labels = torch.tensor([0] * 60 + [1] * 30 + [2] * 10)
    loss = F.cross_entropy(layer(torch.randn(100, 4, dtype=torch.float64)), labels)
    assert float(loss.detach()) == pytest.approx(-sum(p * math.log(p) for p in prior), abs=1e-12)
    binary = torch.nn.Linear(4, 1, dtype=torch.float64)
    torch.nn.init.zeros_(binary.weight)
    init_output_bias(binary.bias, 0.2)
    y = torch.tensor([1.0] * 20 + [0.0] * 80, dtype=torch.float64)
    loss = F.binary_cross_entropy_with_logits(binary(torch.randn(100, 4, dtype=torch.float64))[:, 0], y)
    assert float(loss.detach()) == pytest.approx(-(0.2 * math.log(0.2) + 0.8 * math.log(0.8)), abs=1e-12)


def _batch(n=512, d=20, c=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)


def test_check_initial_loss_accepts_a_fresh_model_and_flags_mistakes():
    torch.manual_seed(0)
    x, y = _batch()
    model = torch.nn.Linear(20, 10)
    report = check_initial_loss(model, x, y, "cross_entropy")
    assert report.ok, str(report)
    softmaxed = check_initial_loss(lambda inp: torch.softmax(model(inp), dim=1), x, y, "cross_entropy")
    assert any("softmax" in d for d in softmaxed.diagnoses)
    leaky = check_initial_loss(lambda inp: model(inp) + 8 * F.one_hot(y, 10), x, y, "cross_entropy")
    assert any("below" in d for d in leaky.diagnoses)
    broken = check_initial_loss(lambda inp: model(inp) * float("nan"), x, y, "cross_entropy")
    assert any("NaN or inf" in d for d in broken.diagnoses)
    binary = torch.nn.Linear(20, 1)
    yb = (y % 2).double()
    assert check_initial_loss(binary, x, yb, "bce_with_logits").ok
    sigmoided = check_initial_loss(lambda inp: torch.sigmoid(binary(inp)), x, yb, "bce_with_logits")
    assert any("sigmoid" in h for h in sigmoided.hints)
    assert "? " in str(sigmoided)


def test_check_initial_loss_raises_no_false_alarms_on_small_batches():
    flagged = []
    for seed in range(20):
        torch.manual_seed(seed)
        layer = torch.nn.Linear(20, 10)
        torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        x, y = _batch(n=32, seed=100 + seed)
        flagged.append(not check_initial_loss(layer, x, y, "cross_entropy", samples=20_000).ok)
        head = torch.nn.Linear(20, 1)
        torch.nn.init.kaiming_normal_(head.weight, nonlinearity="relu")
        flagged.append(not check_initial_loss(head, x, (y % 2).double(), "bce_with_logits").ok)
    assert sum(flagged) == 0


def test_constant_or_prior_initialised_heads_are_not_mistaken_for_sigmoids():
    x, y = _batch()
    zero = torch.nn.Linear(20, 1)
    torch.nn.init.zeros_(zero.weight)
    torch.nn.init.zeros_(zero.bias)
    report = check_initial_loss(zero, x, (y % 2).double(), "bce_with_logits")
    assert report.ok
    assert not report.hints
    prior_head = torch.nn.Linear(20, 1)
    torch.nn.init.normal_(prior_head.weight, std=0.01)
    init_output_bias(prior_head.bias, 0.6)
    labels = (torch.arange(512) % 5 < 3).double()
    assert check_initial_loss(prior_head, x, labels, "bce_with_logits").ok


def test_many_classes_are_affordable():
    torch.manual_seed(0)
    x = torch.randn(64, 32)
    y = torch.randint(0, 5000, (64,))
    report = check_initial_loss(torch.nn.Linear(32, 5000), x, y, "cross_entropy")
    assert report.ok
    assert "Monte Carlo, 4000 samples" in report.expected.method


def test_multilabel_bias_uses_log_odds_per_label():
    bias = init_output_bias(torch.zeros(3), [0.05, 0.2, 0.5], multilabel=True)
    torch.testing.assert_close(bias, torch.log(torch.tensor([0.05 / 0.95, 0.25, 1.0])))
    # without multilabel=True the same numbers would be read as a class prior
    with pytest.raises(ValueError, match="prior must be positive and sum to 1"):
        init_output_bias(torch.zeros(3), [0.05, 0.2, 0.5])


def test_info_nce_expectation_matches_random_unit_vectors():
    g = torch.Generator().manual_seed(5)
    anchor = F.normalize(torch.randn(4000, 64, generator=g), dim=1)
    candidates = F.normalize(torch.randn(4000, 32, 64, generator=g), dim=2)
    losses = F.cross_entropy(
        torch.einsum("bd,bkd->bk", anchor, candidates) / 0.1,
        torch.zeros(4000, dtype=torch.long),
        reduction="none",
    )
    e = expected_initial_loss("info_nce", negatives=31, temperature=0.1, dim=64)
    assert abs(e.value - float(losses.mean())) < 5 * float(losses.std()) / math.sqrt(4000) + 0.01


def test_cross_entropy_with_prior_bias_and_spread_matches_simulation():
    prior = np.array([0.5, 0.3, 0.15, 0.05])
    bias = np.array([0.4, -0.2, 0.1, -1.0])
    e = expected_initial_loss("cross_entropy", classes=4, prior=prior, logit_mean=bias, logit_std=1.3)
    g = torch.Generator().manual_seed(6)
    n = 200_000
    logits = torch.tensor(bias) + 1.3 * torch.randn(n, 4, generator=g, dtype=torch.float64)
    labels = torch.multinomial(torch.tensor(prior), n, replacement=True, generator=g)
    losses = F.cross_entropy(logits, labels, reduction="none")
    assert abs(e.value - float(losses.mean())) < 5 * (float(losses.std()) / math.sqrt(n) + e.stderr)


def test_margin_kl_and_ctc_expectations_match_pytorch():
    g = torch.Generator().manual_seed(7)
    logits = 0.8 * torch.randn(200_000, 6, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 6, (200_000,), generator=g)
    margin = F.multi_margin_loss(logits, labels, reduction="none")
    e = expected_initial_loss("multi_margin", classes=6, logit_std=0.8)
    assert abs(e.value - float(margin.mean())) < 5 * float(margin.std()) / math.sqrt(200_000)
    assert expected_initial_loss("multi_margin", classes=6).value == pytest.approx(5 / 6)
    uniform = torch.full((8, 6), -math.log(6), dtype=torch.float64)
    onehot = F.one_hot(torch.arange(8) % 6, 6).double()
    with pytest.warns(UserWarning, match="batchmean"):
        mean = F.kl_div(uniform, onehot)
    assert float(mean) == pytest.approx(expected_initial_loss("kl_div", classes=6).value)
    assert float(F.kl_div(uniform, onehot, reduction="batchmean")) == pytest.approx(
        expected_initial_loss("kl_div", classes=6, reduction="batchmean").value
    )
    target = torch.tensor([[3, 3, 1, 4]])
    log_probs = torch.full((30, 1, 7), -math.log(7), dtype=torch.float64)
    for reduction in ("mean", "sum"):
        ctc = F.ctc_loss(log_probs, target, torch.tensor([30]), torch.tensor([4]), reduction=reduction)
        e = expected_initial_loss(
            "ctc", classes=7, frames=30, target_length=4, repeats=1, reduction=reduction
        )
        assert float(ctc) == pytest.approx(e.value, rel=1e-10)


def test_gradient_check_passes_correct_and_fails_detached_gradients():
    assert gradient_check(lambda a, b: (a * b.sin()).sum(), torch.randn(3), torch.randn(3))
    with pytest.raises(
        AssertionError,
        match=r"gradient check failed \(eps=1e-06, atol=1e-05, rtol=0.001\): Jacobian mismatch",
    ):
        gradient_check(lambda a: (a.detach() * a).sum(), torch.randn(4))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"loss": "cross_entropy"}, ValueError, "classes must be an integer >= 2, got None"),
        ({"loss": "cross_entropy", "classes": 1}, ValueError, "classes must be an integer >= 2, got 1"),
        (
            {"loss": "cross_entropy", "classes": 3, "logit_std": -1},
            ValueError,
            "logit_std must be finite and >= 0, got -1",
        ),
        (
            {"loss": "cross_entropy", "classes": 3, "prior": [0.5, 0.6, -0.1]},
            ValueError,
            "prior must be positive and sum to 1",
        ),
        (
            {"loss": "cross_entropy", "classes": 3, "prior": [0.5, 0.5]},
            ValueError,
            "prior has 2 entries but classes=3",
        ),
        (
            {"loss": "bce_with_logits", "prior": 1.0},
            ValueError,
            r"share of positives\) must be in \(0, 1\), got 1.0",
        ),
        (
            {"loss": "info_nce", "negatives": 0, "temperature": 0.1, "dim": 8},
            ValueError,
            "negatives must be an integer >= 1",
        ),
        (
            {"loss": "info_nce", "negatives": 5, "temperature": 0.0, "dim": 8},
            ValueError,
            "temperature must be finite and > 0",
        ),
        (
            {"loss": "info_nce", "negatives": 5, "temperature": 0.1, "dim": 1},
            ValueError,
            "dim must be an integer >= 2",
        ),
        ({"loss": "gaussian_nll", "variance": 0}, ValueError, "variance must be finite and > 0"),
        ({"loss": "mse", "target_var": -1}, ValueError, "target_var must be finite and >= 0"),
        (
            {"loss": "bce_with_logits", "logit_std": "1"},
            TypeError,
            "logit_std must be a real number, got '1'",
        ),
    ],
)
def test_expected_initial_loss_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        expected_initial_loss(**kwargs)


def test_other_bad_arguments():
    with pytest.raises(TypeError, match="bias must be a floating-point tensor"):
        init_output_bias(torch.zeros(2, dtype=torch.long), [0.5, 0.5])
    with pytest.raises(
        ValueError,
        match=r"prior must be the share of positives in \(0, 1\), one value or one per output \(1\), got 1.5",
    ):
        init_output_bias(torch.zeros(1), 1.5)
    with pytest.raises(ValueError, match="prior has 2 entries but classes=3"):
        init_output_bias(torch.zeros(3), [0.5, 0.5])
    x, y = _batch()
    with pytest.raises(ValueError, match="loss must be 'cross_entropy' or 'bce_with_logits', got 'mse'"):
        check_initial_loss(torch.nn.Linear(20, 10), x, y, "mse")
    with pytest.raises(TypeError, match="model must be callable, got int"):
        check_initial_loss(3, x, y, "cross_entropy")
    with pytest.raises(ValueError, match=r"cross_entropy needs logits of shape \(N, C\), got \(512,\)"):
        check_initial_loss(lambda inp: inp[:, 0], x, y, "cross_entropy")
    with pytest.raises(TypeError, match=r"input 0 must be a floating-point tensor, got torch\.int64"):
        gradient_check(lambda a: a.sum(), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="needs at least one input tensor"):
        gradient_check(lambda: torch.tensor(0.0))
    layer = torch.nn.Linear(3, 1)  # float32 parameters
    with pytest.raises(TypeError, match=r"convert modules and captured tensors with \.double\(\) first"):
        gradient_check(lambda a: layer(a).sum(), torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"needs integer class indices of shape \(512,\)"):
        check_initial_loss(torch.nn.Linear(20, 10), x, y.double(), "cross_entropy")
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 10\)"):
        check_initial_loss(torch.nn.Linear(20, 10), x, y + 5, "cross_entropy")
    with pytest.raises(ValueError, match=r"needs targets in \[0, 1\]"):
        check_initial_loss(torch.nn.Linear(20, 1), x, 2 * (y % 2).double() - 1, "bce_with_logits")
    with pytest.raises(TypeError, match="targets must be a tensor, got list"):
        check_initial_loss(torch.nn.Linear(20, 1), x, [0, 1], "bce_with_logits")


def test_sanity_is_exported():
    assert lb.sanity.expected_initial_loss is expected_initial_loss
