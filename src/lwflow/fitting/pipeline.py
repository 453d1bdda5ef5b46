"""``fit(problem) -> Posterior``: the likelihood-weighted flow of paper A as one call.

The stages, each a function the workflow's jobs call as well (one code path):

1. ``n_prior_samples`` draws :math:`\\theta_i \\sim \\pi` (:meth:`Prior.sample`);
2. their log-likelihoods :math:`\\ell_i`, in batches with progress
   (:func:`evaluate_log_likelihood`), and the evidence :math:`\\hat Z` from them
   (:func:`lwflow.fitting.weights.log_evidence`);
3. weights :math:`w_i \\propto e^{\\ell_i}`, clipped, stopped below the ESS floor
   (:func:`lwflow.fitting.weights.clipped_weights`);
4. the number of base modes (``n_modes='auto'``: :func:`lwflow.fitting.modes.select_n_modes`), a
   flow trained on the weighted draws (:func:`lwflow.fitting.train.train_flow`) or an RBIG fitted
   to them, restricted to the prior's support (:mod:`lwflow.models.support`): :func:`fit_model`;
5. the flow's base mixture refined on fresh draws of the flow (:mod:`lwflow.fitting.refine`);
6. the check of the final density and its verdict (:mod:`lwflow.fitting.verdict`).

Example::

    posterior = fit(problem, n_prior_samples=100_000, seed=0)
    theta = posterior.sample(10_000)
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd

from lwflow.fitting.modes import VALLEY_RATIO
from lwflow.fitting.posterior import Posterior
from lwflow.fitting.refine import RefineConfig, refine_base
from lwflow.fitting.train import TrainConfig
from lwflow.fitting.verdict import CheckConfig, advice_for, check_posterior
from lwflow.fitting.weights import (
    ClippingConfig,
    check_log_likelihood,
    clipped_weights,
    ess_of_log_weights,
    log_evidence,
)
from lwflow.models.flows import DensityModel, FlowSpec
from lwflow.models.support import SUPPORT_DRAWS, restrict_to_support
from lwflow.problems import Problem
from lwflow.settings import SettingsError, check_section
from lwflow.streams import rng_for, seed_for

LIKELIHOOD_BATCH = 10_000
Settings = TypeVar("Settings")


def settings(kind: type[Settings], value: Settings | Mapping[str, Any] | None) -> Settings:
    """A settings dataclass from itself, a dict of its fields (a config section) or None
    (defaults), checked against its section of the settings schema (:mod:`lwflow.settings`)."""
    if value is None:
        return kind()
    if isinstance(value, kind):
        return value
    check_section(kind.SECTION, value)  # names an unknown key or a wrong type before the dataclass does
    return kind(**value)


@dataclass(frozen=True)
class ModeSelectionConfig:
    """How ``n_modes='auto'`` chooses the base modes (:func:`lwflow.fitting.modes.select_n_modes`)."""

    k_max: int = 6
    n_resample: int = 5000
    valley_ratio: float = VALLEY_RATIO

    SECTION: ClassVar[str] = "mode_selection"

    def __post_init__(self) -> None:
        check_section(self.SECTION, dataclasses.asdict(self))


@dataclass(frozen=True)
class ModelConfig:
    """Which model to fit: architecture, base modes (an integer or ``'auto'``), and size
    (``n_layers`` coupling/autoregressive layers, ``hidden_units`` per conditioner layer)."""

    arch: str = "realnvp"
    n_modes: int | str = "auto"
    n_layers: int = 8
    hidden_units: int = 64

    SECTION: ClassVar[str] = "model"

    def __post_init__(self) -> None:
        check_section(self.SECTION, dataclasses.asdict(self))


@dataclass
class FittedModel:
    """A fitted model and what its fitting shows: the spec (with the chosen base modes), the
    loss history, the mode-selection record (``rule`` fixed or auto, with BIC values) and
    training facts (best step, early stop, device, RBIG layers)."""

    model: DensityModel
    spec: FlowSpec
    history: pd.DataFrame
    modes: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)


def evaluate_log_likelihood(
    problem: Problem,
    theta: np.ndarray,
    batch_rows: int = LIKELIHOOD_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``problem.log_likelihood`` over ``theta`` in batches of ``batch_rows`` rows, each checked
    (NaN, ``+inf``, shape, complex: :func:`lwflow.fitting.weights.check_log_likelihood`);
    ``progress(done, total)`` is called after every batch."""
    parts, done = [], 0
    for start in range(0, len(theta), batch_rows):
        rows = theta[start : start + batch_rows]
        # a copy: a likelihood that changes its argument in place must not move the draws
        parts.append(check_log_likelihood(problem.log_likelihood(rows.copy()), n_samples=len(rows)))
        done += len(rows)
        if progress is not None:
            progress(done, len(theta))
    return np.concatenate(parts) if parts else np.empty(0)


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
) -> FittedModel:
    """Stage 4: base modes, then a flow trained (or an RBIG fitted) on ``(theta, weights)``,
    restricted to the box ``support``; deterministic given ``seed``.  ``progress`` receives
    each evaluation record of training."""
    from lwflow.fitting.modes import select_n_modes
    from lwflow.fitting.train import train_flow
    from lwflow.models.flows import weighted_standardisation

    training = training or TrainConfig()
    mode_selection = mode_selection or ModeSelectionConfig()
    mode_moments = None
    keep = weights > 0
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
    spec = FlowSpec(model.arch, n_modes, model.n_layers, model.hidden_units)
    if spec.arch == "rbig":
        from lwflow.models.rbig import RBIG, RBIGConfig

        fitted, layers = RBIG.fit(theta, weights, seed, settings(RBIGConfig, rbig))
        history = pd.DataFrame({"step": [r["layer"] for r in layers], "val_loss": [r["val_loss"] for r in layers]})
        history["kept"] = history["step"] == fitted.n_layers  # the layers returned
        facts: dict[str, Any] = {"n_layers": fitted.n_layers}
    else:
        result = train_flow(theta, weights, spec, training, seed, mode_moments, progress, (shift, scale))
        fitted, history = result.model, result.history
        facts = {"best_step": result.best_step, "stopped_early": result.stopped_early, "device": result.device}
    restricted = restrict_to_support(fitted, *support, seed_for(seed, "support"), support_draws)
    if restricted is not fitted:
        facts["support_log_mass"] = restricted.log_mass
    return FittedModel(restricted, spec, history, modes, facts)


def fit(
    problem: Problem,
    n_prior_samples: int = 100_000,
    seed: int = 0,
    model: ModelConfig | dict[str, Any] | None = None,
    training: TrainConfig | dict[str, Any] | None = None,
    clipping: ClippingConfig | dict[str, Any] | None = None,
    mode_selection: ModeSelectionConfig | dict[str, Any] | None = None,
    rbig: Any = None,
    progress: bool = False,
    proposal: str = "prior",
    adaptive: Any = None,
    check: CheckConfig | dict[str, Any] | None = None,
    refine: RefineConfig | dict[str, Any] | None = None,
) -> Posterior:
    """Fit a flow to the posterior of ``problem``; the stages are in the module docstring.

    ``proposal='prior'`` (paper A) trains once on ``n_prior_samples`` prior draws;
    ``proposal='adaptive'`` runs adaptive rounds (:mod:`lwflow.fitting.rounds`, settings
    ``adaptive``: an :class:`~lwflow.fitting.rounds.AdaptiveConfig` or a dict of its fields),
    in which the flow proposes its own training points, and ``n_prior_samples`` is not used.
    ``model`` picks the architecture and the base modes (default RealNVP, ``n_modes='auto'``);
    ``training``, ``clipping``, ``mode_selection`` and ``rbig`` take the dataclass or a dict
    of its fields (the config's sections).  ``progress`` shows a bar (tqdm) over the
    likelihood batches and the training steps (one line per round when adaptive).  The same
    ``seed`` gives the same posterior.

    The trained flow's base mixture (mode masses, means, scales) is then refined by one
    importance-weighted EM step on fresh draws of the flow (:mod:`lwflow.fitting.refine`,
    settings ``refine``: a :class:`~lwflow.fitting.refine.RefineConfig` or a dict of its fields;
    ``{"n_draws": 0}`` skips it); its record is ``diagnostics['refinement']``.

    Every fit ends with its check (:mod:`lwflow.fitting.verdict`, settings ``check``: a
    :class:`~lwflow.fitting.verdict.CheckConfig` or a dict of its fields): fresh draws from the
    posterior density weighted against prior x likelihood give ``posterior.check`` and its
    ``verdict``; their likelihood calls are counted in ``diagnostics['n_likelihood_calls']``.
    A ``not trusted`` verdict is a :class:`UserWarning` naming the setting to raise.
    """
    check_section("seed", seed)
    check_section("proposal", proposal)
    if proposal == "prior":
        check_section("n_prior_samples", n_prior_samples)
        if adaptive is not None:
            raise SettingsError(
                "adaptive settings were given with proposal='prior', which would ignore them: "
                "pass proposal='adaptive' as well, or drop adaptive="
            )
    problem.check()
    model_config = settings(ModelConfig, model)
    training_config = settings(TrainConfig, training)
    modes_config = settings(ModeSelectionConfig, mode_selection)
    check_config = settings(CheckConfig, check)
    refine_config = settings(RefineConfig, refine)
    clipping_config = settings(ClippingConfig, clipping)
    if rbig is not None:
        from lwflow.models.rbig import RBIGConfig

        rbig = settings(RBIGConfig, rbig)
    if proposal == "adaptive":
        return _fit_adaptive(
            problem, seed, model_config, training_config, modes_config, rbig, adaptive, check_config, refine_config,
            progress,
        )  # fmt: skip
    started = time.perf_counter()
    theta = problem.prior.sample(int(n_prior_samples), rng_for(seed, "prior"))
    with _bar(progress, len(theta), "likelihood") as bar:
        log_likelihood = evaluate_log_likelihood(
            problem, theta, progress=lambda done, total: bar.update(done - bar.n) if bar else None
        )
    log_z, log_z_se = log_evidence(log_likelihood)
    weights, report = clipped_weights(log_likelihood, clipping_config)
    with _bar(progress, training_config.max_steps, "training") as bar:
        fitted = fit_model(
            theta,
            weights,
            problem.prior.support(),
            model_config,
            seed,
            training_config,
            rbig,
            modes_config,
            progress=lambda record: bar.update(int(record["step"]) - bar.n) if bar else None,
        )
    diagnostics = {"n_likelihood_calls": int(len(theta)), "clipping": report.as_dict()}
    diagnostics |= _model_diagnostics(fitted) | {"seconds": time.perf_counter() - started}
    posterior = Posterior(fitted.model, fitted.spec, problem.names, log_z, log_z_se, diagnostics, problem.name)
    posterior = _refined(posterior, problem, refine_config, seed)
    return _checked(posterior, problem, check_config, seed, advice=advice_for("prior"))


def _refined(
    posterior: Posterior, problem: Problem, config: RefineConfig, seed: int, beta: float | None = None
) -> Posterior:
    """``posterior`` with its base mixture refined (:func:`lwflow.fitting.refine.refine_base`), the
    step's calls added to the fit's and its record in ``diagnostics['refinement']``."""
    started = time.perf_counter()
    posterior.model, record = refine_base(posterior.model, problem, config, seed, beta)
    posterior.diagnostics["refinement"] = record
    posterior.diagnostics["n_likelihood_calls"] += record["n_draws"]
    posterior.diagnostics["seconds"] += time.perf_counter() - started
    return posterior


def _checked(
    posterior: Posterior,
    problem: Problem,
    config: CheckConfig,
    seed: int,
    stop: str | None = None,
    beta: float | None = None,
    advice: str = "",
) -> Posterior:
    """``posterior`` with its check (:func:`lwflow.fitting.verdict.check_posterior`) against its
    own evidence; the check's calls added to the fit's; a ``not trusted`` verdict warns."""
    started = time.perf_counter()
    fit_evidence = (posterior.log_evidence, posterior.log_evidence_se)
    posterior.check = check_posterior(
        posterior.model, problem, config, rng_for(seed, "check"), fit_evidence, stop, beta, advice
    )
    posterior.fitted_problem = problem
    posterior.diagnostics["n_likelihood_calls"] += config.n_draws
    posterior.diagnostics["seconds"] += time.perf_counter() - started
    if posterior.check.warning is not None:
        warnings.warn(posterior.check.warning, UserWarning, stacklevel=3)
    return posterior


def _model_diagnostics(fitted: FittedModel) -> dict[str, Any]:
    return {
        "modes": fitted.modes,
        "n_modes": fitted.spec.n_modes,
        "loss_history": fitted.history.to_dict(orient="list"),
        "training": fitted.facts,
    }


def _fit_adaptive(
    problem: Problem,
    seed: int,
    model: ModelConfig,
    training: TrainConfig,
    mode_selection: ModeSelectionConfig,
    rbig: Any,
    adaptive: Any,
    check: CheckConfig,
    refine: RefineConfig,
    progress: bool,
) -> Posterior:
    """:func:`fit` with ``proposal='adaptive'``: the rounds, then the Posterior of the final flow
    with the weighted draws of the evidence, checked with the rounds' stop and last beta."""
    from lwflow.fitting.rounds import AdaptiveConfig, adaptive_rounds

    started = time.perf_counter()
    config = settings(AdaptiveConfig, adaptive)
    result = adaptive_rounds(
        problem, config, model, seed, training, mode_selection, rbig,
        log=print if progress else None,
    )  # fmt: skip
    ess = ess_of_log_weights(result.weighted_log_weights)  # adaptive weights are not clipped
    diagnostics = {
        "n_likelihood_calls": int(len(result.pool.theta)),
        "rounds": result.rounds,
        "pareto_k": result.pareto_k,
        "clipping": {"ess_before": ess, "ess_after": ess},
    }
    diagnostics |= _model_diagnostics(result.fitted) | {"seconds": time.perf_counter() - started}
    posterior = Posterior(
        result.fitted.model, result.fitted.spec, problem.names, result.log_evidence, result.log_evidence_se,
        diagnostics, problem.name,
    )  # fmt: skip
    posterior.weighted_draws = {"theta": result.weighted_theta, "log_weight": result.weighted_log_weights}
    stop, beta = result.rounds[-1]["next"], float(result.rounds[-1]["beta"])
    advice = advice_for("adaptive", stop, diagnostics["n_likelihood_calls"], config)
    return _checked(_refined(posterior, problem, refine, seed, beta), problem, check, seed, stop, beta, advice)


def _bar(show: bool, total: int, what: str) -> Any:
    """A tqdm bar (a context manager) when ``show``, else a context that yields None."""
    import contextlib

    if not show:
        return contextlib.nullcontext()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="rows" if what == "likelihood" else "steps", leave=False)
