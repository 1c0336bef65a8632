"""lossbook.sanity: expected initial losses against independent simulation, and the checks."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook.sanity import (
    check_initial_loss,
    contrastive_stats,
    expected_initial_loss,
    gradient_check,
    init_output_bias,
    large_spread,
    quadratic_range,
    sphere_mgf,
    suite,
)

FEW = settings(max_examples=5, deadline=None)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run 50× faster on one thread when other processes share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_rules_of_thumb_are_exact_at_zero_spread():
    assert expected_initial_loss("bce_with_logits").value == pytest.approx(math.log(2), abs=1e-12)
    for c in (2, 10, 1000):
        assert expected_initial_loss("cross_entropy", classes=c).value == pytest.approx(
            math.log(c), abs=1e-12
        )
    huge_temperature = expected_initial_loss(
        "info_nce", negatives=63, temperature=1e4, dim=128, samples=2_000
    )
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


# ---------------------------------------------------------------- InfoNCE: the exact sphere model


def _unit(g, *shape):
    return F.normalize(torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def test_sphere_model_matches_random_unit_vectors_where_the_gaussian_rule_fails():
    g = torch.Generator().manual_seed(11)
    n, k, d, tau = 8_000, 255, 16, 0.07
    cos = torch.einsum("bd,bkd->bk", _unit(g, n, d), _unit(g, n, k + 1, d))
    losses = F.cross_entropy(cos / tau, torch.zeros(n, dtype=torch.long), reduction="none")
    simulated, se = float(losses.mean()), float(losses.std()) / math.sqrt(n)
    sphere = expected_initial_loss("info_nce", negatives=k, temperature=tau, dim=d, samples=40_000)
    gaussian = expected_initial_loss(
        "info_nce", negatives=k, temperature=tau, dim=d, model="gaussian", samples=40_000
    )
    assert abs(sphere.value - simulated) < 5 * (se + sphere.stderr)
    assert gaussian.value - sphere.value > 0.5  # the 1/d Gaussian rule overestimates by about 0.6 nats
    assert gaussian.value - simulated > 5 * se
    assert sphere.second_order - simulated > 1.3  # and the checklist's old quadratic rule by about 1.5


def test_sphere_mgf_matches_simulation_and_bounds_the_loss():
    g = torch.Generator().manual_seed(12)
    cos = (_unit(g, 200_000, 8) * _unit(g, 200_000, 8)).sum(dim=1)
    assert sphere_mgf(3.0, 8) == pytest.approx(float(torch.exp(3.0 * cos).mean()), rel=0.01)
    e = expected_initial_loss("info_nce", negatives=63, temperature=0.2, dim=8, samples=20_000)
    assert e.value <= math.log(64) + math.log(sphere_mgf(5.0, 8)) + 5 * e.stderr


# ---------------------------------------------------------------- ranges of the approximations


def _bce_exact(s):  # independent of the package: plain quadrature of softplus
    from scipy.integrate import quad

    return quad(lambda u: np.logaddexp(0, s * u) * np.exp(-u * u / 2) / math.sqrt(2 * math.pi), -15, 15)[0]


def test_quadratic_rule_ranges_are_where_its_error_crosses_the_level():
    for level in (0.01, 0.10):
        s = quadratic_range("bce_with_logits", level)
        for t, inside in ((0.97 * s, True), (1.03 * s, False)):
            error = abs(math.log(2) + t**2 / 8 - _bce_exact(t)) / _bce_exact(t)
            assert (error < level) is inside
    s10 = quadratic_range("cross_entropy", 0.10, classes=10)
    assert 1.8 < s10 < 2.4


def test_large_spread_asymptotes_approach_the_exact_values():
    errors = [abs(large_spread("bce_with_logits", s) - _bce_exact(s)) for s in (4.0, 8.0, 16.0)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3
    g = torch.Generator().manual_seed(13)
    for s in (3.0, 10.0):
        logits = s * torch.randn(100_000, 10, generator=g, dtype=torch.float64)
        ce = float(F.cross_entropy(logits, torch.zeros(100_000, dtype=torch.long)))
        assert abs(large_spread("cross_entropy", s, 10) - ce) / ce < (0.02 if s == 3.0 else 0.005)


# ---------------------------------------------------------------- every loss against PyTorch on real heads


def _head(fan_in, out, seed):
    """PyTorch's default Linear with a zero bias (a fixed bias would shift every output alike)."""
    torch.manual_seed(seed)
    layer = nn.Linear(fan_in, out).double()
    nn.init.zeros_(layer.bias)
    return layer


def _spread(layer):
    """Logit spread on standard-normal inputs, from the weights (not the logits): RMS row norm."""
    return float(layer.weight.detach().pow(2).sum(dim=1).mean().sqrt())


def test_regression_losses_match_a_fresh_linear_head():
    n, fan_in = 50_000, 256  # a wide head: one draw of its weights has a spread close to its expectation
    x = torch.randn(n, fan_in, dtype=torch.float64, generator=torch.Generator().manual_seed(14))
    y = 1.5 + 2.0 * torch.randn(n, dtype=torch.float64, generator=torch.Generator().manual_seed(15))
    head = _head(fan_in, 1, 0)
    with torch.no_grad():
        out = head(x)[:, 0]
    s = _spread(head)
    # the targets' own mean and variance: the formulas condition on the target distribution
    common = dict(target_mean=float(y.mean()), target_var=float(y.var()), output_var=s**2)
    for name, kw, torch_value in (
        ("l1", {}, F.l1_loss(out, y)),
        ("huber", {"delta": 1.5}, F.huber_loss(out, y, delta=1.5)),
        ("smooth_l1", {"beta": 0.5}, F.smooth_l1_loss(out, y, beta=0.5)),
        ("smooth_l1", {"beta": 0.0}, F.smooth_l1_loss(out, y, beta=0.0)),
        ("mse", {}, F.mse_loss(out, y)),
        (
            "gaussian_nll",
            {"variance": 2.0, "full": True},
            F.gaussian_nll_loss(out, y, torch.full_like(y, 2.0), full=True),
        ),
    ):
        e = expected_initial_loss(name, **kw, **common)
        assert e.value == pytest.approx(float(torch_value), rel=0.01), name


def test_classification_style_losses_match_fresh_heads():
    n, fan_in = 30_000, 256
    g = torch.Generator().manual_seed(16)
    x = torch.randn(n, fan_in, dtype=torch.float64, generator=g)
    heads = [_head(fan_in, c, seed) for c, seed in ((6, 1), (2, 2), (1, 3))]
    with torch.no_grad():
        z6, z2, z1 = (h(x) for h in heads)
        z1 = z1[:, 0]
    s6, s2, s1 = (_spread(h) for h in heads)
    labels = torch.randint(0, 6, (n,), generator=g)
    margin = F.multi_margin_loss(z6, labels)
    assert expected_initial_loss("multi_margin", classes=6, logit_std=s6).value == pytest.approx(
        float(margin), rel=0.015
    )
    margin2 = F.multi_margin_loss(z6, labels, p=2, margin=0.5)
    e2 = expected_initial_loss("multi_margin", classes=6, logit_std=s6, p=2, margin=0.5)
    assert e2.value == pytest.approx(float(margin2), rel=0.015)
    multilabel = (torch.rand(n, 6, generator=g, dtype=torch.float64) < 0.2).double()
    mlsm = F.multilabel_soft_margin_loss(z6, multilabel)
    e = expected_initial_loss("multilabel_soft_margin", labels=6, prior=0.2, logit_std=s6)
    assert e.value == pytest.approx(float(mlsm), rel=0.015)
    sign = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0).double()
    for m in (0.0, 0.5):
        ranking = F.margin_ranking_loss(z2[:, 0], z2[:, 1], sign, margin=m)
        e = expected_initial_loss("margin_ranking", margin=m, logit_std=s2)
        assert e.value == pytest.approx(float(ranking), rel=0.02), m
    counts = torch.poisson(torch.full((n,), 4.0, dtype=torch.float64), generator=g)
    head = _head(fan_in, 1, 4)
    with torch.no_grad():
        head.bias.fill_(math.log(4.0))  # prior-initialised log-rate
        rate = head(x)[:, 0]
    e = expected_initial_loss(
        "poisson_nll", target_mean=4.0, logit_mean=math.log(4.0), logit_std=_spread(head)
    )
    assert e.value == pytest.approx(float(F.poisson_nll_loss(rate, counts)), rel=0.01)
    assert float(F.poisson_nll_loss(z1, counts)) == pytest.approx(
        expected_initial_loss("poisson_nll", target_mean=4.0, logit_std=s1).value, rel=0.01
    )


def test_kl_div_every_reduction_matches_pytorch():
    n, c, s = 20_000, 7, 0.8
    g = torch.Generator().manual_seed(17)
    log_p = F.log_softmax(s * torch.randn(n, c, generator=g, dtype=torch.float64), dim=1)
    q = F.one_hot(torch.randint(0, c, (n,), generator=g), c).double()
    for reduction in ("batchmean", "sum", "none"):
        got = F.kl_div(log_p, q, reduction=reduction)
        got = float(got.mean()) if reduction == "none" else float(got)
        e = expected_initial_loss("kl_div", classes=c, logit_std=s, reduction=reduction, batch=n)
        assert e.value == pytest.approx(got, rel=0.01), reduction


def test_embedding_losses_match_random_vectors_and_fail_on_a_real_encoder():
    g = torch.Generator().manual_seed(18)
    n, d = 50_000, 16
    a, b = _unit(g, n, d), _unit(g, n, d)
    y = torch.where(torch.rand(n, generator=g) < 0.3, 1.0, -1.0).double()
    for m in (0.0, 0.2):
        got = float(F.cosine_embedding_loss(a, b, y, margin=m))
        e = expected_initial_loss("cosine_embedding", dim=d, margin=m, prior=float((y > 0).double().mean()))
        assert e.value == pytest.approx(got, rel=0.02), m
    raw = [torch.randn(n, d, generator=g, dtype=torch.float64) * 0.5 for _ in range(3)]
    e = expected_initial_loss("triplet", dim=d, margin=1.0, embedding_std=0.5, samples=20_000)
    assert e.value == pytest.approx(float(F.triplet_margin_loss(*raw)), abs=5 * e.stderr + 0.01)
    unit = [F.normalize(r, dim=1) for r in raw]
    e = expected_initial_loss("triplet", dim=d, normalized=True, margin=0.3, samples=20_000)
    assert e.value == pytest.approx(float(F.triplet_margin_loss(*unit, margin=0.3)), abs=5 * e.stderr + 0.01)
    # a fresh ReLU MLP is not a random direction generator: cosines far from 0 break the model
    torch.manual_seed(0)
    encoder = suite.mlp(16)
    stats = contrastive_stats(encoder, torch.randn(128, 20, generator=g))
    assert stats.negative_cos > 0.3
    assert stats.loss < stats.uniform < stats.random_directions


def test_contrastive_stats_of_a_collapsed_encoder_is_exactly_uniform():
    stats = contrastive_stats(lambda x: torch.ones(len(x), 8), torch.randn(64, 5))
    assert stats.loss == pytest.approx(math.log(64), abs=1e-12)
    assert stats.negative_cos == pytest.approx(1.0)
    with pytest.raises(TypeError, match=r"embeddings of shape \(N, d\)"):
        contrastive_stats(lambda x: x.sum(dim=1), torch.randn(8, 3))
    with pytest.raises(ValueError, match="temperature must be finite, got nan"):
        contrastive_stats(lambda x: x, torch.randn(8, 3), temperature=float("nan"))


def test_ctc_none_reduction_is_per_sequence():
    target = torch.tensor([[2, 5, 5]])
    log_probs = torch.full((12, 1, 6), -math.log(6), dtype=torch.float64)
    got = F.ctc_loss(log_probs, target, torch.tensor([12]), torch.tensor([3]), reduction="none")
    e = expected_initial_loss("ctc", classes=6, frames=12, target_length=3, repeats=1, reduction="none")
    assert float(got[0]) == pytest.approx(e.value, rel=1e-10)


# ---------------------------------------------------------------- the check and the suite


@pytest.fixture(scope="module")
def suite_rows():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return suite.run()
    finally:
        torch.set_num_threads(before)


def test_suite_confusion_table(suite_rows):
    table = suite.confusion(suite_rows)
    for name, fault, flagged, runs in table.per_case:
        if fault is None:
            assert flagged == 0, f"false alarm on {name}"
        elif fault == "shuffled labels":
            # outputs do not depend on the labels at initialisation: no first-loss check can see this
            assert flagged == 0, name
        else:
            assert flagged == runs, f"missed {name}"
    assert table.faults_caught == (45, 50)
    assert table.false_alarms == (0, 50)


def test_each_fault_is_named_first_in_its_report(suite_rows):
    expected_words = {
        "bad output bias": "output bias",
        "init gain too large": "init gain",
        "softmax/sigmoid before a logits loss": "before",
        "shape broadcast": "shape mismatch",
        "detached graph": "no graph",
        "reduction='sum'": "reduction='sum'",
        "dead ReLUs": "does not depend on the example",
    }
    for row in suite_rows:
        if row.fault in expected_words:
            found = row.report.diagnoses
            # a loss outside the range is stated first; the most likely cause follows it
            first = found[1] if "is above the largest value" in found[0] else found[0]
            assert expected_words[row.fault] in first, (row.case, found)


def _relu_mlp(classes, seed, scheme):
    torch.manual_seed(seed)
    model = suite.mlp(classes)
    if scheme == "kaiming":
        suite._init(model, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"))
    return model


@pytest.mark.parametrize("classes", [1, 3])
def test_false_alarm_rate_of_healthy_kaiming_relu_nets_over_60_seeds(classes):
    # a ReLU head input has a non-zero mean: each weight draw shifts every class by w_c·E[h];
    # the accepted range must include that spread between models, and no bias may be blamed
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alarms = []
        for seed in range(60):
            model = _relu_mlp(classes, seed, "kaiming")
            g = torch.Generator().manual_seed(100 + seed)
            x = torch.randn(256, 20, generator=g)
            if classes == 1:
                y = (torch.rand(256, generator=g) < 0.5).float()
                report = check_initial_loss(nn.Sequential(model, nn.Flatten(0)), x, y, nn.BCEWithLogitsLoss())
            else:
                y = torch.randint(0, classes, (256,), generator=g)
                report = check_initial_loss(model, x, y, nn.CrossEntropyLoss())
            if not report.ok:
                alarms.append((seed, report.diagnoses))
    finally:
        torch.set_num_threads(before)
    assert alarms == []


def test_the_loss_modules_options_are_used_not_reported_as_faults():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(256, 20, generator=g), torch.randint(0, 10, (256,), generator=g)
    model = suite.mlp(10)
    with torch.no_grad():
        logits = model(x)
    weighted = nn.CrossEntropyLoss(weight=torch.linspace(0.2, 3.0, 10))
    assert check_initial_loss(model, x, y, weighted).ok
    assert check_initial_loss(model, x, y, nn.CrossEntropyLoss(label_smoothing=0.1)).ok
    ignored = y.clone()
    ignored[:40] = -100
    report = check_initial_loss(model, x, ignored, nn.CrossEntropyLoss())
    assert report.ok
    assert report.per_example == pytest.approx(float(F.cross_entropy(logits, ignored)), rel=1e-6)
    # the same weights hidden in a lambda declared as plain cross-entropy: a mismatch, with 4 figures
    hidden = check_initial_loss(model, x, y, lambda o, t: weighted(o, t), loss="cross_entropy")
    ratio = float(weighted(logits, y) / F.cross_entropy(logits, y))
    assert f"{ratio:.4g} ×" in hidden.diagnoses[0]
    binary = nn.Sequential(suite.mlp(1), nn.Flatten(0))
    rare = (torch.rand(256, generator=g) < 0.1).float()
    assert check_initial_loss(binary, x, rare, nn.BCEWithLogitsLoss(pos_weight=torch.tensor(9.0))).ok
    # (N, C, T) logits, as a Conv1d tagger gives them; 'sum' over all 64·12 positions is caught
    conv = nn.Conv1d(4, 5, 3, padding=1)
    xt, yt = torch.randn(64, 4, 12, generator=g), torch.randint(0, 5, (64, 12), generator=g)
    assert check_initial_loss(conv, xt, yt, nn.CrossEntropyLoss()).ok
    summed = check_initial_loss(conv, xt, yt, lambda o, t: F.cross_entropy(o, t, reduction="sum"),
                                loss="cross_entropy")  # fmt: skip
    assert "768 ×" in summed.diagnoses[0]


def test_a_dead_network_is_flagged_with_its_zero_gradients():
    torch.manual_seed(0)
    model = suite.mlp(10)
    with torch.no_grad():
        model[0].bias.fill_(-10.0)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(256, 20, generator=g), torch.randint(0, 10, (256,), generator=g)
    with torch.no_grad():
        assert float(model[1](model[0](x)).abs().max()) == 0.0  # every first-layer unit is off
    report = check_initial_loss(model, x, y, nn.CrossEntropyLoss())
    assert not report.ok
    assert "does not depend on the example" in report.diagnoses[0]
    assert "3 of 6 parameter tensors get a gradient that is exactly zero" in report.diagnoses[1]
    assert "0.weight" in report.diagnoses[1]


def test_a_bad_bias_is_read_from_the_head_not_from_the_logits():
    torch.manual_seed(3)
    model = nn.Sequential(suite.mlp(1), nn.Flatten(0))
    with torch.no_grad():
        model[0][-1].bias.fill_(5.0)
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(256, 20, generator=g), (torch.rand(256, generator=g) < 0.5).float()
    report = check_initial_loss(model, x, y, nn.BCEWithLogitsLoss())
    assert "the head's bias is +5" in report.diagnoses[1]


def test_check_leaves_the_model_untouched_and_sees_a_cut_graph():
    torch.manual_seed(0)
    model = suite.convnet(10, batchnorm=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    assert check_initial_loss(model, x, y, nn.CrossEntropyLoss()).ok
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())
    cut = check_initial_loss(model, x, y, lambda o, t: F.cross_entropy(o.detach(), t).requires_grad_(),
                             loss="cross_entropy")  # fmt: skip
    assert "no parameter receives a gradient" in cut.diagnoses[0]


def test_check_flags_leakage_nan_and_label_encoding():
    torch.manual_seed(0)
    x, y = torch.randn(256, 20), torch.randint(0, 10, (256,))
    head = nn.Linear(20, 10)
    leaky = check_initial_loss(lambda inp: head(inp) + 8 * F.one_hot(y, 10), x, y, "cross_entropy")
    assert "below the best constant" in leaky.diagnoses[0]
    broken = check_initial_loss(lambda inp: head(inp) * float("nan"), x, y, "cross_entropy")
    assert "NaN or inf" in broken.diagnoses[0]
    binary = nn.Sequential(nn.Linear(20, 1), nn.Flatten(0))
    signs = 2 * (y % 2).float() - 1
    report = check_initial_loss(binary, x, signs, nn.BCEWithLogitsLoss())
    assert "labels in {-1, 1}" in report.diagnoses[0]


def test_healthy_checks_on_small_batches_raise_no_false_alarms():
    flagged = 0
    for seed in range(20):
        torch.manual_seed(seed)
        layer = nn.Linear(20, 10)
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        g = torch.Generator().manual_seed(100 + seed)
        x, y = torch.randn(32, 20, generator=g), torch.randint(0, 10, (32,), generator=g)
        flagged += not check_initial_loss(layer, x, y, nn.CrossEntropyLoss()).ok
        head = nn.Sequential(nn.Linear(20, 1), nn.Flatten(0))
        flagged += not check_initial_loss(head, x, (y % 2).float(), nn.BCEWithLogitsLoss()).ok
    assert flagged == 0


def test_many_classes_are_affordable():
    torch.manual_seed(0)
    report = check_initial_loss(
        nn.Linear(32, 5000), torch.randn(64, 32), torch.randint(0, 5000, (64,)), "cross_entropy"
    )
    assert report.ok, str(report)
    assert "Monte Carlo, 1000 samples" in report.expected.method


# ---------------------------------------------------------------- bad input: clear errors, never NaN out


NAN = float("nan")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"loss": "cross_entropy"}, TypeError, "cross_entropy needs classes"),
        ({"loss": "cross_entropy", "classes": 1}, ValueError, "classes must be an integer >= 2, got 1"),
        (
            {"loss": "cross_entropy", "classes": 3, "logit_std": -1},
            ValueError,
            "logit_std must be finite and >= 0",
        ),
        ({"loss": "cross_entropy", "classes": 3, "logit_std": NAN}, ValueError, "logit_std must be finite"),
        (
            {"loss": "cross_entropy", "classes": 3, "logit_mean": [0, NAN, 1]},
            ValueError,
            "logit_mean must be",
        ),
        (
            {"loss": "cross_entropy", "classes": 3, "prior": [0.5, 0.6, -0.1]},
            ValueError,
            "positive and sum to 1",
        ),
        ({"loss": "cross_entropy", "classes": 3, "prior": [0.5, 0.5]}, ValueError, "prior has 2 entries"),
        ({"loss": "cross_entropy", "classes": 3, "dim": 4}, TypeError, "cross_entropy does not take dim"),
        ({"loss": "bce_with_logits", "prior": 1.0}, ValueError, r"must lie in \(0, 1\), got 1.0"),
        ({"loss": "bce_with_logits", "logit_mean": NAN}, ValueError, "logit_mean must be finite, got nan"),
        (
            {"loss": "bce_with_logits", "logit_std": "1"},
            TypeError,
            "logit_std must be a real number, got '1'",
        ),
        ({"loss": "info_nce", "negatives": 0, "temperature": 0.1, "dim": 8}, ValueError, "negatives must be"),
        (
            {"loss": "info_nce", "negatives": 5, "temperature": 0.0, "dim": 8},
            ValueError,
            "temperature must be",
        ),
        (
            {"loss": "info_nce", "negatives": 5, "temperature": NAN, "dim": 8},
            ValueError,
            "temperature must be",
        ),
        ({"loss": "info_nce", "negatives": 5, "temperature": 0.1, "dim": 1}, ValueError, "dim must be"),
        (
            {"loss": "info_nce", "negatives": 5, "temperature": 0.1, "dim": 8, "model": "x"},
            ValueError,
            "model must",
        ),
        ({"loss": "gaussian_nll", "variance": 0}, ValueError, "variance must be finite and > 0"),
        ({"loss": "mse", "target_var": -1}, ValueError, "target_var must be finite and >= 0"),
        ({"loss": "mse", "target_mean": NAN}, ValueError, "target_mean must be finite"),
        ({"loss": "l1", "output_var": NAN}, ValueError, "output_var must be finite"),
        ({"loss": "huber", "delta": 0}, ValueError, "delta must be finite and > 0"),
        ({"loss": "smooth_l1", "beta": -1}, ValueError, "beta must be finite and >= 0"),
        ({"loss": "poisson_nll", "target_mean": -2.0}, ValueError, "target_mean must be finite and >= 0"),
        ({"loss": "poisson_nll", "target_mean": NAN}, ValueError, "target_mean must be finite"),
        ({"loss": "multi_margin", "classes": 3, "p": 3}, ValueError, "p must be 1 or 2"),
        ({"loss": "multi_margin", "classes": 3, "margin": NAN}, ValueError, "margin must be finite"),
        (
            {"loss": "multilabel_soft_margin", "labels": 3, "prior": [0.1, 0.2]},
            ValueError,
            "prior must be one share",
        ),
        ({"loss": "margin_ranking", "margin": NAN}, ValueError, "margin must be finite"),
        ({"loss": "cosine_embedding", "dim": 8, "margin": 2.0}, ValueError, r"margin must lie in \[-1, 1\]"),
        ({"loss": "triplet", "dim": 8, "embedding_std": NAN}, ValueError, "embedding_std must be finite"),
        ({"loss": "kl_div", "classes": 4, "reduction": "avg"}, ValueError, "reduction must be one of"),
        ({"loss": "kl_div", "classes": 4, "reduction": "sum"}, ValueError, "batch must be an integer >= 1"),
        ({"loss": "kl_div", "classes": 4, "target_entropy": 2.0}, ValueError, "at most ln C"),
        (
            {"loss": "ctc", "classes": 4, "frames": 3, "target_length": 3, "repeats": 1},
            ValueError,
            "frames >=",
        ),
    ],
)
def test_expected_initial_loss_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        expected_initial_loss(**kwargs)


def test_bad_numeric_arguments_of_the_helpers():
    with pytest.raises(ValueError, match="eps must be finite and > 0, got 0"):
        gradient_check(lambda a: a.sum(), torch.randn(2), eps=0)
    with pytest.raises(ValueError, match="eps must be finite and > 0, got -1e-06"):
        gradient_check(lambda a: a.sum(), torch.randn(2), eps=-1e-6)
    with pytest.raises(ValueError, match="atol must be finite"):
        gradient_check(lambda a: a.sum(), torch.randn(2), atol=NAN)
    with pytest.raises(ValueError, match="level must be finite, got nan"):
        quadratic_range("bce_with_logits", NAN)
    with pytest.raises(ValueError, match="spread must be finite and > 0"):
        large_spread("bce_with_logits", -1.0)
    with pytest.raises(ValueError, match="kappa must be finite"):
        sphere_mgf(NAN, 4)


def test_check_initial_loss_rejects_bad_input_clearly():
    torch.manual_seed(0)
    x, y = torch.randn(64, 20), torch.randint(0, 10, (64,))
    model = nn.Linear(20, 10)
    for rtol in (-0.1, NAN):
        with pytest.raises(ValueError, match="rtol must be finite"):
            check_initial_loss(model, x, y, "cross_entropy", rtol=rtol)
    with pytest.raises(TypeError, match="returned a tuple, not a tensor of logits"):
        check_initial_loss(lambda inp: (model(inp), inp), x, y, "cross_entropy")
    with pytest.raises(
        TypeError, match=r"needs floating-point targets, got torch.int64: use targets.float\(\)"
    ):
        check_initial_loss(nn.Sequential(nn.Linear(20, 1), nn.Flatten(0)), x, y % 2, nn.BCEWithLogitsLoss())
    with pytest.raises(
        ValueError, match=r"the model returned \(64, 10\) for the batch but targets have shape \(32,\)"
    ):
        check_initial_loss(model, x, y[:32], "cross_entropy")
    with pytest.raises(
        ValueError, match=r"one target per output: the model returns \(64, 10\), targets are \(64,\)"
    ):
        check_initial_loss(model, x, y.float(), "mse")
    with pytest.raises(TypeError, match=r"integer class indices of shape \(64,\), got torch.float32"):
        check_initial_loss(model, x, y.float(), "cross_entropy")
    with pytest.raises(ValueError, match=r"class indices must lie in \[0, 10\)"):
        check_initial_loss(model, x, y + 5, "cross_entropy")
    with pytest.raises(ValueError, match="cannot tell which loss loss_fn computes"):
        check_initial_loss(model, x, y, lambda o, t: F.cross_entropy(o, t))
    with pytest.raises(ValueError, match="loss='mse' but loss_fn is cross_entropy"):
        check_initial_loss(model, x, y, nn.CrossEntropyLoss(), loss="mse")
    with pytest.raises(ValueError, match="init must be one of"):
        check_initial_loss(model, x, y, "cross_entropy", init="he")
    with pytest.raises(TypeError, match="model must be callable, got int"):
        check_initial_loss(3, x, y, "cross_entropy")
    with pytest.raises(TypeError, match="targets must be a tensor, got list"):
        check_initial_loss(model, x, [0, 1], "cross_entropy")
    with pytest.raises(
        ValueError, match=r"cross_entropy needs logits of shape \(N, C\) or \(N, C, ...\), got \(64,\)"
    ):
        check_initial_loss(lambda inp: inp[:, 0], x, y, "cross_entropy")
    with pytest.raises(ValueError, match=r"every target equals ignore_index=-100"):
        check_initial_loss(model, x, torch.full((64,), -100), nn.CrossEntropyLoss())
    with pytest.raises(
        TypeError, match=r"integer class indices of shape \(64, 12\), got torch.int64 of shape \(64,\)"
    ):
        check_initial_loss(nn.Conv1d(20, 10, 1), x[:, :, None].expand(64, 20, 12), y, nn.CrossEntropyLoss())


def test_bias_and_gradient_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="bias must be a floating-point tensor"):
        init_output_bias(torch.zeros(2, dtype=torch.long), [0.5, 0.5])
    with pytest.raises(ValueError, match=r"prior \(a share of positives\) must lie in \(0, 1\), got 1.5"):
        init_output_bias(torch.zeros(1), 1.5)
    with pytest.raises(ValueError, match="prior must be finite, got nan"):
        init_output_bias(torch.zeros(1), NAN)
    with pytest.raises(ValueError, match="prior has 2 entries but classes=3"):
        init_output_bias(torch.zeros(3), [0.5, 0.5])
    with pytest.raises(TypeError, match=r"input 0 must be a floating-point tensor, got torch\.int64"):
        gradient_check(lambda a: a.sum(), torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="needs at least one input tensor"):
        gradient_check(lambda: torch.tensor(0.0))
    layer = nn.Linear(3, 1)  # float32 parameters
    with pytest.raises(TypeError, match=r"convert modules and captured tensors with \.double\(\) first"):
        gradient_check(lambda a: layer(a).sum(), torch.randn(2, 3))


def test_sanity_is_exported():
    assert lb.sanity.expected_initial_loss is expected_initial_loss
    assert set(lb.sanity.LOSSES) >= {"l1", "huber", "triplet", "ctc", "kl_div", "cosine_embedding"}


# ---------------------------------------------------------------- the sanity pages as a reader sees them

_PAGES = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("sanity*.ipynb"))


@pytest.mark.parametrize("path", _PAGES, ids=lambda p: p.stem)
def test_sanity_pages_show_mathematics_not_code_strings(path):
    """No LaTeX macro names or SymPy '**' in printed output; no long code cell shown expanded."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            texts = [out.get("text", ""), out.get("data", {}).get("text/plain", "")]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                if text.startswith("<IPython.core.display.Math"):
                    continue
                assert not re.search(r"\\[a-zA-Z]{2,}", text), f"cell {i}: LaTeX macro in printed output"
                assert "**" not in text, f"cell {i}: SymPy power in printed output"
        lines = "".join(cell["source"]).strip().splitlines()
        hidden = "hide-input" in cell["metadata"].get("tags", [])
        assert hidden or len(lines) <= 22, f"cell {i}: {len(lines)} lines shown expanded"


def test_row_kinds_and_bias_detection_curve(suite_rows):
    kinds = {r.case: r.kind for r in suite_rows if r.fault and r.flagged}
    assert kinds["softmax before CrossEntropyLoss"] == "structural"
    assert kinds["output bias +5 (BCE)"] == "statistical"
    found = suite.bias_detection((3.0,), seeds=range(3))
    assert found == {"BCE head bias +v": [3], "CE class biases in [-v, v]": [3]}
