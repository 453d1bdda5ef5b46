"""A slow likelihood spread over processes: ``lwflow.fit(..., pool=n)`` against the serial fit,
side by side in one run, for prior and adaptive proposals.

The likelihood sleeps ``seconds_per_point`` per point (a simulator's cost, with no CPU
contention between workers), so the ideal speed-up of ``n`` workers is ``n`` on the
likelihood's share of the fit; the rest (training, spawning the workers) stays serial.
Each pooled fit is checked equal to the serial one (same draws for the seed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

import lwflow
from benchmarks.timing import timed


@dataclass(frozen=True)
class PoolBenchmarkSettings:
    """Budgets; ``quick()`` is the tiny version the test suite runs."""

    seconds_per_point: float = 0.005
    n_prior_samples: int = 2000
    adaptive: tuple[tuple[str, int], ...] = (("n_per_round", 1000), ("max_calls", 2000))
    workers: tuple[int, ...] = (1, 2)
    check_draws: int = 1000

    @classmethod
    def quick(cls) -> PoolBenchmarkSettings:
        return cls(seconds_per_point=0.0005, n_prior_samples=600, adaptive=(("n_per_round", 200), ("max_calls", 400)))


def sleepy_two_modes(seconds_per_point: float):  # noqa: ANN201 (a closure: pooled by cloudpickle)
    """Two unit Gaussians at (+-2, 0) in 2-D, one point at a time, ``seconds_per_point`` each."""

    def log_likelihood(point: np.ndarray) -> float:
        time.sleep(seconds_per_point)
        return float(np.logaddexp(-0.5 * ((point - [-2, 0]) ** 2).sum(), -0.5 * ((point - [2, 0]) ** 2).sum()))

    return log_likelihood


def compare(settings: PoolBenchmarkSettings, flow: dict, training: dict) -> pd.DataFrame:
    """One row per (proposal, workers): likelihood calls, wall seconds, the speed-up over the
    serial fit of the same proposal, and whether the draws equal the serial fit's."""
    problem = lwflow.Problem(
        "sleepy", lwflow.UniformBox([-6, -6], [6, 6]), sleepy_two_modes(settings.seconds_per_point), vectorized=False
    )
    model = {"arch": "realnvp", "n_modes": 2, "n_layers": flow["n_layers"], "hidden_units": flow["hidden_units"]}
    common = {
        "model": model,
        "training": training,
        "check": {"n_draws": settings.check_draws},
        "clipping": {"min_ess": 20},
    }
    common |= {"refine": {"n_draws": settings.check_draws}, "seed": 0}
    proposals = {
        "prior": {"n_prior_samples": settings.n_prior_samples},
        "adaptive": {"proposal": "adaptive", "adaptive": dict(settings.adaptive)},
    }
    rows = []
    for proposal, options in proposals.items():
        serial_draws, serial_seconds = None, None
        for workers in settings.workers:
            posterior, seconds = timed(lambda w=workers, o=options: lwflow.fit(problem, pool=w, **common, **o))
            draws = posterior.sample(500, seed=1)
            if serial_draws is None:
                serial_draws, serial_seconds = draws, seconds
            calls = posterior.diagnostics["n_likelihood_calls"]
            same = bool(np.array_equal(draws, serial_draws))
            rows.append(
                {
                    "proposal": proposal, "workers": workers, "likelihood_calls": calls, "seconds": seconds,
                    "likelihood_seconds_serial": calls * settings.seconds_per_point,
                    "speedup": serial_seconds / seconds, "same_draws_as_serial": same,
                }
            )  # fmt: skip
            print(f"pool {proposal} workers {workers}: {seconds:.1f} s, {calls} calls", flush=True)
    return pd.DataFrame(rows)
