"""``fit(problem) -> Posterior``: the likelihood-weighted flow of paper A as one call.

The stages, each a function the workflow's jobs call as well (one code path):

1. ``n_prior_samples`` draws :math:`\\theta_i \\sim \\pi` (:meth:`Prior.sample`);
2. their log-likelihoods :math:`\\ell_i`, in batches with progress
   (:func:`evaluate_log_likelihood`), and the evidence :math:`\\hat Z` from them
   (:func:`lwflow.fitting.weights.log_evidence`);
3. weights :math:`w_i \\propto e^{\\ell_i}`, clipped, stopped below the ESS floor
   (:func:`lwflow.fitting.weights.training_weights`);
4. the number of base modes (``n_modes='auto'``: :func:`lwflow.fitting.modes.select_n_modes`), a
   flow trained on the weighted draws (:func:`lwflow.fitting.train.train_flow`) or an RBIG fitted
   to them, restricted to the prior's support (:mod:`lwflow.models.support`): :func:`fit_model`;
5. the flow's base mixture refined on fresh draws of the flow, or after adaptive rounds on
   their own evidence draws (:mod:`lwflow.fitting.refine`);
6. the check of the final density and its verdict (:mod:`lwflow.fitting.verdict`).

Example (a small flow, so that it runs in seconds; the defaults fit a RealNVP of 8 layers)::

    >>> from lwflow.problems import Problem, UniformBox
    >>> problem = Problem("mine", UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * (t**2).sum(1))
    >>> small = {"model": {"n_modes": 1, "n_layers": 2, "hidden_units": 16}, "training": {"max_steps": 100}}
    >>> posterior = fit(problem, n_prior_samples=20_000, seed=0, **small)
    >>> posterior.sample(10_000).shape
    (10000, 2)
    >>> bool(abs(posterior.log_evidence - np.log(2 * np.pi / 100)) < 0.1)  # the exact log Z
    True
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lwflow.fitting.checkpoint import (
    CheckpointError,
    FitCheckpoint,
    fit_settings,
    fitted_from_payload,
    fitted_payload,
    rounds_from_payload,
    rounds_payload,
)
from lwflow.fitting.model_fit import FittedModel, fit_model
from lwflow.fitting.posterior import Posterior
from lwflow.fitting.refine import refine_base
from lwflow.fitting.rounds import Pool, adaptive_rounds, evidence_importance_draws
from lwflow.fitting.verdict import advice_for, check_posterior
from lwflow.fitting.weights import ess_of_log_weights, evaluate_log_likelihood, log_evidence, training_weights
from lwflow.models.flows import ONE_PARAMETER_REALNVP
from lwflow.problems import Problem
from lwflow.problems.likelihoods import MapPool, likelihood_pool
from lwflow.settings import (
    AdaptiveConfig,
    CheckConfig,
    ClippingConfig,
    ModelConfig,
    ModeSelectionConfig,
    RefineConfig,
    SettingsError,
    TrainConfig,
    check_section,
    settings_of,
)
from lwflow.streams import rng_for


def fit(
    problem: Problem,
    n_prior_samples: int = 100_000,
    seed: int = 0,
    model: ModelConfig | dict[str, Any] | None = None,
    training: TrainConfig | dict[str, Any] | None = None,
    clipping: ClippingConfig | dict[str, Any] | None = None,
    mode_selection: ModeSelectionConfig | dict[str, Any] | None = None,
    rbig: Any = None,
    progress: bool | None = None,
    proposal: str = "prior",
    adaptive: Any = None,
    check: CheckConfig | dict[str, Any] | None = None,
    refine: RefineConfig | dict[str, Any] | None = None,
    pool: int | MapPool | None = None,
    checkpoint: str | Path | None = None,
) -> Posterior:
    """Fit a flow to the posterior of ``problem``; the stages are in the module docstring.

    ``proposal='prior'`` (paper A) trains once on ``n_prior_samples`` prior draws;
    ``proposal='adaptive'`` runs adaptive rounds (:mod:`lwflow.fitting.rounds`, settings
    ``adaptive``: an :class:`~lwflow.settings.AdaptiveConfig` or a dict of its fields),
    in which the flow proposes its own training points, and ``n_prior_samples`` is not used.
    ``model`` picks the architecture and the base modes (default RealNVP, ``n_modes='auto'``);
    ``training``, ``clipping``, ``mode_selection`` and ``rbig`` take the dataclass or a dict
    of its fields (the config's sections).  ``progress`` shows a bar (tqdm) over the
    likelihood batches and the training steps (one line per round when adaptive); by default
    where the standard error is a terminal.  The same
    ``seed`` gives the same posterior.

    The trained flow's base mixture (mode masses, means, scales) is then refined by one
    importance-weighted EM step on fresh draws of the flow, or after adaptive rounds on their
    evidence draws at no call (:mod:`lwflow.fitting.refine`, settings ``refine``: a
    :class:`~lwflow.settings.RefineConfig` or a dict of its fields; ``{"n_draws": 0}`` skips it);
    its record is ``diagnostics['refinement']``.

    ``pool`` spreads the likelihood's calls over processes: a number of them, or any executor
    with an ordered ``map`` (``concurrent.futures``, ``multiprocessing.Pool``, mpi4py's
    ``MPIPoolExecutor``, a dask client's ``get_executor()``; :mod:`lwflow.problems.likelihoods`).
    The rows are evaluated in chunks and put back in order, so the posterior is the serial one.

    ``checkpoint`` is a file that keeps the fit's state after every round (after the likelihood
    and after training for ``proposal='prior'``); a fit given one that exists goes on from it and
    gives the uninterrupted fit's posterior, once the file's checksum, settings and likelihood
    are checked (:mod:`lwflow.fitting.checkpoint`).

    Every fit ends with its check (:mod:`lwflow.fitting.verdict`, settings ``check``: a
    :class:`~lwflow.settings.CheckConfig` or a dict of its fields): fresh draws from the
    posterior density weighted against prior x likelihood give ``posterior.check`` and its
    ``verdict``; their likelihood calls are counted in ``diagnostics['n_likelihood_calls']``.
    A ``not trusted`` verdict is a :class:`UserWarning` naming the setting to raise.

    Arguments:
        problem: the prior, the likelihood and their names (:class:`~lwflow.problems.problem.Problem`).
        n_prior_samples: prior draws whose likelihood trains the flow (``proposal='prior'``).
        seed: every random draw of the fit follows from it.
        model: the architecture, base modes, layers and units (:class:`~lwflow.settings.ModelConfig`).
        training: the optimiser's settings (:class:`~lwflow.settings.TrainConfig`).
        clipping: the weights' clipping before training (:class:`~lwflow.settings.ClippingConfig`).
        mode_selection: how ``n_modes='auto'`` chooses them (:class:`~lwflow.settings.ModeSelectionConfig`).
        rbig: the settings of an RBIG model (:class:`~lwflow.settings.RBIGConfig`).
        progress: a progress bar; None: where the standard error is a terminal.
        proposal: ``'prior'`` (one shot) or ``'adaptive'`` (rounds).
        adaptive: the rounds' settings (:class:`~lwflow.settings.AdaptiveConfig`).
        check: the final check's settings (:class:`~lwflow.settings.CheckConfig`).
        refine: the base's refinement (:class:`~lwflow.settings.RefineConfig`).
        pool: processes, or an executor with ``map``, for the likelihood's calls.
        checkpoint: a file that keeps the fit's state, to resume it.

    Returns:
        The :class:`~lwflow.fitting.posterior.Posterior`: draws, log-density, log Z, verdict.
    """
    check_section("seed", seed)
    check_section("proposal", proposal)
    progress = sys.stderr.isatty() if progress is None else bool(progress)
    if proposal == "prior":
        check_section("n_prior_samples", n_prior_samples)
        if adaptive is not None:
            raise SettingsError(
                "adaptive settings were given with proposal='prior', which would ignore them: "
                "pass proposal='adaptive' as well, or drop adaptive="
            )
    problem.check()
    model_config = settings_of(ModelConfig, model)
    if problem.dim == 1 and model_config.arch == "realnvp":
        raise SettingsError(f"problem {problem.name!r}: {ONE_PARAMETER_REALNVP}: pass model={{'arch': 'nsf'}}")
    training_config = settings_of(TrainConfig, training)
    modes_config = settings_of(ModeSelectionConfig, mode_selection)
    check_config = settings_of(CheckConfig, check)
    refine_config = settings_of(RefineConfig, refine)
    clipping_config = settings_of(ClippingConfig, clipping)
    if rbig is not None:
        from lwflow.settings import RBIGConfig

        rbig = settings_of(RBIGConfig, rbig)
    sections: dict[str, Any] = {"model": model_config, "training": training_config}
    sections |= {"mode_selection": modes_config, "rbig": rbig}
    if proposal == "adaptive":
        adaptive = settings_of(AdaptiveConfig, adaptive)
        sections["adaptive"] = adaptive
    else:
        sections |= {"n_prior_samples": int(n_prior_samples), "clipping": clipping_config}
    store = None if checkpoint is None else FitCheckpoint(checkpoint, fit_settings(problem, proposal, seed, sections))
    with likelihood_pool(problem.log_likelihood, pool) as log_likelihood:
        pooled = replace(problem, log_likelihood=log_likelihood, vectorized=True)
        if proposal == "adaptive":
            posterior = _fit_adaptive(
                pooled, seed, model_config, training_config, modes_config, rbig, adaptive, check_config,
                refine_config, progress, store,
            )  # fmt: skip
        else:
            posterior = _fit_prior(
                pooled, n_prior_samples, seed, model_config, training_config, clipping_config, modes_config, rbig,
                check_config, refine_config, progress, store,
            )  # fmt: skip
    posterior.fitted_problem = problem  # the pool may be gone: corrected draws call the likelihood serially
    if posterior.check is not None and posterior.check.warning is not None:
        warnings.warn(posterior.check.warning, UserWarning, stacklevel=2)
    return posterior


def _fit_prior(
    problem: Problem,
    n_prior_samples: int,
    seed: int,
    model_config: ModelConfig,
    training_config: TrainConfig,
    clipping_config: ClippingConfig,
    modes_config: ModeSelectionConfig,
    rbig: Any,
    check_config: CheckConfig,
    refine_config: RefineConfig,
    progress: bool,
    store: FitCheckpoint | None,
) -> Posterior:
    """:func:`fit` with ``proposal='prior'``: paper A's stages 1-6 of the module docstring; with
    ``store``, the likelihood's values and the fitted model are kept and resumed."""
    started = time.perf_counter()
    theta = problem.prior.sample(int(n_prior_samples), rng_for(seed, "prior"))
    state = saved = _resumed_state(store, problem)
    if store is not None and "theta" in saved and not np.array_equal(saved["theta"].numpy(), theta):
        raise CheckpointError(
            f"the prior draws differ from those checkpoint {store.path} was written with (a changed prior): "
            f"delete {store.path} to start the fit over, or restore the prior it was written with"
        )
    if "log_likelihood" not in state:
        with _bar(progress, len(theta), "likelihood") as bar:
            log_likelihood = evaluate_log_likelihood(
                problem, theta, progress=lambda done, total: bar.update(done - bar.n) if bar else None
            )
        state = {"theta": torch.as_tensor(theta), "log_likelihood": torch.as_tensor(log_likelihood)}
        _keep(store, state)
    log_likelihood = state["log_likelihood"].numpy()
    log_z, log_z_se = log_evidence(log_likelihood)
    weights, report = training_weights(log_likelihood, clipping_config)
    if "fitted" in state:
        fitted = fitted_from_payload(state["fitted"])
    else:
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
        _keep(store, state | {"fitted": fitted_payload(fitted)})
    diagnostics = {"n_likelihood_calls": int(len(theta)), "clipping": report.as_dict()}
    diagnostics |= _model_diagnostics(fitted) | {"seconds": time.perf_counter() - started}
    diagnostics = _count_rechecks(diagnostics | _resumed_diagnostics(saved, store))
    posterior = Posterior(fitted.model, fitted.architecture, problem.names, log_z, log_z_se, diagnostics, problem.name)
    posterior = _refined(posterior, problem, refine_config, seed)
    return _checked(posterior, problem, check_config, seed, advice=advice_for("prior"))


def _refined(
    posterior: Posterior,
    problem: Problem,
    config: RefineConfig,
    seed: int,
    beta: float | None = None,
    pool: Pool | None = None,
) -> Posterior:
    """``posterior`` with its base mixture refined (:func:`lwflow.fitting.refine.refine_base`,
    which reads adaptive rounds' ``pool`` where ``config.source`` says), the step's calls added
    to the fit's and its record in ``diagnostics['refinement']``."""
    started = time.perf_counter()
    draws = evidence_importance_draws(pool) if pool is not None else None
    posterior.model, record = refine_base(posterior.model, problem, config, seed, beta, draws)
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
    own evidence; the check's calls added to the fit's (:func:`fit` warns on ``not trusted``)."""
    started = time.perf_counter()
    fit_evidence = (posterior.log_evidence, posterior.log_evidence_se)
    posterior.check = check_posterior(
        posterior.model, problem, config, rng_for(seed, "check"), fit_evidence, stop, beta, advice
    )
    posterior.diagnostics["n_likelihood_calls"] += config.n_draws
    posterior.diagnostics["seconds"] += time.perf_counter() - started
    return posterior


def _model_diagnostics(fitted: FittedModel) -> dict[str, Any]:
    return {
        "modes": fitted.modes,
        "n_modes": fitted.architecture.n_modes,
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
    store: FitCheckpoint | None,
) -> Posterior:
    """:func:`fit` with ``proposal='adaptive'``: the rounds, then the Posterior of the final flow
    with the weighted draws of the evidence, checked with the rounds' stop and last beta; with
    ``store``, the rounds' state is kept after each round and resumed."""
    started = time.perf_counter()
    config = settings_of(AdaptiveConfig, adaptive)
    state = _resumed_state(store, problem)
    result = adaptive_rounds(
        problem, config, model, seed, training, mode_selection, rbig,
        log=print if progress else None,
        resume=rounds_from_payload(state) if state else None,
        on_round=None if store is None else lambda rounds: store.write(rounds_payload(rounds)),
    )  # fmt: skip
    ess = ess_of_log_weights(result.weighted_log_weights)  # adaptive weights are not clipped
    diagnostics: dict[str, Any] = {
        "n_likelihood_calls": int(len(result.pool.theta)),
        "rounds": result.rounds,
        "pareto_k": result.pareto_k,
        "clipping": {"ess_before": ess, "ess_after": ess},
    }
    diagnostics |= _model_diagnostics(result.fitted) | {"seconds": time.perf_counter() - started}
    diagnostics = _count_rechecks(diagnostics | _resumed_diagnostics(state, store))
    posterior = Posterior(
        result.fitted.model, result.fitted.architecture, problem.names, result.log_evidence, result.log_evidence_se,
        diagnostics, problem.name,
    )  # fmt: skip
    posterior.weighted_draws = {"theta": result.weighted_theta, "log_weight": result.weighted_log_weights}
    stop, beta = result.rounds[-1]["next"], float(result.rounds[-1]["beta"])
    advice = advice_for("adaptive", stop, diagnostics["n_likelihood_calls"], config)
    refined = _refined(posterior, problem, refine, seed, beta, result.pool)
    return _checked(refined, problem, check, seed, stop, beta, advice)


def _resumed_state(store: FitCheckpoint | None, problem: Problem) -> dict[str, Any]:
    """The checkpoint's saved state, checked (:meth:`FitCheckpoint.read`); empty without one."""
    return (store.read(problem) if store is not None else None) or {}


def _keep(store: FitCheckpoint | None, state: dict[str, Any]) -> None:
    if store is not None:
        store.write(state)


def _resumed_diagnostics(state: dict[str, Any], store: FitCheckpoint | None) -> dict[str, Any]:
    """What a resumed fit went on from, and the likelihood calls of its recheck (counted)."""
    if not state or store is None:
        return {}
    if "records" in state:
        done = f"{len(state['records'])} rounds"
    else:
        done = "training" if "fitted" in state else "likelihood"
    return {"resumed": {"checkpoint": str(store.path), "done": done, "likelihood_rechecks": state["rechecked"]}}


def _count_rechecks(diagnostics: dict[str, Any]) -> dict[str, Any]:
    """``diagnostics`` with a resumed fit's recheck calls added to its likelihood calls."""
    diagnostics["n_likelihood_calls"] += diagnostics.get("resumed", {}).get("likelihood_rechecks", 0)
    return diagnostics


def _bar(show: bool, total: int, what: str) -> Any:
    """A tqdm bar (a context manager) when ``show``, else a context that yields None."""
    import contextlib

    if not show:
        return contextlib.nullcontext()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=what, unit="rows" if what == "likelihood" else "steps", leave=False)
