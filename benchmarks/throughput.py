"""Trainer throughput: lwflow's trainer against a plain normflows loop on the same data.

Both fit the same RealNVP layer stack (:func:`lwflow.models.flows.realnvp_layers`) with the same
batch size and learning rate to the same likelihood-weighted prior draws of one problem.

* ``plain normflows``: paper A's recipe as a user writes it with normflows: a standard
  normal base, raw coordinates, batches uniform over all draws, loss
  :math:`-\\frac1B\\sum_b (w_b/\\bar w) \\log q(\\theta_b)`, Adam at a constant rate.
* ``lwflow``: :func:`lwflow.fitting.train.train_flow` with the configured training settings on
  clipped weights (standardised coordinates, batches drawn in proportion to the weights,
  cosine decay, early stopping on a held-out weighted NLL).

Steps per second: median wall time of a run of ``rate_steps`` steps (set-up included).
Time to each KL(p || q) in ``target_kls`` (Monte Carlo over exact posterior draws): the plain loop is
checked every ``check_every`` steps with the clock stopped while checking; lwflow is run
to completion for each step budget in ``budgets`` (its cosine schedule depends on the
budget) and the fastest run that reaches the KL counts, its validation checks included.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import normflows as nf
import numpy as np
import pandas as pd
import torch

from benchmarks.timing import median_time, timed
from lwflow.evaluation.metrics import kl_divergence
from lwflow.fitting.train import train_flow
from lwflow.fitting.weights import training_weights, weights_from_log_likelihood
from lwflow.models.flows import FlowArchitecture, realnvp_layers
from lwflow.problems import Problem
from lwflow.settings import ClippingConfig, TrainConfig, settings_of


@dataclass(frozen=True)
class ThroughputSettings:
    n_prior: int = 400_000
    target_kls: tuple[float, ...] = (0.1, 0.05)
    plain_max_steps: int = 6000
    budgets: tuple[int, ...] = (250, 500, 1000, 1500, 2500)
    check_every: int = 100
    rate_steps: int = 300
    repeats: int = 3
    n_reference: int = 5000

    @classmethod
    def quick(cls) -> ThroughputSettings:
        return cls(4000, (10.0,), 40, (20, 40), 10, 20, 1, 300)


def plain_normflows_model(dim: int, n_layers: int, hidden_units: int) -> nf.NormalizingFlow:
    """The same coupling stack as lwflow's RealNVP on a standard normal base."""
    return nf.NormalizingFlow(
        nf.distributions.DiagGaussian(dim, trainable=False), realnvp_layers(dim, n_layers, hidden_units)
    )


def plain_loop(
    theta: np.ndarray, weights: np.ndarray, flow: dict[str, Any], training: dict[str, Any], steps: int, seed: int
) -> Iterator[tuple[int, float, nf.NormalizingFlow]]:
    """Yield ``(step, training seconds so far, model)`` after every step; the clock runs only
    inside the step, so whatever the caller does between yields is not counted."""
    torch.manual_seed(seed)
    model = plain_normflows_model(theta.shape[1], flow["n_layers"], flow["hidden_units"])
    x = torch.as_tensor(theta, dtype=torch.float32)
    w = torch.as_tensor(weights / weights.mean(), dtype=torch.float32)
    optimiser = torch.optim.Adam(model.parameters(), lr=training["learning_rate"])
    elapsed = 0.0
    for step in range(1, steps + 1):
        start = time.perf_counter()
        idx = torch.randint(len(x), (training["batch_size"],))
        loss = -(w[idx] * model.log_prob(x[idx])).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        elapsed += time.perf_counter() - start
        yield step, elapsed, model


def _kl(log_p: np.ndarray, log_q: Callable[[np.ndarray], np.ndarray], reference: np.ndarray) -> float:
    with torch.no_grad():
        return kl_divergence(log_p, log_q(reference))[0]


def compare_trainers(
    problem: Problem,
    flow: dict[str, Any],
    training: dict[str, Any],
    clipping: dict[str, Any],
    settings: ThroughputSettings,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary (one row per trainer and a ratio row) and the KL-versus-time curves."""
    rng = np.random.default_rng(seed)
    theta = problem.prior.sample(settings.n_prior, rng)
    log_likelihood = problem.log_likelihood(theta)
    weights = weights_from_log_likelihood(log_likelihood)
    clipped, _ = training_weights(log_likelihood, settings_of(ClippingConfig, clipping))
    reference = problem.truth.sample(settings.n_reference, rng)
    log_p = problem.truth.log_prob(reference)

    def plain_log_q(model: nf.NormalizingFlow) -> Callable[[np.ndarray], np.ndarray]:
        return lambda x: model.log_prob(torch.as_tensor(x, dtype=torch.float32)).double().numpy()

    def run_plain(steps: int) -> None:
        for _ in plain_loop(theta, weights, flow, training, steps, seed):
            pass

    def realnvp(n_modes: int) -> FlowArchitecture:  # the config's RealNVP keys (its flow section also has NSF's)
        return FlowArchitecture("realnvp", n_modes, flow["n_layers"], flow["hidden_units"])

    def run_lwflow(steps: int, n_modes: int = 1) -> Any:
        return train_flow(theta, clipped, realnvp(n_modes), TrainConfig(**{**training, "max_steps": steps}), seed)

    rate_config = {**training, "eval_every": settings.rate_steps, "max_steps": settings.rate_steps}
    rates = {
        "plain normflows": median_time(lambda: run_plain(settings.rate_steps), settings.repeats),
        "lwflow K=1": median_time(
            lambda: train_flow(theta, clipped, realnvp(1), TrainConfig(**rate_config), seed),
            settings.repeats,
        ),
    }
    rates = {name: settings.rate_steps / seconds for name, seconds in rates.items()}
    curves = []
    for step, seconds, model in plain_loop(theta, weights, flow, training, settings.plain_max_steps, seed):
        if step % settings.check_every == 0:
            kl = _kl(log_p, plain_log_q(model), reference)
            curves.append({"trainer": "plain normflows", "steps": step, "seconds": seconds, "kl": kl})
    for n_modes in sorted({1, problem.n_modes or 1}):
        for budget in settings.budgets:
            result, seconds = timed(lambda budget=budget, n_modes=n_modes: run_lwflow(budget, n_modes))
            kl = _kl(log_p, result.model.log_prob, reference)
            steps = int(result.history["step"].iloc[-1])
            curves.append({"trainer": f"lwflow K={n_modes}", "steps": steps, "seconds": seconds, "kl": kl})
    curve = pd.DataFrame(curves)
    rows = []
    for trainer, runs in curve.groupby("trainer", sort=False):
        row = {"trainer": trainer, "steps_per_second": rates.get(trainer), "best_kl": runs["kl"].min()}
        for target in settings.target_kls:
            reached = runs[runs["kl"] <= target].sort_values("seconds")
            row[f"steps_to_kl_{target}"] = reached["steps"].iloc[0] if len(reached) else None
            row[f"seconds_to_kl_{target}"] = reached["seconds"].iloc[0] if len(reached) else None
        rows.append(row)
        log(str(row))
    summary = pd.DataFrame(rows).set_index("trainer")
    speed_up = summary.loc["plain normflows"] / summary.loc["lwflow K=1"]
    ratio = {"steps_per_second": 1 / speed_up["steps_per_second"]}
    ratio |= {f"seconds_to_kl_{t}": speed_up[f"seconds_to_kl_{t}"] for t in settings.target_kls}
    summary.loc["speed-up: lwflow K=1 over plain"] = pd.Series(ratio)
    return summary.reset_index(), curve
