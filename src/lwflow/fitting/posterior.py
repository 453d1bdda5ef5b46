"""The result of :func:`lwflow.fit`: a normalised posterior density with samples, evidence
and diagnostics, saved and loaded without unpickling code.

Example::

    posterior = lwflow.fit(problem)
    theta = posterior.sample(10_000, seed=1)
    posterior.log_prob(theta)             # normalised: integrates to 1 over the prior's support
    posterior.log_evidence, posterior.log_evidence_se
    posterior.summary()                   # mean, sd, 5/50/95 % quantiles per parameter
    posterior.save("mine.pt"); lwflow.load_posterior("mine.pt")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lwflow.artefacts import jsonable
from lwflow.models.flows import DensityModel, FlowSpec, checkpoint_payload, load_torch, model_from_payload, save_torch

QUANTILES = (0.05, 0.5, 0.95)
SUMMARY_DRAWS = 20_000


def summarise_samples(samples: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    """Mean, sd and the 5/50/95 % quantiles of every parameter of an equally weighted sample."""
    quantiles = np.quantile(samples, QUANTILES, axis=0)
    return pd.DataFrame(
        {
            "parameter": list(names),
            "mean": samples.mean(0),
            "sd": samples.std(0, ddof=1),
            **{f"q{round(100 * q):02d}": quantiles[i] for i, q in enumerate(QUANTILES)},
        }
    )


@dataclass
class Posterior:
    """A fitted posterior :math:`q(\\theta) \\approx p(\\theta \\mid D)`.

    * ``sample(n, seed)``: ``(n, dim)`` draws, all inside the prior's support.
    * ``log_prob(theta)``: the normalised log-density (``-inf`` outside the support).
    * ``log_evidence`` :math:`\\log \\hat Z` and ``log_evidence_se``: the importance estimate
      from the prior draws (:func:`lwflow.fitting.weights.log_evidence`: unbiased for :math:`Z`,
      poor when the ESS is in the tens).
    * ``diagnostics``: ESS and largest weight share before and after clipping
      (``clipping``), the chosen base modes with their criterion values (``modes``: BIC per
      K), the loss history, training facts, likelihood calls and seconds; adaptive fits add
      ``rounds`` (draws, calls, beta, ESS per round) and ``pareto_k`` of the evidence weights.
    * ``weighted_draws`` (adaptive fits): the draws ``theta`` of the rounds behind the evidence,
      each with its ``log_weight`` against the posterior (unbiased importance weights,
      :func:`lwflow.fitting.rounds.evidence_draws`); ``resample(n, seed)`` draws from them.
    """

    model: DensityModel
    spec: FlowSpec
    parameter_names: tuple[str, ...]
    log_evidence: float
    log_evidence_se: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    weighted_draws: dict[str, np.ndarray] | None = None

    @property
    def dim(self) -> int:
        return len(self.parameter_names)

    @property
    def n_modes(self) -> int:
        """The number of base modes of the fitted flow."""
        return self.spec.n_modes

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws; the same ``seed`` gives the same draws."""
        return self.model.sample(int(n), int(seed))

    def resample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws resampled (multinomial, with replacement) from ``weighted_draws``: the
        importance-weighted posterior, what nested samplers return, with no flow in between;
        its accuracy is set by the weights' ESS (``diagnostics['clipping']['ess_after']``)."""
        if self.weighted_draws is None:
            raise ValueError("only adaptive fits (lwflow.fit(..., proposal='adaptive')) keep weighted draws")
        theta, log_w = self.weighted_draws["theta"], self.weighted_draws["log_weight"]
        weights = np.where(np.isfinite(log_w), np.exp(log_w - np.max(log_w[np.isfinite(log_w)])), 0.0)
        return theta[np.random.default_rng(int(seed)).choice(len(theta), size=int(n), p=weights / weights.sum())]

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\log q(\\theta)` for each row of ``theta`` (shape ``(n, dim)``)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        if theta.shape[1] != self.dim:
            raise ValueError(f"theta has {theta.shape[1]} columns; this posterior has {self.dim} parameters")
        return self.model.log_prob(theta)

    def summary(self, n: int = SUMMARY_DRAWS, seed: int = 0) -> pd.DataFrame:
        """Per parameter: mean, sd, 5/50/95 % quantiles from ``n`` draws; with the ESS after
        clipping, the base modes and :math:`\\log \\hat Z \\pm` se in ``frame.attrs``."""
        frame = summarise_samples(self.sample(n, seed), self.parameter_names)
        frame.attrs = self.headline()
        return frame

    def headline(self) -> dict[str, Any]:
        """The scalar facts a reader wants first."""
        clipping = self.diagnostics.get("clipping", {})
        return {
            "problem": self.problem,
            "arch": self.spec.arch,
            "n_modes": self.n_modes,
            "ess_before_clipping": clipping.get("ess_before"),
            "ess": clipping.get("ess_after"),
            "log_evidence": self.log_evidence,
            "log_evidence_se": self.log_evidence_se,
            "n_likelihood_calls": self.diagnostics.get("n_likelihood_calls"),
        }

    def save(self, path: str | Path) -> None:
        """Tensors and plain values only; read back with :func:`load_posterior`."""
        payload = checkpoint_payload(self.model, self.spec)
        payload["posterior"] = {
            "parameter_names": list(self.parameter_names),
            "log_evidence": self.log_evidence,
            "log_evidence_se": self.log_evidence_se,
            "diagnostics": json.loads(json.dumps(self.diagnostics, default=jsonable)),
            "problem": self.problem,
        }
        if self.weighted_draws is not None:
            payload["weighted_draws"] = {k: torch.as_tensor(v) for k, v in self.weighted_draws.items()}
        save_torch(Path(path), payload)

    def to_csv(self, path: str | Path, n: int = SUMMARY_DRAWS, seed: int = 0) -> None:
        """``n`` draws, one column per parameter and ``log_prob``, as CSV."""
        theta = self.sample(n, seed)
        frame = pd.DataFrame(theta, columns=list(self.parameter_names))
        frame["log_prob"] = self.log_prob(theta)
        frame.to_csv(path, index=False, float_format="%.10g")

    def to_inference_data(self, n: int = SUMMARY_DRAWS, seed: int = 0) -> Any:
        """``n`` draws as an ArviZ ``DataTree`` (one chain; ``log_prob`` in ``sample_stats``);
        ``.to_netcdf(path)`` writes netCDF.  Needs the ``arviz`` extra (arviz-base, h5netcdf)."""
        try:
            import arviz_base
        except ImportError:
            raise ImportError("to_inference_data needs arviz-base: pip install 'lwflow[arviz]'") from None
        theta = self.sample(n, seed)
        posterior = {name: theta[None, :, j] for j, name in enumerate(self.parameter_names)}
        return arviz_base.from_dict(
            {"posterior": posterior, "sample_stats": {"lp": self.log_prob(theta)[None, :]}},
            attrs={"posterior": {"problem": self.problem, "log_evidence": self.log_evidence}},
        )


def load_posterior(path: str | Path) -> Posterior:
    """Read a :meth:`Posterior.save` file with ``weights_only=True`` (no code is unpickled)."""
    payload = load_torch(Path(path))
    if "posterior" not in payload:
        raise ValueError(
            f"{path} is a model checkpoint, not a saved Posterior; load it with lwflow.models.flows.load_checkpoint"
        )
    info = payload["posterior"]
    return Posterior(
        model_from_payload(payload),
        FlowSpec(**payload["spec"]),
        tuple(info["parameter_names"]),
        float(info["log_evidence"]),
        float(info["log_evidence_se"]),
        info["diagnostics"],
        info["problem"],
        {k: v.numpy() for k, v in payload["weighted_draws"].items()} if "weighted_draws" in payload else None,
    )
