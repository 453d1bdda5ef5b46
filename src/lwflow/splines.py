r"""zuko's monotonic rational-quadratic spline with a faster bin softmax on the CPU.

The spline of a neural spline flow turns unconstrained bin widths and heights
:math:`a \in \mathbb R^{\ldots \times K}` into bin fractions
:math:`\operatorname{softmax}(a)_k = e^{a_k} / \sum_j e^{a_j}`.  torch's CPU softmax over a
last dimension shorter than one AVX-512 vector (here :math:`K = 8`) runs a scalar loop: for a
(1024, 2, 8) batch it costs 0.3 ms forward and 0.2 ms backward, a fifth of an NSF training
step.  Taking the same softmax over the first axis of the transposed :math:`(K, n)` view
vectorises across rows instead (about 3x faster forward and backward) and agrees with it to
float rounding (:math:`\le 10^{-7}`).  Everything else is zuko's
:class:`~zuko.transforms.MonotonicRQSTransform` unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from zuko.transforms import MonotonicRQSTransform, Transform


def softmax_last(x: torch.Tensor) -> torch.Tensor:
    """``softmax(x, dim=-1)``, computed across the rows of the transposed ``(K, n)`` view."""
    return F.softmax(x.reshape(-1, x.shape[-1]).T, dim=0).T.reshape(x.shape)


class RQSplineTransform(MonotonicRQSTransform):
    """:class:`~zuko.transforms.MonotonicRQSTransform` whose bin fractions use :func:`softmax_last`;
    same arguments, parametrisation and knots (:math:`x_k, y_k` on :math:`[-B, B]`)."""

    def __init__(
        self,
        widths: torch.Tensor,
        heights: torch.Tensor,
        derivatives: torch.Tensor,
        bound: float = 5.0,
        slope: float = 1e-3,
        **kwargs,
    ) -> None:
        Transform.__init__(self, **kwargs)

        widths = widths / (1 + abs(2 * widths / math.log(slope)))
        heights = heights / (1 + abs(2 * heights / math.log(slope)))
        derivatives = derivatives / (1 + abs(derivatives / math.log(slope)))

        widths = F.pad(softmax_last(widths), (1, 0), value=0)
        heights = F.pad(softmax_last(heights), (1, 0), value=0)
        derivatives = F.pad(derivatives, (1, 1), value=0)

        self.horizontal = bound * (2 * torch.cumsum(widths, dim=-1) - 1)
        self.vertical = bound * (2 * torch.cumsum(heights, dim=-1) - 1)
        self.derivatives = torch.exp(derivatives)
