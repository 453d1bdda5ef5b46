"""What paper B (AMF-VI, Wiryapong et al.) reports: its targets, experts and Table 2.

Table 2's published values are the paper's means; its MAF diverged (NLL = inf) on three
targets.  The AMF-VI authors' public evaluation script computes W2, MMD and KL between
target data and target data, so among the published numbers only NLL compares models.
"""

from __future__ import annotations

import math

PROBLEMS = ("banana", "x_shape", "bimodal", "five_mode", "two_moons", "rings")
TITLES = {
    "banana": "Banana",
    "x_shape": "X-shape",
    "bimodal": "Bimodal",
    "five_mode": "Five-mode",
    "two_moons": "Two moons",
    "rings": "Rings",
}
MIXTURES = {"amfvi": "ema", "em_mixture": "em"}  # table row -> key in the mixture metrics
METRICS = ("nll", "kl", "w2", "mmd_u", "mmd_b")
EXTRA_METRICS = ("bridge_mass", "hole_mass", "w1_avg", "n_eff")
INF = math.inf

# Table 2: dataset -> method -> (NLL, KL, W2, MMD-u, MMD-b)
_TABLE2 = {
    "banana": {
        "amfvi": (3.463, 0.047, 0.267, 0.031, 0.042),
        "realnvp": (4.026, 0.044, 0.251, 0.026, 0.038),
        "maf": (INF, 0.035, 0.222, 0.018, 0.034),
        "rbig": (4.131, 0.066, 0.308, 0.039, 0.048),
    },
    "x_shape": {
        "amfvi": (3.295, 0.037, 0.254, 0.031, 0.042),
        "realnvp": (4.048, 0.040, 0.286, 0.024, 0.037),
        "maf": (4.795, 0.044, 0.364, 0.036, 0.046),
        "rbig": (4.049, 0.077, 0.302, 0.049, 0.056),
    },
    "bimodal": {
        "amfvi": (3.154, 0.024, 0.174, 0.004, 0.026),
        "realnvp": (3.839, 0.036, 0.195, 0.010, 0.028),
        "maf": (INF, 0.035, 0.199, 0.014, 0.031),
        "rbig": (3.589, 0.025, 0.169, 0.009, 0.029),
    },
    "five_mode": {
        "amfvi": (3.429, 0.029, 0.218, 0.023, 0.037),
        "realnvp": (3.852, 0.037, 0.231, 0.025, 0.038),
        "maf": (INF, 0.038, 0.226, 0.029, 0.040),
        "rbig": (4.096, 0.050, 0.267, 0.044, 0.052),
    },
    "two_moons": {
        "amfvi": (1.188, 0.018, 0.104, 0.000, 0.017),
        "realnvp": (2.343, 0.020, 0.116, 0.011, 0.027),
        "maf": (1.661, 0.014, 0.110, 0.005, 0.021),
        "rbig": (1.741, 0.049, 0.124, 0.011, 0.026),
    },
    "rings": {
        "amfvi": (2.585, 0.042, 0.354, 0.037, 0.046),
        "realnvp": (3.349, 0.042, 0.427, 0.057, 0.064),
        "maf": (3.549, 0.088, 0.519, 0.085, 0.090),
        "rbig": (3.263, 0.063, 0.295, 0.008, 0.030),
    },
}

# Figure 1 (text of sec. 4): published AMF-VI weights; x_shape's MAF weight is 1 minus the
# two given, bimodal gives only RBIG's.
PUBLISHED_WEIGHTS = {
    "banana": {"realnvp": 0.505, "maf": 0.010, "rbig": 0.484},
    "x_shape": {"realnvp": 0.403, "maf": 0.191, "rbig": 0.406},
    "bimodal": {"rbig": 0.515},
    "five_mode": {"realnvp": 0.517, "maf": 0.056, "rbig": 0.427},
    "two_moons": {"realnvp": 0.376, "maf": 0.348, "rbig": 0.276},
    "rings": {"realnvp": 0.362, "maf": 0.295, "rbig": 0.343},
}


def published(dataset: str, method: str) -> dict[str, float]:
    """Table 2's values for ``method`` on ``dataset`` (empty for methods the paper did not run)."""
    values = _TABLE2.get(dataset, {}).get(method)
    return dict(zip(METRICS, values)) if values else {}
