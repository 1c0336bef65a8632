"""Tests of lossbook.stability: float limits, exact references, summation, the sweep, stable forms."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import stability as S
from lossbook.notation import y, yhat

DTYPES = S.DTYPES


@pytest.mark.parametrize("dtype", DTYPES, ids=S.dtype_name)
def test_float_limits_match_finfo_and_the_neighbouring_numbers(dtype):
    lim = S.float_limits(dtype)
    fi = torch.finfo(dtype)
    assert (lim.max, lim.smallest_normal, lim.eps) == (fi.max, fi.smallest_normal, fi.eps)
    up = torch.tensor(1e4, dtype=dtype)
    down = torch.tensor(-1e4, dtype=dtype)
    x = torch.tensor(lim.exp_overflow, dtype=dtype)
    assert torch.isfinite(torch.exp(x))
    assert torch.isinf(torch.exp(torch.nextafter(x, up)))
    x = torch.tensor(lim.exp_zero, dtype=dtype)
    assert torch.exp(x) == 0
    assert torch.exp(torch.nextafter(x, up)) > 0
    x = torch.tensor(lim.exp_subnormal, dtype=dtype)
    assert torch.exp(x) < fi.smallest_normal <= torch.exp(torch.nextafter(x, up))
    # independent of the bisection: the thresholds sit at log(max) and log(smallest subnormal / 2)
    assert abs(lim.exp_overflow - math.log(fi.max)) < 0.25
    assert abs(lim.exp_zero - (math.log(lim.smallest_subnormal) - math.log(2))) < 0.5
    assert torch.nextafter(torch.tensor(0.0, dtype=dtype), down) < 0  # sanity of the dtype itself


def test_float_limits_rejects_other_dtypes():
    with pytest.raises(ValueError, match="dtype must be one of float16, bfloat16, float32, float64"):
        S.float_limits(torch.int64)


@pytest.mark.parametrize("dtype", DTYPES, ids=S.dtype_name)
def test_boundary_is_exact(dtype):
    last = S.boundary(lambda v: torch.sigmoid(v) == 1, dtype, 0.0, 1000.0)
    x = torch.tensor(last, dtype=dtype)
    assert torch.sigmoid(x) < 1
    assert torch.sigmoid(torch.nextafter(x, torch.tensor(1e4, dtype=dtype))) == 1


def test_boundary_rejects_bad_brackets():
    with pytest.raises(ValueError, match="fails must be False at low"):
        S.boundary(lambda v: v > 0, torch.float32, 1.0, 2.0)
    with pytest.raises(ValueError, match="low and high must be numbers with low < high"):
        S.boundary(lambda v: v > 0, torch.float32, 2.0, 1.0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        S.boundary(lambda v: v > 0, "float32", -1.0, 1.0)


def test_exact_agrees_with_closed_forms_and_gives_up_honestly():
    # log(1 + e^-a) for large a is e^-a to first order; log1p(e^-a) in float64 is exact here
    assert S.exact(lambda a: [mpmath.log(1 + mpmath.exp(-a))], [40.0]) == [math.log1p(math.exp(-40.0))]
    assert S.exact(lambda a: [mpmath.log(1 - 1 / (1 + mpmath.exp(-a)))], [300.0]) == [-300.0]
    assert S.exact(lambda a: [mpmath.log(1 - 1 / (1 + mpmath.exp(-a)))], [5000.0]) is None
    assert S.exact(lambda a: [a - a], [3.0]) == [0.0]  # a true zero is accepted at the last precision
    with pytest.raises(ValueError, match="digits must be a non-empty sequence of integers >= 15"):
        S.exact(lambda a: [a], [1.0], digits=(10,))


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=200))
@settings(max_examples=40, deadline=None)
def test_summation_in_float64_is_close_to_fsum(values):
    x = torch.tensor([values], dtype=torch.float64)
    exact_sum = math.fsum(values)
    scale = math.fsum(abs(v) for v in values) + 1e-300
    for fn, bound in (
        (S.sequential_sum, len(values)),
        (S.pairwise_sum, math.log2(len(values)) + 1),
        (S.kahan_sum, 3),
    ):
        assert abs(fn(x)[0].item() - exact_sum) <= 2 * bound * 2.2e-16 * scale, fn.__name__


def test_summation_in_bfloat16_shows_stagnation_and_its_cures():
    x = torch.full((1, 4096), 0.1, dtype=torch.bfloat16)  # bfloat16(0.1) = 0.10009765625
    exact_sum = 4096 * float(x[0, 0])
    assert S.sequential_sum(x).item() == 32.0  # spacing at 32 is 0.25: adding 0.1 rounds back
    spacing = 2.0  # of bfloat16 numbers in [256, 512)
    assert abs(S.kahan_sum(x).item() - exact_sum) <= spacing
    assert abs(S.pairwise_sum(x).item() - exact_sum) <= spacing


def test_summation_rejects_bad_input():
    with pytest.raises(TypeError, match=r"x must be a floating-point torch\.Tensor"):
        S.kahan_sum(np.ones((1, 3)))
    with pytest.raises(TypeError, match=r"of dtype torch\.int64"):
        S.pairwise_sum(torch.ones((1, 3), dtype=torch.int64))
    with pytest.raises(ValueError, match=r"shape \(sequences, length\)"):
        S.sequential_sum(torch.ones(3))


@pytest.mark.parametrize("name", list(lb.LOSSES))
def test_every_registry_loss_has_probes(name):
    assert S.probes(name), f"{name}: the sweep has no probe for its domains"


@pytest.fixture(scope="module")
def float32_sweep():
    return S.sweep(dtypes=[torch.float32], refine=0)


def test_sweep_covers_the_registry(float32_sweep):
    assert float32_sweep.losses == [n for n in lb.LOSSES if n not in S.NOT_SWEPT]
    assert set(float32_sweep.skipped) == set(S.NOT_SWEPT) < set(lb.LOSSES)
    assert all(f"not swept: {n} (" in str(float32_sweep) for n in S.NOT_SWEPT)
    assert all(f"Not swept: {n} (" in float32_sweep._repr_html_() for n in S.NOT_SWEPT)
    for name in float32_sweep.losses:
        assert len([c for c in float32_sweep.cells if c.loss == name]) == len(S.probes(name))
    text = str(float32_sweep)
    assert "soft_margin" in text
    assert "float32" in text
    assert "<table" in float32_sweep._repr_html_()


def test_sweep_finds_the_overflow_of_soft_margin(float32_sweep):
    cell = float32_sweep.worst("soft_margin", torch.float32)
    assert cell.naive
    assert cell.status == "inf/NaN"
    # e^s overflows float32 beyond log(max) = 88.72, where the loss (about s) does not
    assert cell.limit <= math.log(torch.finfo(torch.float32).max) < cell.first_bad
    assert "soft_margin" in float32_sweep.naive
    # mse's square overflows together with the loss itself: not PyTorch's fault
    assert "mse" not in float32_sweep.naive
    assert float32_sweep.worst("mse", torch.float32).status == S.TRUE_OVERFLOW


def test_sweep_table_reports_the_smallest_limit_and_a_later_failure_of_pytorch():
    # float16 Gaussian NLL, residual s: with variance 1 the exact value s²/2 nears overflow
    # (a quarter of the largest float16) first; with variance s PyTorch squares s, which
    # overflows only at s² > 65504, although the value s/2 + log(s)/2 fits easily.
    result = S.sweep(["gaussian_nll"], [torch.float16], refine=8)
    big = torch.finfo(torch.float16).max
    worst, naive = (
        result.worst("gaussian_nll", torch.float16),
        result.first_naive("gaussian_nll", torch.float16),
    )
    assert worst.status == S.TRUE_OVERFLOW
    assert not worst.naive
    assert worst.limit <= math.sqrt(2 * big / 4) < worst.first_bad
    assert naive.status == S.NONFINITE
    assert naive.limit <= math.sqrt(big) < naive.first_bad
    assert worst.limit == min(c.limit for c in result.cells)
    text = str(result)
    assert f"{worst.limit:.3g} ovf; inf/NaN (v, g) > {naive.limit:.3g}" in text
    assert result.first_naive("gaussian_nll", torch.float16) is not None
    assert S.sweep(["mse"], [torch.float16], refine=0).first_naive("mse", torch.float16) is None


def test_stable_forms_remove_every_naive_failure(float32_sweep):
    assert set(float32_sweep.naive) <= set(S.STABLE)
    stable = S.sweep([S.stable_loss(name) for name in S.STABLE], [torch.float16, torch.float32], refine=0)
    assert stable.naive == []


#: Where each embedding loss fails, as a power of the dtype's largest number: cosine_embedding_loss
#: multiplies two squared norms (x_max^(1/4)); a norm's squares overflow from x_max^(1/2), except
#: that in float16 torch.linalg.vector_norm squares in float32, so there the difference a - a⁻
#: (triplet_margin) or the norm itself (cosine similarity) overflows first, near x_max.
EMBEDDING_FAILURES = {
    torch.float32: {"cosine_embedding": 1 / 4, "triplet_margin": 1 / 2, "triplet_margin_cosine": 1 / 2},
    torch.float16: {"cosine_embedding": 1 / 4, "triplet_margin": 1.0, "triplet_margin_cosine": 1.0},
}


@pytest.mark.parametrize("dtype", list(EMBEDDING_FAILURES), ids=S.dtype_name)
def test_embedding_losses_fail_where_predicted_and_the_stable_forms_do_not(dtype):
    big = torch.finfo(dtype).max
    result = S.sweep(list(EMBEDDING_FAILURES[dtype]), [dtype], refine=8)
    for name, power in EMBEDDING_FAILURES[dtype].items():
        cell = result.first_naive(name, dtype)
        assert cell is not None, name
        # the probes' vectors and differences have norms between 0.3 s and 2.3 s
        assert big**power / 8 < cell.first_bad < 8 * big**power, (name, cell)
        assert S.sweep([S.stable_loss(name)], [dtype], refine=0).naive == [], name


def test_stable_triplet_scales_by_the_difference_not_the_embeddings():
    """Found in review: scaling by max(|a|, |a⁺|) made a huge shared coordinate swamp a small
    difference (loss 1.0 for the exact 0.5). The distance now scales by the difference."""
    stable = S.stable_loss("triplet_margin")
    points = [[2.0**600, 0, 2.0**600, 1, 2.0**600, 1.5], [1e200] * 6, [100.0] * 6]
    lb.crosscheck(stable, points=(points, [[]] * 3)).assert_ok()
    for dtype, big in ((torch.float32, 2.0**120), (torch.bfloat16, 2.0**120), (torch.float16, 2.0**14)):
        x = torch.tensor([[big, 0, big, 1, big, 1.5]], dtype=dtype)
        assert stable.pytorch(x).item() == 0.5, dtype
    # bit for bit PyTorch's pairwise_distance, gradient included, where that does not overflow
    from lossbook.stable import _distance

    a = torch.tensor([[100.0, 100.0]], dtype=torch.float16, requires_grad=True)
    grads = [torch.autograd.grad(fn(a, a.detach()).sum(), a)[0] for fn in (F.pairwise_distance, _distance)]
    assert torch.equal(grads[0], grads[1])


def test_triplet_reference_keeps_eps_beside_a_huge_shared_coordinate():
    """lambdify with common subexpressions shared a + 1e-6 between both distances, and a huge a
    absorbed the 1e-6 identically at 30 and 60 digits; such sums are lambdified without cse."""
    from lossbook.calculus import _cse_safe

    loss = lb.get("triplet_margin")
    assert not _cse_safe([loss.expr])
    assert _cse_safe([lb.get("mse").expr])
    probe = next(p for p in S.probes(loss) if p.label == "x = (s, 0, s, 1, s, 1.5)")
    x, t = probe.make(1.3e55)
    ref = S._reference(loss, loss.hyperparameters(), x, t)[0]
    expected = 1 + math.hypot(1e-6, -1 + 1e-6) - math.hypot(1e-6, -1.5 + 1e-6)
    assert ref[0] == pytest.approx(expected, rel=1e-15)
    assert ref[1] == pytest.approx(1e-6 * (1 - 1 / 1.5), rel=1e-5)  # d/da_0 = ε/d⁺ - ε/d⁻, not 0


def test_vector_norm_squares_float16_in_float32():
    x = torch.tensor([[300.0, 400.0]], dtype=torch.float16)
    assert torch.isinf((x * x).sum(1)).all()  # 90000 + 160000 > 65504
    assert torch.linalg.vector_norm(x, dim=1).item() == 500.0
    assert torch.nn.functional.pairwise_distance(x, torch.zeros_like(x)).item() == 500.0


def test_sweep_reference_accepts_exact_zeros():
    """In float16 the default triplet probe rounds to a - a⁺ parallel to a - a⁻, so the exact
    gradient in a is 0: it is no obstacle to the sweep's absolute-below-1 reference (it used to be)."""
    result = S.sweep(["triplet_margin"], [torch.float16], refine=0)
    assert all(c.status != S.NO_REFERENCE for c in result.cells)
    # exact() itself stays relative: a zero computed at a low precision is not trusted
    assert S.exact(lambda a: [mpmath.exp(-a) * 0 + (1 - 1 / (1 + mpmath.exp(-a))) * 0], [1.0]) == [0.0]
    assert S.exact(lambda a: [1 - 1 / (1 + mpmath.exp(-a))], [300.0]) == [math.exp(-300.0)]


def test_triplet_cosine_stable_form_keeps_pytorchs_backward_below_the_clamp():
    x = torch.tensor([[1.0, 0.0, 1e-9, 0.0, 0.0, 5.0]], dtype=torch.float64, requires_grad=True)
    grads = []
    for loss in (lb.get("triplet_margin_cosine"), S.stable_loss("triplet_margin_cosine")):
        (g,) = torch.autograd.grad(loss.pytorch(x, **loss.hyperparameters()).sum(), x)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=0)
    assert math.isclose(float(grads[0][0, 2]), -9e7, rel_tol=1e-9)  # not the clamped forward's -1e8


@pytest.mark.parametrize("name", list(S.STABLE))
def test_stable_forms_pass_the_cross_check(name):
    lb.crosscheck(S.stable_loss(name)).assert_ok()


@pytest.mark.parametrize("name", list(S.STABLE))
@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=15, deadline=None)
def test_stable_forms_equal_pytorch_where_pytorch_is_accurate(name, seed):
    loss, stable = lb.get(name), S.stable_loss(name)
    x, t = loss.sample(np.random.default_rng(seed), 8)
    hyper = loss.hyperparameters()
    torch.testing.assert_close(
        stable.pytorch(x, t, **hyper), loss.pytorch(x, t, **hyper), rtol=1e-9, atol=1e-9
    )
    torch.testing.assert_close(stable.gradient(x, t), loss.gradient(x, t), rtol=1e-9, atol=1e-9)


def test_sweep_of_a_loss_of_your_own():
    def make(fn):
        return lb.Loss(
            name="log_cosh", expr=sp.log(sp.cosh(yhat - y)), inputs=(yhat,), targets=(y,), torch_fn=fn
        )

    naive = make(lambda x, t: torch.log(torch.cosh(x - t)))
    stable = make(lambda x, t: (x - t).abs() + torch.nn.functional.softplus(-2 * (x - t).abs()) - math.log(2))
    result = S.sweep([naive], [torch.float64], refine=12)
    cell = result.worst("log_cosh", torch.float64)
    assert cell.naive
    assert cell.limit <= math.log(torch.finfo(torch.float64).max) + math.log(2) < cell.first_bad
    assert S.sweep([stable], [torch.float64], refine=0).naive == []


def test_sweep_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dtypes must be one of"):
        S.sweep(["mse"], [torch.int8])
    with pytest.raises(TypeError, match="dtypes must be a non-empty sequence"):
        S.sweep(["mse"], torch.float32)
    with pytest.raises(ValueError, match=r"ulps must be a number in \[1, 1e6\)"):
        S.sweep(["mse"], ulps=0)
    with pytest.raises(ValueError, match="refine must be a non-negative integer"):
        S.sweep(["mse"], refine=-1)
    with pytest.raises(ValueError, match="unknown loss 'msee'"):
        S.sweep(["msee"])
    with pytest.raises(ValueError, match="no stable reformulation for 'mse'; there is one for: bce"):
        S.stable_loss("mse")
    odd = lb.Loss(
        name="odd",
        expr=yhat**2,
        inputs=(yhat,),
        torch_fn=lambda x, t: x**2,
        input_domain=lb.Domain("odd numbers", lambda a: True, lambda rng, n, w: np.ones((n, w))),
    )
    with pytest.raises(ValueError, match="odd: the sweep has no probes for its domains"):
        S.sweep([odd])
