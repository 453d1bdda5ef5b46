r"""zuko's monotonic rational-quadratic spline, with fewer operators per training step.

The spline of a neural spline flow (Durkan et al. 2019) turns unconstrained bin widths
and heights :math:`a \in \mathbb R^{\ldots \times K}` into bin fractions
:math:`f = \operatorname{softmax}(a)`, knots :math:`x_j = -B + 2B \sum_{i<j} f_i`
(:math:`j = 0..K`, the same for :math:`y_j`) and knot slopes :math:`\delta_j > 0`
(:math:`\delta_0 = \delta_K = 1`).  In bin :math:`k` with :math:`w = x_{k+1} - x_k`,
:math:`h = y_{k+1} - y_k`, :math:`s = h / w` and :math:`z = (x - x_k) / w`,

.. math::  y = y_k + h\,\frac{s z^2 + \delta_k z(1-z)}{D}, \qquad
           D = s + (\delta_k + \delta_{k+1} - 2s)\, z(1-z),

.. math::  \log\frac{dy}{dx} = 2\log s + \log\big(\delta_{k+1} z^2 + 2 s z(1-z)
           + \delta_k (1-z)^2\big) - 2 \log D,

and the identity outside :math:`[-B, B]`.  These are zuko's
:class:`~zuko.transforms.MonotonicRQSTransform` values; three things make a training step
cheaper on the CPU, where a spline layer's cost is operator dispatch, not arithmetic:

* the softmax over the short last axis runs over the transposed :math:`(K, n)` view
  (:func:`softmax_last`; torch's CPU softmax over fewer than 16 floats is a scalar loop);
* the knots are one matrix product :math:`f M - B` with :math:`M_{ij} = 2B\,[i < j]`
  instead of a padded cumulative sum (whose backward flips twice);
* value and log-derivative are one autograd node (:class:`RationalQuadratic`) with the
  gradient written out, instead of about forty recorded elementwise operators; its knots
  are gathered without zuko's ``broadcast``, whose ``torch.broadcast_shapes`` imports
  sympy (0.4 s in every process that evaluates an NSF).

Values, log-determinants, inverses and gradients agree with zuko's to float rounding
(``tests/test_splines.py``, with a float64 ``gradcheck`` of the written-out gradient).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import FunctionCtx
from zuko.transforms import MonotonicRQSTransform, Transform


def softmax_last(x: torch.Tensor) -> torch.Tensor:
    """``softmax(x, dim=-1)``, computed across the rows of the transposed ``(K, n)`` view."""
    return F.softmax(x.reshape(-1, x.shape[-1]).T, dim=0).T.reshape(x.shape)


@functools.lru_cache(maxsize=16)
def knot_map(bins: int, bound: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:math:`M` of shape ``(bins, bins + 1)`` with :math:`M_{ij} = 2B` for :math:`i < j`, else 0,
    so that ``fractions @ M - bound`` are the knots :math:`-B = x_0 < \\dots < x_K = B`."""
    return torch.full((bins, bins + 1), 2 * bound, dtype=dtype, device=device).triu(1)


class RationalQuadratic(torch.autograd.Function):
    """The spline value and log-derivative at ``x`` in its bin (knots ``x0 < x1``, ``y0 < y1``,
    slopes ``d0, d1``); ``inside`` false: the identity.  Backward is the chain rule through
    :math:`z, s, h, w` written out (module docstring for the formulas)."""

    @staticmethod
    def forward(  # autograd's signature: one tensor per argument
        ctx: FunctionCtx,
        x: torch.Tensor,
        x0: torch.Tensor,
        x1: torch.Tensor,
        y0: torch.Tensor,
        y1: torch.Tensor,
        d0: torch.Tensor,
        d1: torch.Tensor,
        inside: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w, h = x1 - x0, y1 - y0
        s = h / w
        z = torch.where(inside, (x - x0) / w, 0.0)
        zz = z * (1 - z)
        den = s + (d0 + d1 - 2 * s) * zz
        ratio = (s * z * z + d0 * zz) / den
        slope_sum = d1 * z * z + 2 * s * zz + d0 * (1 - z) ** 2
        y = torch.where(inside, y0 + h * ratio, x)
        ladj = torch.where(inside, 2 * s.log() + slope_sum.log() - 2 * den.log(), 0.0)
        ctx.save_for_backward(z, w, h, s, d0, d1, den, ratio, slope_sum, inside)
        return y, ladj

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor, grad_ladj: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        z, w, h, s, d0, d1, den, ratio, slope_sum, inside = ctx.saved_tensors
        g_y = torch.where(inside, grad_y, 0.0)
        g_ladj = torch.where(inside, grad_ladj, 0.0)
        zz, one_minus_2z = z * (1 - z), 1 - 2 * z
        g_num = g_y * h / den  # numerator s z^2 + d0 z(1-z)
        g_den = -g_num * ratio - 2 * g_ladj / den
        g_sum = g_ladj / slope_sum  # slope_sum = d1 z^2 + 2 s z(1-z) + d0 (1-z)^2
        g_z = (
            g_num * (2 * s * z + d0 * one_minus_2z)
            + g_den * (d0 + d1 - 2 * s) * one_minus_2z
            + 2 * g_sum * (d1 * z + s * one_minus_2z - d0 * (1 - z))
        )
        g_s = g_num * z * z + g_den * (1 - 2 * zz) + 2 * g_sum * zz + 2 * g_ladj / s
        g_d0 = (g_num + g_den) * zz + g_sum * (1 - z) ** 2
        g_d1 = g_den * zz + g_sum * z * z
        g_h = g_y * ratio + g_s / w  # s = h / w
        g_w = -(g_s * s + g_z * z) / w  # z = (x - x0) / w
        g_x = torch.where(inside, g_z / w, grad_y)
        return g_x, -g_z / w - g_w, g_w, g_y - g_h, g_h, g_d0, g_d1, None


class RQSplineTransform(MonotonicRQSTransform):
    """:class:`~zuko.transforms.MonotonicRQSTransform` with the same arguments, parametrisation
    and knots, built and evaluated with fewer operators (module docstring); its inverse is
    zuko's, on the knots gathered by :meth:`bin`."""

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
        squash = -2 / math.log(slope)  # zuko's a / (1 + |2a / log slope|), |.| / 2 for the slopes
        widths = widths / (1 + squash * widths.abs())
        heights = heights / (1 + squash * heights.abs())
        derivatives = derivatives / (1 + 0.5 * squash * derivatives.abs())
        knots = knot_map(widths.shape[-1], float(bound), widths.dtype, widths.device)
        self.horizontal = softmax_last(widths) @ knots - bound
        self.vertical = softmax_last(heights) @ knots - bound
        self.derivatives = F.pad(derivatives.exp(), (1, 1), value=1.0)

    def _knots(self, k: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Whether bin ``k`` exists, and its knots ``x0, x1, y0, y1, d0, d1``."""
        bins = self.horizontal.shape[-1] - 1
        inside = (k >= 0) & (k < bins)
        k = k.clamp(0, bins - 1)
        index = torch.stack((k, k + 1), dim=-1)
        shape = (*k.shape, bins + 1)
        x0, x1 = self.horizontal.expand(shape).gather(-1, index).unbind(-1)
        y0, y1 = self.vertical.expand(shape).gather(-1, index).unbind(-1)
        d0, d1 = self.derivatives.expand(shape).gather(-1, index).unbind(-1)
        return inside, x0, x1, y0, y1, d0, d1

    def bin(self, k: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inside, x0, x1, y0, y1, d0, d1 = self._knots(k)
        return inside, x0, x1, y0, y1, d0, d1, (y1 - y0) / (x1 - x0)

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return self.call_and_ladj(x)[0]

    def call_and_ladj(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inside, *knots = self._knots(self.searchsorted(self.horizontal, x) - 1)
        return RationalQuadratic.apply(x, *knots, inside)
