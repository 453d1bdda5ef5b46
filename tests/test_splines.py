"""The NSF spline: zuko's monotonic RQ spline with a transposed softmax, equal to zuko's to rounding."""

import torch
import torch.nn.functional as F
from zuko.transforms import MonotonicRQSTransform

from lwflow.splines import RQSplineTransform, softmax_last


def test_softmax_last_matches_torch_softmax():
    x = 3 * torch.randn(1024, 2, 23, generator=torch.Generator().manual_seed(0))[..., :8]
    torch.testing.assert_close(softmax_last(x), F.softmax(x, dim=-1), rtol=0, atol=1e-7)
    assert torch.allclose(softmax_last(x).sum(-1), torch.ones(1024, 2))


def test_spline_matches_zuko_values_inverse_and_gradients():
    generator = torch.Generator().manual_seed(1)
    params = [torch.randn(512, 2, k, generator=generator, requires_grad=True) for k in (8, 8, 7)]
    x = 6 * torch.rand(512, 2, generator=generator) - 3
    ours, zukos = RQSplineTransform(*params), MonotonicRQSTransform(*params)
    (y_ours, ladj_ours), (y_zuko, ladj_zuko) = ours.call_and_ladj(x), zukos.call_and_ladj(x)
    torch.testing.assert_close(y_ours, y_zuko, rtol=0, atol=1e-5)
    torch.testing.assert_close(ladj_ours, ladj_zuko, rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.inv(y_ours), x, rtol=0, atol=1e-4)
    grads_ours = torch.autograd.grad(ladj_ours.sum() + y_ours.sum(), params)
    grads_zuko = torch.autograd.grad(ladj_zuko.sum() + y_zuko.sum(), params)
    for g_ours, g_zuko in zip(grads_ours, grads_zuko, strict=True):
        torch.testing.assert_close(g_ours, g_zuko, rtol=1e-4, atol=1e-5)
    assert not torch.equal(x, y_ours)  # the random spline is not the identity: the check has teeth
