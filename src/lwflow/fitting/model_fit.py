"""One model fitted to weighted draws: the stages that :func:`lwflow.fitting.pipeline.fit` and
the adaptive rounds (:mod:`lwflow.fitting.rounds`) share, each a function the workflow's jobs
call as well (one code path):

* :func:`fit_model`: the number of base modes (``n_modes='auto'``:
  :func:`lwflow.fitting.modes.select_n_modes`), a flow trained on the weighted draws
  (:func:`lwflow.fitting.train.train_flow`) or an RBIG fitted to them, restricted to the
  prior's support (:mod:`lwflow.models.support`).

Example::

    >>> from lwflow.fitting.weights import evaluate_log_likelihood, weights_from_log_likelihood
    >>> from lwflow.problems import Problem, UniformBox
    >>> problem = Problem("mine", UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * (t**2).sum(1))
    >>> theta = problem.prior.sample(20_000, np.random.default_rng(0))
    >>> weights = weights_from_log_likelihood(evaluate_log_likelihood(problem, theta))
    >>> config = ModelConfig(n_modes=1, n_layers=2, hidden_units=16)
    >>> fitted = fit_model(theta, weights, problem.prior.support(), config, 0, TrainConfig(max_steps=100))
    >>> fitted.architecture, fitted.model.sample(3, seed=1).shape
    (FlowArchitecture(arch='realnvp', n_modes=1, n_layers=2, hidden_units=16), (3, 2))
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from lwflow.models.density import DensityModel
from lwflow.models.flows import FlowArchitecture
from lwflow.models.support import SUPPORT_DRAWS, TruncatedModel, restrict_to_support
from lwflow.settings import ModelConfig, ModeSelectionConfig, TrainConfig, settings_of
from lwflow.streams import seed_for

__all__ = [
    "FittedModel",
    "fit_model",
    "warm_flow",
]


class Stopwatch:
    """Seconds per stage, each stage timed from the end of the one before (``lap(stage)``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = now - self._last
        self._last = now


@dataclass
class FittedModel:
    """A fitted model and what its fitting shows: the architecture (with the chosen base modes), the
    loss history, the mode-selection record (``rule`` fixed or auto, with BIC values) and
    training facts (best step, early stop, device, RBIG layers)."""

    model: DensityModel
    architecture: FlowArchitecture
    history: pd.DataFrame
    modes: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage: modes, training, support


def warm_flow(fitted: DensityModel | None, architecture: FlowArchitecture) -> Any:
    """The trained flow inside ``fitted`` (through its support's truncation) where it is a flow
    of ``architecture`` (same architecture, layers, units and base modes), else None: a warm start only
    continues a flow of the same shape."""
    flow = getattr(fitted, "model", fitted)
    if fitted is None or architecture.arch == "rbig" or getattr(flow, "architecture", None) != architecture:
        return None
    return flow


def fit_model(
    theta: np.ndarray,
    weights: np.ndarray,
    support: tuple[np.ndarray, np.ndarray],
    model: ModelConfig,
    seed: int,
    training: TrainConfig | None = None,
    rbig: Any = None,
    mode_selection: ModeSelectionConfig | None = None,
    progress: Callable[[dict[str, float]], None] | None = None,
    support_draws: int = SUPPORT_DRAWS,
    warm_start: DensityModel | None = None,
    warm_steps: int = 0,
) -> FittedModel:
    """Stage 4: base modes, then a flow trained (or an RBIG fitted) on ``(theta, weights)``,
    restricted to the box ``support``; deterministic given ``seed``.  ``progress`` receives
    each evaluation record of training.  ``warm_start``: a flow fitted before (an adaptive
    round's); where it has the architecture chosen here (architecture, size and base modes), training
    starts from it and takes ``warm_steps`` steps (:func:`warm_flow`)."""
    from lwflow.fitting.modes import select_n_modes
    from lwflow.fitting.train import train_flow
    from lwflow.models.flows import weighted_standardisation

    training = training or TrainConfig()
    mode_selection = mode_selection or ModeSelectionConfig()
    mode_moments = None
    keep = weights > 0
    watch = Stopwatch()
    shift, scale = weighted_standardisation(theta[keep], weights[keep])  # once: base modes and flow
    if model.n_modes == "auto":
        selection = select_n_modes(
            (theta[keep] - shift) / scale, weights[keep], seed=seed, **dataclasses.asdict(mode_selection)
        )
        modes = {"rule": "auto", **selection.as_dict()}
        n_modes = selection.n_modes if model.arch != "rbig" else 1
        mode_moments = selection.mode_moments(shift, scale) if model.arch != "rbig" else None
    else:
        modes = {"rule": "fixed", "n_modes": int(model.n_modes)}
        n_modes = int(model.n_modes)
    architecture = FlowArchitecture(
        model.arch, n_modes, cast(int, model.n_layers), model.hidden_units
    )  # set by __post_init__
    watch.lap("modes")
    fitted: DensityModel
    if architecture.arch == "rbig":
        from lwflow.models.rbig import RBIG
        from lwflow.settings import RBIGConfig

        gaussianised, layers = RBIG.fit(theta, weights, seed, settings_of(RBIGConfig, rbig))
        history = pd.DataFrame({"step": [r["layer"] for r in layers], "val_loss": [r["val_loss"] for r in layers]})
        history["kept"] = history["step"] == gaussianised.n_layers  # the layers returned
        facts: dict[str, Any] = {"n_layers": gaussianised.n_layers}
        fitted = gaussianised
    else:
        start = warm_flow(warm_start, architecture) if warm_steps > 0 else None
        steps = dataclasses.replace(training, max_steps=warm_steps) if start is not None else training
        result = train_flow(theta, weights, architecture, steps, seed, mode_moments, progress, (shift, scale), start)
        fitted, history = result.model, result.history
        facts = {"best_step": result.best_step, "stopped_early": result.stopped_early, "device": result.device}
        facts["device_reason"] = result.device_reason
        facts |= {"warm_start": start is not None}
    watch.lap("training")
    restricted = restrict_to_support(fitted, *support, seed_for(seed, "support"), support_draws)
    if isinstance(restricted, TruncatedModel):
        facts["support_log_mass"] = restricted.log_mass
    watch.lap("support")
    return FittedModel(restricted, architecture, history, modes, facts, watch.seconds)
