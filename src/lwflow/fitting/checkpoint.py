"""Resumable fits: a fit's state on disk after each round, read back to go on where a killed
fit stopped, as nautilus's ``filepath=`` and pocoMC's ``resume_state_path`` do.

``lwflow.fit(problem, ..., checkpoint="fit.ckpt")`` keeps one file, replaced atomically (a
kill while it is written leaves the previous state whole):

* adaptive proposals: after every round, the pool of likelihood-evaluated draws, the rounds'
  records, every round's flow and the last round's fitted model
  (:class:`lwflow.fitting.rounds.RoundsState`);
* the prior proposal: after the likelihood (its values at the prior draws, which the seed
  draws again) and after training (the fitted model).

A fit given a checkpoint that exists goes on from it, and gives the posterior of an
uninterrupted run with the same seed: every round after the saved ones draws from its own
random stream.  Before it goes on it checks, and refuses with the reason and the fix:

1. the checksum of the file (a damaged or edited file);
2. the settings: every one that shapes the posterior (the problem's name and parameters, the
   seed, the proposal and the sections of :func:`lwflow.fit`) equals the checkpoint's; the
   first that differs is named;
3. the likelihood: evaluated again at the :data:`LIKELIHOOD_RECHECKS` saved draws of highest
   likelihood, it gives the saved values, so a changed likelihood or dataset is never mixed with
   draws weighted by the old one.  These calls are counted in the fit's
   ``diagnostics['n_likelihood_calls']``; ``diagnostics['resumed']`` says what was resumed.

The file holds tensors and plain values only (read with ``weights_only=True``, no code unpickled).

Example (a fit killed at round 6 goes on at round 7; here the second call finds every round done)::

    >>> import pathlib, tempfile, lwflow
    >>> problem = lwflow.Problem("mine", lwflow.UniformBox([-5, -5], [5, 5]), lambda t: -0.5 * (t**2).sum(1))
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "mine.ckpt"
    >>> small = {"model": {"n_modes": 1, "n_layers": 2, "hidden_units": 16}, "training": {"max_steps": 100}}
    >>> rounds = {"n_per_round": 1000, "max_calls": 2000, "tempering_round_share": 1.0}
    >>> first = lwflow.fit(problem, proposal="adaptive", adaptive=rounds, checkpoint=store, **small)
    >>> again = lwflow.fit(problem, proposal="adaptive", adaptive=rounds, checkpoint=store, **small)
    >>> again.diagnostics["resumed"]["done"], again.log_evidence == first.log_evidence
    ('2 rounds', True)
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from lwflow.artefacts import first_changed_row, jsonable
from lwflow.fitting.model_fit import FittedModel
from lwflow.fitting.posterior import seal_check, sealed
from lwflow.fitting.rounds import Pool, RoundsState
from lwflow.fitting.weights import evaluate_log_likelihood
from lwflow.models.flows import FlowArchitecture, checkpoint_payload, load_torch, model_from_payload, save_torch
from lwflow.problems import Problem

__all__ = [
    "LIKELIHOOD_RECHECKS",
    "CheckpointError",
    "FitCheckpoint",
    "fit_settings",
    "fitted_from_payload",
    "fitted_payload",
    "rounds_from_payload",
    "rounds_payload",
]

LIKELIHOOD_RECHECKS = 4
KIND = "lwflow fit checkpoint"
COMPUTE_ONLY = {"training": ("device",)}  # where the work runs, not what it gives


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: damaged, of other settings, or of another likelihood."""


def fit_settings(problem: Problem, proposal: str, seed: int, sections: dict[str, Any]) -> dict[str, Any]:
    """The settings that shape a fit's posterior, as plain values: the problem's name and
    parameters, the proposal, the seed and each section (a settings dataclass, a number or None),
    less what only says where the work runs (the training device)."""
    settings: dict[str, Any] = {"problem": problem.name, "parameters": list(problem.names)}
    settings |= {"proposal": proposal, "seed": int(seed)}
    for name, value in sections.items():
        plain = dataclasses.asdict(value) if dataclasses.is_dataclass(value) and not isinstance(value, type) else value
        if isinstance(plain, dict):
            plain = {k: v for k, v in plain.items() if k not in COMPUTE_ONLY.get(name, ())}
        settings[name] = plain
    return json.loads(json.dumps(settings, default=jsonable))


class FitCheckpoint:
    """One fit's checkpoint file at ``path``, for the fit whose settings are ``settings``
    (:func:`fit_settings`): :meth:`read` the saved state (verified), :meth:`write` a new one."""

    def __init__(self, path: str | Path, settings: dict[str, Any]) -> None:
        self.path = Path(path)
        self.settings = settings
        if self.path.exists() and not self.path.is_file():
            raise CheckpointError(f"checkpoint {self.path} is a folder; give the path of a file (made if missing)")

    def read(self, problem: Problem) -> dict[str, Any] | None:
        """The saved state (None where there is no file yet), after the checks of the module
        docstring; its ``rechecked`` entry is the number of likelihood calls they made."""
        if not self.path.exists():
            return None
        payload = load_torch(self.path)
        fix = f"delete {self.path} to start the fit over"
        if payload.get("kind") != KIND:
            raise CheckpointError(f"{self.path} is not an lwflow fit checkpoint; give another checkpoint path")
        intact, versions = seal_check(payload)
        if not intact:
            raise CheckpointError(
                f"checkpoint {self.path} does not match its checksum ({versions}): the file was changed or "
                f"damaged; {fix}"
            )
        _compare_settings(payload["settings"], self.settings, self.path, fix)
        state = payload["state"]
        rows, theta = _recheck_draws(state)
        saved = state["log_likelihood"].numpy()[rows]
        now = evaluate_log_likelihood(problem, theta)
        row = first_changed_row(saved, now)
        if row is not None:
            raise CheckpointError(
                f"the likelihood differs from the one checkpoint {self.path} was written with: at theta = "
                f"{theta[row].tolist()} it gave {saved[row]:.10g} then and gives {now[row]:.10g} now (a changed "
                f"likelihood, data or argument); {fix}, or restore the likelihood it was written with"
            )
        return state | {"rechecked": len(now)}

    def write(self, state: dict[str, Any]) -> None:
        """Replace the file with ``state`` (tensors and plain values), its settings and a checksum."""
        save_torch(self.path, sealed({"kind": KIND, "settings": self.settings, "state": state}))


def _compare_settings(saved: dict[str, Any], given: dict[str, Any], path: Path, fix: str) -> None:
    """Refuse a checkpoint whose settings differ from the fit's, naming the first difference (in
    :func:`fit_settings`' order: the problem, the proposal and the seed before the sections)."""
    for name in [*given, *(name for name in saved if name not in given)]:
        then, now = saved.get(name), given.get(name)
        if then == now:
            continue
        if isinstance(then, dict) and isinstance(now, dict):
            key = next(k for k in sorted(set(then) | set(now)) if then.get(k) != now.get(k))
            name, then, now = f"{name}.{key}", then.get(key), now.get(key)
        raise CheckpointError(
            f"checkpoint {path} was written by a fit with {name} = {then!r}; this fit has {name} = {now!r}: "
            f"give the settings it was written with, another checkpoint path, or {fix}"
        )


def _recheck_draws(state: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The rows and draws of the saved state at which the likelihood is evaluated again: the
    :data:`LIKELIHOOD_RECHECKS` of highest saved log-likelihood."""
    log_likelihood = state["log_likelihood"].numpy()
    theta = state["theta"].numpy() if "theta" in state else state["pool"]["theta"].numpy()
    rows = np.sort(np.argsort(-log_likelihood, kind="stable")[:LIKELIHOOD_RECHECKS])
    return rows, theta[rows]


def fitted_payload(fitted: FittedModel) -> dict[str, Any]:
    """A :class:`FittedModel` as tensors and plain values."""
    plain = json.loads(
        json.dumps({"modes": fitted.modes, "facts": fitted.facts, "seconds": fitted.seconds}, default=jsonable)
    )
    history = {column: fitted.history[column].tolist() for column in fitted.history.columns}
    return {"model": checkpoint_payload(fitted.model, fitted.architecture), "history": history} | plain


def fitted_from_payload(payload: dict[str, Any]) -> FittedModel:
    """The :class:`FittedModel` of :func:`fitted_payload`."""
    architecture = FlowArchitecture(**payload["model"]["spec"])
    history = pd.DataFrame(payload["history"])
    return FittedModel(
        model_from_payload(payload["model"]),
        architecture,
        history,
        payload["modes"],
        payload["facts"],
        payload["seconds"],
    )


def rounds_payload(state: RoundsState) -> dict[str, Any]:
    """Adaptive rounds' state as tensors and plain values (``log_likelihood`` beside the pool
    for the likelihood's recheck)."""
    pool = {name: torch.as_tensor(array) for name, array in state.pool.arrays().items()}
    records = json.loads(json.dumps(state.records, default=jsonable))
    fitted = [fitted_payload(fitted) for fitted in state.fitted]
    return {"pool": pool, "log_likelihood": pool["log_likelihood"], "records": records, "fitted": fitted}


def rounds_from_payload(payload: dict[str, Any]) -> RoundsState:
    """The :class:`RoundsState` of :func:`rounds_payload`."""
    pool = Pool.from_arrays({name: tensor.numpy() for name, tensor in payload["pool"].items()})
    return RoundsState(pool, list(payload["records"]), [fitted_from_payload(f) for f in payload["fitted"]])
