"""Small tools used before training: bias initialisation at the label prior, gradient checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.autograd.gradcheck import GradcheckError

from lossbook.sanity import _args

__all__ = ["gradient_check", "init_output_bias"]


def init_output_bias(
    bias: torch.Tensor, prior: Sequence[float] | float, *, multilabel: bool = False
) -> torch.Tensor:
    """Set an output layer's bias to the best constant: log-odds or log prior.

    * one output (binary): ``prior`` is the share of positives; the bias becomes its log-odds;
    * several outputs, ``multilabel=False`` (softmax over classes): ``prior`` is the class
      distribution; the bias becomes its logarithm;
    * several outputs, ``multilabel=True`` (one sigmoid per label): ``prior`` is the share of
      positives of each label (one value for all, or one per output); each bias becomes its
      log-odds.

    With zero weights the first loss is then the entropy of the label prior; with a logit
    spread s it is higher (the chapter quantifies by how much). Works in place under
    ``torch.no_grad()`` and returns ``bias``.

    >>> init_output_bias(torch.zeros(1), 0.1)
    tensor([-2.1972])
    >>> round(init_output_bias(torch.zeros(3), [0.5, 0.3, 0.2]).exp().sum().item(), 6)
    1.0
    >>> init_output_bias(torch.zeros(2), 0.05, multilabel=True)
    tensor([-2.9444, -2.9444])
    """
    if not isinstance(bias, torch.Tensor) or not bias.is_floating_point():
        raise TypeError(f"bias must be a floating-point tensor, got {type(bias).__name__}")
    with torch.no_grad():
        if bias.numel() == 1 or multilabel:
            rho = _args.shares("prior", prior, bias.numel())
            values = np.log(rho / (1 - rho))
        else:
            values = np.log(_args.prior(prior, bias.numel()))
        bias.copy_(torch.as_tensor(values, dtype=bias.dtype).reshape(bias.shape))
    return bias


def gradient_check(
    fn: Callable[..., torch.Tensor],
    *inputs: torch.Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """``torch.autograd.gradcheck`` in float64 with the book's thresholds; True or a clear error.

    Inputs are copied to float64 (float32 central differences are accurate to about 1e-3
    only, see the chapter "How this book checks itself") and marked as requiring gradients.
    ``eps`` must be > 0 (it is the finite-difference step), ``atol`` and ``rtol`` >= 0.

    >>> gradient_check(lambda x: (x**3).sum(), torch.tensor([1.0, 2.0]))
    True
    >>> gradient_check(lambda x: (x**3).detach().sum() + x.sum(), torch.tensor([1.0, 2.0]))
    Traceback (most recent call last):
    ...
    AssertionError: gradient check failed (eps=1e-06, atol=1e-05, rtol=0.001): Jacobian mismatch for output 0 with respect to input 0, numerical:tensor([[ 4.0000], [13.0000]], dtype=torch.float64) analytical:tensor([[1.], [1.]], dtype=torch.float64)
    """
    eps = _args.positive("eps", eps)
    atol = _args.positive("atol", atol, allow_zero=True)
    rtol = _args.positive("rtol", rtol, allow_zero=True)
    if not inputs:
        raise ValueError("gradient_check needs at least one input tensor")
    prepared = []
    for position, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(
                f"input {position} must be a floating-point tensor, got "
                f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}"
            )
        prepared.append(x.detach().to(torch.float64).requires_grad_(True))
    try:
        return bool(torch.autograd.gradcheck(fn, tuple(prepared), eps=eps, atol=atol, rtol=rtol))
    except GradcheckError as error:
        detail = " ".join(str(error).split())
        raise AssertionError(
            f"gradient check failed (eps={eps:g}, atol={atol:g}, rtol={rtol:g}): {detail}"
        ) from None
    except RuntimeError as error:
        if "dtype" not in str(error) and "Double" not in str(error) and "Float" not in str(error):
            raise
        raise TypeError(
            "gradient_check runs in float64: convert modules and captured tensors with .double() "
            f"first (PyTorch said: {' '.join(str(error).split())[:200]})"
        ) from None
