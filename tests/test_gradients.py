"""Tests of lossbook.gradients: kink probes and canonical-link checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import notation as nt
from lossbook.gradients import FAMILIES, ExponentialFamily, KinkProbe, canonical_link_check, probe_kink

FAST = settings(max_examples=25, deadline=None)
finite = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------------- probe_kink


@FAST
@given(x=finite)
def test_smooth_function_has_equal_sides_and_autograd_matches(x):
    probe = probe_kink(torch.sin, x)
    assert probe.differentiable
    assert probe.side == "both"
    assert math.isclose(probe.autograd, math.cos(x), abs_tol=1e-12)
    assert probe.check_error < 1e-6


@FAST
@given(slope_left=st.floats(-5, 5), slope_right=st.floats(-5, 5), at=st.floats(-3, 3))
def test_one_sided_slopes_of_a_piecewise_linear_function(slope_left, slope_right, at):
    def fn(x):
        return torch.where(x < at, slope_left * (x - at), slope_right * (x - at))

    probe = probe_kink(fn, at)
    assert math.isclose(probe.left, slope_left, abs_tol=1e-6)
    assert math.isclose(probe.right, slope_right, abs_tol=1e-6)
    assert math.isclose(probe.central, (slope_left + slope_right) / 2, abs_tol=1e-6)
    # torch.where at x == at takes the second branch: autograd returns the right slope
    assert math.isclose(probe.autograd, slope_right, abs_tol=1e-12)
    assert probe.side in ({"both"} if probe.differentiable else {"right"})


@pytest.mark.parametrize(
    ("fn", "point", "autograd", "left", "right", "side"),
    [
        (torch.abs, 0.0, 0.0, -1.0, 1.0, "between"),
        (torch.relu, 0.0, 0.0, 0.0, 1.0, "left"),
        (lambda x: torch.clamp(1 - x, min=0), 1.0, -1.0, -1.0, 0.0, "left"),
        (lambda x: torch.clamp(x, min=0.0, max=1.0), 0.0, 1.0, 0.0, 1.0, "right"),
        (lambda x: torch.clamp(x, min=0.0, max=1.0), 1.0, 1.0, 1.0, 0.0, "left"),
        (lambda x: torch.maximum(x, torch.zeros_like(x)), 0.0, 0.5, 0.0, 1.0, "between"),
    ],
    ids=["abs", "relu", "hinge", "clamp-low", "clamp-high", "maximum"],
)
def test_what_pytorch_returns_at_known_kinks(fn, point, autograd, left, right, side):
    probe = probe_kink(fn, point)
    assert (probe.autograd, probe.left, probe.right, probe.side) == (autograd, left, right, side)
    assert not probe.differentiable


@pytest.mark.parametrize(
    ("fn", "point"),
    [
        (lambda x: torch.exp(20 * x), 0.0),
        (lambda x: x**2, 1e4),
        (lambda x: x**4, -1e4),
        (lambda x: 1e8 * torch.sin(x), 3.0),
        (lambda x: torch.exp(-(x**2)), 1e-3),
    ],
    ids=["exp20x-at-0", "square-at-1e4", "quartic-at-minus-1e4", "scaled-sin", "gaussian-near-0"],
)
def test_smooth_functions_with_large_curvature_or_large_points_are_not_kinks(fn, point):
    probe = probe_kink(fn, point)
    assert probe.differentiable
    assert not probe.jump
    assert probe.side == "both"


smooth_families = st.sampled_from(
    [
        ("exp", lambda a, x: torch.exp(a * x)),
        ("sin", lambda a, x: torch.sin(a * x)),
        ("poly", lambda a, x: a * x**3 - x**2 + 2 * x),
        ("softplus", lambda a, x: torch.nn.functional.softplus(a * x)),
        ("tanh", lambda a, x: torch.tanh(a * x)),
    ]
)


@FAST
@given(family=smooth_families, a=st.floats(-20, 20), x=st.floats(-2, 2))
def test_smooth_functions_never_report_a_kink_or_outside(family, a, x):
    _, f = family
    probe = probe_kink(lambda v: f(a, v), x)
    assert probe.differentiable, probe
    assert probe.side == "both", probe


@pytest.mark.parametrize("x", [0.0, 1.5])
def test_subnormal_values_are_not_taken_for_a_jump_or_a_kink(x):
    """sin(5e-324 x): every value is subnormal (hypothesis found this one)."""
    probe = probe_kink(lambda v: torch.sin(5e-324 * v), x)
    assert not probe.jump
    assert probe.side == "both", probe


@FAST
@given(x=st.floats(-1e6, 1e6, allow_nan=False))
def test_polynomial_at_large_points_is_differentiable(x):
    probe = probe_kink(lambda v: v**2 - 3 * v, x)
    assert probe.side == "both", probe


@pytest.mark.parametrize(
    "fn",
    [
        torch.sign,
        lambda x: (x >= 0).double() + 0 * x,
        lambda x: (x > 0).double() + 0 * x,
        lambda x: x + (x >= 0).double(),
    ],
    ids=["sign", "step-right-continuous", "step-left-continuous", "ramp-with-step"],
)
def test_jumps_are_detected(fn):
    probe = probe_kink(fn, 0.0)
    assert probe.jump
    assert not probe.differentiable
    assert probe.side == "jump"


def test_step_is_relative_to_the_point():
    assert probe_kink(torch.abs, 0.5).step == 1e-7
    assert probe_kink(torch.abs, -1e4).step == pytest.approx(1e-3)
    assert probe_kink(torch.abs, 1e4, step=1e-5).step == pytest.approx(1e-1)


def test_outside_is_reported_for_a_wrong_backward():
    class Wrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.abs()

        @staticmethod
        def backward(ctx, g):
            return 3.0 * g

    probe = probe_kink(Wrong.apply, 0.0)
    assert probe.side == "outside"
    assert probe.check_error == 3.0
    smooth_wrong = probe_kink(Wrong.apply, 2.0)
    assert smooth_wrong.differentiable
    assert smooth_wrong.side == "outside"


def test_constant_function_has_zero_gradient_even_when_unused():
    probe = probe_kink(lambda x: torch.tensor(2.0, dtype=torch.float64), 1.0)
    assert probe.autograd == 0.0
    assert probe.left == 0.0
    assert probe.side == "both"


def test_probe_is_frozen():
    probe = probe_kink(torch.abs, 1.0)
    assert isinstance(probe, KinkProbe)
    with pytest.raises(AttributeError):
        probe.autograd = 2.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fn": 3, "point": 0.0}, TypeError, "fn must be callable"),
        ({"fn": torch.abs, "point": "0"}, TypeError, "point must be a real number"),
        ({"fn": torch.abs, "point": True}, TypeError, "point must be a real number"),
        ({"fn": torch.abs, "point": math.inf}, ValueError, "finite"),
        ({"fn": torch.abs, "point": 0.0, "step": 0.0}, ValueError, "step must be"),
        ({"fn": torch.abs, "point": 0.0, "step": 0.5}, ValueError, "step must be"),
        (
            {"fn": torch.abs, "point": 0.0, "step": "1e-7"},
            TypeError,
            "step must be a real number, got '1e-7'",
        ),
        ({"fn": torch.abs, "point": 0.0, "step": True}, TypeError, "step must be a real number"),
        (
            {"fn": torch.abs, "point": 0.0, "step": math.nan},
            ValueError,
            "step must be a finite real number, got nan",
        ),
        ({"fn": torch.abs, "point": 0.0, "step": -1e-7}, ValueError, r"step must be a number in \(0, 1e-2\]"),
        ({"fn": torch.abs, "point": math.nan}, ValueError, "point must be a finite real number, got nan"),
        ({"fn": torch.abs, "point": torch.tensor(0.0)}, TypeError, "point must be a real number"),
        ({"fn": torch.abs, "point": [0.0]}, TypeError, "point must be a real number"),
        ({"fn": lambda x: len(x), "point": 0.0}, TypeError, "fn must accept a float64 scalar tensor"),
        ({"fn": lambda x: x * 1j, "point": 0.0}, TypeError, "fn must return a real tensor"),
        ({"fn": lambda x: x.repeat(2), "point": 0.0}, TypeError, r"one element, got Tensor of shape \(2,\)"),
        ({"fn": lambda x: 1.0, "point": 0.0}, TypeError, "one element, got float"),
    ],
)
def test_probe_bad_inputs(kwargs, error, match):
    fn = kwargs.pop("fn")
    with pytest.raises(error, match=match):
        probe_kink(fn, **kwargs)


@pytest.mark.parametrize(
    ("fn", "point", "match"),
    [
        (torch.log, -1.0, r"point=-1.0 is outside the domain of fn: fn\(-1\) = nan"),
        (
            torch.log,
            0.0,
            r"point=0.0 is where fn is infinite \(outside its domain, or overflowing float64\): fn\(0\) = -inf",
        ),
        (torch.exp, 1000.0, r"point=1000.0 is where fn is infinite"),
        (torch.sqrt, -4.0, "outside the domain of fn"),
        (
            torch.sqrt,
            0.0,
            r"point=0.0 is on the boundary of the domain of fn, or outside it: fn\(-2.5e-08\) = nan",
        ),
        (torch.sqrt, 1e-9, "on the boundary of the domain of fn"),
        (lambda x: torch.log(1 - x), 1.0, "where fn is infinite"),
        (lambda x: 1 / x, 0.0, "where fn is infinite"),
    ],
    ids=[
        "log-negative",
        "log-zero",
        "exp-overflow",
        "sqrt-negative",
        "sqrt-zero",
        "sqrt-within-2h",
        "log1m-at-1",
        "reciprocal",
    ],
)
def test_points_outside_the_domain_are_refused_not_reported_as_nan(fn, point, match):
    with pytest.raises(ValueError, match=match):
        probe_kink(fn, point)


def test_points_inside_the_domain_still_work_near_its_boundary():
    probe = probe_kink(torch.sqrt, 1.0)
    assert probe.side == "both"
    assert math.isclose(probe.autograd, 0.5)
    assert probe_kink(torch.log, 1e-3).differentiable
    assert probe_kink(torch.abs, np.float64(0.0)).side == "between"


# ------------------------------------------------------------------------- linear layer


def _as_layer(rng, logits):
    """Random X, W, b with X Wᵀ + b equal to the given (N, k) logits (up to rounding)."""
    n, k = logits.shape
    d = k + 1
    W = rng.standard_normal((k, d))
    b = rng.standard_normal(k)
    X0 = rng.standard_normal((n, d))
    X = X0 + np.linalg.solve(W @ W.T, (logits - b - X0 @ W.T).T).T @ W
    return X, W, b


def _registry_loss(loss):
    def torch_loss(z, t):
        return loss.pytorch(z[:, None] if z.dim() == 1 else z, t)

    return torch_loss


def _mp_gradient(loss):
    """The registry's SymPy gradient, evaluated in 50-digit mpmath: an independent reference."""
    import mpmath

    from lossbook.calculus import gradient_exprs, mp_function

    subs = loss.substitutions()
    fn = mp_function([g.subs(subs) for g in gradient_exprs(loss)], loss.inputs + loss.targets)

    def gradient(z, t):
        zs = z.numpy().reshape(len(z), -1)
        ts = np.asarray(t, dtype=float).reshape(len(z), -1)
        with mpmath.workdps(50):
            rows = [[float(v) for v in fn(*map(mpmath.mpf, (*zs[i], *ts[i])))] for i in range(len(zs))]
        return torch.tensor(rows, dtype=torch.float64).reshape(z.shape)

    return gradient


@pytest.mark.parametrize("name", sorted(lb.LOSSES))
def test_registry_gradients_reach_the_weights_of_a_linear_layer(name):
    """For every registry loss: autograd's dL/dW of a linear layer is Gᵀ X with G the SymPy
    gradient at the layer's logits, and dL/db the column sums of G."""
    loss = lb.get(name)
    rng = np.random.default_rng(11)
    logits, targets = loss.sample(rng, 12)
    X, W, b = _as_layer(rng, logits)
    one = loss.n_inputs == 1
    check = lb.gradients.linear_layer_check(
        _registry_loss(loss),
        _mp_gradient(loss),
        X,
        torch.tensor(targets),
        W[0] if one else W,
        b[0] if one else b,
        rtol=1e-9,
    )
    assert (check.points, check.outputs, check.features) == (12, loss.n_inputs, loss.n_inputs + 1)
    check.assert_ok(name)


def test_sympy_gradients_are_accepted_for_one_and_several_outputs():
    from lossbook.notation import sigmoid, y, z

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    labels = torch.tensor(rng.integers(0, 2, 20), dtype=torch.float64)
    bce = lambda s, t: torch.nn.functional.binary_cross_entropy_with_logits(s, t, reduction="none")  # noqa: E731
    check = lb.gradients.linear_layer_check(bce, sigmoid(z) - y, X, labels, w=[0.3, -1.0, 2.0], b=0.5)
    assert check.ok
    assert check.logit_error < 1e-15
    # three classes, one-hot targets, W of shape (3, 3): dL/dW = (p - q)ᵀ X
    loss = lb.get("cross_entropy")
    probs = nt.softmax(loss.inputs)
    stated = [p - q for p, q in zip(probs, loss.targets, strict=True)]
    W = rng.standard_normal((3, 3))
    one_hot = torch.nn.functional.one_hot(torch.tensor(rng.integers(0, 3, 20)), 3).double()
    ce = lambda s, t: torch.nn.functional.cross_entropy(s, t, reduction="none")  # noqa: E731
    check = lb.gradients.linear_layer_check(
        ce, stated, X, one_hot, W, b=[0.1, 0.2, 0.3], symbols=loss.inputs + loss.targets
    )
    assert check.ok, check
    assert (check.outputs, check.features) == (3, 3)


@pytest.mark.parametrize(
    ("claim", "error"),
    [
        (lambda s, t: 2 * (t - s), 2.0),  # the sign error: exactly minus the gradient
        (lambda s, t: 4 * (s - t), 1.0),  # twice the gradient
        (lambda s, t: 2 * (s - t), 0.0),
    ],
    ids=["flipped-sign", "double", "correct"],
)
def test_wrong_gradients_are_measured_by_their_relative_error(claim, error):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 2))
    targets = torch.tensor(rng.standard_normal(30))
    mse = lambda s, t: (s - t) ** 2  # noqa: E731
    check = lb.gradients.linear_layer_check(mse, claim, X, targets, w=[1.0, -1.0], b=0.2)
    assert math.isclose(check.weight_error, error, abs_tol=1e-12)
    assert math.isclose(check.logit_error, error, abs_tol=1e-12)
    assert check.ok == (error == 0.0)
    if error:
        with pytest.raises(AssertionError, match="relative error"):
            check.assert_ok()


def test_an_all_zero_autograd_gradient_gives_an_absolute_error():
    X = np.eye(2)
    targets = torch.tensor([1.0, -1.0], dtype=torch.float64)
    hinge = lambda s, t: torch.clamp(1 - t * s, min=0)  # noqa: E731  margins 5: gradient 0
    check = lb.gradients.linear_layer_check(
        hinge, lambda s, t: torch.zeros_like(s), X, targets, w=[5.0, -5.0]
    )
    assert check.ok
    assert check.weight_error == 0.0
    wrong = lb.gradients.linear_layer_check(hinge, lambda s, t: -t, X, targets, w=[5.0, -5.0])
    assert math.isclose(wrong.weight_error, math.sqrt(2))


_MSE = lambda s, t: (s - t) ** 2  # noqa: E731
_GRAD = lambda s, t: 2 * (s - t)  # noqa: E731
_X = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
_T = [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((None, _GRAD, _X, _T, [1.0, 1.0]), {}, TypeError, "torch_loss must be callable"),
        (
            (lambda s, t: torch.nn.functional.mse_loss(s, t), _GRAD, _X, _T, [1.0, 1.0]),
            {},
            TypeError,
            r"shape \(3,\), got shape \(\): use reduction='none'",
        ),
        (
            (lambda s, t: ((s - t) ** 2)[:, None], _GRAD, _X, _T, [1.0, 1.0]),
            {},
            TypeError,
            r"got shape \(3, 1\)",
        ),
        ((lambda s, t: ((s - t) ** 2).detach(), _GRAD, _X, _T, [1.0, 1.0]), {}, TypeError, "no .detach"),
        (
            (lambda s, t: ((s - t) ** 2).detach().numpy(), _GRAD, _X, _T, [1.0, 1.0]),
            {},
            TypeError,
            "must return a tensor, got ndarray",
        ),
        ((_MSE, _GRAD, [1.0, 2.0], _T, [1.0, 1.0]), {}, ValueError, r"X must be 2-D, got shape \(2,\)"),
        ((_MSE, _GRAD, [["a", "b"]], _T, [1.0, 1.0]), {}, TypeError, "X must be real numbers"),
        ((_MSE, _GRAD, [[1.0, math.nan]] * 3, _T, [1.0, 1.0]), {}, ValueError, "X must be finite"),
        ((_MSE, _GRAD, _X, _T, [1.0, 1.0, 1.0]), {}, ValueError, r"w must have 2 entries per row"),
        ((_MSE, _GRAD, _X, _T, [1.0, math.inf]), {}, ValueError, "w must be finite"),
        (
            (_MSE, _GRAD, _X, _T, [1.0, 1.0], [0.0, 0.0]),
            {},
            ValueError,
            "b must be a number or have 1 entries",
        ),
        ((_MSE, _GRAD, _X, _T, [1.0, 1.0], math.nan), {}, ValueError, "b must be finite"),
        (
            (_MSE, _GRAD, _X, [0.0, 1.0], [1.0, 1.0]),
            {},
            ValueError,
            r"t must have one row per row of X \(3\)",
        ),
        ((_MSE, "2(z - y)", _X, _T, [1.0, 1.0]), {}, TypeError, "gradient must be a callable"),
        (
            (_MSE, lambda s, t: s[:2], _X, _T, [1.0, 1.0]),
            {},
            ValueError,
            r"gradient must return one value per logit, shape \(3,\)",
        ),
        (
            (_MSE, 2 * (nt.yhat - nt.y), _X, _T, [1.0, 1.0]),
            {},
            ValueError,
            "gradient uses symbols that are not in symbols",
        ),
        (
            (_MSE, [2 * (nt.z - nt.y)] * 2, _X, _T, [1.0, 1.0]),
            {},
            ValueError,
            r"one expression per output \(1\)",
        ),
        ((_MSE, _GRAD, _X, _T, [1.0, 1.0]), {"rtol": 0.0}, ValueError, r"rtol must be a number in \(0, 1\)"),
        ((_MSE, _GRAD, _X, _T, [1.0, 1.0]), {"rtol": math.nan}, ValueError, "rtol must be"),
    ],
    ids=[
        "loss-not-callable",
        "mean-reduction",
        "column-output",
        "detached",
        "numpy-output",
        "X-1d",
        "X-strings",
        "X-nan",
        "w-length",
        "w-inf",
        "b-shape",
        "b-nan",
        "t-rows",
        "gradient-string",
        "gradient-shape",
        "gradient-unknown-symbol",
        "gradient-count",
        "rtol-zero",
        "rtol-nan",
    ],
)
def test_linear_layer_bad_inputs(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        lb.gradients.linear_layer_check(*args, **kwargs)


# ------------------------------------------------------------------------- canonical links


@pytest.mark.parametrize("name", list(FAMILIES))
def test_canonical_gradient_is_mean_minus_target(name):
    check = canonical_link_check(name, n=16, seed=1)
    fam = FAMILIES[name]
    assert check.family == name
    assert check.points == 16
    assert check.worst_error < 1e-12
    lb.assert_same(check.gradient, sp.Matrix([m - t for m, t in zip(fam.mean, fam.targets, strict=True)]))


@pytest.mark.parametrize("name", list(FAMILIES))
def test_mean_is_derivative_of_log_partition(name):
    """The NLL is A(η) - y·η + h(y); so d NLL/dη at y = 0 is the mean A'(η)."""
    fam = FAMILIES[name]
    zero = {t: 0 for t in fam.targets}
    for e, m in zip(fam.eta, fam.mean, strict=True):
        if name == "categorical":
            continue  # one-hot targets cannot all be zero; covered by the gradient test
        lb.assert_same(sp.diff(fam.nll.subs(zero), e), m)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_numeric_check_passes_for_any_seed(seed):
    for name in FAMILIES:
        assert canonical_link_check(name, n=8, seed=seed).worst_error < 1e-12


def test_a_non_canonical_link_fails():
    """Bernoulli with a probit link: the gradient is not mean - y."""
    from scipy.special import ndtr

    probit = sp.Rational(1, 2) * (1 + sp.erf(nt.z / sp.sqrt(2)))
    fam = ExponentialFamily(
        name="bernoulli_probit",
        eta=(nt.z,),
        targets=(nt.y,),
        nll=-(nt.y * sp.log(probit) + (1 - nt.y) * sp.log(1 - probit)),
        mean=(probit,),
        link="probit",
        distribution=lambda eta: torch.distributions.Bernoulli(probs=torch.special.ndtr(eta[:, 0])),
        sample=lambda rng, n: (rng.standard_normal((n, 1)), rng.integers(0, 2, (n, 1)).astype(float)),
    )
    assert ndtr(0.0) == 0.5
    with pytest.raises(AssertionError, match="could not prove"):
        canonical_link_check(fam)


def test_a_wrong_torch_distribution_fails_numerically():
    fam = FAMILIES["poisson"]
    wrong = ExponentialFamily(
        name="poisson_wrong_rate",
        eta=fam.eta,
        targets=fam.targets,
        nll=fam.nll,
        mean=fam.mean,
        link=fam.link,
        distribution=lambda eta: torch.distributions.Poisson(torch.exp(2 * eta[:, 0])),
        sample=fam.sample,
    )
    with pytest.raises(AssertionError, match="autograd differs"):
        canonical_link_check(wrong)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("binomial",), {}, ValueError, "unknown family 'binomial'"),
        ((3,), {}, TypeError, "family must be a name"),
        (("poisson",), {"n": 0}, ValueError, "n must be a positive integer"),
        (("poisson",), {"n": True}, ValueError, "n must be a positive integer"),
        (("poisson",), {"tol": 0}, ValueError, "tol must be"),
        (("poisson",), {"tol": 2.0}, ValueError, "tol must be"),
        (("poisson",), {"tol": math.nan}, ValueError, "tol must be"),
        (("poisson",), {"seed": -1}, ValueError, "seed must be a non-negative integer, got -1"),
        (("poisson",), {"seed": "0"}, TypeError, "seed must be a non-negative integer"),
        (("poisson",), {"seed": 1.5}, TypeError, "seed must be a non-negative integer"),
    ],
)
def test_canonical_bad_inputs(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        canonical_link_check(*args, **kwargs)


def test_exponential_family_fields_are_validated():
    fam = FAMILIES["bernoulli"]
    fields = {
        f: getattr(fam, f)
        for f in ("name", "eta", "targets", "nll", "mean", "link", "distribution", "sample")
    }
    with pytest.raises(TypeError, match="nll must be a SymPy expression"):
        ExponentialFamily(**{**fields, "nll": "-log(p)"})
    with pytest.raises(ValueError, match="eta, targets and mean must have the same length"):
        ExponentialFamily(**{**fields, "mean": (fam.mean[0], fam.mean[0])})
    with pytest.raises(TypeError, match="eta must be a non-empty tuple of SymPy symbols"):
        ExponentialFamily(**{**fields, "eta": ("z",)})
    with pytest.raises(TypeError, match="sample must be callable"):
        ExponentialFamily(**{**fields, "sample": None})


def test_families_match_the_registry_gradients():
    """bce_with_logits, poisson_nll and cross_entropy are the Bernoulli, Poisson and
    categorical NLLs: their registry gradients equal mean - y."""
    pairs = {"bce_with_logits": "bernoulli", "poisson_nll": "poisson"}
    for loss, family in pairs.items():
        lb.assert_same(lb.derive(loss)[0], canonical_link_check(family, n=2).gradient[0])
    ce = lb.derive("cross_entropy")
    q = lb.get("cross_entropy").targets
    one_hot = {q[0]: 1 - q[1] - q[2]}
    probs = nt.softmax(lb.get("cross_entropy").inputs)
    lb.assert_same(
        ce.subs(one_hot), sp.Matrix([pc - qc for pc, qc in zip(probs, q, strict=True)]).subs(one_hot)
    )
    assert np.isfinite(canonical_link_check("categorical", n=2).worst_error)


# ------------------------------------------------------------------------- the chapter's page


def test_gradients_chapter_prints_no_raw_sympy_or_latex():
    """Symbolic results in the gradients chapter are rendered as math: no stored text/plain or
    stream output contains a LaTeX macro name, a SymPy power ``**`` or a SymPy function call
    such as ``log(2)`` or ``Piecewise(``."""
    import json
    import re
    from pathlib import Path

    nb = json.loads((Path(__file__).resolve().parents[1] / "chapters" / "gradients.ipynb").read_text("utf-8"))
    raw = re.compile(
        r"\\[A-Za-z]+|\*\*|\b(?:log|exp|sqrt|Abs|sign|Piecewise|Interval|Heaviside|Matrix)(?:\.\w+)?\("
    )
    for bad in (r"\sigma**2", "z = -log(2)", "Piecewise((d, True))", "Interval.open(0, 1/3)"):
        assert raw.search(bad), bad
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            texts = [out.get("text", ""), out.get("data", {}).get("text/plain", "")]
            for text in texts:
                text = "".join(text)
                assert not raw.search(text), (
                    f"cell {i} prints raw SymPy or LaTeX: {raw.search(text).group()!r} in {text[:200]!r}"
                )
