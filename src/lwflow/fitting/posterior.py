"""The result of :func:`lwflow.fit`: a normalised posterior density with samples, evidence
and diagnostics, saved and loaded without unpickling code.

Example (a small flow, so that it runs in seconds)::

    >>> import pathlib, tempfile, lwflow
    >>> problem = lwflow.Problem("mine", lwflow.UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * (t**2).sum(1))
    >>> small = {"model": {"n_modes": 1, "n_layers": 2, "hidden_units": 16}, "training": {"max_steps": 100}}
    >>> posterior = lwflow.fit(problem, n_prior_samples=20_000, **small)
    >>> theta = posterior.sample(10_000, seed=1)
    >>> posterior.log_prob(theta).shape  # normalised: integrates to 1 over the prior's support
    (10000,)
    >>> posterior.verdict in ("trusted", "reweight", "not trusted")  # posterior.check says why
    True
    >>> posterior.sample(1000, corrected=True).shape  # importance-corrected draws, for any verdict
    (1000, 2)
    >>> print(posterior.summary())  # the verdict, log Z; mean, sd, 5/50/95 % quantiles per parameter
    mine: realnvp, 1 base modes
    log Z ...
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mine.pt"
    >>> posterior.save(path)
    >>> lwflow.load_posterior(path).log_evidence == posterior.log_evidence
    True
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from lwflow.artefacts import jsonable, lwflow_version
from lwflow.fitting.verdict import ImportanceSample, PosteriorCheck, importance_sample
from lwflow.fitting.weights import weighted_resample
from lwflow.models.density import DensityModel
from lwflow.models.flows import FlowArchitecture, checkpoint_payload, load_torch, model_from_payload, save_torch
from lwflow.settings import CheckConfig
from lwflow.streams import rng_for

if TYPE_CHECKING:
    from lwflow.problems.problem import Problem

QUANTILES = (0.05, 0.5, 0.95)
SUMMARY_DRAWS = 20_000
CORRECTED_OVERSAMPLING = 4  # fresh draws per corrected draw: about 1 duplicate in 8 at an ESS fraction of 0.9


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
    * ``check`` and ``verdict``: the density checked against the likelihood
      (:mod:`lwflow.fitting.verdict`): ``trusted``, ``reweight`` or ``not trusted``, with its
      Pareto :math:`\\hat k`, ESS fraction, independent :math:`\\log \\hat Z`, the adaptive stop.
    * ``sample(n, seed, corrected=True)``: importance-corrected draws (sampling importance
      resampling of fresh draws, :meth:`importance_sample`); they need the problem's
      likelihood, which a fit keeps (``fitted_problem``) and a loaded posterior is given.
    """

    model: DensityModel
    architecture: FlowArchitecture
    parameter_names: tuple[str, ...]
    log_evidence: float
    log_evidence_se: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    problem: str = ""
    weighted_draws: dict[str, np.ndarray] | None = None
    check: PosteriorCheck | None = None
    fitted_problem: Problem | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.parameter_names)
        model_dim = _model_dim(self.model)
        if model_dim is not None and len(names) != model_dim:
            raise ValueError(
                f"posterior {self.problem!r}: {len(names)} parameter names {list(names)} for a {model_dim}-D model; "
                f"give {model_dim} names"
            )
        if len(set(names)) != len(names):
            raise ValueError(
                f"posterior {self.problem!r}: parameter names {list(names)} repeat one; give distinct names"
            )
        self.parameter_names = names

    @property
    def dim(self) -> int:
        return len(self.parameter_names)

    @property
    def n_modes(self) -> int:
        """The number of base modes of the fitted flow."""
        return self.architecture.n_modes

    @property
    def spec(self) -> FlowArchitecture:
        """Deprecated name of :attr:`architecture` (a problem's config entry is its spec)."""
        warnings.warn("Posterior.spec is renamed Posterior.architecture; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return self.architecture

    @property
    def verdict(self) -> str | None:
        """``trusted``, ``reweight`` or ``not trusted`` (:mod:`lwflow.fitting.verdict`); None if unchecked."""
        return None if self.check is None else self.check.verdict

    def sample(self, n: int, seed: int = 0, corrected: bool = False) -> np.ndarray:
        """``n`` draws; the same ``seed`` gives the same draws.  ``corrected``: importance-corrected
        draws, resampled from :data:`CORRECTED_OVERSAMPLING` x ``n`` fresh draws weighted against
        prior x likelihood (:meth:`importance_sample`, which also gives their ESS); that many
        likelihood calls.

        Arguments:
            n: how many draws.
            seed: the draws follow from it.
            corrected: importance-corrected draws instead of the flow's (needs the fitted problem).

        Returns:
            An ``(n, dim)`` array.
        """
        n = _positive_count(n, "n")
        if corrected:
            return self.importance_sample(CORRECTED_OVERSAMPLING * n, seed).resample(n, seed)
        return self.model.sample(n, int(seed))

    def importance_sample(self, n_draws: int, seed: int = 0, problem: Problem | None = None) -> ImportanceSample:
        """``n_draws`` fresh draws of the density mixed with the prior (the check's defensive share),
        weighted against prior x likelihood: ``.resample(n)``, ``.ess``, ``.pareto_k``,
        ``.log_evidence()``.  ``problem`` (default: the fitted one) supplies the likelihood."""
        problem = problem if problem is not None else self.fitted_problem
        if problem is None:
            raise ValueError(
                "importance-corrected draws need the likelihood: load the posterior with "
                "lwflow.load_posterior(path, problem=...) or set posterior.fitted_problem"
            )
        if problem.dim != self.dim:
            raise ValueError(f"problem {problem.name!r} has {problem.dim} parameters; this posterior has {self.dim}")
        share = self.check.defensive_share if self.check is not None else CheckConfig().defensive_share
        rng = rng_for(int(seed), "corrected")
        return importance_sample(self.model, problem, _positive_count(n_draws, "n_draws"), share, rng)

    def resample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` draws resampled (multinomial, with replacement) from ``weighted_draws``: the
        importance-weighted posterior, what nested samplers return, with no flow in between;
        its accuracy is set by the weights' ESS (``diagnostics['clipping']['ess_after']``)."""
        if self.weighted_draws is None:
            raise ValueError(
                "only adaptive fits (lwflow.fit(..., proposal='adaptive')) keep weighted draws; for any fit, "
                "posterior.sample(n, corrected=True) gives importance-corrected draws"
            )
        return weighted_resample(self.weighted_draws["theta"], self.weighted_draws["log_weight"], n, seed)

    def log_prob(self, theta: np.ndarray) -> np.ndarray:
        """:math:`\\log q(\\theta)` for each row of ``theta`` (shape ``(n, dim)``)."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        if theta.shape[1] != self.dim:
            raise ValueError(f"theta has {theta.shape[1]} columns; this posterior has {self.dim} parameters")
        return self.model.log_prob(theta)

    def summary(self, n: int = SUMMARY_DRAWS, seed: int = 0) -> PosteriorSummary:
        """Per parameter: mean, sd, 5/50/95 % quantiles from ``n`` draws, a DataFrame that prints
        the verdict, :math:`\\log \\hat Z \\pm` se, the ESS and the base modes above its rows
        (they are also in ``frame.attrs``)."""
        frame = PosteriorSummary(summarise_samples(self.sample(n, seed), self.parameter_names))
        frame.attrs = self.headline() | ({"check_line": self.check.line()} if self.check is not None else {})
        return frame

    def headline(self) -> dict[str, Any]:
        """The scalar facts a reader wants first."""
        clipping = self.diagnostics.get("clipping", {})
        return {
            "problem": self.problem,
            "arch": self.architecture.arch,
            "n_modes": self.n_modes,
            "ess_before_clipping": clipping.get("ess_before"),
            "ess": clipping.get("ess_after"),
            "log_evidence": self.log_evidence,
            "log_evidence_se": self.log_evidence_se,
            "n_likelihood_calls": self.diagnostics.get("n_likelihood_calls"),
        } | check_headline(self.check)

    def plot(self, n: int = 5000, seed: int = 0, path: str | Path | None = None) -> Any:
        """A pair plot of ``n`` draws coloured by their base mode (each with its share), over the
        fit's importance-weighted draws (adaptive fits: :meth:`resample`) in grey, within the
        prior's box where the fitted problem is known; a matplotlib ``Figure``, saved to ``path``
        where given (PNG, PDF, SVG: by its suffix)."""
        from lwflow.evaluation.figures import pair_figure

        draws = self.sample(n, seed)
        flow = getattr(self.model, "model", self.model)  # through the support's truncation
        modes = flow.base_mode(draws) if self.n_modes > 1 and hasattr(flow, "base_mode") else None
        background = self.resample(n, seed) if self.weighted_draws is not None else None
        box = self.fitted_problem.prior.support() if self.fitted_problem is not None else None
        title = f"{self.problem or 'posterior'}: {self.architecture.arch}, {self.n_modes} base modes"
        title += f", verdict {self.verdict}" if self.verdict is not None else ""
        figure = pair_figure(draws, background, "weighted draws", title, self.parameter_names, box, modes)
        if path is not None:
            figure.savefig(path, dpi=120)
        return figure

    def save(self, path: str | Path) -> None:
        """Tensors and plain values only; read back with :func:`lwflow.load_posterior`."""
        payload = checkpoint_payload(self.model, self.architecture)
        payload["posterior"] = {
            "parameter_names": list(self.parameter_names),
            "log_evidence": self.log_evidence,
            "log_evidence_se": self.log_evidence_se,
            "diagnostics": json.loads(json.dumps(self.diagnostics, default=jsonable)),
            "problem": self.problem,
            "check": None if self.check is None else self.check.as_dict(),
        }
        if self.weighted_draws is not None:
            payload["weighted_draws"] = {k: torch.as_tensor(v) for k, v in self.weighted_draws.items()}
        save_torch(Path(path), sealed(payload))

    def to_csv(self, path: str | Path, n: int = SUMMARY_DRAWS, seed: int = 0) -> None:
        """``n`` draws, one column per parameter and ``log_prob``, as CSV."""
        theta = self.sample(n, seed)
        frame = pd.DataFrame(theta, columns=list(self.parameter_names))
        frame["log_prob"] = self.log_prob(theta)
        frame.to_csv(path, index=False, float_format="%.10g")

    def to_inference_data(self, n: int = SUMMARY_DRAWS, seed: int = 0) -> Any:
        """``n`` draws (one chain; ``lp``, the log-density, in ``sample_stats``) for ArviZ:
        ``az.summary``, ``az.plot_pair``, ``.to_netcdf(path)``.  With ArviZ 0.x installed (``pip
        install arviz``, what its plots and summaries take) an ``InferenceData``, else the
        ``DataTree`` of arviz-base, which ArviZ 1 takes (the ``arviz`` extra)."""
        theta = self.sample(n, seed)
        posterior = {name: theta[None, :, j] for j, name in enumerate(self.parameter_names)}
        stats = {"lp": self.log_prob(theta)[None, :]}
        attrs = {"problem": self.problem, "log_evidence": self.log_evidence}
        arviz = _arviz_before_1()
        if arviz is not None:
            return arviz.from_dict(posterior=posterior, sample_stats=stats, attrs=attrs)
        try:
            import arviz_base
        except ImportError:
            raise ImportError("to_inference_data needs ArviZ: pip install 'lwflow[arviz]'") from None
        return arviz_base.from_dict({"posterior": posterior, "sample_stats": stats}, attrs={"posterior": attrs})


def _arviz_before_1() -> Any:
    """The installed ``arviz`` module where it is a 0.x release (its functions take
    ``InferenceData``), else None."""
    import importlib.util
    from importlib.metadata import version

    if importlib.util.find_spec("arviz") is None or not version("arviz").startswith("0."):
        return None
    import warnings

    with warnings.catch_warnings():  # 0.23 announces its refactor on import
        warnings.simplefilter("ignore", FutureWarning)
        import arviz
    return arviz


def check_headline(check: PosteriorCheck | None) -> dict[str, Any]:
    """The check's facts as a summary's columns (empty where there was no check)."""
    if check is None:
        return {}
    return {
        "verdict": check.verdict,
        "pareto_k": check.pareto_k,
        "ess_fraction": check.ess_fraction,
        "shift": check.shift,
        "check_log_evidence": check.log_evidence,
        "check_log_evidence_se": check.log_evidence_se,
        "stop": check.stop,
        "beta": check.beta,
        "advice": check.advice or None,
    }


class PosteriorSummary(pd.DataFrame):
    """:meth:`Posterior.summary`'s table: a DataFrame that prints its headline (``attrs``: the
    verdict, the evidence, the ESS, the base modes) above its rows."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame  # a frame derived from it is a plain one

    def headline_text(self) -> str:
        head = self.attrs
        lines = [f"{head.get('problem') or 'posterior'}: {head.get('arch')}, {head.get('n_modes')} base modes"]
        if head.get("log_evidence") is not None and not np.isnan(head["log_evidence"]):  # NaN: fitted to exact draws
            ess = f", ESS {head['ess']:.0f}" if head.get("ess") is not None else ""
            lines.append(f"log Z {head['log_evidence']:.4f} +- {head['log_evidence_se']:.4f} (the fit's draws{ess})")
        if head.get("n_likelihood_calls") is not None:
            lines.append(f"{head['n_likelihood_calls']} likelihood calls")
        if head.get("check_line"):
            lines.append(head["check_line"])
        if head.get("advice"):
            lines.append(f"advice: {head['advice']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{self.headline_text()}\n{super().__repr__()}"


def _model_dim(model: DensityModel) -> int | None:
    """The model's dimension where it says (flows and RBIG do), else None; through a truncation."""
    dim = getattr(getattr(model, "model", model), "dim", None)
    return None if dim is None else int(dim)


def _positive_count(n: int, name: str) -> int:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def payload_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 over a saved payload but its ``integrity`` entry, key by key in sorted order:
    tensors by dtype, shape and bytes, everything else as sorted JSON.  A flipped bit in any
    value changes it (a flipped bit in the file's zip container fails ``torch.load`` instead)."""
    digest = hashlib.sha256()

    def feed(value: Any, key: str) -> None:
        digest.update(key.encode())
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).numpy().tobytes())
        elif isinstance(value, Mapping):
            for name in sorted(value, key=str):
                feed(value[name], f"{key}/{name}")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                feed(item, f"{key}[{index}]")
        else:
            digest.update(json.dumps(value, sort_keys=True).encode())

    feed({key: value for key, value in payload.items() if key != "integrity"}, "")
    return digest.hexdigest()


def sealed(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with its ``integrity`` record: the lwflow that writes it and :func:`payload_digest`."""
    payload["integrity"] = {"lwflow_version": lwflow_version(), "sha256": payload_digest(payload)}
    return payload


def seal_check(payload: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a read payload matches its :func:`sealed` record, and "written by lwflow X, this
    is lwflow Y" for the message that refuses it."""
    integrity = payload.get("integrity") or {}
    written = integrity.get("lwflow_version", "(unknown: no integrity record)")
    versions = f"written by lwflow {written}, this is lwflow {lwflow_version()}"
    return integrity.get("sha256") == payload_digest(payload), versions


def read_saved_posterior(path: str | Path, problem: Problem | None = None) -> Posterior:
    """Read a :meth:`Posterior.save` file with ``weights_only=True`` (no code is unpickled),
    verified against the checksum it was saved with; ``problem`` (the fitted one) enables
    importance-corrected draws.  A file that fails names the lwflow that wrote it and this one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved posterior at {path}: give the path Posterior.save wrote")
    payload = load_torch(path)
    if "posterior" not in payload:
        raise ValueError(
            f"{path} is a model checkpoint, not a saved Posterior; load it with lwflow.models.flows.load_checkpoint"
        )
    intact, versions = seal_check(payload)
    if not intact:
        raise ValueError(
            f"{path} does not match the checksum it was saved with ({versions}): the file was changed or "
            "damaged after it was written; save the posterior again from its fit"
        )
    try:
        info = payload["posterior"]
        if problem is not None and problem.dim != len(info["parameter_names"]):
            raise ValueError(
                f"problem {problem.name!r} has {problem.dim} parameters, the file {len(info['parameter_names'])}"
            )
        return Posterior(
            model_from_payload(payload),
            FlowArchitecture(**payload["spec"]),
            tuple(info["parameter_names"]),
            float(info["log_evidence"]),
            float(info["log_evidence_se"]),
            info["diagnostics"],
            info["problem"],
            {k: v.numpy() for k, v in payload["weighted_draws"].items()} if "weighted_draws" in payload else None,
            PosteriorCheck.from_dict(info["check"]) if info.get("check") else None,
            problem,
        )
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"{path} cannot be read as a saved Posterior ({versions}): {type(error).__name__}: {error}"
        ) from None
