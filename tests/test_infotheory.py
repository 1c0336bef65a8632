"""Properties of lossbook.infotheory: the inequalities of information theory, agreement with
SciPy and PyTorch, the exact InfoNCE loss, and every bad-input path.

The book's convention: q is the target (data) distribution, p the model's; the two-argument
functions take q first."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.special
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook.infotheory import ATOL, EPS_FACTOR, default_atol, expected_infonce, mutual_information

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUNCTIONS = {
    "entropy": lambda p, q, **kw: lb.entropy(p, **kw),
    "cross_entropy": lb.cross_entropy,
    "kl_divergence": lb.kl_divergence,
    "js_divergence": lb.js_divergence,
}
TWO_ARGUMENTS = [lb.cross_entropy, lb.kl_divergence, lb.js_divergence]
#: the name each function gives its first argument in error messages
FIRST = {"entropy": "p", "cross_entropy": "q", "kl_divergence": "q", "js_divergence": "q"}


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
    q, p = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    assert np.all(lb.kl_divergence(q, p) >= 0)
    assert np.allclose(lb.kl_divergence(q, q), 0, atol=1e-12)
    assert np.all(lb.cross_entropy(q, p) >= lb.entropy(q) - 1e-12)


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_cross_entropy_is_entropy_plus_kl(seed, c, n, zeros):
    q, p = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    for base in ("nats", "bits"):
        kw = {"base": base}
        assert np.allclose(
            lb.cross_entropy(q, p, **kw),
            lb.entropy(q, **kw) + lb.kl_divergence(q, p, **kw),
            rtol=1e-12,
            atol=1e-12,
        )


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_js_is_symmetric_and_bounded_by_log2(seed, c, n, zeros):
    q, p = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c), zeros)
    js = lb.js_divergence(q, p)
    assert np.allclose(js, lb.js_divergence(p, q), rtol=0, atol=1e-15)
    assert np.all(js >= -1e-15)
    assert np.all(js <= math.log(2) + 1e-12)
    assert np.all(lb.js_divergence(q, p, base="bits") <= 1 + 1e-12)


def test_js_reaches_log2_on_disjoint_supports():
    q, p = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.25, 0.75])
    assert lb.js_divergence(q, p) == pytest.approx(math.log(2), rel=1e-15)
    assert lb.js_divergence(q, p, base="bits") == pytest.approx(1.0, rel=1e-15)


@SETTINGS
@given(seed=seeds, c=classes, zeros=st.booleans())
def test_sqrt_js_satisfies_the_triangle_inequality(seed, c, zeros):
    u, v, w = (_simplex(seed + k, (64, c), zeros) for k in range(3))
    d = lambda a, b: np.sqrt(lb.js_divergence(a, b))  # noqa: E731
    assert np.all(d(u, w) <= d(u, v) + d(v, w) + 1e-12)


def test_kl_itself_can_violate_the_triangle_inequality():
    u, v, w = np.array([0.9, 0.1]), np.array([0.5, 0.5]), np.array([0.1, 0.9])
    assert lb.kl_divergence(u, w) > lb.kl_divergence(u, v) + lb.kl_divergence(v, w)


def test_uniform_maximises_entropy_and_bits_are_nats_over_log2():
    for c in (2, 3, 10, 1000):
        u = np.full(c, 1 / c)
        assert lb.entropy(u) == pytest.approx(math.log(c), rel=1e-12)
        assert lb.entropy(u, base="bits") == pytest.approx(math.log2(c), rel=1e-12)
        assert lb.entropy(_simplex(c, (c,))) <= math.log(c) + 1e-12


def test_zero_conventions():
    q, p = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert lb.entropy(q) == 0
    assert lb.kl_divergence(q, p) == math.inf  # a target class the model calls impossible
    assert lb.cross_entropy(q, p) == math.inf
    assert lb.kl_divergence(p, np.array([0.5, 0.5])) == pytest.approx(math.log(2))  # 0 log 0 = 0
    assert lb.kl_divergence(torch.tensor(q), torch.tensor(p)).item() == math.inf


def test_the_target_is_the_first_argument():
    """H(q, p) = -Σ q log p: swapping the arguments gives a different number."""
    q, p = np.array([1.0, 0.0]), np.array([0.25, 0.75])
    assert lb.cross_entropy(q, p) == pytest.approx(math.log(4), rel=1e-15)
    assert lb.cross_entropy(p, np.array([0.5, 0.5])) == pytest.approx(math.log(2), rel=1e-15)
    assert lb.kl_divergence(q, p) == pytest.approx(-math.log(0.25), rel=1e-15)
    assert lb.kl_divergence(p, q) == math.inf


@pytest.mark.parametrize("f", TWO_ARGUMENTS)
def test_distributions_are_positional_only(f):
    """A keyword call written for another letter convention fails instead of swapping them."""
    q, p = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    for kwargs in ({"q": q, "p": p}, {"p": p, "q": q}):
        with pytest.raises(TypeError, match="positional-only"):
            f(**kwargs)
    with pytest.raises(TypeError, match="positional-only"):
        f(q, p=p)


# ----------------------------------------------------------------- agreement with SciPy and PyTorch


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans())
def test_agrees_with_scipy(seed, c, n, zeros):
    q, p = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    np.testing.assert_allclose(lb.entropy(q), scipy.special.entr(q).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(lb.kl_divergence(q, p), scipy.special.rel_entr(q, p).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(
        lb.js_divergence(q, p, base="bits"),
        scipy.spatial.distance.jensenshannon(q, p, base=2, axis=-1) ** 2,
        rtol=1e-9,
        atol=1e-14,
    )


@SETTINGS
@given(seed=seeds, c=classes, n=batch, zeros=st.booleans(), axis=st.sampled_from([0, 1, -1]))
def test_torch_agrees_with_numpy_and_kl_div(seed, c, n, zeros, axis):
    q, p = _simplex(seed, (n, c), zeros), _simplex(seed + 1, (n, c))
    if axis == 0:
        q, p = q.T, p.T
    tq, tp = torch.tensor(q), torch.tensor(p)
    for name, f in FUNCTIONS.items():
        expected = f(q, p, axis=axis, base="bits")
        got = f(tq, tp, axis=axis, base="bits")
        assert isinstance(got, torch.Tensor), name
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15, err_msg=name)
    # PyTorch's kl_div takes the model's log p first and the target q second
    torch_kl = F.kl_div(tp.log(), tq, reduction="none").sum(dim=axis)
    np.testing.assert_allclose(lb.kl_divergence(tq, tp, axis=axis).numpy(), torch_kl.numpy(), rtol=1e-12)


def test_torch_keeps_the_graph_and_gradient_of_kl_is_minus_q_over_p():
    q = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    p = torch.tensor([0.4, 0.4, 0.2], dtype=torch.float64, requires_grad=True)
    lb.kl_divergence(q, p).backward()
    torch.testing.assert_close(p.grad, -q / p.detach())


def test_gradients_stay_finite_where_target_and_softmax_are_both_zero():
    # float32 softmax underflows to exactly 0 for the logit -80; the target is 0 there too
    z = torch.tensor([[0.0, 50.0, -80.0]], requires_grad=True)
    q = torch.tensor([[1.0, 0.0, 0.0]])
    assert torch.softmax(z, dim=1)[0, 2] == 0
    (expected,) = torch.autograd.grad(F.cross_entropy(z, q, reduction="sum"), z)
    for f in TWO_ARGUMENTS[:2]:  # cross-entropy and KL differ by H(q), free of z
        (got,) = torch.autograd.grad(f(q, torch.softmax(z, dim=1)).sum(), z)
        assert torch.isfinite(got).all(), f.__name__
        torch.testing.assert_close(got, expected)
    (got,) = torch.autograd.grad(lb.js_divergence(q, torch.softmax(z, dim=1)).sum(), z)
    assert torch.isfinite(got).all()
    (got,) = torch.autograd.grad(lb.entropy(torch.softmax(z, dim=1)).sum(), z)
    assert torch.isfinite(got).all()


@SETTINGS
@given(seed=seeds, c=classes, n=batch, scale=st.floats(0.1, 200.0))
def test_gradients_with_zeros_match_pytorch(seed, c, n, scale):
    """Targets with exact zeros and float32 softmax outputs that may underflow to exactly 0."""
    rng = np.random.default_rng(seed)
    q = torch.tensor(_simplex(seed, (n, c), zeros=True), dtype=torch.float32)
    z = torch.tensor(rng.normal(0, scale, size=(n, c)), dtype=torch.float32)
    # one more class in every row with q_c = 0 and a softmax that underflows to exactly 0
    q, z = torch.cat([q, torch.zeros(n, 1)], dim=1), torch.cat([z, torch.full((n, 1), -1e4)], dim=1)
    assert torch.all(torch.softmax(z, dim=1)[:, -1] == 0)
    # where p_c = 0 < q_c the loss is infinite, and where p_c is subnormal q_c / p_c overflows
    # float32 (a limit of passing probabilities instead of log-probabilities, not of the zeros):
    # keep only rows where neither happens; zeros with q_c = 0 stay in
    rows = ~((torch.softmax(z, dim=1) < 1e-30) & (q > 0)).any(dim=1)
    q, z = q[rows], z[rows].requires_grad_(True)
    (ce_expected,) = torch.autograd.grad(F.cross_entropy(z, q, reduction="sum"), z)
    (kl_expected,) = torch.autograd.grad(F.kl_div(torch.log_softmax(z, dim=1), q, reduction="sum"), z)
    torch.testing.assert_close(ce_expected, kl_expected)  # the two coincide: softmax(z) - q
    for f, expected in ((lb.cross_entropy, ce_expected), (lb.kl_divergence, kl_expected)):
        (got,) = torch.autograd.grad(f(q, torch.softmax(z, dim=1)).sum(), z)
        assert torch.isfinite(got).all(), f.__name__
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for f in (lb.js_divergence, lambda a, b: lb.entropy(b)):
        (got,) = torch.autograd.grad(f(q, torch.softmax(z, dim=1)).sum(), z)
        assert torch.isfinite(got).all()


def test_js_survives_the_smallest_subnormal():
    # (p + q) / 2 would round the subnormal 1.4e-45 down to 0 and make JS infinite
    tiny = torch.finfo(torch.float32).smallest_normal * 2**-23
    q, p = torch.tensor([1.0, 0.0]), torch.tensor([1.0 - tiny, tiny])
    assert p[1] > 0
    assert p[1] / 2 == 0
    assert lb.js_divergence(q, p).item() == pytest.approx(0.0, abs=1e-7)
    assert lb.js_divergence(np.array([1.0, 0.0]), np.array([1.0, 5e-324])) == pytest.approx(0.0, abs=1e-300)


def test_gradient_with_respect_to_a_zero_target_is_still_the_derivative():
    # only q_c = p_c = 0 is masked; at q_c = 0 < p_c, d H(q, p) / d q_c = -log p_c as usual
    q = torch.tensor([0.0, 0.25, 0.75], dtype=torch.float64, requires_grad=True)
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    lb.cross_entropy(q, p).backward()
    torch.testing.assert_close(q.grad, -p.log())


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


# ----------------------------------------------------------------- mutual information and InfoNCE


def _joint(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """A random joint table q(x, y) with full support."""
    return _simplex(seed, (shape[0] * shape[1],)).reshape(shape) * 0.99 + 0.01 / (shape[0] * shape[1])


def _best_critic(joint: np.ndarray) -> np.ndarray:
    """log q(y | x) - log q(y), the critic the InfoNCE bound is tight for."""
    return np.log(joint) - np.log(joint.sum(1, keepdims=True)) - np.log(joint.sum(0, keepdims=True))


def _brute_force_infonce(joint: np.ndarray, critic: np.ndarray, k: int) -> float:
    """The expected InfoNCE loss summed over every ordered K-tuple of negatives."""
    marginal = joint.sum(0)
    total = 0.0
    for x, y in itertools.product(*map(range, joint.shape)):
        for negs in itertools.product(range(joint.shape[1]), repeat=k):
            weight = joint[x, y] * np.prod(marginal[list(negs)])
            scores = np.array([critic[x, y], *critic[x, list(negs)]])
            total += weight * -(scores[0] - scipy.special.logsumexp(scores))
    return total


def _posterior_entropy(joint: np.ndarray, k: int) -> float:
    """H(J | X, Y_0..Y_K): the positive's position J among K + 1 candidates, given x and them."""
    marginal = joint.sum(0)
    total = 0.0
    for x in range(joint.shape[0]):
        for cands in itertools.product(range(joint.shape[1]), repeat=k + 1):
            # q(x, J = j, candidates) = q(x, c_j) prod_{i != j} q(c_i) / (K + 1)
            weights = np.array([joint[x, c] / marginal[c] for c in cands]) * np.prod(marginal[list(cands)])
            weights /= k + 1
            total += float(scipy.special.entr(weights / weights.sum()).sum() * weights.sum())
    return total


@SETTINGS
@given(seed=seeds, nx=st.integers(1, 5), ny=st.integers(1, 5))
def test_mutual_information_is_a_difference_of_entropies(seed, nx, ny):
    joint = _simplex(seed, (nx * ny,), zeros=True).reshape(nx, ny)
    qx, qy = joint.sum(1), joint.sum(0)
    mi = mutual_information(joint)
    expected = lb.entropy(qx) + lb.entropy(qy) - lb.entropy(joint.ravel())
    assert mi == pytest.approx(expected, abs=1e-12)
    assert -1e-15 <= mi <= min(lb.entropy(qx), lb.entropy(qy)) + 1e-12
    assert mutual_information(joint.T) == pytest.approx(mi, abs=1e-15)
    assert mutual_information(joint, base="bits") == pytest.approx(mi / math.log(2), abs=1e-12)
    assert mutual_information(torch.tensor(joint)).item() == pytest.approx(mi, rel=1e-12, abs=1e-15)


def test_mutual_information_of_independent_and_identical_variables():
    assert mutual_information(np.outer([0.25, 0.75], [0.125, 0.375, 0.5])) == pytest.approx(0, abs=1e-16)
    q = np.array([0.2, 0.3, 0.5])
    assert mutual_information(np.diag(q)) == pytest.approx(lb.entropy(q), rel=1e-14)  # I(X; X) = H(X)


@SETTINGS
@given(seed=seeds, nx=st.integers(1, 3), ny=st.integers(1, 3), k=st.integers(1, 3))
def test_expected_infonce_equals_the_sum_over_every_tuple_of_negatives(seed, nx, ny, k):
    joint = _simplex(seed, (nx * ny,), zeros=True).reshape(nx, ny)
    critic = np.random.default_rng(seed).normal(0, 3, size=(nx, ny))
    assert expected_infonce(joint, critic, k) == pytest.approx(
        _brute_force_infonce(joint, critic, k), rel=1e-12
    )


def test_expected_infonce_agrees_with_monte_carlo():
    rng = np.random.default_rng(0)
    joint, critic, k, draws = _joint(1, (3, 4)), rng.normal(0, 1, (3, 4)), 20, 200_000
    pairs = rng.choice(12, size=draws, p=joint.ravel())
    x, y = np.divmod(pairs, 4)
    negs = rng.choice(4, size=(draws, k), p=joint.sum(0))
    scores = np.concatenate([critic[x, y][:, None], critic[x[:, None], negs]], axis=1)
    losses = scipy.special.logsumexp(scores, axis=1) - scores[:, 0]
    standard_error = losses.std() / math.sqrt(draws)
    assert abs(expected_infonce(joint, critic, k) - losses.mean()) < 4 * standard_error


@SETTINGS
@given(seed=seeds, nx=st.integers(2, 4), ny=st.integers(2, 4), k=st.integers(1, 40))
def test_infonce_bound_holds_for_every_critic(seed, nx, ny, k):
    joint = _joint(seed, (nx, ny))
    critic = np.random.default_rng(seed).normal(0, 3, size=(nx, ny))
    best = expected_infonce(joint, _best_critic(joint), k)
    assert math.log(k + 1) - best <= mutual_information(joint) + 1e-12
    assert best <= expected_infonce(joint, critic, k) + 1e-12
    assert best <= math.log(k + 1) + 1e-12  # the optimal critic is no worse than a constant one


@pytest.mark.parametrize("k", [1, 2, 3])
def test_the_optimal_critic_reaches_the_posterior_entropy(k):
    """L(f) >= H(J | X, Y_0..Y_K) by Gibbs' inequality, with equality at the optimal critic."""
    joint = _joint(3, (2, 3))
    assert expected_infonce(joint, _best_critic(joint), k) == pytest.approx(
        _posterior_entropy(joint, k), rel=1e-12
    )


def test_the_critic_is_determined_up_to_a_function_of_x():
    joint, rng = _joint(5, (3, 4)), np.random.default_rng(5)
    best = _best_critic(joint)
    loss = expected_infonce(joint, best, 7)
    for _ in range(5):
        shifted = best + rng.normal(0, 10, size=(3, 1))  # b(x): the same for every y
        assert expected_infonce(joint, shifted, 7) == pytest.approx(loss, rel=1e-13)
        assert expected_infonce(joint, best + rng.normal(0, 1, size=(1, 4)), 7) > loss + 1e-6  # g(y)


@pytest.mark.parametrize("k", [1, 15, 255])
def test_uninformative_critic_gives_log_k_plus_one(k):
    assert expected_infonce(_joint(2, (2, 3)), np.full((2, 3), 1.7), k) == pytest.approx(
        math.log(k + 1), rel=1e-13
    )


@pytest.mark.parametrize("k", [1, 15, 255])
def test_weak_dependence_bound_is_k_over_k_plus_one_of_mi(k):
    qx, qy = np.array([0.3, 0.3, 0.4]), np.array([0.2, 0.3, 0.5])
    g = np.array([[1.0, -2.0, 0.5], [-0.5, 1.0, 0.25], [0.0, 0.0, 0.0]])
    g -= (g @ qy)[:, None]
    g -= (qx @ g)[None, :]  # zero mean along x and along y, so the marginals stay qx, qy
    deviation = {}
    for eta in (1e-1, 1e-2):
        joint = np.outer(qx, qy) * (1 + eta * g)
        ratio = (math.log(k + 1) - expected_infonce(joint, _best_critic(joint), k)) / mutual_information(
            joint
        )
        deviation[eta] = abs(ratio - k / (k + 1))
    assert all(deviation[eta] < 0.05 * eta for eta in deviation)  # 0.87 for 0.996 would fail by far
    assert deviation[1e-2] < deviation[1e-1] / 5  # the error shrinks in proportion to the dependence


def test_bad_joint_critic_and_negatives():
    joint, critic = _joint(0, (2, 2)), np.zeros((2, 2))
    for f in (mutual_information, lambda j: expected_infonce(j, critic, 1)):
        with pytest.raises(ValueError, match=r"joint must be a 2-D table q\(x, y\).*got shape \(4,\)"):
            f(joint.ravel())
        with pytest.raises(ValueError, match="joint contains NaN"):
            f(np.array([[0.5, np.nan], [0.25, 0.25]]))
        with pytest.raises(ValueError, match="joint has negative entries"):
            f(np.array([[0.75, -0.25], [0.25, 0.25]]))
        with pytest.raises(ValueError, match="joint must sum to 1"):
            f(np.full((2, 2), 0.3))
        with pytest.raises(TypeError, match="joint must hold real numbers"):
            f(np.array([["a", "b"], ["c", "d"]]))
        with pytest.raises(TypeError, match="joint must be array-like"):
            f([[0.5, 0.25], [0.25]])
    with pytest.raises(ValueError, match="base must be one of"):
        mutual_information(joint, base="hartleys")
    with pytest.raises(ValueError, match="atol must be None or a non-negative number"):
        mutual_information(joint, atol=-1)
    with pytest.raises(ValueError, match=r"critic must have the shape of joint \(2, 2\), got \(2, 3\)"):
        expected_infonce(joint, np.zeros((2, 3)), 1)
    for bad in (np.array([[0.0, np.nan], [0.0, 0.0]]), np.array([[0.0, np.inf], [0.0, 0.0]])):
        with pytest.raises(ValueError, match="critic must be finite"):
            expected_infonce(joint, bad, 1)
    with pytest.raises(TypeError, match="critic must hold real numbers"):
        expected_infonce(joint, np.ones((2, 2)) * 1j, 1)
    with pytest.raises(TypeError, match=r"critic must be array-like \(NumPy\), not a torch.Tensor"):
        expected_infonce(joint, torch.zeros(2, 2), 1)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=f"negatives must be at least 1 .*got {bad}"):
            expected_infonce(joint, critic, bad)
    for bad in (1.5, "3", True, None):
        with pytest.raises(TypeError, match=f"negatives must be an int, got {type(bad).__name__}"):
            expected_infonce(joint, critic, bad)
    with pytest.raises(ValueError, match="MAX_NEGATIVE_SETS"):
        expected_infonce(_joint(0, (2, 10)), np.zeros((2, 10)), 40)
    with pytest.raises(ValueError, match="base must be one of"):
        expected_infonce(joint, critic, 1, base="dB")
    assert expected_infonce(joint, critic, np.int64(3), base="bits") == pytest.approx(2.0)


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
    with pytest.raises(ValueError, match=rf"{FIRST[name]} has negative entries \(smallest -0.5\)"):
        FUNCTIONS[name](bad, good)
    if name != "entropy":
        with pytest.raises(ValueError, match="p has negative entries"):
            FUNCTIONS[name](good, bad)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("backend", [np.array, torch.tensor])
def test_not_normalised(name, backend):
    good, bad = backend([[0.5, 0.5], [0.2, 0.8]]), backend([[0.5, 0.5], [0.2, 0.7]])
    with pytest.raises(
        ValueError,
        match=rf"{FIRST[name]} must sum to 1 along axis -1 within atol=1e-05; the worst sum is off by 0.1",
    ):
        FUNCTIONS[name](bad, good)
    if name != "entropy":
        with pytest.raises(ValueError, match="p must sum to 1"):
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
    with pytest.raises(ValueError, match=f"{FIRST[name]} contains NaN"):
        FUNCTIONS[name](np.array([np.nan, 1.0]), np.array([0.5, 0.5]))
    if name != "entropy":
        with pytest.raises(ValueError, match="p contains NaN"):
            FUNCTIONS[name](np.array([0.5, 0.5]), np.array([0.5, np.nan]))


@pytest.mark.parametrize("name", list(FUNCTIONS))
@pytest.mark.parametrize("backend", [np.array, torch.tensor])
def test_inf(name, backend):
    good = backend([0.5, 0.5])
    for bad in (backend([math.inf, 0.5]), backend([-math.inf, 1.0])):
        with pytest.raises(ValueError, match=f"{FIRST[name]} contains inf; probabilities must be finite"):
            FUNCTIONS[name](bad, good)
    if name != "entropy":
        with pytest.raises(ValueError, match="p contains inf"):
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
    with pytest.raises(ValueError, match=r"q and p must have the same shape, got \(2,\) and \(3,\)"):
        f(backend([0.5, 0.5]), backend([0.2, 0.3, 0.5]))


@pytest.mark.parametrize("f", TWO_ARGUMENTS)
def test_mixed_backends_and_dtypes(f):
    with pytest.raises(TypeError, match=r"q is a torch\.Tensor, p is array-like"):
        f(torch.tensor([0.5, 0.5]), np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match=r"q is array-like, p is a torch\.Tensor"):
        f([0.5, 0.5], torch.tensor([0.5, 0.5]))
    with pytest.raises(TypeError, match=r"same dtype, got torch\.float32 and torch\.float64"):
        f(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_bad_types(name):
    f = FUNCTIONS[name]
    first = FIRST[name]
    with pytest.raises(TypeError, match=rf"{first} must be a floating-point tensor, got dtype torch\.int64"):
        f(torch.tensor([1, 0]), torch.tensor([1, 0]))
    with pytest.raises(TypeError, match=f"{first} must hold real numbers"):
        f(np.array(["a", "b"]), np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match=f"{first} must hold real numbers"):
        f(np.array([0.5 + 0j, 0.5]), np.array([0.5, 0.5]))
    with pytest.raises(TypeError, match=f"{first} must be array-like"):
        f([[0.5, 0.5], [1.0]], [0.5, 0.5])
    with pytest.raises(TypeError, match="axis must be an int, got float"):
        f(np.array([0.5, 0.5]), np.array([0.5, 0.5]), axis=1.0)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_bad_axis_and_scalars(name):
    f = FUNCTIONS[name]
    first = FIRST[name]
    with pytest.raises(ValueError, match=f"axis 2 is out of range for {first} with 2 dimension"):
        f(np.eye(2), np.eye(2), axis=2)
    with pytest.raises(ValueError, match=f"{first} must have at least one dimension"):
        f(np.float64(1.0), np.float64(1.0))
    with pytest.raises(ValueError, match=f"{first} must sum to 1"):
        f(np.zeros((2, 0)), np.zeros((2, 0)))


def test_default_tolerance_is_documented():
    assert ATOL == 1e-5
    assert "atol" in lb.entropy.__doc__ or "ATOL" in lb.infotheory.__doc__
