"""Wall-clock helpers: medians over repeats, and a likelihood that counts its calls."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def timed(function: Callable[[], T]) -> tuple[T, float]:
    """``function()`` and its wall time in seconds."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def median_time(function: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls (the first call included: every call is a full run)."""
    return statistics.median(timed(function)[1] for _ in range(repeats))


class CountingLikelihood:
    """A vectorised log-likelihood that counts the points it was evaluated at."""

    def __init__(self, log_likelihood: Callable[[np.ndarray], np.ndarray]) -> None:
        self.log_likelihood = log_likelihood
        self.calls = 0

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        self.calls += len(theta)
        return self.log_likelihood(theta)
