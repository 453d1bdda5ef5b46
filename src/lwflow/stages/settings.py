"""The typed settings of the stages whose settings span several of the library's sections: one
model's training (:class:`ModelSettings`: ``train_flow``, ``train_round``, ``lwflow fit``'s
flows) and one model's draws and check (:class:`SamplingSettings`: ``sample_model``).  The other
stages take one dataclass of :mod:`lwflow.settings` each (``clip_weights`` a ``ClippingConfig``,
the rounds' stages an ``AdaptiveConfig``, the scoring stages an ``EvaluationConfig``,
``amfvi_weights`` an ``AMFVIConfig``) beside a problem's settings (a dict: a problem's keys depend
on its kind); the report's stages take the rows and panels the plan lists.

The plan (:mod:`lwflow.stages.plan`) builds these objects; a rule records their
:meth:`~ModelSettings.recorded` form, the library's dataclasses as ``asdict`` section by
section, which is Snakemake's rerun trigger (it compares the ``repr`` of plain values and
ignores objects it cannot represent); the runner (:mod:`lwflow.stages.runner`) builds the object
back from that record with :meth:`~ModelSettings.from_recorded`.  Compute-only values (the
training device) are not in the record: the stages take them as an argument of their own.

Example (a round's flow: its training at the rounds' proposal patience, no base refinement)::

    >>> from lwflow.settings import AdaptiveConfig, ModelConfig, TrainConfig
    >>> final = ModelSettings({"kind": "gmm"}, ModelConfig("realnvp", 2), TrainConfig(patience=10))
    >>> rounds = final.for_rounds(AdaptiveConfig(proposal_patience=2, warm_start_steps=50))
    >>> rounds.training.patience, rounds.recorded()["warm_start_steps"], "refine" in rounds.recorded()
    (2, 50, False)
    >>> ModelSettings.from_recorded(rounds.recorded()) == rounds
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lwflow.fitting.rounds import proposal_training
from lwflow.settings import (
    AdaptiveConfig,
    CheckConfig,
    ModelConfig,
    ModeSelectionConfig,
    RBIGConfig,
    RefineConfig,
    TrainConfig,
)

__all__ = ["COMPUTE_ONLY", "ModelSettings", "SamplingSettings"]

COMPUTE_ONLY = {"problem": ("likelihood_chunks",), "training": ("device",), "clipping": ("min_ess", "max_ess_gain")}
"""Settings that change how a job runs or whether it stops, not what it writes: never in a
job's record, so no rerun trigger."""


def _section(config: Any) -> dict[str, Any]:
    """A settings dataclass as its config section; an absent one (None) as ``{}``."""
    return {} if config is None else dataclasses.asdict(config)


@dataclass(frozen=True)
class ModelSettings:
    """What training one model reads.

    Arguments:
        problem: the problem's settings (its config entry, compute-only keys left out).
        flow: the model: architecture, base modes, layers, units.
        training: the flow's training; None for RBIG, which has none.
        rbig: RBIG's settings; None for a flow.
        mode_selection: how base modes ``auto`` are chosen; None for a fixed number.
        refine: the final flow's base refinement on fresh likelihood draws; None where its fit has
            no likelihood (a flow fitted to exact draws) or for a round's flow.
        warm_start_steps: set for an adaptive round's flow (which proposes the next round's
            draws, :meth:`for_rounds`), the steps it trains from the last round's flow; None for a
            final flow.
    """

    problem: dict[str, Any]
    flow: ModelConfig
    training: TrainConfig | None = None
    rbig: RBIGConfig | None = None
    mode_selection: ModeSelectionConfig | None = None
    refine: RefineConfig | None = None
    warm_start_steps: int | None = None

    @property
    def is_round_flow(self) -> bool:
        return self.warm_start_steps is not None

    def for_rounds(self, adaptive: AdaptiveConfig) -> ModelSettings:
        """The settings of a round's flow that proposes the next round's draws: these, trained at
        the rounds' ``proposal_patience`` (:func:`lwflow.fitting.rounds.proposal_training`), from
        the last round's flow for ``warm_start_steps``, with no base refinement."""
        training = None if self.training is None else proposal_training(self.training, adaptive)
        return dataclasses.replace(self, training=training, refine=None, warm_start_steps=adaptive.warm_start_steps)

    def training_on(self, device: str) -> TrainConfig:
        """The training settings with the compute-only ``device`` (the defaults for RBIG, which
        reads none of them)."""
        return dataclasses.replace(self.training or TrainConfig(), device=device)

    def recorded(self) -> dict[str, Any]:
        """The settings as a job records them (its rerun trigger): every section as its dict,
        ``{}`` where absent, the training without its compute-only fields
        (:data:`COMPUTE_ONLY`), RBIG's model as its architecture and base modes only; a final
        flow's ``refine`` or a round's flow's ``warm_start_steps``."""
        flow = _section(self.flow)
        training = {k: v for k, v in _section(self.training).items() if k not in COMPUTE_ONLY["training"]}
        record = {
            "problem": self.problem,
            "flow": {k: flow[k] for k in ("arch", "n_modes")} if self.flow.arch == "rbig" else flow,
            "training": training,
            "rbig": _section(self.rbig),
            "mode_selection": _section(self.mode_selection),
        }
        if self.is_round_flow:
            return record | {"warm_start_steps": self.warm_start_steps}
        return record | {"refine": _section(self.refine)}

    @classmethod
    def from_recorded(cls, record: Mapping[str, Any]) -> ModelSettings:
        """The settings back from :meth:`recorded`'s form (each section checked by its dataclass)."""

        def typed(kind: Any, key: str) -> Any:
            return kind(**record[key]) if record.get(key) else None

        return cls(
            problem=dict(record["problem"]),
            flow=ModelConfig(**record["flow"]),
            training=typed(TrainConfig, "training"),
            rbig=typed(RBIGConfig, "rbig"),
            mode_selection=typed(ModeSelectionConfig, "mode_selection"),
            refine=typed(RefineConfig, "refine"),
            warm_start_steps=record.get("warm_start_steps"),
        )


@dataclass(frozen=True)
class SamplingSettings:
    """What drawing from one trained model and checking it reads.

    Arguments:
        problem: the problem's settings (the check evaluates its likelihood).
        n_samples: how many draws of the model to keep.
        check: the check of the model against the likelihood (:mod:`lwflow.fitting.verdict`).
    """

    problem: dict[str, Any]
    n_samples: int
    check: CheckConfig

    def recorded(self) -> dict[str, Any]:
        """The settings as a job records them (its rerun trigger)."""
        return {"problem": self.problem, "n_samples": self.n_samples, "check": _section(self.check)}

    @classmethod
    def from_recorded(cls, record: Mapping[str, Any]) -> SamplingSettings:
        """The settings back from :meth:`recorded`'s form."""
        return cls(dict(record["problem"]), int(record["n_samples"]), CheckConfig(**record["check"]))
