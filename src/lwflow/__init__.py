"""lwflow: likelihood-weighted normalizing flows for posteriors with several separated modes.

Five lines from a prior and a likelihood to a posterior::

    import lwflow
    prior = lwflow.UniformBox([-5, -5], [5, 5])
    problem = lwflow.Problem("mine", prior, lambda t: -0.5 * ((t - 1) ** 2).sum(1) / 0.1)
    posterior = lwflow.fit(problem, n_prior_samples=50_000)
    posterior.sample(1000), posterior.log_evidence

The names below are the public API; submodules hold the parts (flows, weights, modes,
training, metrics, the workflow's stages).
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> module.  Resolved on first use (PEP 562), so that a workflow job importing one
# submodule does not pay for torch, scipy.stats and scikit-learn behind the others.
_EXPORTS = {
    "ClippingConfig": "lwflow.weights",
    "Gaussian": "lwflow.priors",
    "ModeSelectionConfig": "lwflow.fit",
    "ModelConfig": "lwflow.fit",
    "Posterior": "lwflow.posterior",
    "Prior": "lwflow.priors",
    "Problem": "lwflow.problems",
    "ProductOfMarginals": "lwflow.priors",
    "TrainConfig": "lwflow.train",
    "UniformBox": "lwflow.priors",
    "fit": "lwflow.fit",
    "load_posterior": "lwflow.posterior",
    "load_user_problem": "lwflow.problems",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'lwflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
