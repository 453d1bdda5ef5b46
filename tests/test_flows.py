"""The experts' flows: MAF that contracts and expands, NSF, checkpoints of every architecture."""

import normflows as nf
import numpy as np
import pytest
import torch

from lwflow.models.flows import (
    BaseInit,
    FlowArchitecture,
    _autoregressive_layers,
    build_flow,
    load_checkpoint,
    save_checkpoint,
)
from lwflow.models.rbig import RBIG

WIDE_ENTROPY = float(np.log(2 * np.pi * np.e) + np.log(25.0))  # N(0, 5^2 I) in 2D


def _fit_raw(layers, steps=1500):
    """Maximum likelihood on N(0, 5^2 I) draws, without standardisation: the layers must expand."""
    torch.manual_seed(0)
    model = nf.NormalizingFlow(nf.distributions.DiagGaussian(2, trainable=False), layers)
    data = 5.0 * torch.randn(20000, 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(steps):
        batch = data[torch.randint(len(data), (256,))]
        loss = -model.log_prob(batch).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return float(-model.log_prob(5.0 * torch.randn(20000, 2)).mean())


def test_maf_fits_a_wide_gaussian_within_005_nats():
    nll = _fit_raw(_autoregressive_layers(2, 4, 32, spline=False))
    assert nll == pytest.approx(WIDE_ENTROPY, abs=0.05)


@pytest.mark.slow  # 10 s: the measurement behind lwflow's own MAF
def test_normflows_maf_cannot_expand_to_a_wide_gaussian():
    """Why lwflow's MAF is built on zuko: normflows' bounded scale stays about 1 nat short."""
    layers = [nf.flows.MaskedAffineAutoregressive(2, 32, num_blocks=2) for _ in range(4)]
    assert _fit_raw(layers) > WIDE_ENTROPY + 0.5


@pytest.mark.parametrize("arch", ["maf", "nsf"])
def test_autoregressive_flows_start_at_the_identity_and_invert(arch):
    spec = FlowArchitecture(arch=arch, n_modes=2, n_layers=3, hidden_units=16)
    base = BaseInit(np.array([[-1.0, 0.0], [1.0, 0.0]]), np.ones((2, 2)), np.array([0.5, 0.5]))
    model = build_flow(spec, np.zeros(2), np.ones(2), base)
    u = torch.randn(100, 2)
    for layer in model.flow.flows:
        z, log_det = layer.inverse(u)
        assert torch.allclose(z, u, atol=1e-5) and torch.allclose(log_det, torch.zeros(100), atol=1e-5)
    torch.nn.init.normal_(model.flow.flows[0].transform.hyper[-1].weight, std=0.3)
    layer = model.flow.flows[0]
    z, log_det = layer.inverse(u)
    back, log_det_back = layer.forward(z)
    assert torch.allclose(back, u, atol=1e-4) and torch.allclose(log_det, -log_det_back, atol=1e-4)


def test_a_checkpoint_with_a_pickled_object_is_refused_as_not_trusted(tmp_path):
    """A file that torch's weights_only loader refuses: lwflow names it and does not pass on torch's
    advice to load it with weights_only=False."""
    path = tmp_path / "model.pt"
    torch.save({"payload": SystemExit}, path)  # any object beyond tensors and plain values
    with pytest.raises(ValueError, match=f"{path} is not a readable lwflow checkpoint .* not trusted") as error:
        load_checkpoint(path)
    assert "weights_only=False" not in str(error.value)


@pytest.mark.parametrize("arch", ["realnvp", "maf", "nsf", "rbig"])
def test_checkpoint_round_trip(arch, tmp_path):
    x = np.random.default_rng(0).normal(size=(2000, 2))
    spec = FlowArchitecture(arch=arch, n_modes=1, n_layers=2, hidden_units=8)
    if arch == "rbig":
        model, _ = RBIG.fit(x, np.ones(len(x)), seed=0)
    else:
        base = BaseInit(np.zeros((1, 2)), np.ones((1, 2)), np.ones(1))
        model = build_flow(spec, np.zeros(2), np.ones(2), base)
    save_checkpoint(tmp_path / "model.pt", model, spec)
    loaded = load_checkpoint(tmp_path / "model.pt")
    assert np.allclose(loaded.log_prob(x[:50]), model.log_prob(x[:50]))


def test_rbig_needs_one_base_mode():
    with pytest.raises(ValueError, match="base modes 1"):
        FlowArchitecture(arch="rbig", n_modes=3, n_layers=1, hidden_units=1)


def test_one_mode_flow_jobs_do_not_import_scipy(tmp_path, modules_imported_by):
    """Training, saving and loading a one-mode flow stays clear of scipy (0.2 s per job):
    RBIG, and with it scipy.special, is imported only where an RBIG is fitted or loaded."""
    code = (
        "import numpy as np; from lwflow.fitting.train import train_flow, TrainConfig\n"
        "from lwflow.models.flows import FlowArchitecture, load_checkpoint, save_checkpoint\n"
        "theta = np.random.default_rng(0).normal(size=(200, 2))\n"
        "for arch in ('realnvp', 'maf', 'nsf'):\n"
        "    spec = FlowArchitecture(arch=arch, n_modes=1, n_layers=2, hidden_units=8)\n"
        "    result = train_flow(theta, np.ones(200), spec, TrainConfig(max_steps=2, batch_size=32, eval_every=1), 0)\n"
        f"    save_checkpoint({str(tmp_path)!r} + '/m.pt', result.model, spec)\n"
        f"    load_checkpoint({str(tmp_path)!r} + '/m.pt').sample(10, 0)\n"
    )
    modules = modules_imported_by(code)
    assert "lwflow.models.flows" in modules
    assert not {m for m in modules if m.split(".")[0] in ("scipy", "sklearn")}
