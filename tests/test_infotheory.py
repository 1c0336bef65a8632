"""Properties of lossbook.infotheory: the inequalities of information theory, agreement with
SciPy and PyTorch, and every bad-input path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook.infotheory import ATOL, EPS_FACTOR, default_atol

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUNCTIONS = {
    "entropy": lambda p, q, **kw: lb.entropy(p, **kw),
    "cross_entropy": lb.cross_entropy,
    "kl_divergence": lb.kl_divergence,
    "js_divergence": lb.js_divergence,
}
TWO_ARGUMENTS = [lb.cross_entropy, lb.kl_divergence, lb.js_divergence]


def _simplex(seed: int, shape: tuple[int, ...], zeros: bool = False) -> np.ndarray:
    """Random distributions along the last axis: Dirichlet draws, some entries exactly 0."""
    rng = np.random.default_rng(seed)
    x = rng.dirichlet(np.full(shape[-1], rng.uniform(0.1, 3.0)), size=shape[:-1])
    if zeros:
        x = np.where(rng.random(shape) < 0.3, 0.0, x)
        x[..., 0] += 1e-3  # keep at least one positive entry
        x /= x.sum(axis=-1, keepdims=True)
    return x


seeds = st.integers(0, 2**32 - 1)
classes = st.integers(2, 12)
batch = st.integers(1, 5)


# ----------------------------------------------------------------- the theorems


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_gibbs_inequality(seed, c, n, zeros):
    p, q = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    assert np.all(lb.kl_divergence(p, q) >= 0)
    assert np.allclose(lb.kl_divergence(p, p), 0, atol=1e-12)
    assert np.all(lb.cross_entropy(p, q) >= lb.entropy(p) - 1e-12)


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_cross_entropy_is_entropy_plus_kl(seed, c, n, zeros):
    p, q = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    for base in ("nats", "bits"):
        kw = {"base": base}
        assert np.allclose(
            lb.cross_entropy(p, q, **kw),
            lb.entropy(p, **kw) + lb.kl_divergence(p, q, **kw),
            rtol=1e-12,
            atol=1e-12,
        )


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_js_is_symmetric_and_bounded_by_log2(seed, c, n, zeros):
    p, q = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c), zeros)
    js = lb.js_divergence(p, q)
    assert np.allclose(js, lb.js_divergence(q, p), rtol=0, atol=1e-15)
    assert np.all(js >= -1e-15)
    assert np.all(js <= math.log(2) + 1e-12)
    assert np.all(lb.js_divergence(p, q, base="bits") <= 1 + 1e-12)


def test_js_reaches_log2_on_disjoint_supports():
    p, q = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.25, 0.75])
    assert lb.js_divergence(p, q) == pytest.approx(math.log(2), rel=1e-15)
    assert lb.js_divergence(p, q, base="bits") == pytest.approx(1.0, rel=1e-15)


@SETTINGS
@given(seed=seeds, c=classes, zeros=st.booleans())
def test_sqrt_js_satisfies_the_triangle_inequality(seed, c, zeros):
    p, q, r = (_simplex(seed + k, (64, c), zeros) for k in range(3))
    d = lambda a, b: np.sqrt(lb.js_divergence(a, b))  # noqa: E731
    assert np.all(d(p, r) <= d(p, q) + d(q, r) + 1e-12)


def test_kl_itself_can_violate_the_triangle_inequality():
    p, q, r = np.array([0.9, 0.1]), np.array([0.5, 0.5]), np.array([0.1, 0.9])
    assert lb.kl_divergence(p, r) > lb.kl_divergence(p, q) + lb.kl_divergence(q, r)


def test_uniform_maximises_entropy_and_bits_are_nats_over_log2():
    for c in (2, 3, 10, 1000):
        u = np.full(c, 1 / c)
        assert lb.entropy(u) == pytest.approx(math.log(c), rel=1e-12)
        assert lb.entropy(u, base="bits") == pytest.approx(math.log2(c), rel=1e-12)
        assert lb.entropy(_simplex(c, (c,))) <= math.log(c) + 1e-12


def test_zero_conventions():
    p, q = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert lb.entropy(p) == 0
    assert lb.kl_divergence(p, q) == math.inf
    assert lb.cross_entropy(p, q) == math.inf
    assert lb.kl_divergence(q, np.array([0.5, 0.5])) == pytest.approx(math.log(2))
    assert lb.kl_divergence(torch.tensor(p), torch.tensor(q)).item() == math.inf


# ----------------------------------------------------------------- agreement with SciPy and PyTorch


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_agrees_with_scipy(seed, c, n, zeros):
    p, q = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    np.testing.assert_allclose(lb.entropy(p), scipy.special.entr(p).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(lb.kl_divergence(p, q), scipy.special.rel_entr(p, q).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(
        lb.js_divergence(p, q, base="bits"),
        scipy.spatial.distance.jensenshannon(p, q, base=2, axis=-1) ** 2,
        rtol=1e-9,
        atol=1e-14,
    )


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans(), axis=st.sampled_from([0, 1, -1]))
def test_torch_agrees_with_numpy_and_kl_div(seed, c, n, zeros, axis):
    p, q = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    if axis == 0:
        p, q = p.T, q.T
    tp, tq = torch.tensor(p), torch.tensor(q)
    for name, f in FUNCTIONS.items():
        expected = f(p, q, axis=axis, base="bits")
        got = f(tp, tq, axis=axis, base="bits")
        assert isinstance(got, torch.Tensor), name
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15, err_msg=name)
    # PyTorch's kl_div takes log q first and p second, and sums elementwise terms
    torch_kl = F.kl_div(tq.log(), tp, reduction="none").sum(dim=axis)
    np.testing.assert_allclose(lb.kl_divergence(tp, tq, axis=axis).numpy(), torch_kl.numpy(), rtol=1e-12)


def test_torch_keeps_the_graph_and_gradient_of_kl_is_minus_p_over_q():
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    q = torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64, requires_grad=True)
    lb.kl_divergence(p, q).backward()
    torch.testing.assert_close(q.grad, -p / q.detach())


def test_gradients_stay_finite_where_target_and_softmax_are_both_zero():
    # float32 softmax underflows to exactly 0 for the logit -80; the target is 0 there too
    z = torch.tensor([[0.0, 50.0, -80.0]], requires_grad=True)
    p = torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.softmax(z, dim=1)[0, 2] == 0
    (expected,) = torch.autograd.grad(F.cross_entropy(z, p, reduction="sum"), z)
    for f in TWO_ARGUMENTS[:2]:  # cross-entropy and KL differ by H(p), free of z
        (got,) = torch.autograd.grad(f(p, torch.softmax(z, dim=1)).sum(), z)
        assert torch.isfinite(got).all(), f.__name__
        torch.testing.assert_close(got, expected)
    (got,) = torch.autograd.grad(lb.js_divergence(p, torch.softmax(z, dim=1)).sum(), z)
    assert torch.isfinite(got).all()
    (got,) = torch.autograd.grad(lb.entropy(torch.softmax(z, dim=1)).sum(), z)
    assert torch.isfinite(got).all()


@SETTINGS
@given(seed=seeds, c=classes, n=batch, scale=st.floats(0.1, 200.0))
def test_gradients_with_zeros_match_pytorch(seed, c, n, scale):
    """Targets with exact zeros and float32 softmax outputs that may underflow to exactly 0."""
    rng = np.random.default_rng(seed)
    p = torch.tensor(_simplex(seed, (n, c), zeros=True), dtype=torch.float32)
    z = torch.tensor(rng.normal(0, scale, size=(n, c)), dtype=torch.float32)
    # one more class in every row with p_c = 0 and a softmax that underflows to exactly 0
    p, z = torch.cat([p, torch.zeros(n, 1)], dim=1), torch.cat([z, torch.full((n, 1), -1e4)], dim=1)
    assert torch.all(torch.softmax(z, dim=1)[:, -1] == 0)
    # where q_c = 0 < p_c the loss is infinite, and where q_c is subnormal p_c / q_c overflows
    # float32 (a limit of passing probabilities instead of log-probabilities, not of the zeros):
    # keep only rows where neither happens; zeros with p_c = 0 stay in
    rows = ~((torch.softmax(z, dim=1) < 1e-30) & (p > 0)).any(dim=1)
    p, z = p[rows], z[rows].requires_grad_(True)
    (ce_expected,) = torch.autograd.grad(F.cross_entropy(z, p, reduction="sum"), z)
    (kl_expected,) = torch.autograd.grad(F.kl_div(torch.log_softmax(z, dim=1), p, reduction="sum"), z)
    torch.testing.assert_close(ce_expected, kl_expected)  # the two coincide: softmax(z) - p
    for f, expected in ((lb.cross_entropy, ce_expected), (lb.kl_divergence, kl_expected)):
        (got,) = torch.autograd.grad(f(p, torch.softmax(z, dim=1)).sum(), z)
        assert torch.isfinite(got).all(), f.__name__
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for f in (lb.js_divergence, lambda a, b: lb.entropy(b)):
        (got,) = torch.autograd.grad(f(p, torch.softmax(z, dim=1)).sum(), z)
        assert torch.isfinite(got).all()


def test_js_survives_the_smallest_subnormal():
    # (p + q) / 2 would round the subnormal 1.4e-45 down to 0 and make JS infinite
    tiny = torch.finfo(torch.float32).smallest_normal * 2**-23
    p, q = torch.tensor([1.0, 0.0]), torch.tensor([1.0 - tiny, tiny])
    assert q[1] > 0
    assert q[1] / 2 == 0
    assert lb.js_divergence(p, q).item() == pytest.approx(0.0, abs=1e-7)
    assert lb.js_divergence(np.array([1.0, 0.0]), np.array([1.0, 5e-324])) == pytest.approx(0.0, abs=1e-300)


def test_gradient_with_respect_to_a_zero_target_is_still_the_derivative():
    # only p_c = q_c = 0 is masked; at p_c = 0 < q_c, d H(p, q) / d p_c = -log q_c as usual
    p = torch.tensor([0.0, 0.25, 0.75], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    lb.cross_entropy(p, q).backward()
    torch.testing.assert_close(p.grad, -q.log())


def test_float32_softmax_passes_the_default_tolerance():
    logits = torch.randn(4, 50_000, generator=torch.Generator().manual_seed(0))
    p = torch.softmax(logits, dim=-1)
    assert torch.all(lb.entropy(p) > 0)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("backend", [np.zeros, torch.zeros])
def test_empty_batch_gives_empty_result(name, backend):
    result = FUNCTIONS[name](backend((0, 3)), backend((0, 3)))
    assert tuple(result.shape) == (0,)


def test_lists_are_accepted():
    assert lb.entropy([0.5, 0.5], base="bits") == pytest.approx(1.0)
    assert lb.entropy([[1, 0], [0, 1]]).tolist() == [0.0, 0.0]


# ----------------------------------------------------------------- every error path


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_unknown_base(name):
    p = np.array([0.5, 0.5])
    with pytest.raises(ValueError, match=r"base must be one of \['bits', 'nats'\], got 'dits'"):
        FUNCTIONS[name](p, p, base="dits")


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("backend", [np.array, torch.tensor])
def test_negative_entries(name, backend):
    good, bad = backend([0.5, 0.5]), backend([1.5, -0.5])
    with pytest.raises(ValueError, match=r"p has negative entries \(smallest -0.5\)"):
        FUNCTIONS[name](bad, good)
    if name != "entropy":
        with pytest.raises(ValueError, match="q has negative entries"):
            FUNCTIONS[name](good, bad)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("backend", [np.array, torch.tensor])
def test_not_normalised(name, backend):
    good, bad = backend([[0.5, 0.5], [0.2, 0.8]]), backend([[0.5, 0.5], [0.2, 0.7]])
    with pytest.raises(
        ValueError, match=r"p must sum to 1 along axis -1 within atol=1e-05; the worst sum is off by 0.1"
    ):
        FUNCTIONS[name](bad, good)
    if name != "entropy":
        with pytest.raises(ValueError, match="q must sum to 1"):
            FUNCTIONS[name](good, bad)
    # normalised along the other axis only
    with pytest.raises(ValueError, match="along axis 0"):
        FUNCTIONS[name](backend([[0.5, 0.5], [0.4, 0.6]]), backend([[0.5, 0.5], [0.4, 0.6]]), axis=0)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("c", [2, 10, 1000, 50_000])
def test_low_precision_softmax_passes_the_default_tolerance(dtype, c):
    logits = 3 * torch.randn(16, c, generator=torch.Generator().manual_seed(c))
    for p in (torch.softmax(logits, dim=-1).to(dtype), torch.softmax(logits.to(dtype), dim=-1)):
        assert p.dtype == dtype
        assert torch.all(torch.isfinite(lb.entropy(p)))
        assert torch.isfinite(lb.kl_divergence(p, p)).all()


def test_default_tolerance_scales_with_the_dtype():
    assert default_atol(torch.bfloat16) == EPS_FACTOR * torch.finfo(torch.bfloat16).eps == 2**-5
    assert default_atol(torch.float16) == default_atol(np.float16) == EPS_FACTOR * 2**-10
    assert default_atol(torch.float32) == default_atol(torch.float64) == default_atol(np.int64) == ATOL
    # the scaled tolerance still rejects an unnormalised low-precision vector
    bad = torch.tensor([0.5, 0.6], dtype=torch.bfloat16)
    with pytest.raises(ValueError, match=r"within atol=0\.03125; the worst sum is off by 0\.102"):
        lb.entropy(bad)
    # and the float32 default is unchanged
    with pytest.raises(ValueError, match="within atol=1e-05"):
        lb.entropy(torch.tensor([0.5, 0.5001]))
    assert lb.entropy(torch.tensor([0.5, 0.5001], dtype=torch.bfloat16)) > 0


def test_tolerance_is_respected():
    p = np.array([0.5, 0.5 + 5e-6])
    assert lb.entropy(p) > 0
    with pytest.raises(ValueError, match="within atol=1e-06"):
        lb.entropy(p, atol=1e-6)
    for bad in (-1.0, "0.1", True):
        with pytest.raises(ValueError, match="atol must be None or a non-negative number"):
            lb.entropy(p, atol=bad)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_nan(name):
    with pytest.raises(ValueError, match="p contains NaN"):
        FUNCTIONS[name](np.array([np.nan, 1.0]), np.array([0.5, 0.5]))


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("backend", [np.array, torch.tensor])
def test_inf(name, backend):
    good = backend([0.5, 0.5])
    for bad in (backend([math.inf, 0.5]), backend([-math.inf, 1.0])):
        with pytest.raises(ValueError, match="p contains inf; probabilities must be finite"):
            FUNCTIONS[name](bad, good)
    if name != "entropy":
        with pytest.raises(ValueError, match="q contains inf"):
            FUNCTIONS[name](good, backend([0.5, math.inf]))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_any_integer_type_is_an_axis(name):
    p = np.array([[0.5, 0.2], [0.5, 0.8]])
    expected = FUNCTIONS[name](p, p[::-1], axis=0)
    for axis in (np.int64(0), np.int32(0), np.uint8(0), torch.tensor(0), np.int64(-2)):
        np.testing.assert_array_equal(FUNCTIONS[name](p, p[::-1], axis=axis), expected)
    got = FUNCTIONS[name](torch.tensor(p), torch.tensor(p[::-1].copy()), axis=np.int64(0))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    for bad in (True, np.bool_(False), 0.0, "0", None):
        with pytest.raises(TypeError, match=f"axis must be an int, got {type(bad).__name__}"):
            FUNCTIONS[name](p, p, axis=bad)


@pytest.mark.parametrize("f", TWO_ARGUMENTS)
@pytest.mark.parametrize("backend", [np.array, torch.tensor])
def test_shape_mismatch(f, backend):
    with pytest.raises(ValueError, match=r"p and q must have the same shape, got \(2,\) and \(3,\)"):
        f(backend([0.5, 0.5]), backend([0.2, 0.3, 0.5]))


@pytest.mark.parametrize("f", TWO_ARGUMENTS)
def test_mixed_backends_and_dtypes(f):
    with pytest.raises(TypeError, match=r"p is a torch\.Tensor, q is array-like"):
        f(torch.tensor([0.5, 0.5]), np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match=r"p is array-like, q is a torch\.Tensor"):
        f([0.5, 0.5], torch.tensor([0.5, 0.5]))
    with pytest.raises(TypeError, match=r"same dtype, got torch\.float32 and torch\.float64"):
        f(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_bad_types(name):
    f = FUNCTIONS[name]
    with pytest.raises(TypeError, match=r"p must be a floating-point tensor, got dtype torch\.int64"):
        f(torch.tensor([1, 0]), torch.tensor([1, 0]))
    with pytest.raises(TypeError, match="p must hold real numbers"):
        f(np.array(["a", "b"]), np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match="p must hold real numbers"):
        f(np.array([0.5 + 0j, 0.5]), np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match="p must be array-like"):
        f([[0.5, 0.5], [1.0]], [0.5, 0.5])
    with pytest.raises(TypeError, match="axis must be an int, got float"):
        f(np.array([0.5, 0.5]), np.array([0.5, 0.5]), axis=1.0)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_bad_axis_and_scalars(name):
    f = FUNCTIONS[name]
    with pytest.raises(ValueError, match="axis 2 is out of range for p with 2 dimension"):
        f(np.eye(2), np.eye(2), axis=2)
    with pytest.raises(ValueError, match="p must have at least one dimension"):
        f(np.float64(1.0), np.float64(1.0))
    with pytest.raises(ValueError, match="p must sum to 1"):
        f(np.zeros((2, 0)), np.zeros((2, 0)))


def test_default_tolerance_is_documented():
    assert ATOL == 1e-5
    assert "atol" in lb.entropy.__doc__ or "ATOL" in lb.infotheory.__doc__
