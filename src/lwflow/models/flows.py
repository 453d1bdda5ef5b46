"""Flows in standardised coordinates with a K-mode Gaussian-mixture base (normflows, zuko).

The model density of a parameter vector :math:`\\theta` is

.. math::  \\log q(\\theta) = \\log q_u\\big((\\theta - m)/s\\big) - \\textstyle\\sum_j \\log s_j,

where :math:`m, s` are the weighted mean and standard deviation of the training samples
and :math:`q_u` is a normflows ``NormalizingFlow`` with a trainable diagonal Gaussian
mixture base with ``n_modes`` components placed at k-means centres of weight-resampled
samples, and one of three layer stacks:

* ``realnvp``: affine coupling blocks, :math:`u_2 \\mapsto u_2 e^{s(u_1)} + t(u_1)` with
  :math:`s` bounded by ``SCALE_BOUND``, alternating with a swap of the halves;
* ``maf``: masked autoregressive affine layers (zuko), :math:`z_i = (u_i - \\mu_i(u_{<i}))
  e^{-\alpha_i(u_{<i})}`, alternating orders; they contract and expand, unlike normflows'
  ``MaskedAffineAutoregressive`` whose scale is bounded near 1 (see ``tests/test_flows.py``);
* ``nsf``: the same autoregressive layers with monotonic rational-quadratic splines on
  :math:`[-5, 5]` (identity outside), a neural spline flow (zuko's spline, faster softmax:
  :mod:`lwflow.models.splines`).

``rbig`` (:mod:`lwflow.models.rbig`) is fitted, not trained, and shares only the checkpoint
format (every model offers :class:`lwflow.models.density.DensityModel`).

Example::

    >>> u = np.random.default_rng(0).normal(size=(1000, 2))
    >>> architecture = FlowArchitecture(arch="realnvp", n_modes=3, n_layers=8, hidden_units=64)
    >>> model = build_flow(architecture, np.zeros(2), np.ones(2), init_mixture_base(u, np.ones(len(u)), 3, seed=0))
    >>> model.log_prob(u[:4]).shape, model.sample(5, seed=1).shape
    ((4,), (5, 2))
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import normflows as nf
import numpy as np
import torch
import zuko
from torch import nn

if TYPE_CHECKING:  # imported where an RBIG is loaded: scipy.special costs 0.2 s that flow-only jobs skip
    from lwflow.models.density import DensityModel
    from lwflow.models.rbig import RBIG
    from lwflow.models.support import TruncatedModel

ARCHITECTURES = ("realnvp", "maf", "nsf", "rbig")
SCALE_BOUND = 3.0
SPLINE_BINS = 8
# Rows evaluated at once outside training: a pass over 4096 rows keeps each layer's activations
# in cache; 50 000 rows at once drew MAF samples 3x slower, with the same values.
ROWS_PER_PASS = 4096
ONE_PARAMETER_REALNVP = (
    "realnvp needs at least 2 parameters (its coupling layers transform one half of the coordinates "
    "given the other); for 1 parameter use arch nsf, a stack of monotone splines (measured in "
    "docs/results/one_parameter.md)"
)


@dataclass(frozen=True)
class FlowArchitecture:
    """Everything needed to rebuild a flow's modules (not its trained values)."""

    arch: str
    n_modes: int
    n_layers: int
    hidden_units: int

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {ARCHITECTURES}")
        if self.n_modes < 1:
            raise ValueError(f"base modes must be >= 1, got {self.n_modes}")
        if self.arch == "rbig" and self.n_modes != 1:
            raise ValueError("rbig Gaussianises to one standard normal: use base modes 1 for it")


@dataclass(frozen=True)
class BaseInit:
    """A Gaussian-mixture base: component means, diagonal scales and weights (a flow's initial
    one, or its current one: :meth:`StandardisedFlow.base_mixture`)."""

    loc: np.ndarray  # (K, dim)
    scale: np.ndarray  # (K, dim)
    weights: np.ndarray  # (K,)


def weighted_standardisation(theta: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean :math:`m` and standard deviation :math:`s` per coordinate."""
    w = weights / weights.sum()
    mean = w @ theta
    std = np.sqrt(w @ (theta - mean) ** 2)
    return mean, np.maximum(std, 1e-12)


def init_mixture_base(u: np.ndarray, weights: np.ndarray, n_modes: int, seed: int, n_resample: int = 20000) -> BaseInit:
    """K-means on weight-resampled standardised samples ``u``: centres, cluster scales, shares.

    Resampling :math:`n` points with probability :math:`\\propto w_i` turns the weighted
    sample into an (approximately) unweighted posterior sample; each cluster then gives
    one base component (its centre, per-coordinate standard deviation and share).
    """
    rng = np.random.default_rng(seed)
    resampled = u[rng.choice(len(u), size=n_resample, p=weights / weights.sum())]
    if n_modes == 1:
        labels = np.zeros(n_resample, dtype=int)
    else:
        from sklearn.cluster import KMeans  # 0.75 s to import: only a base of several modes needs it

        labels = KMeans(n_modes, n_init=10, random_state=seed).fit_predict(resampled)
    loc = np.stack([resampled[labels == k].mean(0) for k in range(n_modes)])
    scale = np.stack([resampled[labels == k].std(0) + 1e-3 for k in range(n_modes)])
    shares = np.bincount(labels, minlength=n_modes) / n_resample
    return BaseInit(loc=loc, scale=scale, weights=shares)


def realnvp_layers(dim: int, n_layers: int, hidden_units: int) -> list[nf.flows.Flow]:
    """Affine coupling blocks (sigmoid scale) alternating with a half swap of coordinates."""
    if dim < 2:
        raise ValueError(ONE_PARAMETER_REALNVP)
    conditioner, transformed = (dim + 1) // 2, dim // 2
    layers: list[nf.flows.Flow] = []
    for _ in range(n_layers):
        net = nf.nets.MLP(
            [conditioner, hidden_units, hidden_units, 2 * transformed],
            init_zeros=True,
            output_fn="tanh",
            output_scale=SCALE_BOUND,
        )
        layers.append(nf.flows.AffineCouplingBlock(net, scale_map="exp"))
        layers.append(nf.flows.Permute(dim, mode="swap"))
    return layers


class ZukoLayer(nf.flows.Flow):
    r"""A zuko lazy transform (data -> latent) seen through normflows' ``Flow`` interface.

    normflows' ``inverse`` runs data -> latent and returns :math:`\log|\det \partial z/\partial u|`;
    ``forward`` runs latent -> data and returns :math:`\log|\det \partial u/\partial z|`.
    """

    def __init__(self, transform: zuko.flows.LazyTransform) -> None:
        super().__init__()
        self.transform = transform

    def inverse(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform().call_and_ladj(u)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        transform = self.transform()
        u = transform.inv(z)
        return u, -transform.log_abs_det_jacobian(u, z)


def _autoregressive_layers(dim: int, n_layers: int, hidden_units: int, spline: bool) -> list[nf.flows.Flow]:
    """Masked autoregressive layers (affine or spline), alternating the variable order,
    each initialised to the identity (zero last layer of its conditioner)."""
    from zuko.flows import MaskedAutoregressiveTransform

    from lwflow.models.splines import RQSplineTransform

    univariate = (
        {"univariate": RQSplineTransform, "shapes": [(SPLINE_BINS,), (SPLINE_BINS,), (SPLINE_BINS - 1,)]}
        if spline
        else {}
    )
    layers: list[nf.flows.Flow] = []
    for i in range(n_layers):
        order = torch.arange(dim) if i % 2 == 0 else torch.arange(dim).flip(0)
        transform = MaskedAutoregressiveTransform(
            features=dim, order=order, hidden_features=(hidden_units, hidden_units), **univariate
        )
        if dim == 1:  # zuko's one-feature layer: a univariate map with free parameters, no conditioner
            for phi in transform.phi:
                nn.init.zeros_(phi)
        else:
            nn.init.zeros_(transform.hyper[-1].weight)
            nn.init.zeros_(transform.hyper[-1].bias)
        layers.append(ZukoLayer(transform))
    return layers


class StandardisedFlow(nn.Module):
    """A normflows flow acting on standardised coordinates :math:`u = (\\theta - m)/s`; ``architecture``:
    the architecture, size and base modes it was built with."""

    shift: torch.Tensor  # buffers
    scale: torch.Tensor

    def __init__(
        self,
        flow: nf.NormalizingFlow,
        shift: np.ndarray,
        scale: np.ndarray,
        architecture: FlowArchitecture | None = None,
    ) -> None:
        super().__init__()
        self.flow = flow
        self.architecture = architecture
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    @property
    def dim(self) -> int:
        return int(self.shift.numel())

    def standardise(self, theta: torch.Tensor) -> torch.Tensor:
        return (theta - self.shift) / self.scale

    def log_prob_standardised(self, u: torch.Tensor) -> torch.Tensor:
        """:math:`\\log q(\\theta)` from already standardised ``u`` (the training hot path)."""
        return self.flow.log_prob(u) - torch.log(self.scale).sum()

    def log_prob_tensor(self, theta: torch.Tensor) -> torch.Tensor:
        """:math:`\\log q(\\theta)` of a tensor (differentiable)."""
        return self.log_prob_standardised(self.standardise(theta))

    @torch.no_grad()
    def sample_tensor(self, n: int) -> torch.Tensor:
        """``n`` draws from torch's global generator: the base draws all at once (the random
        stream of normflows' ``sample``), then pushed through the layers ``ROWS_PER_PASS`` rows
        at a time."""
        z, _ = self.flow.q0(n)
        u = torch.cat([self.flow.forward(rows) for rows in z.split(ROWS_PER_PASS)])
        return u * self.scale + self.shift

    def log_prob(self, theta: np.ndarray, chunk: int = ROWS_PER_PASS) -> np.ndarray:
        """:math:`\\log q(\\theta)` per row, in float64, ``chunk`` rows at a time."""
        with torch.no_grad():
            parts = [
                self.log_prob_tensor(torch.as_tensor(theta[i : i + chunk], dtype=torch.float32)).double().numpy()
                for i in range(0, len(theta), chunk)
            ]
        return np.concatenate(parts) if parts else np.empty(0)

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` draws, a function of ``seed`` alone."""
        torch.manual_seed(seed)
        return self.sample_tensor(n).numpy().astype(float)

    @torch.no_grad()
    def latent(self, theta: np.ndarray, chunk: int = ROWS_PER_PASS) -> np.ndarray:
        """The base coordinates :math:`z = T^{-1}((\\theta - m)/s)` of ``theta`` (float64)."""
        rows = [torch.as_tensor(theta[i : i + chunk], dtype=torch.float32) for i in range(0, len(theta), chunk)]
        parts = [self.flow.inverse_and_log_det(self.standardise(part))[0] for part in rows]
        return torch.cat(parts).double().numpy() if parts else np.empty((0, self.dim))

    def base_mode(self, theta: np.ndarray) -> np.ndarray:
        r"""The base component most responsible for each row of ``theta``: with :math:`z` its
        base coordinates (:meth:`latent`), :math:`\arg\max_k\, w_k\, \mathcal N(z; \mu_k,
        \operatorname{diag} \sigma_k^2)` over the base mixture (:meth:`base_mixture`)."""
        z, mixture = self.latent(theta), self.base_mixture()
        log_density = -0.5 * (((z[:, None, :] - mixture.loc) / mixture.scale) ** 2).sum(-1)
        log_density -= np.log(mixture.scale).sum(-1)
        return np.argmax(np.log(mixture.weights) + log_density, axis=1)

    def base_mixture(self) -> BaseInit:
        """The Gaussian-mixture base as it is now: weights, means and diagonal scales."""
        base = self.flow.q0
        return BaseInit(
            loc=base.loc.detach()[0].double().numpy(),
            scale=base.log_scale.detach()[0].double().exp().numpy(),
            weights=torch.softmax(base.weight_scores.detach()[0].double(), 0).numpy(),
        )

    @torch.no_grad()
    def set_base_mixture(self, mixture: BaseInit) -> None:
        """Replace the base's weights, means and scales; the layers stay as they are."""
        base = self.flow.q0
        base.loc.copy_(torch.as_tensor(mixture.loc)[None])
        base.log_scale.copy_(torch.as_tensor(np.log(mixture.scale))[None])
        base.weight_scores.copy_(torch.as_tensor(np.log(mixture.weights))[None])


def build_flow(
    architecture: FlowArchitecture, shift: np.ndarray, scale: np.ndarray, base_init: BaseInit
) -> StandardisedFlow:
    """Construct the flow of ``architecture`` (float32) with its base set from ``base_init``."""
    dim = len(shift)
    base = nf.distributions.GaussianMixture(
        architecture.n_modes, dim, loc=base_init.loc, scale=base_init.scale, weights=base_init.weights, trainable=True
    )
    if architecture.arch == "realnvp":
        layers = realnvp_layers(dim, architecture.n_layers, architecture.hidden_units)
    elif architecture.arch in ("maf", "nsf"):
        layers = _autoregressive_layers(
            dim, architecture.n_layers, architecture.hidden_units, spline=architecture.arch == "nsf"
        )
    else:
        raise ValueError(f"{architecture.arch!r} is not a trained flow; build it with lwflow.models.rbig")
    flow = nf.NormalizingFlow(base, layers)
    return StandardisedFlow(flow.float(), shift, scale, architecture)


def checkpoint_payload(model: DensityModel, architecture: FlowArchitecture) -> dict[str, object]:
    """Tensors and plain values only (so a reader can use ``weights_only=True``): the architecture, the
    trained state and, for a model truncated to the prior's support, the box and its mass."""
    from lwflow.models.support import TruncatedModel

    payload: dict[str, object] = {"spec": asdict(architecture)}
    if isinstance(model, TruncatedModel):
        payload["support"] = model.state()
        model = model.model
    if isinstance(model, StandardisedFlow):
        payload["state_dict"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    else:
        payload["state_dict"] = cast("RBIG", model).state_tensors()
    return payload


def model_from_payload(payload: dict) -> StandardisedFlow | RBIG | TruncatedModel:
    """Rebuild a model from :func:`checkpoint_payload` output."""
    architecture = FlowArchitecture(**payload["spec"])
    state = payload["state_dict"]
    model: StandardisedFlow | RBIG
    if architecture.arch == "rbig":
        from lwflow.models.rbig import RBIG

        model = RBIG.from_state_tensors(state)
    else:
        dim = state["shift"].numel()
        placeholder = BaseInit(
            np.zeros((architecture.n_modes, dim)), np.ones((architecture.n_modes, dim)), np.ones(architecture.n_modes)
        )
        flow = build_flow(architecture, np.zeros(dim), np.ones(dim), placeholder)
        flow.load_state_dict(state)
        model = flow
    if "support" not in payload:
        return model
    from lwflow.models.support import TruncatedModel

    support = dict(payload["support"])
    low, high = np.asarray(support.pop("low"), dtype=float), np.asarray(support.pop("high"), dtype=float)
    return TruncatedModel(model, low, high, **support)


def save_torch(path: Path, payload: dict) -> None:
    """``torch.save`` atomically (a killed job leaves no half-written file)."""
    from lwflow.artefacts import atomic_path

    buffer = io.BytesIO()  # not the temporary file: torch.save records a file's name in the archive
    torch.save(payload, buffer)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(buffer.getvalue())


def load_torch(path: Path) -> dict:
    """``torch.load`` with ``weights_only=True``; a file that holds anything but tensors and
    plain values is refused, naming the file."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable lwflow checkpoint ({type(error).__name__}) and is not trusted: "
            "lwflow loads only tensors and plain values; remove the file and rerun the step that makes it"
        ) from None


def save_checkpoint(path: Path, model: DensityModel, architecture: FlowArchitecture) -> None:
    """Write a model for :func:`load_checkpoint`."""
    save_torch(path, checkpoint_payload(model, architecture))


def load_checkpoint(path: Path) -> StandardisedFlow | RBIG | TruncatedModel:
    """Rebuild a model from :func:`save_checkpoint` output without unpickling arbitrary objects."""
    return model_from_payload(load_torch(path))
