"""Adam through torch's fused CPU/GPU kernel, without ``torch.optim``.

``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time any optimiser method
runs: about 0.9 s per process here, paid by every training job of the workflow.
:class:`FusedAdam` calls the same kernel ``torch.optim.Adam(fused=True)`` calls
(``torch._fused_adam_``) with the same state, so its updates are bit for bit the same
(``tests/test_adam.py`` checks this against ``torch.optim.Adam``).  Per parameter, with
gradient :math:`g_t` at step :math:`t`,

.. math::  m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\qquad
           v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,

.. math::  \\theta_t = \\theta_{t-1} - \\frac{\\eta_t}{1-\\beta_1^t}\\,
           \\frac{m_t}{\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}.

As in ``torch.optim.Adam``, a parameter whose gradient is ``None`` is skipped and its
step count does not advance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class FusedAdam:
    """Adam (no weight decay, no AMSGrad) over ``parameters``, which share one device and
    dtype (one fused kernel call, as for one flow); the learning rate is given to each
    :meth:`step`, so any schedule is a plain function of the step."""

    def __init__(
        self, parameters: Sequence[torch.Tensor], betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8
    ):
        self.parameters = list(parameters)
        self.betas, self.eps = betas, eps
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self, learning_rate: float) -> None:
        """One Adam update with step size ``learning_rate`` of every parameter that has a gradient."""
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        for index, parameter in enumerate(self.parameters):
            if parameter.grad is None:
                continue
            if index not in self.state:
                self.state[index] = (
                    torch.zeros_like(parameter, memory_format=torch.preserve_format),
                    torch.zeros_like(parameter, memory_format=torch.preserve_format),
                    torch.tensor(0.0, dtype=torch.float32, device=parameter.device),
                )
            exp_avg, exp_avg_sq, step = self.state[index]
            params.append(parameter)
            grads.append(parameter.grad)
            exp_avgs.append(exp_avg)
            exp_avg_sqs.append(exp_avg_sq)
            steps.append(step)
        if not params:
            return
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params,
            grads,
            exp_avgs,
            exp_avg_sqs,
            [],
            steps,
            amsgrad=False,
            lr=learning_rate,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )
