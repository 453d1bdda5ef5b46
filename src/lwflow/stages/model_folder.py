"""One result type everywhere: a workflow's (or ``lwflow fit``'s) model folder opened as the same
:class:`~lwflow.fitting.posterior.Posterior` that :func:`lwflow.fit` returns.

A model folder ``results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}`` holds the model
(``model.pt``), its base modes, loss history and samples; its summary
(``results/summary/...json``) holds the evidence and the parameter names, and the samples'
sidecar the check.  Every file is checked against its own sidecar before it is read
(:func:`lwflow.artefacts.read_verified`), so a changed or damaged artefact is refused, naming the
command that remakes it.

Example (after a workflow run: ``tests/test_workflow.py`` opens the smoke run's folders so)::

    >>> posterior = lwflow.load_posterior("results/models/likelihood/mine/realnvp_K1/seed0")  # doctest: +SKIP
    >>> posterior.summary(), posterior.log_evidence, posterior.to_inference_data()  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lwflow.artefacts import read_npz, read_sidecar, read_verified, read_verified_json, sidecar_path
from lwflow.fitting.posterior import Posterior, read_saved_posterior
from lwflow.fitting.verdict import PosteriorCheck
from lwflow.stages.layout import artefact_path

if TYPE_CHECKING:
    from lwflow.problems.problem import Problem

__all__ = ["load_posterior"]

MODEL_FOLDER = re.compile(
    r"(?P<root>.*)/models/(?P<fit>likelihood|samples|adaptive)/(?P<problem>[^/]+)/"
    r"(?P<arch>[a-z0-9]+)_K(?P<modes>[1-9][0-9]*|auto)/seed(?P<seed>[0-9]+)"
)
TRAINING_FACTS = ("best_step", "stopped_early", "device", "device_reason", "support_log_mass", "n_layers")


def load_posterior(path: str | Path, problem: Problem | None = None) -> Posterior:
    """A :class:`Posterior` from a :meth:`Posterior.save` file
    (:func:`lwflow.fitting.posterior.read_saved_posterior`) or from a model folder of the workflow
    or ``lwflow fit`` (module docstring).

    Arguments:
        path: the file :meth:`Posterior.save` wrote, or a model folder.
        problem: the fitted problem, for importance-corrected draws (optional).

    Returns:
        The :class:`Posterior`, every file checked against its sidecar first.
    """
    path = Path(path)
    if path.is_file():
        return read_saved_posterior(path, problem)
    if path.is_dir():
        return _from_model_folder(path, problem)
    raise FileNotFoundError(
        f"no saved posterior or model folder at {path}: give the file Posterior.save wrote, or a folder "
        "results/models/{fit}/{problem}/{arch}_K{modes}/seed{seed}"
    )


def _from_model_folder(folder: Path, problem: Problem | None) -> Posterior:
    import pandas as pd

    from lwflow.models.flows import FlowArchitecture, load_torch, model_from_payload

    match = MODEL_FOLDER.fullmatch(folder.resolve().as_posix())
    if match is None:
        raise ValueError(
            f"{folder} is not a model folder: give results/models/{{fit}}/{{problem}}/{{arch}}_K{{modes}}/seed{{seed}}"
        )
    wildcards = match.groupdict()
    root = wildcards.pop("root")
    paths = {name: artefact_path(name, root, **wildcards) for name in ("model", "modes", "loss", "samples", "summary")}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"model folder {folder}: {', '.join(missing)} not made yet; make them with: snakemake --cores 1 "
            f"{' '.join(missing)}"
        )
    for name in ("model", "loss", "samples"):  # the JSON ones below by read_verified_json
        read_verified(paths[name])
    payload = load_torch(paths["model"])
    architecture = FlowArchitecture(**payload["spec"])
    summary = read_verified_json(paths["summary"])
    facts = read_sidecar(sidecar_path(paths["model"]))
    check = read_sidecar(sidecar_path(paths["samples"])).get("check")
    names = tuple(row["parameter"] for row in summary["parameters"])
    if problem is not None and problem.dim != len(names):
        raise ValueError(f"problem {problem.name!r} has {problem.dim} parameters, the model folder {len(names)}")
    diagnostics: dict[str, Any] = {
        "n_likelihood_calls": summary.get("n_likelihood_calls"),
        "clipping": {"ess_before": summary.get("ess_before_clipping"), "ess_after": summary.get("ess")},
        "modes": read_verified_json(paths["modes"]),
        "n_modes": architecture.n_modes,
        "loss_history": pd.read_csv(paths["loss"]).to_dict(orient="list"),
        "training": {key: facts[key] for key in TRAINING_FACTS if key in facts},
        "refinement": facts.get("refinement", {}),
        "folder": str(folder),
    }
    weighted_draws = None
    if wildcards["fit"] == "adaptive":
        rounds, weighted_draws = _adaptive_rounds(Path(root).parent, facts)
        diagnostics |= rounds
    return Posterior(
        model_from_payload(payload),
        architecture,
        names,
        _number(summary.get("log_evidence")),
        _number(summary.get("log_evidence_se")),
        diagnostics,
        wildcards["problem"],
        weighted_draws,
        PosteriorCheck.from_dict(check) if check else None,
        problem,
    )


def _adaptive_rounds(workdir: Path, facts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An adaptive model's rounds (their records and the evidence's Pareto k, as a library fit's
    ``diagnostics``) and its weighted draws (:func:`lwflow.fitting.rounds.evidence_draws`), from the
    last round's pool and report that the final flow was trained on (its sidecar's inputs)."""
    from lwflow.fitting.rounds import Pool, evidence_draws

    pool_path = next(workdir / path for path in facts.get("inputs", {}) if path.endswith("/pool.npz"))
    report = read_verified_json(pool_path.with_name("report.json"))
    pool = Pool.from_arrays(read_npz(read_verified(pool_path)))
    theta, log_weight = evidence_draws(pool)
    return {"rounds": report["rounds"], "pareto_k": report["pareto_k"]}, {"theta": theta, "log_weight": log_weight}


def _number(value: Any) -> float:
    """A summary's number; NaN where the fit has none (a flow fitted to exact draws has no log Z)."""
    return math.nan if value is None else float(value)
