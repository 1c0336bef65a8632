"""The convexity checker: proofs, counterexamples, and the registry's convexity claims."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import convexity as cv
from lossbook.notation import y, yhat, z

NAMES = list(lb.LOSSES)
CONVEX = [n for n in NAMES if lb.get(n).convex]
KINKED = ["l1", "hinge", "pinball", "hinge_embedding"]


def _assert_jensen_holds(loss: lb.Loss, result: lb.Counterexample) -> None:
    """Re-evaluate the reported pair: the function really lies above its chord."""
    j = result.jensen
    a, b, t = np.array([j.a]), np.array([j.b]), np.array([j.target])
    mid = j.lam * a + (1 - j.lam) * b
    f = lambda x: float(loss.pytorch(x, t, **result.hyper)[0])  # noqa: E731
    assert f(mid) == pytest.approx(j.value_between)
    assert f(mid) > j.lam * f(a) + (1 - j.lam) * f(b)
    assert j.gap > 0


@pytest.mark.parametrize("name", NAMES)
def test_registry_convexity_claims_agree_with_the_checker(name):
    loss = lb.get(name)
    result = lb.check_convexity(loss, n=200, seed=3)
    if loss.convex:
        assert isinstance(result, (lb.Proof, lb.NotRefuted)), str(result)
    else:
        assert isinstance(result, lb.Counterexample), str(result)
        _assert_jensen_holds(loss, result)


@pytest.mark.parametrize("name", CONVEX)
def test_sampling_alone_never_refutes_a_convex_entry(name):
    result = lb.check_convexity(name, n=300, seed=11, symbolic=False)
    assert isinstance(result, lb.NotRefuted), str(result)
    assert result.why_no_proof == "symbolic=False"
    assert result.min_eigenvalue >= -1e-9 * max(1.0, abs(result.min_eigenvalue))


@pytest.mark.parametrize("name", KINKED)
def test_kinked_losses_are_proved_by_composition_rules(name):
    result = lb.check_convexity(name)
    assert isinstance(result, lb.Proof)
    assert result.method == "composition"


def test_smooth_proofs_say_why():
    mse = lb.check_convexity("mse")
    assert isinstance(mse, lb.Proof)
    assert mse.method == "hessian"
    assert "second derivative 2 is >= 0" in str(mse)
    ce = lb.check_convexity("cross_entropy")
    assert isinstance(ce, lb.Proof)
    assert all("principal minors" in r for r in ce.reasons[1:])
    assert all("(1 identically 0)" in r for r in ce.reasons[1:]), "det(diag p - p pᵀ) = 0"


def test_huber_is_not_proved_but_not_refuted():
    result = lb.check_convexity("huber", n=100)
    assert isinstance(result, lb.NotRefuted)
    assert result.n_points == result.n_pairs == 100 + len(lb.get("huber").edges)
    assert "composition rules" in result.why_no_proof


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_focal_is_refuted_for_every_positive_gamma(gamma):
    result = lb.check_convexity("focal", n=300, gamma=gamma)
    assert isinstance(result, lb.Counterexample)
    assert result.eigenvalue is not None
    assert result.eigenvalue < 0
    _assert_jensen_holds(lb.get("focal"), result)


def test_focal_with_gamma_zero_is_weighted_bce_and_proved():
    assert isinstance(lb.check_convexity("focal", gamma=0.0), lb.Proof)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), df=st.floats(0.5, 30.0))
def test_student_t_counterexamples_are_real(seed, df):
    result = lb.check_convexity("student_t_nll", n=100, seed=seed, df=df)
    assert isinstance(result, lb.Counterexample)
    _assert_jensen_holds(lb.get("student_t_nll"), result)
    # the Hessian is negative only outside |y - μ| < b √ν
    (mu_value,), (y_value,) = result.point, result.target
    assert abs(y_value - mu_value) > np.sqrt(df) - 1e-9


def test_a_concave_kink_is_refuted_by_jensen_pairs_alone():
    peak = lb.Loss(
        name="neg_abs",
        expr=-sp.Abs(yhat - y),
        inputs=(yhat,),
        targets=(y,),
        torch_fn=lambda x, t: -(x - t).abs()[:, 0],
    )
    result = lb.check_convexity(peak)
    assert isinstance(result, lb.Counterexample)
    assert result.eigenvalue is None, "the Hessian is 0 almost everywhere: only Jensen sees the kink"
    _assert_jensen_holds(peak, result)
    assert "Jensen fails" in str(result)


@pytest.mark.parametrize("name", ["bce_with_logits", "cross_entropy", "gaussian_nll", "focal", "poisson_nll"])
def test_sampled_hessians_match_torch_functional_hessian(name):
    loss = lb.get(name)
    x, t = loss.sample(np.random.default_rng(0), 5)
    hp = loss.hyperparameters()
    batch = cv._hessians(loss, x, t, hp)
    for i in range(5):
        xi = torch.tensor(x[i : i + 1], dtype=torch.float64)
        ti = t[i : i + 1]
        one = torch.autograd.functional.hessian(lambda v, ti=ti: loss.pytorch(v, ti, **hp).sum(), xi)
        np.testing.assert_allclose(batch[i], one[0, :, 0, :].numpy(), rtol=1e-10, atol=1e-12)


def test_curvature_rules():
    assert cv.curvature(3 * z + y, (z,)) == "affine"
    assert cv.curvature(sp.Max(z, -z, 2), (z,)) == "convex"
    assert cv.curvature(sp.Min(z, -z), (z,)) == "concave"
    assert cv.curvature(-sp.Max(0, z), (z,)) == "concave"
    assert cv.curvature(sp.Max(0, z) ** 2 + sp.exp(-z), (z,)) == "convex"
    assert cv.curvature(sp.Max(0, z) + sp.Min(0, z), (z,)) is None  # convex + concave
    assert cv.curvature(y * sp.Max(0, z), (z,)) is None  # sign of y unknown
    assert cv.curvature(sp.Abs(z**2 - 1), (z,)) is None
    assert cv.curvature(sp.sqrt(sp.Max(0, z)), (z,)) is None
    assert cv.curvature(sp.Max(0, z, sp.sin(z)), (z,)) is None
    assert cv.curvature((z - 1) ** 3, (z,)) is None


def test_results_are_not_truth_values():
    for result in (lb.check_convexity("mse"), lb.check_convexity("focal"), lb.check_convexity("huber")):
        with pytest.raises(TypeError, match="is not a truth value"):
            bool(result)
        assert result.verdict in {"proved convex", "not convex", "not refuted"}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": 0}, ValueError, r"n must be an integer >= 1 \(samples\), got 0"),
        ({"n": 2.5}, ValueError, r"n must be an integer >= 1"),
        ({"n": True}, ValueError, r"n must be an integer >= 1"),
        ({"seed": "zero"}, TypeError, r"seed must be an integer, got str"),
        ({"seed": False}, TypeError, r"seed must be an integer, got bool"),
        ({"symbolic": "yes"}, TypeError, r"symbolic must be True or False, got str"),
        ({"delta": -1.0}, ValueError, r"huber: delta must satisfy delta > 0, got -1.0"),
        ({"beta": 1.0}, TypeError, r"huber: unknown hyperparameter\(s\) \['beta'\]; allowed: delta"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        lb.check_convexity("huber", **kwargs)


def test_bad_loss():
    with pytest.raises(ValueError, match="unknown loss 'hubber'; did you mean 'huber'"):
        lb.check_convexity("hubber")
    with pytest.raises(TypeError, match="name must be a loss name"):
        lb.check_convexity(3)
