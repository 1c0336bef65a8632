"""The convexity checker: proofs, counterexamples, and the registry's convexity claims."""

from __future__ import annotations

import re

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
    assert "second derivative 2 is ≥ 0" in str(mse)
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
        torch_fn=lambda x, t: -(x - t).abs(),
    )
    result = lb.check_convexity(peak)
    assert isinstance(result, lb.Counterexample)
    assert result.eigenvalue is None, "the Hessian is 0 almost everywhere: only Jensen sees the kink"
    _assert_jensen_holds(peak, result)
    assert "Jensen fails" in str(result)


@pytest.mark.parametrize("name", ["bce_with_logits", "cross_entropy", "gaussian_nll", "focal", "poisson_nll"])
def test_batched_hessians_match_torch_functional_hessian(name):
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


def test_composition_rule_needs_h_non_decreasing_on_the_range_of_g():
    """t² is convex but decreasing on [-1, 0): (z² - 1)² is not convex, so no rule may prove it."""
    g = z**2 - 1
    assert sp.diff(g**2, z, 2).subs(z, 0) == -4
    assert cv.curvature(g**2, (z,)) is None
    assert cv.curvature(sp.Max(0, 1 - z) ** 2, (z,)) == "convex"  # range [0, ∞): t² non-decreasing
    assert cv.curvature((z - 1) ** 2, (z,)) == "convex"  # affine inside an even power: rule 1


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("z**2", (z,)), TypeError, r"expr must be a SymPy expression \(strings are not parsed\), got str"),
        ((True, (z,)), TypeError, r"expr must be a SymPy expression"),
        ((z**2, ()), TypeError, r"inputs must be a non-empty sequence of SymPy symbols, got \(\)"),
        ((z**2, ("z",)), TypeError, r"inputs must be a non-empty sequence of SymPy symbols, got \('z',\)"),
        ((z + sp.nan, (z,)), ValueError, r"expr must be finite, got"),
        ((z * sp.oo, (z,)), ValueError, r"expr must be finite"),
    ],
)
def test_curvature_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        cv.curvature(*args)


def test_curvature_accepts_a_single_symbol():
    assert cv.curvature(sp.Abs(z), z) == "convex"


# ------------------------------------------------------------------ rendering


@pytest.mark.parametrize(
    "name", ["pinball", "squared_hinge", "poisson_nll", "cross_entropy", "gaussian_nll", "huber"]
)
def test_results_print_and_render_without_raw_sympy(name):
    result = lb.check_convexity(name, n=50)
    text, markup = str(result), result._repr_html_()
    assert "**" not in text
    assert "\\" not in text, "plain text never holds a LaTeX macro"
    assert markup.startswith(f'<strong>{name}</strong>: {result.verdict} in <span class="math'), markup
    outside_math = re.sub(r'<span class="math notranslate nohighlight">.*?</span>', "", markup)
    assert "**" not in outside_math
    assert "\\" not in outside_math, "every formula in the HTML is inside a math span"
    if isinstance(result, lb.Proof) and name != "cross_entropy":
        assert markup.count('class="math') >= 2, "inputs and at least one formula are mathematics"


def test_table_renders_expressions_as_mathematics_and_text_without_macros():
    table = cv.Table(
        ("loss", "second derivative"), (("exponential", sp.exp(-z)), ("ratio", y**2 / sp.Symbol(r"\sigma")))
    )
    assert "\\" not in str(table)
    assert "**" not in str(table)
    assert "y²/σ" in str(table)
    markup = table._repr_html_()
    assert markup.count("<tr>") == 3
    assert markup.count("<td ") == 4
    assert r'<span class="math notranslate nohighlight">\(e^{- z}\)</span>' in markup
    with pytest.raises(TypeError, match="header must be a non-empty tuple of cells"):
        cv.Table((), ())
    with pytest.raises(ValueError, match="rows must have 2 cells each, like header; row 1 has 3"):
        cv.Table(("a", "b"), (("x", "y"), ("x", "y", "z")))


def test_plain_printer_uses_superscripts_and_book_symbols():
    from lossbook.notation import var

    assert cv._show(sp.Max(0, 1 - z) ** 2) == "max(0, 1 - z)²"
    assert cv._show((y - yhat) ** 2 / var) == "(-ŷ + y)²/σ²"
    assert cv._show(sp.exp(-z) * z**-3) == "exp(-z)/z³"
    assert cv._show(sp.Abs(yhat) ** sp.Symbol("k")) == "|ŷ|^k"


# ------------------------------------------------------------------ Hessian check

#: Entries whose Hessian cannot be compared point by point, and why.
NO_HESSIAN_CHECK = {
    # PyTorch has no double backward for these (the convexity checker uses SymPy's Hessian there)
    "multi_margin": "multi_margin_loss has no double backward",
    "multilabel_margin": "multilabel_margin_loss has no double backward",
    "ctc": "ctc_loss has no double backward",
    # at a zero vector the y = -1 branch's kink is multiplied by (1 - y)/2 = 0: SymPy's 0·nan is nan
    "cosine_embedding": "the (1 ± y)/2 encoding leaves SymPy's Hessian undefined at the zero-vector edges",
}
HESSIAN_EXACT = [n for n in NAMES if n not in ("bce", "gaussian_nll", *NO_HESSIAN_CHECK)]


@pytest.mark.parametrize("name", HESSIAN_EXACT)
def test_sympy_hessian_matches_torch_at_sampled_and_edge_points(name):
    report = cv.hessian_check(name, n=6, seed=2)
    report.assert_ok()
    assert len(report.status) == 6 + len(lb.get(name).edges)
    # every agreeing point was compared for real: both Hessians finite and close
    agree = np.array([s == "agree" for s in report.status])
    np.testing.assert_allclose(report.torch[agree], report.sympy[agree], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("hinge", "kink"),
        ("l1", "kink"),
        ("pinball", "kink"),
        ("squared_hinge", "boundary"),
        ("huber", "boundary"),
    ],
)
def test_kinks_and_boundaries_are_judged_by_one_sided_limits(name, status):
    loss = lb.get(name)
    kinds = {"kink": "kink", "boundary": "boundary"}
    edges = [e for e in loss.edges if e.kind == kinds[status]]
    x = np.array([e.inputs for e in edges])
    t = np.array([e.targets for e in edges])
    report = cv.hessian_check(loss, (x, t))
    assert report.status == (status,) * len(edges), str(report)
    assert np.all(report.low <= report.torch)
    assert np.all(report.torch <= report.high)
    assert np.isnan(report.error).all()


def test_huber_boundary_sides_differ_and_pytorch_takes_the_linear_side():
    report = cv.hessian_check("huber", ([1.0, -1.0], [0.0, 0.0]))
    assert report.status == ("boundary", "boundary")
    np.testing.assert_array_equal(report.low.ravel(), [0.0, 0.0])
    np.testing.assert_array_equal(report.high.ravel(), [1.0, 1.0])
    np.testing.assert_array_equal(report.torch.ravel(), [0.0, 0.0])


def test_a_wrong_hessian_is_a_mismatch():
    wrong = lb.Loss(
        name="wrong_cube",
        expr=yhat**3 / 3,
        inputs=(yhat,),
        torch_fn=lambda x, t: x**3 / 3 + x**2 * 1e-3,  # curvature off by 2e-3
    )
    report = cv.hessian_check(wrong, n=4, edges=False)
    assert not report.ok
    assert set(report.status) == {"mismatch"}
    with pytest.raises(AssertionError, match="mismatch at x = "):
        report.assert_ok()
    np.testing.assert_allclose(report.torch - report.sympy, 2e-3, rtol=1e-9)


def test_a_jump_in_the_wrong_place_is_a_mismatch():
    """At a kink PyTorch must return a value between the one-sided limits, not any value."""
    spike = lb.Loss(
        name="abs_spike",
        expr=sp.Abs(yhat),
        inputs=(yhat,),
        torch_fn=lambda x, t: x.abs() + torch.where(x == 0, x**2, 0 * x),
    )
    report = cv.hessian_check(spike, ([0.0, 0.5], np.zeros((2, 0))))
    assert report.status == ("mismatch", "agree"), str(report)


def test_pytorch_departures_in_double_backward_are_reported():
    """gaussian_nll: double backward ignores the variance clamp, as backward does."""
    report = cv.hessian_check("gaussian_nll", n=3)
    clamped = [i for i, s in enumerate(report.status) if s == "mismatch"]
    assert clamped
    assert all(report.x[i, 1] <= 1e-6 for i in clamped)


def test_hessian_functions_are_made_once_per_loss_and_hyperparameters():
    from lossbook import hessians

    cv.hessian_check("cross_entropy", n=2)
    before = hessians._hessian_functions.cache_info()
    for seed in range(3):
        cv.hessian_check("cross_entropy", n=2, seed=seed)
    after = hessians._hessian_functions.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 3


def test_proofs_are_cached_per_loss_and_hyperparameters():
    lb.check_convexity("focal", gamma=0.0)
    before = cv._prove.cache_info()
    assert isinstance(lb.check_convexity("focal", gamma=0.0, seed=5), lb.Proof)
    assert cv._prove.cache_info().hits == before.hits + 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"n": 0}, ValueError, r"n must be an integer >= 1 \(sampled points\), got 0"),
        ({"n": 1.5}, ValueError, r"n must be an integer >= 1"),
        ({"seed": "0"}, TypeError, r"seed must be an integer, got str"),
        ({"edges": 1}, TypeError, r"edges must be True or False, got int"),
        ({"rtol": -1e-3}, ValueError, r"rtol must be a finite number >= 0, got -0.001"),
        ({"atol": float("nan")}, ValueError, r"atol must be a finite number >= 0, got nan"),
        ({"rtol": "tight"}, TypeError, r"rtol must be a real number, got str"),
        ({"delta": 0.0}, ValueError, r"huber: delta must satisfy delta > 0, got 0.0"),
        ({"points": [1.0]}, TypeError, r"huber: points must be a pair \(x, t\) of arrays, got list"),
        ({"points": ([1.0, 2.0], [0.0])}, ValueError, r"huber: x and t must have the same number of rows"),
        ({"points": ([[1.0, 2.0]], [[0.0]])}, ValueError, r"huber: x must have shape \(N, 1\)"),
        ({"points": ([float("nan")], [0.0])}, ValueError, r"huber: x must hold real numbers"),
    ],
)
def test_hessian_check_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        cv.hessian_check("huber", **kwargs)
