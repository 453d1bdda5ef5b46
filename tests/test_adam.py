"""FusedAdam: the same updates as torch.optim.Adam(fused=True), and no torch._dynamo import."""

import torch

from lwflow.fitting.adam import FusedAdam


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))


def _loss(model: torch.nn.Module, step: int, data: torch.Tensor) -> torch.Tensor:
    """Step 3 leaves the last layer out, so its parameters get no gradient that step."""
    hidden = model[1](model[0](data))
    return (hidden**2).mean() if step == 3 else ((model[2](hidden) - 1.0) ** 2).mean()


def test_updates_match_torch_adam_bit_for_bit_including_steps_without_gradient():
    ours, reference = _model(), _model()
    optimiser = FusedAdam(list(ours.parameters()))
    torch_adam = torch.optim.Adam(reference.parameters(), lr=1.0, fused=True)
    generator = torch.Generator().manual_seed(1)
    for step in range(8):
        data = torch.randn(32, 3, generator=generator)
        learning_rate = 3e-3 * (1 + step) ** -0.5
        for group in torch_adam.param_groups:
            group["lr"] = learning_rate
        torch_adam.zero_grad(set_to_none=True)
        _loss(reference, step, data).backward()
        torch_adam.step()
        optimiser.zero_grad()
        _loss(ours, step, data).backward()
        optimiser.step(learning_rate)
    for mine, theirs in zip(ours.parameters(), reference.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    assert not torch.equal(ours[2].weight, _model()[2].weight)


def test_training_every_flow_does_not_import_dynamo(modules_imported_by):
    """The 0.9 s import FusedAdam exists to avoid; torch.optim.Adam would load it."""
    code = (
        "import numpy as np; from lwflow.fitting.train import train_flow, TrainConfig\n"
        "from lwflow.models.flows import FlowArchitecture\n"
        "theta = np.random.default_rng(0).normal(size=(200, 2))\n"
        "for arch in ('realnvp', 'maf', 'nsf'):\n"
        "    spec = FlowArchitecture(arch=arch, n_modes=2, n_layers=2, hidden_units=8)\n"
        "    train_flow(theta, np.ones(200), spec, TrainConfig(max_steps=2, batch_size=32, eval_every=1), 0)\n"
    )
    modules = modules_imported_by(code)
    assert "lwflow.fitting.train" in modules and "torch._dynamo" not in modules
