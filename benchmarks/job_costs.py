"""Job-level costs, each measured side by side (alternating, medians over repeats).

* ``spline``: an NSF spline on a batch of ``batch`` two-dimensional points with NSF's bins,
  forward, log-determinant and backward, with zuko's
  :class:`~zuko.transforms.MonotonicRQSTransform` and with
  :class:`lwflow.models.splines.RQSplineTransform` (the same spline, softmax over a transposed view).
* ``heap``: a job-like workload in a fresh Python process, RealNVP training steps
  (the default 8 coupling blocks of 64 units, batch ``batch``) then MMD² and W2 on 2000 points
  each, once with glibc's default heap and once with the workflow's
  :data:`lwflow.stages.environment.HEAP_SETTINGS`; the time of the workload, imports excluded.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass

import pandas as pd
import torch
from zuko.transforms import MonotonicRQSTransform

from benchmarks.timing import timed
from lwflow.models.flows import SPLINE_BINS
from lwflow.models.splines import RQSplineTransform
from lwflow.stages.environment import HEAP_SETTINGS

WORKLOAD = """
import json, sys, time
import numpy as np, torch
from lwflow.fitting.adam import FusedAdam
from lwflow.models.flows import BaseInit, FlowArchitecture, build_flow
from lwflow.evaluation.metrics import mmd_squared, wasserstein2
torch.set_num_threads(1)
torch.manual_seed(0)
steps, batch = int(sys.argv[1]), int(sys.argv[2])
base = BaseInit(loc=np.zeros((1, 2)), scale=np.ones((1, 2)), weights=np.ones(1))
model = build_flow(FlowArchitecture("realnvp", 1, 8, 64), np.zeros(2), np.ones(2), base)
parameters = list(model.parameters())
optimiser = FusedAdam(parameters)
u = torch.randn(batch, 2)
x, y = np.random.default_rng(0).normal(size=(2, 2000, 2))
start = time.perf_counter()
for _ in range(steps):
    loss = -model.log_prob_standardised(u).mean()
    optimiser.zero_grad()
    loss.backward()
    optimiser.step(1e-3)
trained = time.perf_counter()
mmd_squared(x, y, 2000, 1.0)
wasserstein2(x, y, 2000)
print(json.dumps({"train_s": trained - start, "metrics_s": time.perf_counter() - trained}))
"""


@dataclass(frozen=True)
class JobCostSettings:
    """Batch size, spline calls per timing, training steps of the workload, alternating repeats."""

    batch: int = 1024
    spline_calls: int = 200
    workload_steps: int = 300
    repeats: int = 5

    @classmethod
    def quick(cls) -> JobCostSettings:
        return cls(batch=64, spline_calls=5, workload_steps=5, repeats=1)


def spline_seconds(transform: type[MonotonicRQSTransform], batch: int, calls: int) -> float:
    """Wall seconds of ``calls`` forward + log-determinant + backward passes of one spline layer."""
    generator = torch.Generator().manual_seed(0)
    sizes = (SPLINE_BINS, SPLINE_BINS, SPLINE_BINS - 1)  # widths, heights, inner-knot slopes
    hyper = torch.randn(batch, 2, sum(sizes), generator=generator, requires_grad=True)
    x = 6 * torch.rand(batch, 2, generator=generator) - 3

    def run() -> None:
        for _ in range(calls):
            widths, heights, derivatives = hyper.split(sizes, dim=-1)
            y, ladj = transform(widths, heights, derivatives).call_and_ladj(x)
            (y.sum() + ladj.sum()).backward()

    return timed(run)[1]


def workload_seconds(heap: dict[str, str], settings: JobCostSettings) -> dict[str, float]:
    """The job-like workload's times in a fresh process whose environment adds ``heap``."""
    environment = {k: v for k, v in os.environ.items() if k not in HEAP_SETTINGS} | heap
    command = [sys.executable, "-c", WORKLOAD, str(settings.workload_steps), str(settings.batch)]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def compare(settings: JobCostSettings) -> pd.DataFrame:
    """One row per measurement: before, after, and the speed-up ``before / after``."""
    splines: dict[str, list[float]] = {"zuko": [], "lwflow": []}
    heaps: dict[str, list[dict[str, float]]] = {"default": [], "workflow": []}
    for _ in range(settings.repeats):
        splines["zuko"].append(spline_seconds(MonotonicRQSTransform, settings.batch, settings.spline_calls))
        splines["lwflow"].append(spline_seconds(RQSplineTransform, settings.batch, settings.spline_calls))
        heaps["default"].append(workload_seconds({}, settings))
        heaps["workflow"].append(workload_seconds(HEAP_SETTINGS, settings))

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    rows = [
        (
            "NSF spline layer, ms per call (zuko -> lwflow.models.splines)",
            *(1e3 * statistics.median(splines[k]) / settings.spline_calls for k in ("zuko", "lwflow")),
        ),
        (
            "RealNVP training step, ms (default heap -> workflow heap)",
            *(1e3 * median(heaps[k], "train_s") / settings.workload_steps for k in ("default", "workflow")),
        ),
        (
            "MMD² + W2 on 2000 points, s (default heap -> workflow heap)",
            *(median(heaps[k], "metrics_s") for k in ("default", "workflow")),
        ),
    ]
    frame = pd.DataFrame(rows, columns=["measurement", "before", "after"])
    frame["speed_up"] = frame["before"] / frame["after"]
    return frame
