"""Soft Dice and soft IoU: independent formulas, empty masks, the Dice-IoU relation, bad input."""

from __future__ import annotations

import pytest
import torch

import lossbook as lb
from lossbook.family_overlap import soft_dice_loss, soft_iou_loss


def _sets(seed=0, shape=(64, 10)):
    g = torch.Generator().manual_seed(seed)
    z = 4 * torch.randn(shape, generator=g, dtype=torch.float64)
    y = (torch.rand(shape, generator=g, dtype=torch.float64) < 0.3).double()
    return z, y


def test_hard_masks_give_the_set_dice_and_jaccard():
    """Saturated logits make p a 0/1 mask: the losses are 1 - Dice and 1 - Jaccard of the sets."""
    a = torch.tensor([[1, 1, 0, 0, 1]], dtype=torch.float64)
    b = torch.tensor([[1, 0, 0, 1, 1]], dtype=torch.float64)
    z = 200 * (2 * a - 1)
    inter, union = 2.0, 4.0  # |A ∩ B| and |A ∪ B|, counted by hand
    assert float(soft_dice_loss(z, b, smooth=1e-9)) == pytest.approx(1 - 2 * inter / (3 + 3), abs=1e-9)
    assert float(soft_iou_loss(z, b, smooth=1e-9)) == pytest.approx(1 - inter / union, abs=1e-9)


def test_jaccard_is_dice_over_two_minus_dice_without_smoothing():
    z, y = _sets()
    y[:, 0] = 1.0  # no empty target
    dice = 1 - soft_dice_loss(z, y, smooth=1e-12)
    iou = 1 - soft_iou_loss(z, y, smooth=1e-12)
    torch.testing.assert_close(iou, dice / (2 - dice), rtol=1e-9, atol=1e-9)


def test_empty_target_and_empty_prediction_give_zero_and_finite_gradients():
    z = torch.full((2, 5), -40.0, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(2, 5, dtype=torch.float64)
    for fn in (soft_dice_loss, soft_iou_loss):
        out = fn(z, y, smooth=1.0)
        assert torch.all(out.abs() < 1e-12)
        (g,) = torch.autograd.grad(out.sum(), z)
        assert torch.isfinite(g).all()


def test_empty_target_loss_is_one_minus_s_over_mass_plus_s():
    z, _ = _sets(1, (8, 6))
    y = torch.zeros_like(z)
    mass = torch.sigmoid(z).sum(-1)
    torch.testing.assert_close(soft_dice_loss(z, y, smooth=2.0), 1 - 2.0 / (mass + 2.0))
    torch.testing.assert_close(soft_iou_loss(z, y, smooth=2.0), 1 - 2.0 / (mass + 2.0))


def test_registry_entries_equal_the_functions_on_three_pixels():
    z, y = _sets(2, (16, 3))
    for name, fn in (("soft_dice", soft_dice_loss), ("soft_iou", soft_iou_loss)):
        torch.testing.assert_close(lb.get(name).pytorch(z, y, smooth=0.5), fn(z, y, smooth=0.5))
        lb.crosscheck(name, n=8, smooth=0.01).assert_ok()


@pytest.mark.parametrize("fn", [soft_dice_loss, soft_iou_loss])
@pytest.mark.parametrize(
    ("z", "y", "smooth", "error", "match"),
    [
        (torch.zeros(2, 3), torch.zeros(2, 4), 1.0, ValueError, r"same shape .* \(2, 3\) and \(2, 4\)"),
        (torch.zeros(2, 3), torch.zeros(2, 3), 0.0, ValueError, "smooth must be a number > 0 .* 0.0"),
        (torch.zeros(2, 3), torch.zeros(2, 3), -1.0, ValueError, "smooth"),
        (torch.zeros(2, 3), torch.zeros(2, 3), float("nan"), ValueError, "smooth"),
        ([[0.0]], torch.zeros(1, 1), 1.0, TypeError, "z and y must be torch tensors"),
    ],
)
def test_bad_input(fn, z, y, smooth, error, match):
    with pytest.raises(error, match=match):
        fn(z, y, smooth=smooth)


def test_registry_rejects_bad_smooth_and_non_binary_masks():
    with pytest.raises(ValueError, match="smooth must satisfy smooth > 0"):
        lb.get("soft_dice").pytorch([[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]], smooth=0.0)
    with pytest.raises(ValueError, match="labels in"):
        lb.get("soft_iou").pytorch([[0.0, 0.0, 0.0]], [[0.5, 0.0, 0.0]])
