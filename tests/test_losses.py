"""Registry-wide property tests: every loss, every claim its entry makes."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest
import scipy.optimize
import sympy as sp
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook import losses as L
from lossbook import notation as nt

BIB = Path(__file__).resolve().parents[1] / "references.bib"
NAMES = list(lb.LOSSES)
SMOOTH = [n for n in NAMES if not lb.get(n).smoothness.startswith("C⁰")]
HYPOTHESIS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------- the registry itself


def test_registry_has_the_losses_the_book_promises():
    required = {
        "mse", "l1", "huber", "smooth_l1", "bce", "bce_with_logits", "cross_entropy",
        "cross_entropy_smoothed", "nll", "kl_div", "poisson_nll", "gaussian_nll",
        "soft_margin", "hinge_embedding", "focal", "pinball", "student_t_nll", "hinge",
    }  # fmt: skip
    assert required <= set(lb.LOSSES)


def test_every_pytorch_loss_class_has_an_entry():
    """Fails when the pinned PyTorch exports a loss class the registry does not write out."""
    import torch.nn.modules.loss as torch_losses

    classes = L.torch_loss_classes()
    assert set(torch_losses.__all__) < set(classes)
    missing = [
        c
        for c in classes
        if c not in L.TORCH_ALIASES and not any(e.torch_class == c for e in lb.LOSSES.values())
    ]
    assert not missing, f"PyTorch loss classes without a registry entry: {missing}"
    for alias, target in L.TORCH_ALIASES.items():  # an alias adds nothing to the class it renames
        cls, base = getattr(torch.nn, alias), getattr(torch.nn, target)
        assert issubclass(cls, base)
        assert [k for k in vars(cls) if not k.startswith("__")] == []
        assert lb.by_torch_class(alias) is lb.by_torch_class(target)
    for entry in lb.LOSSES.values():
        if entry.torch_class:
            assert entry.torch_class in classes, f"{entry.name}: unknown class {entry.torch_class}"


def test_by_torch_class_rejects_what_it_does_not_cover():
    with pytest.raises(
        ValueError, match=r"no registry entry for the PyTorch class 'MSE'; did you mean 'MSELoss'"
    ):
        lb.by_torch_class("MSE")
    with pytest.raises(TypeError, match=r"name must be a PyTorch loss class name \(str\), got type"):
        lb.by_torch_class(type)


@pytest.mark.parametrize("name", NAMES)
def test_entry_is_complete(name):
    loss = lb.get(name)
    assert loss.title
    assert loss.torch_name
    assert loss.smoothness
    assert loss.convex in (True, False), "every entry states whether it is convex in its inputs"
    assert loss.best_constant is not None or loss.best_constant_text
    assert loss.refs, "every entry cites a source"
    assert (loss.textbook is None) == (loss.departure == ""), "a textbook form comes with its departure"
    bib = BIB.read_text(encoding="utf-8")
    for key in loss.refs:
        assert "{" + key + "," in bib, f"{key} missing from references.bib"


@pytest.mark.parametrize("name", NAMES)
def test_latex_comes_from_the_expression(name):
    loss = lb.get(name)
    assert loss._repr_latex_() == rf"$\displaystyle {loss.latex()}$", "one formula, no prose"
    assert sp.latex(loss.expr) in loss._repr_latex_()
    markdown = loss._repr_markdown_()
    assert f"$$\n{loss.latex()}\n$$" in markdown
    if loss.textbook is not None:
        assert sp.latex(loss.textbook) in markdown
        assert loss.departure.split(" ")[0] in markdown
    prose = re.sub(r"\$\$.*?\$\$", "", markdown, flags=re.S)
    assert "$" not in prose, "prose and math are kept apart"


# --------------------------------------------------------------------- cross-checks


@pytest.mark.parametrize("name", NAMES)
@HYPOTHESIS
@given(seed=st.integers(0, 2**32 - 1))
def test_sympy_matches_pytorch_and_finite_differences(name, seed):
    """Forward value, autograd gradient and gradcheck at random and edge points."""
    lb.crosscheck(name, n=6, seed=seed).assert_ok()


def _point_strategy(domain: lb.Domain, width: int) -> st.SearchStrategy:
    """Hypothesis rows from a domain, including awkward values (tiny, huge, exact 0)."""
    finite = {"allow_nan": False, "allow_infinity": False}
    if domain is L.REAL:
        element = st.floats(-60, 60, **finite)
    elif domain is L.PROBABILITY:
        element = st.floats(0, 1, **finite)
    elif domain is L.BINARY:
        element = st.sampled_from([0.0, 1.0])
    elif domain is L.SIGNS:
        element = st.sampled_from([-1.0, 1.0])
    elif domain is L.NONNEGATIVE:
        element = st.floats(0, 60, **finite)
    elif domain is L.COUNTS:
        element = st.integers(0, 10**6).map(float)
    elif domain is L.ONE_HOT:
        return st.integers(0, width - 1).map(lambda c: list(np.eye(width)[c]))
    elif domain in (L.SIMPLEX, L.LOG_PROBABILITIES):
        logits = st.lists(st.floats(-30, 30, **finite), min_size=width, max_size=width)
        probs = logits.map(lambda v: list(torch.softmax(torch.tensor(v, dtype=torch.float64), 0).numpy()))
        return probs if domain is L.SIMPLEX else probs.map(lambda q: list(np.log(q)))
    elif domain is L.MEAN_AND_VARIANCE:
        return st.tuples(st.floats(-60, 60, **finite), st.floats(0, 1e4, **finite)).map(list)
    else:  # pragma: no cover - a new domain must get a strategy here
        raise AssertionError(f"no strategy for {domain}")
    return st.lists(element, min_size=width, max_size=width)


@pytest.mark.parametrize("name", NAMES)
@HYPOTHESIS
@given(data=st.data())
def test_sympy_matches_pytorch_at_hypothesis_points(name, data):
    loss = lb.get(name)
    x = data.draw(_point_strategy(loss.input_domain, loss.n_inputs), label="x")
    t = data.draw(_point_strategy(loss.target_domain, loss.n_targets), label="t") if loss.n_targets else []
    if name == "soft_margin":  # documented float64 overflow, tested separately below
        x = [float(np.clip(x[0], -700, 700))]
    report = lb.crosscheck(loss, n=1, points=([x], [t]))
    report.assert_ok()


def test_cosine_similarity_backward_below_its_norm_clamp():
    """F.cosine_similarity divides by max(norm, 1e-8) but differentiates the unclamped norm.

    With a = (1, 0) and p = (1e-9, 0) the clamped cosine is a.p / 1e-8 = 0.1; its derivative in
    p_0 is 1e8, but PyTorch returns 1e8 - p_0^2 / (1e-8)^2 / |p| = 9e7: the clamp sets the norm's
    value, while the gradient still flows through the unclamped norm. The registry entry's
    ``autograd`` models this, so the cross-check passes there and measures the departure.
    """
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    p = torch.tensor([[1e-9, 0.0]], dtype=torch.float64, requires_grad=True)
    cos = F.cosine_similarity(a, p)
    (grad,) = torch.autograd.grad(cos.sum(), p)
    assert math.isclose(cos.item(), 0.1, rel_tol=1e-12)
    assert math.isclose(float(grad[0, 0]), 1e8 - 1e-18 / 1e-16 / 1e-9, rel_tol=1e-9)  # 9e7, not 1e8
    loss = lb.get("triplet_margin_cosine")
    points = (
        [1.0, 0.0, 1e-9, 0.0, 0.0, 0.0],
        [0.0, 0.0, 1e-9, 0.0, 3.0, 4.0],
        [1.0, 0.0, 0.0, 0.0, 1e-9, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # PyTorch's norm backward is 0 at a zero vector
        [5e-324, 0.0, 1.0, 0.0, 0.0, 1.0],  # the smallest subnormal: its norm is not 0
    )
    for x in points:
        lb.crosscheck(loss, n=1, points=([x], [[]])).assert_ok()
    report = lb.crosscheck(loss, n=1, points=([points[2]], [[]]))
    departure = next(r for r in report.rows if r.name == "autograd - d(forward)")
    # autograd 9e7 against the forward's 1e8 in d/d(a⁻_0): 0.1 relative to 1e8
    assert departure.worst_error == pytest.approx(0.1, rel=1e-9)


def test_mp_function_keeps_a_piecewise_lazy():
    """Common subexpressions are not hoisted out of a Piecewise: its guarded branch (1/x at 0) stays unevaluated."""
    x = sp.Symbol("x", real=True)
    f = lb.mp_function([sp.Piecewise((1 / x, x > 0), (0, True)), 1 / (x + 1)], [x])
    assert [float(v) for v in f(mpmath.mpf(0))] == [0.0, 1.0]


# --------------------------------------------------------------------- convexity claims


def _hessian_min_eigenvalues(loss: lb.Loss, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    hess = lb.derive(loss, order=2, simplify=False).subs(loss.substitutions())
    # DiracDelta (from differentiating a kink twice) is 0 almost everywhere
    # Heaviside, left to SymPy's printer, becomes numpy.select, which refuses scalar points
    step = sp.Function("step")
    hess = hess.replace(sp.Heaviside, lambda *a: step(a[0]))
    f = sp.lambdify(
        loss.inputs + loss.targets,
        hess,
        modules=[{"DiracDelta": lambda *a: 0.0, "step": lambda v: np.heaviside(v, 0.5)}, "numpy"],
    )
    out = []
    for xi, ti in zip(x, t, strict=True):
        h = np.array(f(*xi, *ti), dtype=float)
        out.append(np.linalg.eigvalsh((h + h.T) / 2).min() / max(1.0, np.abs(h).max()))
    return np.array(out)


@pytest.mark.parametrize("name", NAMES)
def test_convexity_claim(name):
    """Convex: Hessian PSD and Jensen's inequality on samples. Not convex: a counterexample."""
    loss = lb.get(name)
    rng = np.random.default_rng(1)
    x, t = loss.sample(rng, 400)
    eig = _hessian_min_eigenvalues(loss, x, t)
    if loss.convex:
        assert eig.min() >= -1e-9, f"{name}: negative Hessian eigenvalue {eig.min()}"
        x2, _ = loss.sample(rng, 400)
        lam = rng.uniform(size=(400, 1))
        mid = loss.pytorch(lam * x + (1 - lam) * x2, t).numpy()
        chord = lam[:, 0] * loss.pytorch(x, t).numpy() + (1 - lam[:, 0]) * loss.pytorch(x2, t).numpy()
        assert np.all(mid <= chord + 1e-9 * np.maximum(1, np.abs(chord)))
    else:
        assert eig.min() < -1e-6, f"{name} claims non-convexity but no counterexample was sampled"


def test_gaussian_nll_is_nowhere_jointly_convex():
    """The note on gaussian_nll: det of the (μ, σ²) Hessian is -1/(2σ⁶)."""
    hessian = lb.derive("gaussian_nll", order=2).subs(sp.Max(nt.var, L._CLAMP), nt.var)
    smooth = sp.hessian(L._gaussian_nll_smooth, (nt.mu, nt.var))
    lb.assert_same(smooth.det(), -1 / (2 * nt.var**3))
    second = sp.diff(L._gaussian_nll_smooth, nt.var, 2)
    lb.assert_same(second, (2 * (nt.y - nt.mu) ** 2 - nt.var) / (2 * nt.var**3))
    assert hessian.shape == (2, 2)


def test_focal_loss_is_not_convex_in_the_logit():
    second = sp.diff(lb.get("focal").expr.subs({nt.gamma: 2, nt.alpha: sp.Rational(1, 4), nt.y: 1}), nt.z, 2)
    assert second.subs(nt.z, -4).evalf() < 0 < second.subs(nt.z, 0).evalf()


# --------------------------------------------------------------------- best constants


def _mean_loss(loss, t, **hyper):
    def f(c):
        x = np.tile(np.asarray(c, dtype=float), (t.shape[0], 1))
        return float(loss.pytorch(x, t, **hyper).mean())

    return f


WITH_CONSTANT = [n for n in NAMES if lb.get(n).best_constant is not None]


def _targets(loss: lb.Loss, kind: str, rng: np.random.Generator, n: int = 41) -> np.ndarray:
    """Random, skewed, tied and degenerate target samples from a loss's target domain."""
    dom = loss.target_domain
    if dom is L.ONE_HOT:
        shares = {"random": [1 / 3] * 3, "skewed": [0.8, 0.15, 0.05], "tied": [0.5, 0.5, 0.0]}
        shares["degenerate"] = [1.0, 0.0, 0.0]
        return np.eye(3)[rng.choice(3, size=n, p=shares[kind])]
    if dom in (L.BINARY, L.SIGNS, L.PROBABILITY):
        share = {"random": 0.5, "skewed": 0.93, "tied": 0.5, "degenerate": float(rng.integers(0, 2))}[kind]
        labels = (rng.uniform(size=(n, 1)) < share).astype(float)
        if kind == "tied":
            labels[: n // 2], labels[n // 2 :] = 0.0, 1.0  # exactly half and half (n - 1 even)
            labels = labels[:-1]
        if dom is L.PROBABILITY and kind == "random":
            labels = rng.uniform(size=(n, 1))
        return 2 * labels - 1 if dom is L.SIGNS else labels
    if dom is L.COUNTS:
        return {
            "random": rng.poisson(3.0, size=(n, 1)),
            "skewed": rng.poisson(0.2, size=(n, 1)) * rng.poisson(20.0, size=(n, 1)),
            "tied": np.repeat([[1.0], [4.0]], [n // 2, n - n // 2], axis=0),
            "degenerate": np.zeros((n, 1)),
        }[kind].astype(float)
    return {  # real targets
        "random": 3.0 * rng.standard_normal((n, 1)),
        "skewed": rng.lognormal(0.0, 1.5, size=(n, 1)),
        "tied": np.repeat([[0.0], [1.0], [5.0]], [n // 2, 3, n - n // 2 - 3], axis=0),
        "degenerate": np.full((n, 1), 2.5),
    }[kind]


def _hyper_strategy(loss: lb.Loss) -> st.SearchStrategy:
    """Hyperparameters drawn from the whole valid range (within practical bounds)."""
    ranges = {"quantile": (0.02, 0.98), "delta": (0.05, 5.0), "beta": (0.0, 5.0)}
    ranges |= {"label_smoothing": (0.0, 0.6), "margin": (0.2, 3.0), "eps": (1e-6, 1e-6)}
    return st.fixed_dictionaries({h.name: st.floats(*ranges[h.name]) for h in loss.hyper})


def _numeric_minimum(loss: lb.Loss, f, t: np.ndarray, **hyper: float) -> tuple[np.ndarray, Any]:
    """A numerical minimiser and, for one input, the lower of the mean losses at the box's two ends."""
    dom = loss.input_domain
    if loss.n_inputs == 1:
        if dom is L.PROBABILITY:
            low, high = 0.0, 1.0
        elif dom is L.NONNEGATIVE:
            low, high = 0.0, 20.0
        else:
            low, high = float(t.min()) - 40.0, float(t.max()) + 40.0
        # every entry with a scalar best constant is convex in its input: Brent finds the minimum
        best = scipy.optimize.minimize_scalar(
            lambda c: f([c]), bounds=(low, high), method="bounded", options={"xatol": 1e-10}
        ).x
        return np.array([best]), min(f([low]), f([high]))
    if dom is L.MEAN_AND_VARIANCE:
        res = scipy.optimize.minimize(
            lambda v: f([v[0], math.exp(v[1])]),
            [0.0, 0.0],
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 4000},
        )
        return np.array([res.x[0], math.exp(res.x[1])]), res.x[1] > -20

    def jac(c):  # autograd's gradient of the mean loss, which the registry tests elsewhere
        return loss.gradient(np.tile(c, (t.shape[0], 1)), t, **hyper).numpy().mean(axis=0)

    res = scipy.optimize.minimize(
        f, np.zeros(loss.n_inputs), jac=jac, method="BFGS", options={"gtol": 1e-10, "maxiter": 200}
    )
    return res.x, True


@pytest.mark.parametrize("name", WITH_CONSTANT)
@pytest.mark.parametrize("kind", ["random", "skewed", "tied", "degenerate"])
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_best_constant_against_a_numerical_minimiser(name, kind, seed, data):
    """The stated best constant is the minimiser found by scipy, or no finite one exists."""
    loss = lb.get(name)
    hyper = data.draw(_hyper_strategy(loss), label="hyper")
    rng = np.random.default_rng(seed)
    t = _targets(loss, kind, rng)
    f = _mean_loss(loss, t, **hyper)
    numeric, edge = _numeric_minimum(loss, f, t, **hyper)
    try:
        best = loss.best_constant_for(t, **hyper)
    except lb.NoFiniteMinimiser:
        if loss.n_inputs == 1:  # the edges of scipy's search box are at least as good as any interior point
            assert edge <= f(numeric) + 1e-12, f"{name}: scipy found a minimum at {numeric}"
        else:  # an absent class: lowering its logit further still lowers the mean loss
            absent = (t.mean(axis=0) == 0).astype(float)
            assert absent.any()
            assert f(numeric - 10.0 * absent) < f(numeric)
        return
    scale = max(1.0, abs(f(numeric)))
    assert f(best) <= f(numeric) + 1e-8 * scale, f"{name} {hyper}: scipy's {numeric} beats {best}"


def test_pinball_best_constant_follows_the_quantile():
    """The finding of the review: τ = 0.1 must give the 0.1-quantile, not the default 0.9."""
    t = np.random.default_rng(0).standard_normal(101)
    for tau in (0.1, 0.5, 0.9):
        best = lb.get("pinball").best_constant_for(t, quantile=tau)
        assert best[0] == np.sort(t)[math.ceil(tau * 101) - 1]


def test_huber_best_constant_is_exact_and_robust():
    t = np.array([0.0, 0.1, 0.2, 0.3, 100.0])
    c = lb.get("huber").best_constant_for(t, delta=1.0)[0]
    # ψ sums to zero: four residuals inside the band, the outlier clipped at -δ
    assert np.clip(c - t, -1.0, 1.0).sum() == pytest.approx(0.0, abs=1e-12)
    assert c == pytest.approx((0.6 + 1.0) / 4)
    assert lb.get("smooth_l1").best_constant_for(t, beta=0.0)[0] == 0.2, "beta = 0 is L1: the median"


@pytest.mark.parametrize(
    ("name", "targets", "message"),
    [
        ("bce_with_logits", [0.0, 0.0], r"every target is 0, .* z → -∞"),
        ("bce_with_logits", [1.0, 1.0], r"every target is 1, .* z → \+∞"),
        ("soft_margin", [1.0, 1.0], r"every target is 1"),
        ("exponential", [-1.0, -1.0], r"every target is -1"),
        ("poisson_nll", [0.0, 0.0], r"every target count is 0"),
        ("poisson_nll_full", [0.0, 0.0], r"poisson_nll_full: .*every target count is 0"),
        ("cross_entropy", np.eye(3)[[0, 1]], r"class\(es\) 2 never occur"),
    ],
)
def test_degenerate_targets_have_no_finite_best_constant(name, targets, message):
    with pytest.raises(lb.NoFiniteMinimiser, match=message):
        lb.get(name).best_constant_for(targets)


def test_smoothing_makes_an_absent_class_finite():
    t = np.eye(3)[[0, 1, 1, 0]]
    z = lb.get("cross_entropy_smoothed").best_constant_for(t, label_smoothing=0.3)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(np.exp(z), [0.7 * 0.5 + 0.1, 0.7 * 0.5 + 0.1, 0.1])


# --------------------------------------------------------------------- boundary values

_SCALAR_EDGES = {
    "REAL": [-1000.0, -1.0, 0.0, 1.0, 1000.0],
    "PROBABILITY": [0.0, 0.5, 1.0],
    "BINARY": [0.0, 1.0],
    "SIGNS": [-1.0, 1.0],
    "NONNEGATIVE": [0.0, 1.0, 1000.0],
    "COUNTS": [0.0, 1.0, 2.0, 1e6],
}
_ROW_EDGES = {
    "REAL": [[0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0], [1.0, -1.0, 0.0]],
    "ONE_HOT": np.eye(3).tolist(),
    "BINARY": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 1.0]],  # an empty mask, a full one, a mix
    "SIMPLEX": [*np.eye(3).tolist(), [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]],
    "LOG_PROBABILITIES": [
        [0.0, -1000.0, -1000.0],
        [-1000.0, 0.0, -1000.0],
        [-0.1, -3.0, -1000.0],
        [math.log(1 / 3)] * 3,
    ],
    "MEAN_AND_VARIANCE": [[0.0, 0.0], [1000.0, 1e-6], [-1000.0, 1000.0], [0.0, 1.0]],
}
#: e^z (or e^{-yz}) overflows float64 beyond 709.78 in any implementation: probe at ±700
_OVERFLOW = {"soft_margin": 700.0, "exponential": 700.0, "poisson_nll": 700.0, "poisson_nll_full": 700.0}


def _boundary_rows(name: str, domain: lb.Domain, width: int) -> list[list[float]]:
    key = next(k for k, v in lb.DOMAINS.items() if v is domain)
    if width == 1:
        limit = _OVERFLOW.get(name, math.inf) if domain is lb.REAL else math.inf
        return [[float(np.clip(v, -limit, limit))] for v in _SCALAR_EDGES[key]]
    if key == "ONE_HOT":
        return np.eye(width).tolist()
    if key == "BINARY":  # no label, every label, alternating
        return [[0.0] * width, [1.0] * width, [float(i % 2) for i in range(width)]]
    if key == "REAL" and width != 3:  # vectors and sequences: the rows of width 3, repeated
        return [[r[i % 3] for i in range(width)] for r in _ROW_EDGES["REAL"]]
    return [list(r) for r in _ROW_EDGES[key]]


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_at_the_boundary_values_its_domains_allow(name):
    """0, 1, ±1000 (logits, residuals, log-probabilities), zero targets, zero variance, exact kinks."""
    loss = lb.get(name)
    xs = _boundary_rows(name, loss.input_domain, loss.n_inputs)
    ts = _boundary_rows(name, loss.target_domain, loss.n_targets) if loss.n_targets else [[]]
    pairs = [(x, t) for x in xs for t in ts]
    x = np.array([p[0] for p in pairs])
    t = np.array([p[1] for p in pairs]).reshape(len(pairs), -1)
    lb.crosscheck(loss, n=1, points=(x, t)).assert_ok()


@pytest.mark.parametrize(
    ("name", "hyper"),
    [
        ("smooth_l1", {"beta": 0.0}),
        ("focal", {"gamma": 0.0}),
        ("focal", {"alpha": 0.0}),
        ("focal", {"alpha": 1.0}),
        ("cross_entropy_smoothed", {"label_smoothing": 0.0}),
        ("huber", {"delta": 1e-3}),
        ("pinball", {"quantile": 1e-3}),
    ],
)
def test_hyperparameters_at_the_ends_of_their_ranges(name, hyper):
    lb.crosscheck(name, n=8, **hyper).assert_ok()


def test_kl_div_with_one_hot_targets_is_the_reviewed_case():
    """lb.crosscheck('kl_div', points=([[-0.1, -3, -1000]], [[1, 0, 0]])) failed before the fix."""
    report = lb.crosscheck("kl_div", points=([[-0.1, -3, -1000]], [[1, 0, 0]]))
    report.assert_ok()
    assert "subgradient at kinks" not in [r.name for r in report.rows], "q = 0 is no kink in ℓ"


def test_huber_and_smooth_l1_share_one_second_derivative_convention():
    """At |d| equal to the threshold both take the linear branch: second derivative 0."""
    for name, h in (("huber", nt.delta), ("smooth_l1", nt.beta)):
        second = lb.derive(name, order=2)[0, 0]
        at_threshold = second.subs({nt.yhat: h + nt.y})
        assert sp.simplify(at_threshold) == 0, f"{name}: {at_threshold}"
        inside = second.subs({nt.yhat: h / 2 + nt.y})
        assert sp.simplify(inside) != 0


def test_link_fields_follow_the_glm_convention():
    """link maps the mean to the input; mean_function maps the input back."""
    assert lb.get("bce_with_logits").link.startswith("logit")
    assert lb.get("poisson_nll").link.startswith("log")
    assert lb.get("mse").link == "identity"
    assert "softmax" in lb.get("cross_entropy").mean_function
    assert "softmax" not in lb.get("cross_entropy").link
    assert lb.get("poisson_nll").mean_function.endswith("exp(z)")
    for name, loss in lb.LOSSES.items():
        assert loss.link, f"{name} states its link (or 'none: ...')"
        assert bool(loss.mean_function) != loss.link.startswith("none"), name


@pytest.mark.parametrize("name", ["nll", "kl_div"])
def test_log_probability_losses_have_no_unconstrained_best_constant(name):
    loss = lb.get(name)
    _, t = loss.sample(np.random.default_rng(0), 10)
    values = [_mean_loss(loss, t)(np.zeros(3) - 1000.0 * s) for s in (1e-1, 1e-2, 1e-3)]
    assert values[0] > values[1] > values[2], "ℓ -> 0 from below keeps lowering the loss"
    lifted = [
        float(loss.torch_fn(torch.full((10, 3), s, dtype=torch.float64), torch.tensor(t)).mean())
        for s in (0.0, 10.0, 100.0)
    ]
    assert lifted[0] > lifted[1] > lifted[2], "unbounded below once ℓ may exceed 0"


# --------------------------------------------------------------------- departures from textbooks


def test_bce_clamps_the_log_at_minus_100():
    loss = lb.get("bce")
    assert float(loss.pytorch([[0.0]], [[1.0]])[0]) == 100.0
    assert float(loss.pytorch([[1e-50]], [[1.0]])[0]) == 100.0  # textbook: 115.13
    assert float(loss.gradient([[1e-15]], [[1.0]])[0, 0]) == (1e-15 - 1.0) / float(np.float32(1e-12))


def test_poisson_full_adds_stirling_not_log_factorial():
    loss, full = lb.get("poisson_nll"), lb.get("poisson_nll_full")
    y = np.arange(0, 200, dtype=float)[:, None]
    z = np.full_like(y, 0.3)
    added = (full.pytorch(z, y) - loss.pytorch(z, y)).numpy()
    log_factorial = np.array([math.lgamma(k + 1) for k in y[:, 0]])
    assert np.all(added[:2] == 0), "nothing is added for y in {0, 1}"
    gap = log_factorial[2:] - added[2:]
    k = y[2:, 0]
    # Robbins (1955): 1/(12k+1) < log k! - Stirling(k) < 1/(12k)
    assert np.all((1 / (12 * k + 1) < gap + 1e-12) & (gap < 1 / (12 * k) + 1e-12))


def test_gaussian_nll_constant_and_clamp():
    loss = lb.get("gaussian_nll")
    unclamped = loss.expr.subs(sp.Max(nt.var, L._CLAMP), nt.var)
    lb.assert_same(loss.textbook - unclamped, sp.log(2 * sp.pi) / 2)
    mu, y = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    v = torch.tensor([1e-9, 1e-6, 0.5], dtype=torch.float64)
    full = F.gaussian_nll_loss(mu, y, v, full=True, reduction="none")
    part = F.gaussian_nll_loss(mu, y, v, full=False, reduction="none")
    torch.testing.assert_close(
        full - part, torch.full((3,), 0.5 * math.log(2 * math.pi), dtype=torch.float64)
    )
    assert float(loss.pytorch([[0.0, 1e-9]], [[1.0]])[0]) == float(loss.pytorch([[0.0, 1e-6]], [[1.0]])[0])
    g = loss.gradient([[0.0, 1e-9]], [[1.0]])
    assert g[0, 1] != 0, "the clamp is under no_grad: the gradient passes through"


def test_soft_margin_overflows_where_bce_with_logits_does_not():
    z = torch.tensor([-710.0], dtype=torch.float64)
    assert torch.isinf(F.soft_margin_loss(z, torch.ones(1, dtype=torch.float64), reduction="none")).all()
    z32 = torch.tensor([-89.0])
    assert torch.isinf(F.soft_margin_loss(z32, torch.ones(1), reduction="none")).all()
    stable = F.binary_cross_entropy_with_logits(z32, torch.ones(1), reduction="none")
    assert float(stable) == pytest.approx(89.0)


def test_kl_div_reductions():
    rng = np.random.default_rng(0)
    logq = torch.log_softmax(torch.tensor(rng.normal(size=(4, 3))), 1)
    p = torch.softmax(torch.tensor(rng.normal(size=(4, 3))), 1)
    per_example = lb.get("kl_div").pytorch(logq, p)
    torch.testing.assert_close(F.kl_div(logq, p, reduction="batchmean"), per_example.sum() / 4)
    with pytest.warns(
        UserWarning, match="'mean' divides the total loss by both the batch size and the support size"
    ):
        mean = F.kl_div(logq, p, reduction="mean")
    torch.testing.assert_close(mean, per_example.sum() / 12)
    with torch.no_grad():
        zero_target = F.kl_div(
            logq, torch.tensor([[0.0, 0.5, 0.5]] * 4, dtype=torch.float64), reduction="none"
        )
    assert torch.all(zero_target[:, 0] == 0)
    # ...but not when the input is -inf there, nor with log_target=True and a zero target
    inf_input = F.kl_div(torch.tensor([[-math.inf, -0.1]]), torch.tensor([[0.0, 1.0]]), reduction="none")
    assert torch.isnan(inf_input[0, 0])
    log_target = F.kl_div(
        torch.tensor([[-1.0, -0.1]]), torch.tensor([[-math.inf, 0.0]]), reduction="none", log_target=True
    )
    assert torch.isnan(log_target[0, 0])


def test_log_softmax_then_nll_is_cross_entropy():
    z = torch.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    onehot = np.eye(3)[[0, 2, 1, 1, 0]]
    torch.testing.assert_close(
        lb.get("nll").pytorch(torch.log_softmax(z, 1), onehot), lb.get("cross_entropy").pytorch(z, onehot)
    )


@given(delta=st.floats(0.05, 20), residual=st.floats(-50, 50))
@HYPOTHESIS
def test_smooth_l1_is_huber_over_beta(delta, residual):
    huber = lb.get("huber").pytorch([[residual]], [[0.0]], delta=delta)
    smooth = lb.get("smooth_l1").pytorch([[residual]], [[0.0]], beta=delta)
    torch.testing.assert_close(smooth * delta, huber)


def test_focal_with_gamma_zero_and_half_alpha_is_half_bce():
    z = torch.linspace(-20, 20, 41, dtype=torch.float64)[:, None]
    y = (torch.arange(41) % 2).double()[:, None]
    focal = lb.get("focal").pytorch(z, y, gamma=0.0, alpha=0.5)
    torch.testing.assert_close(2 * focal, lb.get("bce_with_logits").pytorch(z, y))


# --------------------------------------------------------------------- stated textbook forms


def test_textbook_gradients_and_hessians():
    """Forms every textbook states, checked against derive (derived here independently)."""
    lb.assert_same(lb.derive("mse")[0], 2 * (nt.yhat - nt.y))
    lb.assert_same(lb.derive("bce_with_logits")[0], nt.sigmoid(nt.z) - nt.y)
    lb.assert_same(lb.derive("poisson_nll")[0], sp.exp(nt.z) - nt.y)
    probs = sp.Matrix(nt.softmax(L.Z))
    onehot = sp.Matrix(L.Q)
    # with a one-hot target, sum(q) = 1: substitute q_0 = 1 - q_1 - q_2
    grad = lb.derive("cross_entropy").subs(L.Q[0], 1 - L.Q[1] - L.Q[2])
    lb.assert_same(grad, (probs - onehot).subs(L.Q[0], 1 - L.Q[1] - L.Q[2]))
    hessian = lb.derive("cross_entropy", order=2).subs(L.Q[0], 1 - L.Q[1] - L.Q[2])
    lb.assert_same(hessian, sp.diag(*probs) - probs * probs.T)


# --------------------------------------------------------------------- errors


def test_unknown_loss_suggests_the_closest_name():
    with pytest.raises(ValueError, match=r"unknown loss 'crossentropy'; did you mean 'cross_entropy'\?"):
        lb.get("crossentropy")
    with pytest.raises(ValueError, match="unknown loss 'zzz' Known losses: mse"):
        lb.get("zzz")
    with pytest.raises(TypeError, match="name must be a loss name"):
        lb.get(3)


@pytest.mark.parametrize(
    ("name", "hyper", "error", "message"),
    [
        ("huber", {"delta": 0.0}, ValueError, r"huber: delta must satisfy delta > 0, got 0.0"),
        ("huber", {"delta": -2}, ValueError, r"delta > 0, got -2"),
        ("huber", {"delta": float("nan")}, ValueError, r"delta > 0, got nan"),
        ("smooth_l1", {"beta": -0.5}, ValueError, r"beta >= 0"),
        (
            "cross_entropy_smoothed",
            {"label_smoothing": 1.0},
            ValueError,
            r"label_smoothing >= 0 and label_smoothing < 1, got 1.0",
        ),
        ("cross_entropy_smoothed", {"label_smoothing": -0.1}, ValueError, r"label_smoothing >= 0"),
        ("focal", {"alpha": 1.5}, ValueError, r"alpha >= 0 and alpha <= 1, got 1.5"),
        ("huber", {"delta": "1"}, TypeError, r"delta must be a real number, got '1' of type str"),
        ("huber", {"delta": True}, TypeError, r"delta must be a real number"),
        ("mse", {"delta": 1.0}, TypeError, r"mse: unknown hyperparameter\(s\) \['delta'\]; allowed: none"),
    ],
)
def test_bad_hyperparameters(name, hyper, error, message):
    loss = lb.get(name)
    x, t = loss.sample(np.random.default_rng(0), 2)
    with pytest.raises(error, match=message):
        loss.pytorch(x, t, **hyper)
    with pytest.raises(error, match=message):
        lb.crosscheck(name, **hyper)


@pytest.mark.parametrize(
    ("name", "x", "t", "message"),
    [
        ("bce", [[1.5]], [[1.0]], r"bce: x must hold probabilities in \[0, 1\]; row 0 is \[1.5\]"),
        ("bce", [[-0.1]], [[1.0]], r"probabilities in \[0, 1\]"),
        ("bce", [[0.5]], [[2.0]], r"bce: t must hold probabilities in \[0, 1\]"),
        (
            "cross_entropy",
            [[0.0, 1.0]],
            [[1, 0, 0]],
            r"x must have shape \(N, 3\); one example is \[\[…, …, …\]\] \(columns: z_0, z_1, z_2\), got \(1, 2\)",
        ),
        ("cross_entropy", [[0.0, 1.0, 2.0]], [[1, 1, 0]], r"t must hold one-hot rows"),
        ("mse", [[0.0], [1.0]], [[1.0]], r"x and t must have the same number of rows, got 2 and 1"),
        ("mse", [[float("inf")]], [[1.0]], r"x must hold real numbers"),
        ("soft_margin", [[0.0]], [[0.0]], r"labels in \{-1, \+1\}"),
        ("poisson_nll", [[0.0]], [[1.5]], r"counts"),
        ("gaussian_nll", [[0.0, -1.0]], [[1.0]], r"variance >= 0"),
        ("kl_div", [[-1.0, -1.0, -1.0]], [[0.5, 0.4, 0.0]], r"summing to 1"),
        ("nll", [[0.5, -1.0, -1.0]], [[1, 0, 0]], r"log-probabilities"),
        ("mse", [["a"]], [[1.0]], r"mse: x must be numeric"),
    ],
)
def test_bad_inputs(name, x, t, message):
    with pytest.raises(ValueError if "numeric" not in message else TypeError, match=message):
        lb.get(name).pytorch(x, t)


def test_gradients_need_floating_point_inputs():
    with pytest.raises(
        TypeError, match=r"mse: x must be a floating-point tensor to take gradients, got torch.int64"
    ):
        lb.get("mse").gradient(torch.tensor([[1]]), [[0.0]])


def test_derive_and_crosscheck_arguments():
    with pytest.raises(ValueError, match="order must be 1 \\(gradient\\) or 2 \\(Hessian\\), got 0"):
        lb.derive("mse", order=0)
    with pytest.raises(ValueError, match=r"mse: wrt must be symbols or names .*got 'w'"):
        lb.derive("mse", wrt="w")
    assert lb.derive("huber", wrt="delta").shape == (1, 1)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        lb.crosscheck("mse", n=0)
    with pytest.raises(ValueError, match=r"rtol must be a number in \(0, 1\), got 2"):
        lb.crosscheck("mse", rtol=2)
    with pytest.raises(ValueError, match=r"points: x and t must have the same number of rows"):
        lb.crosscheck("mse", points=([[0.0], [1.0]], [[0.0]]))


def test_loss_definition_is_validated():
    with pytest.raises(ValueError, match=r"bad: expr uses symbols that are not declared .*: y"):
        lb.Loss(name="bad", expr=nt.z - nt.y, inputs=(nt.z,), torch_fn=lambda x, t: x[:, 0])
    with pytest.raises(ValueError, match="name must be a Python identifier, got 'two words'"):
        lb.Loss(name="two words", expr=nt.z, inputs=(nt.z,), torch_fn=lambda x, t: x[:, 0])
    with pytest.raises(TypeError, match="expr must be a SymPy expression, got str"):
        lb.Loss(name="s", expr="z**2", inputs=(nt.z,), torch_fn=lambda x, t: x[:, 0])
    with pytest.raises(ValueError, match="inputs must name at least one symbol"):
        lb.Loss(name="s", expr=nt.z, inputs=(), torch_fn=lambda x, t: x[:, 0])


# --------------------------------------------------------------------- failing reports


def _custom(name, torch_fn):
    return lb.Loss(
        name=name, expr=(nt.yhat - nt.y) ** 2, inputs=(nt.yhat,), targets=(nt.y,), torch_fn=torch_fn
    )


def test_a_wrong_value_fails_the_forward_check_with_a_readable_message():
    report = lb.crosscheck(_custom("scaled", lambda x, t: 1.01 * (x - t)[:, 0] ** 2))
    assert not report.ok
    assert report["forward value"].passed is False
    with pytest.raises(
        AssertionError,
        match=r"(?s)crosscheck of 'scaled' failed:.*forward value: relative error 1\.0e-02 > tolerance 1e-10, worst at ŷ=.*, y=.*: PyTorch .*, SymPy ",
    ):
        report.assert_ok()


def test_a_detached_factor_passes_the_forward_check_and_fails_the_gradient():
    report = lb.crosscheck(_custom("detached", lambda x, t: ((x - t).detach() * (x - t))[:, 0]))
    assert report["forward value"].passed
    assert not report["gradient"].passed
    assert not report["finite differences"].passed
    assert "d/dŷ autograd" in report["gradient"].worst
    assert "FAIL" in str(report)
    assert "FAIL" in report._repr_html_()


def test_report_lookup_names_the_checks():
    report = lb.crosscheck("mse")
    with pytest.raises(KeyError, match="no check named 'nope'"):
        report["nope"]


def test_a_wrong_subgradient_fails_at_a_kink():
    def bad_abs(x, t):
        d = (x - t)[:, 0]
        return d.abs() + 3 * d * (d == 0)  # same values; slope 3 at the kink

    loss = lb.Loss(
        name="bad_abs", expr=sp.Abs(nt.yhat - nt.y), inputs=(nt.yhat,), targets=(nt.y,), torch_fn=bad_abs
    )
    report = lb.crosscheck(loss, points=([[0.5]], [[0.5]]))
    assert not report["subgradient at kinks"].passed  # autograd says 3: outside [-1, 1]


def test_finite_differences_leave_out_sampled_points_within_a_step_of_a_kink():
    """gradcheck's step of 1e-6 across a kink compares a one-sided slope with a central difference.

    Seed 1930 samples a triplet 1.9e-7 from the hinge's kink (found by hypothesis); that point
    is left out of gradcheck (its gradient is still compared with SymPy's), the rest pass.
    """
    from lossbook.check import _near_switch, _switches

    loss = lb.get("hinge")
    switches = _switches(loss, loss.substitutions())
    assert _near_switch(switches, np.array([1 - 5e-7]), np.array([1.0]), 2e-6)  # yz = 1 is the kink
    assert not _near_switch(switches, np.array([0.5]), np.array([1.0]), 2e-6)
    assert not _near_switch(None, np.array([0.5]), np.array([1.0]), 2e-6)
    report = lb.crosscheck("triplet_margin_cosine", n=6, seed=1930)
    report.assert_ok()
    assert report["finite differences"].points == 5
    assert report["gradient"].points == 6 + len(lb.get("triplet_margin_cosine").edges)


def test_student_t_with_one_degree_of_freedom_is_cauchy():
    mu = torch.linspace(-5, 5, 11, dtype=torch.float64)[:, None]
    y = torch.full_like(mu, 0.7)
    cauchy = -torch.distributions.Cauchy(mu[:, 0], torch.tensor(2.0, dtype=torch.float64)).log_prob(y[:, 0])
    torch.testing.assert_close(lb.get("student_t_nll").pytorch(mu, y, df=1.0, scale=2.0), cauchy)


def test_student_t_is_convex_only_inside_b_sqrt_nu():
    loss = lb.get("student_t_nll")
    second = lb.derive(loss, order=2)[0, 0]
    d = sp.Symbol("d", positive=True)
    second = sp.simplify(second.subs(nt.y, nt.mu + d))
    roots = sp.solve(sp.numer(sp.together(second)), d)
    assert roots == [nt.b * sp.sqrt(nt.nu)]


def test_pinball_autograd_at_the_kink_splits_the_gradient():
    g = lb.get("pinball").gradient([[0.5]], [[0.5]], quantile=0.9)
    assert float(g[0, 0]) == pytest.approx(0.5 - 0.9)


def test_assert_equivalent_returns_the_constant_and_rejects_dependence():
    nll = (nt.y - nt.yhat) ** 2 / (2 * nt.sigma**2) + sp.log(2 * sp.pi * nt.sigma**2) / 2
    constant = lb.assert_equivalent(nll, lb.get("mse").expr, nt.yhat, scale=1 / (2 * nt.sigma**2))
    lb.assert_same(constant, sp.log(2 * sp.pi * nt.sigma**2) / 2)
    with pytest.raises(AssertionError, match=r"the remainder depends on ŷ"):
        lb.assert_equivalent(nll, lb.get("mse").expr, nt.yhat)
    with pytest.raises(ValueError, match="scale must be positive, got -1"):
        lb.assert_equivalent(nll, lb.get("mse").expr, nt.yhat, scale=-1)


def test_weighted_cross_entropy_mean_divides_by_the_sum_of_weights():
    """The notation page's statement about PyTorch's 'mean' with class weights."""
    z = torch.tensor(np.random.default_rng(0).normal(size=(4, 3)))
    y = torch.tensor([0, 1, 2, 1])
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    per_example = F.cross_entropy(z, y, weight=w, reduction="none")
    torch.testing.assert_close(F.cross_entropy(z, y, weight=w), per_example.sum() / w[y].sum())
    torch.testing.assert_close(
        F.nll_loss(torch.log_softmax(z, 1), y, weight=w), per_example.sum() / w[y].sum()
    )
