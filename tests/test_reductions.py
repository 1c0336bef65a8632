"""lossbook.reductions: measured denominators of PyTorch's 'mean', and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import lossbook as lb
from lossbook.reductions import DenominatorTable, measure


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_elementwise_mean_divides_by_every_element(n, c, seed):
    rng = np.random.default_rng(seed)
    x, t = (torch.tensor(rng.standard_normal((n, c)) + 3.0) for _ in range(2))
    row = measure("mse", "elements", n * c, lambda r: F.mse_loss(x, t, reduction=r))
    assert row.ok
    assert row.measured == pytest.approx(n * c, rel=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_weighted_cross_entropy_divides_by_the_weights_of_counted_targets(seed):
    rng = np.random.default_rng(seed)
    logits = torch.tensor(rng.standard_normal((12, 4)))
    labels = rng.integers(0, 4, 12)
    labels[:3] = -100
    weight = rng.uniform(0.5, 2.0, 4)
    stated = float(sum(weight[k] for k in labels if k != -100))  # by hand, from the documented rule
    labels_t, weight_t = torch.tensor(labels), torch.tensor(weight)
    row = measure(
        "ce", "weights", stated, lambda r: F.cross_entropy(logits, labels_t, weight=weight_t, reduction=r)
    )
    assert row.ok
    wrong = measure(
        "ce", "N", 12.0, lambda r: F.cross_entropy(logits, labels_t, weight=weight_t, reduction=r)
    )
    assert not wrong.ok


def test_batchmean_divides_by_the_batch_size():
    logq = torch.log_softmax(torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]], dtype=torch.float64), dim=1)
    q = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.4, 0.0]], dtype=torch.float64)
    row = measure("kl", "N", 2, lambda r: F.kl_div(logq, q, reduction=r), mean="batchmean")
    assert row.ok
    with pytest.warns(UserWarning, match="batchmean"):  # PyTorch warns that 'mean' is not the KL divergence
        assert measure("kl", "N·C", 6, lambda r: F.kl_div(logq, q, reduction=r)).ok


def test_table_asserts_every_row_and_renders():
    good = measure(
        "a",
        "$N$",
        3,
        lambda r: F.l1_loss(
            torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), reduction=r
        ),
    )
    bad = measure(
        "b",
        "$N$",
        4,
        lambda r: F.l1_loss(
            torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), reduction=r
        ),
    )
    DenominatorTable([good]).assert_ok()
    with pytest.raises(AssertionError, match="b: stated 4, PyTorch 3"):
        DenominatorTable([good, bad]).assert_ok()
    text = DenominatorTable([good, bad])._repr_markdown_()
    assert text.count("\n") == 3
    assert "**no**" in text


def _mse(r):
    return F.mse_loss(torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), reduction=r)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fn": None}, TypeError, "fn must be a function"),
        ({"mean": "average"}, ValueError, "mean must be one of"),
        ({"stated": 0}, ValueError, "stated must be a positive number"),
        ({"stated": float("nan")}, ValueError, "stated must be a positive number"),
        ({"fn": lambda r: np.ones(3)}, TypeError, "floating torch.Tensor"),
        ({"fn": lambda r: _mse("sum")}, ValueError, "unreduced losses"),
        (
            {"fn": lambda r: torch.zeros(3, dtype=torch.float64) if r == "none" else _mse(r)},
            ValueError,
            "add up",
        ),
        (
            {
                "fn": lambda r: F.mse_loss(
                    torch.zeros(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64), reduction=r
                )
            },
            ValueError,
            "undefined",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(kwargs, error, match):
    args = {"call": "c", "rule": "r", "stated": 3, "fn": _mse, **kwargs}
    with pytest.raises(error, match=match):
        measure(**args)


def test_exported_at_the_top_level():
    assert lb.reductions.measure is measure
