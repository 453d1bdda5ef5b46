"""Random streams: one per stage, derived from the seed alone, so a seed gives the same artefact.

``rng_for(seed, 'prior')`` is the generator of the prior draws of seed ``seed``; stages
seeded with an integer (torch) use ``seed + 10_000 * STREAMS[stage]``.
"""

from __future__ import annotations

import numpy as np

STREAMS = {
    "prior": 0,
    "truth": 1,
    "model_samples": 2,
    "diagnostics": 3,
    "target": 4,
    "fresh": 5,
    "mixture": 6,
    "support": 7,
    "check": 8,
    "corrected": 9,
    "refine": 10,
}


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """The random generator of one stage: a function of the seed and the stage's name."""
    return np.random.default_rng([seed, STREAMS[stream]])


def seed_for(seed: int, stream: str) -> int:
    """An integer seed of one stage, for libraries seeded with an integer (torch)."""
    return seed + 10_000 * STREAMS[stream]
