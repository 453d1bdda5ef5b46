"""One definition of lwflow's settings: every section's keys, types, ranges and defaults.

``settings.schema.yaml`` (beside this module) holds one JSON schema per settings section
(``training``, ``clipping``, ``model``, ``adaptive``, ...), and this module one frozen dataclass
per section (:class:`TrainConfig`, :class:`ClippingConfig`, :class:`ModelConfig`,
:class:`AdaptiveConfig`, ...), the home of every default.  The dataclasses call
:func:`check_section` when they are built, and the workflow's config schema
refers to the same sections (``$ref``), so ``lwflow.fit(training={"max_steps": 0})`` and a
config's ``training: {max_steps: 0}`` are refused by the same rule.  A refusal names the
key, the value, the rule and the default, and suggests the known key closest to an unknown one.

Example::

    >>> check_section("training", {"max_steps": 0})
    Traceback (most recent call last):
    lwflow.settings.SettingsError: training.max_steps = 0: 0 is less than the minimum of 1; give an integer >= 1 ...
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

from lwflow.density_modes import VALLEY_RATIO

SCHEMA_PATH = Path(__file__).with_name("settings.schema.yaml")


Settings = TypeVar("Settings", bound="CheckedSection")

__all__ = [
    "LAYERS_BY_ARCH",
    "SCHEMA_PATH",
    "AMFVIConfig",
    "AdaptiveConfig",
    "CheckConfig",
    "CheckedSection",
    "ClippingConfig",
    "EvaluationConfig",
    "ModeSelectionConfig",
    "ModelConfig",
    "RBIGConfig",
    "RefineConfig",
    "SettingsError",
    "TrainConfig",
    "check_section",
    "schema_bounds",
    "section_schema",
    "settings_of",
]


class SettingsError(ValueError):
    """A setting outside its section's schema: the message names the key, the value and the fix."""


@functools.cache
def _definitions() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())["$defs"]


def section_schema(section: str) -> dict[str, Any]:
    """The JSON schema of one section (or one top-level value such as ``seed``)."""
    return _definitions()[section]


@functools.cache
def _validator(section: str) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(section_schema(section))


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers, tuples as lists: what a YAML config would hold."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _rule(schema: dict[str, Any]) -> str:
    """What a value must be, in words, from its schema."""
    if "enum" in schema:
        return "one of " + ", ".join(repr(option) for option in schema["enum"])
    if "const" in schema:
        return repr(schema["const"])
    if "oneOf" in schema:
        return " or ".join(_rule(option) for option in schema["oneOf"])
    kinds = schema.get("type", "value")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    words = {"integer": "an integer", "number": "a number", "string": "a string", "null": "null", "object": "a mapping"}
    text = " or ".join(words.get(kind, kind) for kind in kinds)
    bounds = schema_bounds(schema)
    return text + (" " + " and ".join(bounds) if bounds else "")


def schema_bounds(schema: dict[str, Any]) -> list[str]:
    """A schema's numeric bounds as ``>= 1``, ``< 1`` (for messages and the configuration reference)."""
    signs = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
    return [f"{sign} {schema[key]}" for key, sign in signs if key in schema]


def _describe(schema: dict[str, Any]) -> str:
    default = f" (default {schema['default']!r})" if "default" in schema else ""
    about = f": {schema['description']}" if "description" in schema else ""
    return f"give {_rule(schema)}{default}{about}"


def _closest(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), 1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_section(section: str, values: Any, label: str | None = None) -> None:
    """Raise :class:`SettingsError` unless ``values`` satisfy the schema of ``section`` (a
    section's mapping, or one value such as ``seed``); ``label`` names it in the message.

    Beyond the schema, a number must be finite: JSON schema lets NaN pass every bound (every
    comparison with NaN is false), so ``final_ess = nan`` would otherwise be accepted."""
    label = label or section
    schema = section_schema(section)
    values = _plain(values)
    properties = schema.get("properties", {})
    if schema.get("type") == "object" and not isinstance(values, Mapping):
        raise SettingsError(
            f"{label}: give a mapping of its settings (keys {sorted(properties)}) or its settings object, "
            f"got {values!r}"
        )
    items = values.items() if isinstance(values, Mapping) else [(None, values)]
    for key, value in items:
        if isinstance(value, float) and not math.isfinite(value):
            where, rule = (f"{label}.{key}", properties.get(key, {})) if key is not None else (label, schema)
            raise SettingsError(f"{where} = {value!r} is not a finite number; {_describe(rule)}")
    error = next(iter(sorted(_validator(section).iter_errors(values), key=lambda e: list(e.path))), None)
    if error is None:
        return
    if error.validator == "additionalProperties":
        unknown = sorted(set(values) - set(properties))
        hints = [f"{key!r}{_closest(key, properties)}" for key in unknown]
        raise SettingsError(f"{label}: unknown setting {', '.join(hints)}; known: {sorted(properties)}")
    path = [str(part) for part in error.path]
    key = path[0] if path else None
    rule = properties.get(key, schema) if key is not None else schema
    where = ".".join([label, *path])
    raise SettingsError(f"{where} = {error.instance!r}: {error.message}; {_describe(rule)}")


def settings_of(kind: type[Settings], value: Settings | Mapping[str, Any] | None) -> Settings:
    """A settings dataclass from itself, a dict of its fields (a config section) or None
    (defaults), checked against its section of the settings schema (:mod:`lwflow.settings`)."""
    if value is None:
        return kind()
    if isinstance(value, kind):
        return value
    check_section(kind.SECTION, value)  # names an unknown key or a wrong type before the dataclass does
    return kind(**cast(Mapping[str, Any], value))


# The sections' dataclasses: every default of the library, the command and the workflow (the
# config schema's defaults equal them: tests/test_lint.py).  They live here, with the checks they
# call, and not beside the code that reads them, so that the workflow's plan builds them without
# importing torch (fitting.train, fitting.model_fit and models.rbig import it; 1.5-2.3 s a
# process on this project's 2-core machine).


class CheckedSection:
    """A settings dataclass that checks itself against its section (``SECTION``) of the schema
    when it is built: the base of every one below."""

    SECTION: ClassVar[str]

    def __post_init__(self) -> None:
        check_section(self.SECTION, asdict(cast(Any, self)))


# the workflow's defaults (config schema: flow.n_layers, flow.nsf_layers); nsf: docs/choices.md
LAYERS_BY_ARCH = {"realnvp": 8, "maf": 8, "nsf": 4}


@dataclass(frozen=True)
class TrainConfig(CheckedSection):
    """Optimisation settings of a flow (:mod:`lwflow.fitting.train`); defaults are the ones in ``config.yaml``."""

    batch_size: int = 1024
    learning_rate: float = 3e-3
    final_learning_rate_fraction: float = 0.05
    max_steps: int = 1000
    eval_every: int = 100
    patience: int = 10
    min_improvement: float = 1e-3
    grad_clip_norm: float = 10.0
    validation_fraction: float = 0.1
    batch_sampling: str = "weighted"
    max_recoveries: int = 3
    device: str = "auto"

    SECTION: ClassVar[str] = "training"


@dataclass(frozen=True)
class ModeSelectionConfig(CheckedSection):
    """How ``n_modes='auto'`` chooses the base modes (:func:`lwflow.fitting.modes.select_n_modes`)."""

    k_max: int = 6
    n_resample: int = 5000
    valley_ratio: float = VALLEY_RATIO
    bic_patience: int = 0

    SECTION: ClassVar[str] = "mode_selection"


@dataclass(frozen=True)
class ModelConfig(CheckedSection):
    """Which model to fit: architecture, base modes (an integer or ``'auto'``), and size
    (``n_layers`` coupling/autoregressive layers, ``hidden_units`` per conditioner layer).
    ``n_layers`` left out is the architecture's (:data:`LAYERS_BY_ARCH`): what the workflow's
    ``flow.n_layers`` and ``flow.nsf_layers`` default to, so the library, ``lwflow fit`` and
    the workflow train the same model."""

    arch: str = "realnvp"
    n_modes: int | str = "auto"
    n_layers: int | None = None
    hidden_units: int = 64

    SECTION: ClassVar[str] = "model"

    def __post_init__(self) -> None:
        if self.n_layers is None:
            object.__setattr__(self, "n_layers", LAYERS_BY_ARCH.get(self.arch, LAYERS_BY_ARCH["realnvp"]))
        super().__post_init__()


@dataclass(frozen=True)
class RBIGConfig(CheckedSection):
    """RBIG's fitting settings (:mod:`lwflow.models.rbig`; defaults as in ``config.yaml``)."""

    n_centres: int = 100
    level_range: float = 3.5
    max_layers: int = 60
    patience: int = 8
    validation_fraction: float = 0.2
    spacing_factor: float = 2.0
    tail_factor: float = 0.5
    guard_weight: float = 1e-6

    SECTION: ClassVar[str] = "rbig"


@dataclass(frozen=True)
class RefineConfig(CheckedSection):
    """One EM step on the fitted flow's base mixture (:mod:`lwflow.fitting.refine`): on ``n_draws``
    fresh draws of the flow (``source`` ``fresh``, that many likelihood calls) or, after adaptive
    rounds, on the rounds' own evidence draws (``rounds``, no call; docs/adaptive.md measures
    both); ``n_draws`` 0: no step."""

    n_draws: int = 2000
    source: str = "fresh"

    SECTION: ClassVar[str] = "refine"


@dataclass(frozen=True)
class CheckConfig(CheckedSection):
    """The check's draws: ``n_draws`` from the fitted density mixed with a ``defensive_share`` of
    prior draws (:mod:`lwflow.fitting.verdict`)."""

    n_draws: int = 2000
    defensive_share: float = 0.1

    SECTION: ClassVar[str] = "check"


@dataclass(frozen=True)
class ClippingConfig(CheckedSection):
    """How weights are clipped (:func:`lwflow.fitting.weights.clip_weights`), the ESS below which lwflow stops, and
    how many times the ESS clipping may multiply (``max_ess_gain``): beyond it the clipped
    weights no longer describe the posterior (quantile clipping at 0.01 on 400 000 draws of a
    Gaussian posterior took the ESS from 8 637 to 396 284 and the weighted sd from 1.0 to the
    flat prior's 6.9)."""

    strategy: str = "max_share"
    threshold: float | None = 0.01
    min_ess: float = 100.0
    max_ess_gain: float = 10.0

    SECTION: ClassVar[str] = "clipping"


@dataclass(frozen=True)
class AdaptiveConfig(CheckedSection):
    """Settings of adaptive rounds (:mod:`lwflow.fitting.rounds`): draws per round, the likelihood budget,
    the ESS targets that set :math:`\\beta` and stop the rounds, the prior's defensive share.

    ``final_ess`` is the ESS the posterior's weighted draws (:func:`lwflow.fitting.rounds.evidence_draws`) must reach
    before the rounds stop, as pocoMC's ``n_total`` (4096) and nautilus's ``n_eff`` (10 000)
    are theirs; ``final_ess_fraction`` asks the last round's own draws to reach that share of
    their number, so that the final proposal is close to the posterior.  ``warm_start_steps``:
    a round's flow that another round follows starts from the last round's flow where the base
    modes chosen are as many, and trains that many steps (0, the default: every flow from
    scratch); the final flow is trained from scratch, ``training.max_steps``.  Measured on the
    10-D posterior against the box's faces (seed 0, one process): 300 warm steps cut the wall
    time from 124 s to 102 s but took 15 rounds instead of 12 (64 000 calls against 52 000):
    the shorter-trained proposals are poorer.  A trade for a cheap likelihood, not a default.

    ``proposal_patience``: the early-stopping patience (evaluations without a gain, as
    ``training.patience``) of the flows that only propose the next round's draws; the final flow
    keeps ``training.patience``.  Training returns the flow of its best validation loss, so a
    proposal stopped sooner is the same flow wherever its loss would not have improved again
    later.  Measured side by side (docs/results/adaptive_hard.md): the same likelihood calls
    and rounds, a third to a half less training time.

    ``proposal_max_steps``: the step budget of those proposal flows (their learning rate's cosine
    schedule spans it), at most ``training.max_steps``; 0: ``training.max_steps``.  The final
    flow keeps ``training.max_steps``.

    ``tempering_round_share``: rounds drawn while :math:`\\beta < 1` (round 0 included, drawn
    before any :math:`\\beta`) take this share of ``n_per_round`` (:func:`lwflow.fitting.rounds.tempering_round_size`);
    their draws only find the way, and the rounds at :math:`\\beta = 1` keep ``n_per_round``.
    Measured side by side with 1 (whole rounds) on the adaptive benchmark's 7 problems (seeds
    0-2, docs/results/adaptive.md): 0.5 took 11-32 % fewer calls on every one (17 000 against
    24 000 on paper A's 3-D three modes, 23 000 against 33 600 on two modes in 10-D) with
    log Z within 0.015, and up to 2 more rounds: 10-24 % more wall time on 6 of the 7 (the
    added rounds train flows too).  The flow's own draws moved either way (5-D two modes 1.31x
    the floor against 1.14x, the rings 1.36x against 1.72x); the check said ``reweight`` on
    those fits."""

    n_per_round: int = 4000
    max_calls: int = 60_000
    beta_ess_fraction: float = 0.5
    final_ess_fraction: float = 0.5
    final_ess: float = 5000.0
    defensive_share: float = 0.1
    max_rounds: int = 30
    warm_start_steps: int = 0
    proposal_patience: int = 2
    proposal_max_steps: int = 0
    tempering_round_share: float = 0.5

    SECTION: ClassVar[str] = "adaptive"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_calls < self.n_per_round:
            raise SettingsError(
                f"adaptive.max_calls = {self.max_calls} is below adaptive.n_per_round = {self.n_per_round}: "
                "the budget must hold at least one round; raise max_calls or lower n_per_round"
            )


@dataclass(frozen=True)
class AMFVIConfig(CheckedSection):
    """AMF-VI's mixture weights (:func:`lwflow.fitting.mixture.mixture_weights`): a moving average
    with factor ``beta`` over ``n_batches`` fresh batches of ``batch_size`` draws (paper B,
    Algorithm 1)."""

    beta: float = 0.9
    n_batches: int = 50
    batch_size: int = 1000

    SECTION: ClassVar[str] = "amfvi"


@dataclass(frozen=True)
class EvaluationConfig(CheckedSection):
    """The metrics against the exact posterior (:mod:`lwflow.evaluation.metrics`): ``n_samples``
    draws of the model and of the truth; sliced W1 over ``n_projections`` directions drawn from
    ``projection_seed``; bridge mass where :math:`p <` ``bridge_fraction`` :math:`\\cdot \\max p`;
    hole mass where :math:`q <` ``hole_fraction`` :math:`\\cdot p`; W2 and MMD on the first
    ``w2_points`` and ``mmd_points`` points, MMD with an RBF kernel of length ``mmd_bandwidth``."""

    n_samples: int = 50_000
    n_projections: int = 100
    projection_seed: int = 0
    bridge_fraction: float = 0.001
    hole_fraction: float = 0.001
    w2_points: int = 2000
    mmd_points: int = 2000
    mmd_bandwidth: float = 1.0

    SECTION: ClassVar[str] = "evaluation"
