"""The NSF spline: zuko's monotonic RQ spline with fewer operators, equal to zuko's to rounding."""

import torch
import torch.nn.functional as F
from zuko.transforms import MonotonicRQSTransform

from lwflow.models.splines import RQSplineTransform, softmax_last


def _spline_inputs(n: int, dtype: torch.dtype, seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Random unconstrained widths, heights and slopes, and points inside and outside [-5, 5]."""
    generator = torch.Generator().manual_seed(seed)
    params = [torch.randn(n, 2, k, generator=generator, dtype=dtype).requires_grad_() for k in (8, 8, 7)]
    x = (14 * torch.rand(n, 2, generator=generator, dtype=dtype) - 7).requires_grad_()
    return params, x


def test_softmax_last_matches_torch_softmax():
    """Equal to rounding: the two reduce along different memory layouts, whose vectorised kernels
    round differently by CPU (2.4e-7, two float32 steps at 1, on an AMD EPYC; under 1e-7 elsewhere)."""
    x = 3 * torch.randn(1024, 2, 23, generator=torch.Generator().manual_seed(0))[..., :8]
    torch.testing.assert_close(softmax_last(x), F.softmax(x, dim=-1), rtol=0, atol=4 * torch.finfo(x.dtype).eps)
    assert torch.allclose(softmax_last(x).sum(-1), torch.ones(1024, 2))


def test_spline_matches_zuko_knots_values_inverse_and_gradients():
    """In float64 the two agree to rounding; in float32 ours is as close to float64 as zuko's."""
    params, x = _spline_inputs(512, torch.float64, seed=1)
    ours, zukos = RQSplineTransform(*params), MonotonicRQSTransform(*params)
    for mine, theirs in [(ours.horizontal, zukos.horizontal), (ours.vertical, zukos.vertical)]:
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-12)
    torch.testing.assert_close(ours.derivatives, zukos.derivatives, rtol=1e-12, atol=0)
    (y_ours, ladj_ours), (y_zuko, ladj_zuko) = ours.call_and_ladj(x), zukos.call_and_ladj(x)
    torch.testing.assert_close(y_ours, y_zuko, rtol=0, atol=1e-10)
    torch.testing.assert_close(ladj_ours, ladj_zuko, rtol=0, atol=1e-10)
    torch.testing.assert_close(ours(x), y_zuko, rtol=0, atol=1e-10)
    torch.testing.assert_close(ours.inv(y_ours), x, rtol=0, atol=1e-8)
    inputs = [*params, x]
    grads_ours = torch.autograd.grad(ladj_ours.sum() + (y_ours**2).sum(), inputs)
    grads_zuko = torch.autograd.grad(ladj_zuko.sum() + (y_zuko**2).sum(), inputs)
    for g_ours, g_zuko in zip(grads_ours, grads_zuko, strict=True):
        torch.testing.assert_close(g_ours, g_zuko, rtol=1e-9, atol=1e-9)
    outside = x.detach().abs() > 5
    assert outside.any() and (~outside).any()  # both branches are exercised
    assert torch.equal(y_ours[outside], x[outside]) and not torch.equal(y_ours, x)

    single = [p.detach().float() for p in params]
    y32, ladj32 = RQSplineTransform(*single).call_and_ladj(x.detach().float())
    torch.testing.assert_close(y32.double(), y_zuko.detach(), rtol=0, atol=1e-4)
    torch.testing.assert_close(ladj32.double(), ladj_zuko.detach(), rtol=0, atol=1e-4)


def test_written_out_gradient_passes_gradcheck():
    params, x = _spline_inputs(32, torch.float64, seed=2)

    def spline(*inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return RQSplineTransform(*inputs[:3]).call_and_ladj(inputs[3])

    assert torch.autograd.gradcheck(spline, (*params, x))


def test_spline_does_not_import_sympy(modules_imported_by):
    code = (
        "import torch; from lwflow.models.splines import RQSplineTransform\n"
        "p = [torch.randn(4, 2, k, requires_grad=True) for k in (8, 8, 7)]\n"
        "y, ladj = RQSplineTransform(*p).call_and_ladj(torch.randn(4, 2)); (y.sum() + ladj.sum()).backward()\n"
    )
    modules = modules_imported_by(code)
    assert "lwflow.models.splines" in modules and "sympy" not in modules
