"""Likelihood-weighted maximum likelihood for a flow (paper A, eq. 11 and Algorithm 1).

With prior draws :math:`\\theta_i` and weights :math:`w_i \\propto L(\\theta_i)`,

.. math::  \\mathcal L(\\phi) = -\\sum_i \\bar w_i \\log q_\\phi(\\theta_i),
           \\qquad \\bar w_i = w_i / \\textstyle\\sum_j w_j,

is, up to a constant, :math:`\\mathrm{KL}(p(\\theta\\mid D)\\,\\|\\,q_\\phi)`.  Minibatches are
drawn in one of two ways with the same expected gradient:

* ``weighted`` (default): indices drawn with probability :math:`\\bar w_i`, loss
  :math:`-\\frac1B\\sum_b \\log q(\\theta_b)`.  Much lower variance when most weights are tiny.
* ``uniform`` (the paper's Algorithm 1): indices uniform over nonzero-weight samples, loss
  :math:`-\\frac1B\\sum_b (w_b/\\bar w) \\log q(\\theta_b)` with :math:`\\bar w` the mean weight.
* ``full``: every step the whole training share, loss :math:`-\\sum_i \\bar w_i \\log q(\\theta_i)`
  exactly (full-batch gradient descent: one step is one of paper B's "epochs"); ``batch_size`` unused.

Zero-weight samples are dropped first (``0 \\cdot -\\infty`` is NaN).  Adam with a cosine
learning-rate decay, gradient-norm clipping, and early stopping on a held-out weighted
NLL (10% of samples) with patience; the best validation state is returned.  A non-finite
loss restores the best state and halves the learning rate, at most ``max_recoveries`` times.
``device`` ``auto`` trains on the GPU the job was given (CUDA visible, e.g. SLURM's
``--gpus``) where the batch is large enough for it to be faster (:func:`choose_device`), else on
the CPU; minibatch indices are drawn on the CPU either way and the returned model lives on the CPU.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lwflow.fitting.adam import FusedAdam
from lwflow.fitting.modes import ModeMoments
from lwflow.models.flows import (
    BaseInit,
    FlowArchitecture,
    StandardisedFlow,
    build_flow,
    init_mixture_base,
    weighted_standardisation,
)
from lwflow.settings import TrainConfig
from lwflow.weighted_draws import heaviest_share

GPU_MIN_BATCH = 8192
"""The smallest batch at which ``device: auto`` trains on a GPU it sees.  Measured on one H200
beside 16 CPU cores, training steps per second of the default 2-D flows, GPU over the best CPU
setting: 0.69-0.88 at batch 1 024, 1.3-1.6 at 8 192, 4.9-6.6 at 65 536 (issue 36): below a few
thousand draws a step is kernel launches, not arithmetic."""


def choose_device(name: str, batch_size: int) -> tuple[torch.device, str]:
    """The device a training of ``batch_size`` draws per step runs on, and why (for the job log).
    ``cpu`` and ``cuda`` are taken as asked (``cuda`` without a GPU is an error); ``auto`` takes the
    GPU this process sees only for a batch of at least :data:`GPU_MIN_BATCH`.  ``name`` is one of
    the schema's ``training.device`` values (checked by :class:`TrainConfig`)."""
    gpu = torch.cuda.is_available()
    if name == "cuda" and not gpu:
        raise ValueError(
            "training.device is 'cuda' but this job sees no GPU: request one (resource gpu: 1, see "
            "profiles/slurm) or set training.device: auto"
        )
    if name != "auto":
        return torch.device(name), f"training.device is {name!r}"
    if not gpu:
        return torch.device("cpu"), "training.device auto and this job sees no GPU"
    if batch_size < GPU_MIN_BATCH:
        return torch.device("cpu"), (
            f"training.device auto: a batch of {batch_size} draws is below {GPU_MIN_BATCH}, where the CPU "
            "is as fast as the GPU (lwflow.fitting.train.GPU_MIN_BATCH)"
        )
    return torch.device("cuda"), f"training.device auto: a GPU and a batch of {batch_size} >= {GPU_MIN_BATCH} draws"


class TrainingDiverged(RuntimeError):
    """The loss stayed non-finite after every allowed recovery."""


@dataclass
class TrainResult:
    model: StandardisedFlow
    history: pd.DataFrame
    best_step: int
    stopped_early: bool
    device: str
    device_reason: str


def _split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    n_val = max(1, int(round(fraction * n)))
    return order[n_val:], order[:n_val]


def _weighted_nll(model: StandardisedFlow, u: torch.Tensor, w: torch.Tensor) -> float:
    with torch.no_grad():
        return float(-(w * model.log_prob_standardised(u)).sum() / w.sum())


def initial_base(
    u: np.ndarray,
    weights: np.ndarray,
    n_modes: int,
    seed: int,
    shift: np.ndarray,
    scale: np.ndarray,
    mode_moments: ModeMoments | None,
) -> BaseInit:
    r"""The base's starting components in standardised coordinates :math:`u = (\theta - \text{shift}) / \text{scale}`:
    from ``mode_moments`` (one Gaussian per mode in :math:`\theta`, e.g. the fit of
    ``base_modes: auto``: mean :math:`(m - \text{shift}) / \text{scale}`, scale
    :math:`\sqrt{\operatorname{diag} S} / \text{scale}`), else by k-means on ``u``."""
    if mode_moments is None:
        return init_mixture_base(u, weights, n_modes, seed)
    if len(mode_moments.shares) != n_modes:
        raise ValueError(f"{len(mode_moments.shares)} mode moments given for a base of {n_modes} modes")
    sd = np.sqrt(np.diagonal(mode_moments.covariances, axis1=1, axis2=2))
    return BaseInit(loc=(mode_moments.means - shift) / scale, scale=sd / scale, weights=mode_moments.shares)


def train_flow(
    theta: np.ndarray,
    weights: np.ndarray,
    architecture: FlowArchitecture,
    config: TrainConfig,
    seed: int,
    mode_moments: ModeMoments | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
    standardisation: tuple[np.ndarray, np.ndarray] | None = None,
    init: StandardisedFlow | None = None,
) -> TrainResult:
    """Fit ``architecture`` to the weighted sample ``(theta, weights)``; deterministic given ``seed``.
    The base starts from ``mode_moments`` where given (:func:`initial_base`); ``progress``
    receives every evaluation record (step, train and validation loss, learning rate).
    ``standardisation`` is the ``(shift, scale)`` of the coordinates, by default the weighted
    mean and sd of the nonzero-weight draws (:func:`lwflow.fitting.model_fit.fit_model` computes
    it once for the base modes and the flow).  ``init``: a trained flow of ``architecture`` to start from
    (a warm start: its layers, base and standardisation), instead of a new one."""
    keep = weights > 0
    theta, weights = theta[keep], weights[keep]
    if len(theta) < 10:
        raise ValueError(
            f"only {len(theta)} of {len(keep)} draws have nonzero weight, too few to train on: draw more "
            "(n_prior_samples, or adaptive.n_per_round for adaptive rounds) or check the likelihood where it is zero"
        )
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    train_idx, val_idx = _split(len(theta), config.validation_fraction, rng)
    val_idx = heaviest_share(weights, val_idx)
    full_batch = config.batch_sampling == "full"
    device, device_reason = choose_device(config.device, len(train_idx) if full_batch else config.batch_size)
    if init is not None:
        model = copy.deepcopy(init).to(device)
        shift, scale = model.shift.double().cpu().numpy(), model.scale.double().cpu().numpy()
        u_all = (theta - shift) / scale
    else:
        shift, scale = standardisation if standardisation is not None else weighted_standardisation(theta, weights)
        u_all = (theta - shift) / scale
        base_init = initial_base(
            u_all[train_idx], weights[train_idx], architecture.n_modes, seed, shift, scale, mode_moments
        )
        model = build_flow(architecture, shift, scale, base_init).to(device)

    u_train = torch.as_tensor(u_all[train_idx], dtype=torch.float32, device=device)
    w_train = torch.as_tensor(weights[train_idx], dtype=torch.float32)
    u_val = torch.as_tensor(u_all[val_idx], dtype=torch.float32, device=device)
    w_val = torch.as_tensor(weights[val_idx], dtype=torch.float32, device=device)
    cumulative = torch.cumsum(w_train.double(), 0)
    w_train, mean_weight = w_train.to(device), w_train.mean().to(device)
    generator = torch.Generator().manual_seed(seed)

    parameters = list(model.parameters())
    optimiser = FusedAdam(parameters)
    floor = config.final_learning_rate_fraction

    def lr_factor(step: int) -> float:
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step / config.max_steps, 1.0)))

    base_lr, n_updates = config.learning_rate, 0
    best_val, best_step = _weighted_nll(model, u_val, w_val), 0
    best_state = copy.deepcopy(model.state_dict())
    records = [{"step": 0, "train_loss": math.nan, "val_loss": best_val, "lr": config.learning_rate}]
    running, evals_without_gain, recoveries = [], 0, 0
    stopped_early = False
    for step in range(1, config.max_steps + 1):
        if config.batch_sampling == "weighted":
            draws = torch.rand(config.batch_size, generator=generator, dtype=torch.float64) * cumulative[-1]
            idx = torch.searchsorted(cumulative, draws).clamp_max(len(cumulative) - 1).to(device)
            loss = -model.log_prob_standardised(u_train[idx]).mean()
        elif full_batch:
            loss = -(w_train / mean_weight * model.log_prob_standardised(u_train)).mean()
        else:
            idx = torch.randint(len(u_train), (config.batch_size,), generator=generator).to(device)
            loss = -(w_train[idx] / mean_weight * model.log_prob_standardised(u_train[idx])).mean()
        if not torch.isfinite(loss):
            recoveries += 1
            if recoveries > config.max_recoveries:
                history = pd.DataFrame.from_records(records)
                raise TrainingDiverged(
                    f"loss became {loss.item()} at step {step} after {config.max_recoveries} recoveries "
                    f"(learning rate now {base_lr * lr_factor(n_updates):.2e}); last losses:\n"
                    f"{history.tail(5).to_string(index=False)}\nadvice: lower learning_rate, clip weights, "
                    "or raise the number of prior samples"
                )
            model.load_state_dict(best_state)
            base_lr *= 0.5
            continue
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, config.grad_clip_norm, foreach=True)
        optimiser.step(base_lr * lr_factor(n_updates))
        n_updates += 1
        running.append(loss.item())
        if step % config.eval_every == 0 or step == config.max_steps:
            val = _weighted_nll(model, u_val, w_val)
            records.append(
                {
                    "step": step,
                    "train_loss": float(np.mean(running)),
                    "val_loss": val,
                    "lr": base_lr * lr_factor(n_updates),
                }
            )
            running = []
            if progress is not None:
                progress(records[-1])
            if val < best_val - config.min_improvement:
                best_val, best_step, evals_without_gain = val, step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                evals_without_gain += 1
            if evals_without_gain >= config.patience:
                stopped_early = True
                break
    model.load_state_dict(best_state)
    history = pd.DataFrame.from_records(records)
    history["kept"] = history["step"] == best_step  # the state returned
    return TrainResult(model.cpu(), history, best_step, stopped_early, str(device), device_reason)
