"""The experiment plan of a workflow run: which models, mixtures, tables and figures a config
asks for, and which artefacts each one reads.  Built once from the validated config, with
no Snakemake in it, so that it is tested like any other module; the rule files only wire it.

* models: ``(fit, problem, arch, modes) -> seeds`` from the experiment blocks, plus what
  ``outputs`` asks for (paper A's and paper B's grids, the base-modes table);
* mixtures: ``(fit, problem, modes) -> archs`` (AMF-VI and EM over the experts);
* sampling and scoring groups: every model of one (fit, problem) trained for the same seeds,
  sampled and checked by one job per seed and, where the problem has an exact posterior,
  scored by another (imports and the exact posterior paid once);
* the rows of every table and the panels of every figure, as artefact paths.

Example (the test suite's small config, its defaults filled in by the schema as the workflow does)::

    >>> import yaml
    >>> from lwflow.problems import problem_from_spec
    >>> from lwflow.stages.config_file import CONFIG_SCHEMA_PATH, with_defaults
    >>> smoke = yaml.safe_load((CONFIG_SCHEMA_PATH.parents[2] / "tests/config/smoke.yaml").read_text())
    >>> config = with_defaults(smoke)
    >>> plan = Plan.from_config(config, lambda name: problem_from_spec(name, config["problems"][name]))
    >>> plan.model_seeds[("likelihood", "gmm2d_1mode", "realnvp", "1")]
    [0, 1]
    >>> "results/tables/paper_a_table1.csv" in plan.outputs()
    True
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from lwflow.reproduction import paper_a, paper_b
from lwflow.settings import (
    AdaptiveConfig,
    AMFVIConfig,
    CheckConfig,
    EvaluationConfig,
    ModelConfig,
    ModeSelectionConfig,
    RBIGConfig,
    RefineConfig,
    TrainConfig,
)
from lwflow.stages.config_file import ConfigError
from lwflow.stages.layout import pattern
from lwflow.stages.settings import COMPUTE_ONLY, ModelSettings, SamplingSettings

Model = tuple[str, str, str, str]  # fit, problem, arch, base modes ("1", "2", ..., "auto")


def compute_settings(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compute-only settings of a (validated) config that jobs read (:data:`COMPUTE_ONLY`), by
    section: ``training`` (``device``) and ``clipping`` (its gates).  A problem's
    ``likelihood_chunks`` shapes the jobs themselves (one per chunk), so no job reads it here."""
    return {
        section: {key: config[section][key] for key in COMPUTE_ONLY[section]} for section in ("training", "clipping")
    }


def _path(name: str, **wildcards: object) -> str:
    return pattern(name).format(**wildcards)


def model_dir(fit: str, problem: str, arch: str, modes: str, seed: object) -> str:
    """The folder of one model's artefacts (checkpoint, loss, samples, base modes)."""
    return str(PurePosixPath(_path("model", fit=fit, problem=problem, arch=arch, modes=modes, seed=seed)).parent)


def metrics_path(fit: str, problem: str, arch: str, modes: str, seed: object) -> str:
    return _path("metrics", fit=fit, problem=problem, arch=arch, modes=modes, seed=seed)


GENERATED_RULE_FAMILIES = ("model_metrics", "sample_models")
"""The rule families the rule files generate, one rule per group of models (:meth:`Plan.scoring_groups`,
:meth:`Plan.sampling_groups`), named ``<family>_<group>`` (:func:`group_name`)."""


def group_name(fit: str, problem: str, seeds: tuple[int, ...]) -> str:
    """The name of a group of models in its generated rules' names, logs and benchmarks.

    Example::

        >>> group_name("likelihood", "gmm2d_3mode", (0, 1))
        'likelihood_gmm2d_3mode_seeds0_1'
    """
    return f"{fit}_{problem}_seeds{'_'.join(map(str, seeds))}"


def generated_family(rule: str) -> str | None:
    """The family of a generated rule (:data:`GENERATED_RULE_FAMILIES`), None for any other rule."""
    return next((family for family in GENERATED_RULE_FAMILIES if rule.startswith(f"{family}_")), None)


def summary_path(fit: str, problem: str, arch: str, modes: str, seed: object, markdown: bool = False) -> str:
    """A model's posterior summary: its JSON, or with ``markdown`` its page."""
    name = "summary_markdown" if markdown else "summary"
    return _path(name, fit=fit, problem=problem, arch=arch, modes=modes, seed=seed)


def log_q_path(fit: str, problem: str, arch: str, modes: str, seed: object) -> str:
    """A model's log-density on its problem's reference sample (written with its metrics)."""
    return _path("log_q", fit=fit, problem=problem, arch=arch, modes=modes, seed=seed)


def mixture_dir(fit: str, problem: str, modes: str, seed: object) -> str:
    return str(PurePosixPath(_path("mixture_weights", fit=fit, problem=problem, modes=modes, seed=seed)).parent)


def floor_path(problem: str, seed: object) -> str:
    return _path("floor", problem=problem, seed=seed)


def truth_path(problem: str, seed: object) -> str:
    return _path("truth", problem=problem, seed=seed)


def base_modes_of(arch: str, modes: object) -> str:
    """Base modes a model is trained with: rbig Gaussianises to a single standard normal."""
    return "1" if arch == "rbig" else str(modes)


@dataclass
class Plan:
    """Everything a config schedules (module docstring); build it with :meth:`from_config`."""

    config: dict[str, Any]
    truth_problems: list[str]
    mode_counts: Callable[[str], tuple[int | None, int | None]]
    model_seeds: dict[Model, list[int]] = field(default_factory=dict)
    model_max_steps: dict[Model, int] = field(default_factory=dict)
    mixtures: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    mixture_seeds: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    model_adaptive: dict[Model, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any], problem_of: Callable[[str], Any]) -> Plan:
        """The plan of a schema-validated ``config``; ``problem_of(name)`` builds a problem.
        Cross-field mistakes raise :class:`ConfigError` naming the key and the fix."""
        problems = config["problems"]
        for block in config["experiments"]:
            for name in block["problems"]:
                if name not in problems:
                    raise ConfigError(
                        f"config: experiments names problem {name!r}, which is not under 'problems' "
                        f"(known: {sorted(problems)}); add it there or fix the name"
                    )
        for name in problems:  # every problem built once here: a bad parameter stops the run before any job
            problem_of(name)
        truth = sorted(p for p, spec in problems.items() if spec["kind"] != "user" or problem_of(p).truth is not None)

        def mode_counts(problem: str) -> tuple[int | None, int | None]:
            built = problem_of(problem)
            return built.n_modes, built.n_density_maxima

        plan = cls(config, truth, mode_counts)
        plan._check()
        plan._schedule()
        return plan

    @property
    def seeds(self) -> list[int]:
        return self.config["seeds"]

    @property
    def models(self) -> list[Model]:
        return list(self.model_seeds)

    @property
    def auto_modes_problems(self) -> list[str]:
        auto = self.config["outputs"]["auto_modes"]
        return sorted(auto) if isinstance(auto, list) else self.truth_problems if auto else []

    def _check(self) -> None:
        config, problems = self.config, self.config["problems"]
        for block in config["experiments"]:
            without = [name for name in block["problems"] if name not in self.truth_problems]
            if block["fit"] == "samples" and without:
                raise ConfigError(
                    f"config: experiments with fit: samples need exact target draws, which user problems "
                    f"{without} do not have (no truth=); use fit: likelihood for them"
                )
        for number, block in enumerate(config["experiments"], start=1):
            adaptive = block.get("proposal", "prior") == "adaptive"
            if adaptive and (block["fit"] != "likelihood" or block["mixture"]):
                raise ConfigError(
                    f"config: experiments block {number} has proposal: adaptive, which needs fit: likelihood "
                    f"and no mixture (AMF-VI over adaptive experts is not supported); drop proposal: adaptive "
                    f"or set fit: likelihood and mixture: false"
                )
            if not adaptive and "adaptive" in block:
                raise ConfigError(
                    f"config: experiments block {number} has an adaptive: section but proposal: prior, so it "
                    f"would be ignored; add proposal: adaptive or remove the section"
                )
            if adaptive:
                adaptive_settings(block, number)
        for paper, module in (("paper_a", paper_a), ("paper_b", paper_b)):
            missing = [p for p in module.PROBLEMS if p not in problems]
            if config["outputs"][paper] and missing:
                raise ConfigError(
                    f"config: outputs.{paper} is true but problems {missing} are not configured; "
                    f"add them or set outputs.{paper}: false"
                )
        auto = config["outputs"]["auto_modes"]
        if isinstance(auto, list):
            unusable = [p for p in auto if p not in problems or problems[p]["kind"] == "user"]
            if unusable:
                raise ConfigError(
                    f"config: outputs.auto_modes names {unusable}, which are not built-in problems under "
                    f"'problems' (the table needs the true mode count); list only built-in problems"
                )
        if config["outputs"]["figure_seed"] not in config["seeds"]:
            raise ConfigError("config: outputs.figure_seed must be one of the seeds")

    def auto_modes_compared(self, problem: str) -> list[str]:
        """Base modes set side by side in the auto-modes table: auto, 1, the true count and,
        where more, the number of density maxima."""
        counts = [str(k) for k in dict.fromkeys(self.mode_counts(problem)) if k not in (None, 1)]
        return ["auto", "1"] + counts

    def _schedule(self) -> None:
        config, seeds = self.config, self.seeds
        model_seeds: dict[Model, set[int]] = {}
        for number, block in enumerate(config["experiments"], start=1):
            fit = "adaptive" if block.get("proposal", "prior") == "adaptive" else block["fit"]
            for problem, arch, modes in itertools.product(block["problems"], block["archs"], block["modes"]):
                key = (fit, problem, arch, base_modes_of(arch, modes))
                model_seeds.setdefault(key, set()).update(block.get("seeds", seeds))
                if fit == "adaptive":
                    rounds = adaptive_settings(block, number)
                    if self.model_adaptive.setdefault(key, rounds) != rounds:
                        raise ConfigError(
                            f"config: experiments block {number} runs adaptive rounds for {arch} K={key[3]} on "
                            f"{problem} with settings {rounds}, but an earlier block runs the same model with "
                            f"{self.model_adaptive[key]}; give both blocks the same adaptive: section"
                        )
                steps = block.get("max_steps", config["training"]["max_steps"])
                if self.model_max_steps.setdefault(key, steps) != steps:
                    raise ConfigError(
                        f"config: experiments block {number} trains {key[2]} K={key[3]} on {problem} (fit {key[0]}) "
                        f"with max_steps {steps}, but an earlier block trains the same model with "
                        f"{self.model_max_steps[key]}; give both blocks the same max_steps or drop the model from one"
                    )
        if config["outputs"]["paper_a"]:
            for p, k in paper_a.models_needed():
                model_seeds.setdefault(("likelihood", p, paper_a.ARCH, str(k)), set()).update(seeds)
        for p in self.auto_modes_problems:
            for compared in self.auto_modes_compared(p):
                model_seeds.setdefault(("likelihood", p, paper_a.ARCH, compared), set()).update(seeds)
        self.paper_b_experts = tuple(config["outputs"]["paper_b_experts"])
        if config["outputs"]["paper_b"]:
            for p, a in itertools.product(paper_b.PROBLEMS, self.paper_b_experts):
                model_seeds.setdefault(("samples", p, a, "1"), set()).update(seeds)
        self.model_seeds = {key: sorted(s) for key, s in sorted(model_seeds.items())}
        one_shot = sorted({problem for fit, problem, *_ in self.model_seeds if fit == "likelihood"})
        without = [problem for problem in one_shot if "n_prior_samples" not in config["problems"][problem]]
        if without:
            raise ConfigError(
                f"config: problems {without} are fitted from one-shot prior draws (fit: likelihood, proposal: "
                f"prior, or a paper's table) but give no n_prior_samples; add problems.<name>.n_prior_samples "
                f"(paper A uses 400000), or run them with proposal: adaptive only"
            )

        mixtures: dict[tuple[str, str, str], set[str]] = {}
        mixture_seeds: dict[tuple[str, str, str], set[int]] = {}
        for block in config["experiments"]:
            if block["mixture"]:
                for problem, modes in itertools.product(block["problems"], block["modes"]):
                    mixture = (block["fit"], problem, str(modes))
                    mixtures.setdefault(mixture, set()).update(block["archs"])
                    mixture_seeds.setdefault(mixture, set()).update(block.get("seeds", seeds))
        if config["outputs"]["paper_b"]:
            for problem in paper_b.PROBLEMS:
                mixtures.setdefault(("samples", problem, "1"), set()).update(self.paper_b_experts)
                mixture_seeds.setdefault(("samples", problem, "1"), set()).update(seeds)
        self.mixtures = {key: sorted(archs) for key, archs in sorted(mixtures.items())}
        self.mixture_seeds = {key: sorted(s) for key, s in mixture_seeds.items()}

    # settings recorded in each job's params (a rerun trigger where they change)

    def problem_spec(self, problem: str, target_draws: bool = False) -> dict[str, Any]:
        """The settings of one problem without compute-only keys, and without ``n_target_samples``
        but for the stage that draws the exact target (``target_draws``)."""
        spec = self.config["problems"][problem]
        unused = COMPUTE_ONLY["problem"] + (() if target_draws else ("n_target_samples",))
        return {k: v for k, v in spec.items() if k not in unused}

    def clipping_settings(self) -> dict[str, Any]:
        """The clipping section without its gates (``min_ess``, ``max_ess_gain``): they stop a job,
        they do not change its weights."""
        return {k: v for k, v in self.config["clipping"].items() if k not in COMPUTE_ONLY["clipping"]}

    def model_settings(self, fit: str, problem: str, arch: str, modes: str) -> ModelSettings:
        """What a training job of one model reads: the flow's fields (RBIG: only the architecture
        and base modes), the training section for flows, ``rbig`` for RBIG, ``mode_selection``
        for base modes ``auto``; the other sections stay out, so that changing them reruns
        nothing of this model."""
        problem_spec = self.problem_spec(problem)
        selection = ModeSelectionConfig(**self.config["mode_selection"]) if modes == "auto" else None
        if arch == "rbig":
            model = ModelConfig(arch, modes if modes == "auto" else int(modes))
            return ModelSettings(problem_spec, model, rbig=RBIGConfig(**self.config["rbig"]), mode_selection=selection)
        training = TrainConfig(**self.training_settings((fit, problem, arch, modes)))
        return ModelSettings(problem_spec, self.flow_settings(arch, modes), training, mode_selection=selection)

    def sampling_settings(self, problem: str) -> SamplingSettings:
        """What drawing from one model of ``problem`` and checking it reads."""
        n_samples = self.evaluation_settings().n_samples
        return SamplingSettings(self.problem_spec(problem), n_samples, CheckConfig(**self.config["check"]))

    def evaluation_settings(self) -> EvaluationConfig:
        """The metrics' settings (every scoring stage's)."""
        return EvaluationConfig(**self.config["evaluation"])

    def amfvi_settings(self) -> AMFVIConfig:
        """AMF-VI's mixture-weight settings."""
        return AMFVIConfig(**self.config["amfvi"])

    def final_model_settings(self, fit: str, problem: str, arch: str, modes: str) -> ModelSettings:
        """:meth:`model_settings` of a model's final flow: with the ``refine`` section where its fit
        has a likelihood (fit likelihood, adaptive), none for a flow fitted to exact draws."""
        model = self.model_settings(fit, problem, arch, modes)
        if fit not in ("likelihood", "adaptive"):
            return model
        return dataclasses.replace(model, refine=RefineConfig(**self.config["refine"]))

    def adaptive_settings(self, problem: str, arch: str, modes: str) -> dict[str, Any]:
        """The adaptive rounds' settings of one model (every field of AdaptiveConfig)."""
        return self.model_adaptive[("adaptive", problem, arch, modes)]

    def proposal_model_settings(self, problem: str, arch: str, modes: str) -> ModelSettings:
        """:meth:`~lwflow.stages.settings.ModelSettings.for_rounds` of one adaptive model."""
        adaptive = AdaptiveConfig(**self.adaptive_settings(problem, arch, modes))
        return self.model_settings("adaptive", problem, arch, modes).for_rounds(adaptive)

    @staticmethod
    def round_path(
        name: str, problem: str, arch: str, modes: str, seed: object, round_index: object, **chunk: object
    ) -> str:
        """Artefact ``name`` (``round_*`` in the layout) of one round of one adaptive model."""
        return _path(name, problem=problem, arch=arch, modes=modes, seed=seed, round=round_index, **chunk)

    def training_settings(self, model: Model | None = None) -> dict[str, Any]:
        """The training section without compute-only keys; with ``model``, its block's step budget."""
        settings = {k: v for k, v in self.config["training"].items() if k not in COMPUTE_ONLY["training"]}
        if model in self.model_max_steps:
            settings["max_steps"] = self.model_max_steps[model]
        return settings

    def flow_settings(self, arch: str, modes: str) -> ModelConfig:
        """The model of one flow: nsf stacks flow.nsf_layers spline layers, realnvp and maf
        flow.n_layers affine ones."""
        flow = self.config["flow"]
        n_layers = flow["nsf_layers" if arch == "nsf" else "n_layers"]
        return ModelConfig(arch, modes if modes == "auto" else int(modes), n_layers, flow["hidden_units"])

    # what rule all asks for

    def model_outputs(self) -> list[str]:
        return [f"{model_dir(*m, s)}/samples.npz" for m in self.models for s in self.model_seeds[m]]

    def summary_outputs(self, problem: str | None = None) -> list[str]:
        """Every model's posterior summary (of one problem, where given)."""
        return [summary_path(*m, s) for m in self.models for s in self.model_seeds[m] if problem in (None, m[1])]

    def problem_summary_outputs(self) -> list[str]:
        return [
            _path(name, problem=p)
            for p in sorted({m[1] for m in self.models})
            for name in ("problem_summary", "problem_summary_markdown")
        ]

    def diagnostics_outputs(self) -> list[str]:
        """Pair plots: of figure_seed's models, or of every model (``outputs.pair_plots: all``)."""
        every = self.config["outputs"]["pair_plots"] == "all"
        return [
            _path("pair_plot", fit=m[0], problem=m[1], arch=m[2], modes=m[3], seed=s)
            for m in self.models
            for s in self.model_seeds[m]
            if every or s == self.config["outputs"]["figure_seed"]
        ]

    def metric_outputs(self) -> list[str]:
        return [metrics_path(*m, s) for m in self.models if m[1] in self.truth_problems for s in self.model_seeds[m]]

    def mixture_outputs(self) -> list[str]:
        return [
            f"{mixture_dir(*key, s)}/{name}"
            for key in self.mixtures
            for s in self.mixture_seeds[key]
            for name in (["weights.json", "metrics.json"] if key[1] in self.truth_problems else ["weights.json"])
        ]

    def paper_b_outputs(self) -> list[str]:
        outputs = []
        if self.config["outputs"]["paper_b"]:
            outputs += ["results/tables/paper_b_table2.csv", "results/tables/paper_b_table2.md"]
            outputs += [f"results/figures/paper_b_fig{n}.{ext}" for n in (1, 2) for ext in ("png", "pdf")]
        if self.likelihood_mixtures():
            outputs += ["results/tables/amfvi_likelihood.csv", "results/tables/amfvi_likelihood.md"]
        return outputs

    def auto_modes_outputs(self) -> list[str]:
        return ["results/tables/auto_modes.csv", "results/tables/auto_modes.md"] if self.auto_modes_problems else []

    def paper_a_outputs(self) -> list[str]:
        if not self.config["outputs"]["paper_a"]:
            return []
        tables = [f"results/tables/{t}.{ext}" for t in paper_a.TABLES for ext in ("csv", "md")]
        return tables + [f"results/figures/{f}.{ext}" for f in paper_a.FIGURES for ext in ("png", "pdf")]

    def results_pages(self) -> dict[str, list[str]]:
        """page -> the tables (``results/tables/{name}.csv``) that ``outputs.results_pages``/{page}.md
        shows: one page per paper, AMF-VI on likelihood-weighted experts and base modes auto."""
        if not self.config["outputs"]["results_pages"]:
            return {}
        pages = {
            "paper_a": list(paper_a.TABLES) if self.config["outputs"]["paper_a"] else [],
            "paper_b": ["paper_b_table2"] if self.config["outputs"]["paper_b"] else [],
            "amfvi_likelihood": ["amfvi_likelihood"] if self.likelihood_mixtures() else [],
            "auto_modes": ["auto_modes"] if self.auto_modes_problems else [],
        }
        return {page: tables for page, tables in pages.items() if tables}

    def results_page_outputs(self) -> list[str]:
        return [f"{self.config['outputs']['results_pages']}/{page}.md" for page in self.results_pages()]

    def loss_figure_outputs(self) -> list[str]:
        problems = sorted({m[1] for m in self.models})
        return [f"results/figures/loss_{p}.{ext}" for p in problems for ext in ("png", "pdf")]

    def outputs(self) -> list[str]:
        """Every target of ``rule all``."""
        return [
            *self.model_outputs(),
            *self.metric_outputs(),
            *self.diagnostics_outputs(),
            *self.paper_a_outputs(),
            *self.mixture_outputs(),
            *self.paper_b_outputs(),
            *self.auto_modes_outputs(),
            *self.loss_figure_outputs(),
            *self.problem_summary_outputs(),
            *self.results_page_outputs(),
        ]

    # scoring and mixtures

    def sampling_groups(self) -> dict[tuple[str, str, tuple[int, ...]], list[tuple[str, str]]]:
        """(fit, problem, seeds) -> the (arch, modes) of the models one job samples and checks per
        seed: every model of a problem and fit trained for the same seeds.  Their settings
        (:meth:`sampling_settings`) are the problem's, so a group's job reads no setting that
        one of its models does not."""
        groups: dict[tuple[str, str, tuple[int, ...]], list[tuple[str, str]]] = {}
        for fit, problem, arch, modes in self.models:
            seeds = tuple(self.model_seeds[(fit, problem, arch, modes)])
            groups.setdefault((fit, problem, seeds), []).append((arch, modes))
        return groups

    def scoring_groups(self) -> dict[tuple[str, str, tuple[int, ...]], list[tuple[str, str]]]:
        """The :meth:`sampling_groups` of the problems with an exact posterior: the models one
        job scores per seed."""
        return {key: members for key, members in self.sampling_groups().items() if key[1] in self.truth_problems}

    def mixture_experts(self, fit: str, problem: str, modes: str, seed: object) -> dict[str, tuple[str, ...]]:
        """arch -> the (fit, problem, arch, modes, seed) of each expert of one mixture."""
        return {
            arch: (fit, problem, arch, base_modes_of(arch, modes), str(seed))
            for arch in self.mixtures[(fit, problem, modes)]
        }

    def likelihood_mixtures(self) -> list[tuple[str, str]]:
        """(problem, modes) of every likelihood-weighted mixture with an exact posterior."""
        return [(p, k) for fit, p, k in self.mixtures if fit == "likelihood" and p in self.truth_problems]

    def likelihood_mixture_seeds(self) -> list[int]:
        return sorted({s for p, k in self.likelihood_mixtures() for s in self.mixture_seeds[("likelihood", p, k)]})

    # table rows and figure panels

    def paper_a_table_rows(self, table: str) -> list[dict[str, Any]]:
        return [
            {
                "label": row.label,
                "published": row.published,
                "seeds": list(self.seeds),
                "metrics": [
                    metrics_path("likelihood", row.problem, paper_a.ARCH, str(row.modes), s) for s in self.seeds
                ],
                "floors": [floor_path(row.problem, s) for s in self.seeds],
            }
            for row in paper_a.TABLES[table]
        ]

    def paper_a_figure_panels(self, figure: str) -> list[dict[str, Any]]:
        seed = self.config["outputs"]["figure_seed"]
        return [
            {
                "title": panel.title,
                "problem": panel.problem,
                "spec": self.problem_spec(panel.problem),
                "reference": truth_path(panel.problem, seed),
                "samples": None
                if panel.modes is None
                else f"{model_dir('likelihood', panel.problem, paper_a.ARCH, str(panel.modes), seed)}/samples.npz",
            }
            for panel in paper_a.FIGURES[figure]
        ]

    def loss_histories(self, problem: str) -> dict[str, dict[str, str]]:
        """Model label -> seed -> its loss history, for every model of ``problem``."""
        return {
            f"{arch} K={modes} ({fit})": {
                str(s): f"{model_dir(fit, p, arch, modes, s)}/loss.csv" for s in self.model_seeds[fit, p, arch, modes]
            }
            for fit, p, arch, modes in self.models
            if p == problem
        }

    def mixture_table_rows(
        self, fit: str, modes_by_problem: dict[str, str], published: Callable[..., dict]
    ) -> list[dict[str, Any]]:
        """Rows ``problem/method``: the AMF-VI and EM mixtures, then each expert, per problem
        with its mixture's base modes (``modes_by_problem``)."""
        rows = []
        for problem, modes in modes_by_problem.items():
            prefix = problem if fit == "samples" else f"{problem}/K{modes}"
            seeds = self.mixture_seeds[(fit, problem, modes)]
            floors = [floor_path(problem, s) for s in seeds]
            for label, key in paper_b.MIXTURES.items():
                metrics = [f"{mixture_dir(fit, problem, modes, s)}/metrics.json" for s in seeds]
                rows.append(
                    {
                        "label": f"{prefix}/{label}",
                        "published": published(problem, label),
                        "seeds": list(seeds),
                        "metrics": metrics,
                        "key": key,
                        "floors": floors,
                    }
                )
            for arch in self.mixtures[(fit, problem, modes)]:
                k = base_modes_of(arch, modes)
                rows.append(
                    {
                        "label": f"{prefix}/{arch}",
                        "published": published(problem, arch),
                        "seeds": list(seeds),
                        "metrics": [metrics_path(fit, problem, arch, k, s) for s in seeds],
                        "floors": floors,
                    }
                )
        return rows

    def paper_b_rows(self) -> list[dict[str, Any]]:
        if not self.config["outputs"]["paper_b"]:
            return []
        return self.mixture_table_rows("samples", dict.fromkeys(paper_b.PROBLEMS, "1"), paper_b.published)

    def amfvi_likelihood_rows(self) -> list[dict[str, Any]]:
        return [
            row
            for problem, modes in self.likelihood_mixtures()
            for row in self.mixture_table_rows("likelihood", {problem: modes}, lambda *_: {})
        ]

    def paper_b_weight_paths(self) -> dict[str, list[str]]:
        return {
            problem: [f"{mixture_dir('samples', problem, '1', s)}/weights.json" for s in self.seeds]
            for problem in paper_b.PROBLEMS
        }

    def paper_b_sample_rows(self) -> list[dict[str, Any]]:
        seed = self.config["outputs"]["figure_seed"]
        return [
            {
                "title": paper_b.TITLES[problem],
                "reference": truth_path(problem, seed),
                "models": {
                    **{a: f"{model_dir('samples', problem, a, '1', seed)}/samples.npz" for a in self.paper_b_experts},
                    "AMF-VI": (f"{mixture_dir('samples', problem, '1', seed)}/samples.npz", "ema"),
                },
            }
            for problem in paper_b.PROBLEMS
        ]

    def auto_modes_rows(self) -> list[dict[str, Any]]:
        """Per built-in problem: base modes auto (with the K chosen per seed), 1 and the true count."""
        rows = []
        for problem in self.auto_modes_problems:
            floors = [floor_path(problem, s) for s in self.seeds]
            n_modes, n_maxima = self.mode_counts(problem)
            for modes in self.auto_modes_compared(problem):
                note = " (true)" if modes == str(n_modes) else " (density maxima)" if modes == str(n_maxima) else ""
                row: dict[str, Any] = {
                    "label": f"{problem}/K={modes}{note}",
                    "published": {},
                    "seeds": list(self.seeds),
                    "metrics": [metrics_path("likelihood", problem, paper_a.ARCH, modes, s) for s in self.seeds],
                    "floors": floors,
                    "true_modes": n_modes,
                    "density_maxima": n_maxima,
                }
                if modes == "auto":
                    row["modes"] = [
                        f"{model_dir('likelihood', problem, paper_a.ARCH, modes, s)}/modes.json" for s in self.seeds
                    ]
                rows.append(row)
        return rows


def adaptive_settings(block: dict[str, Any], number: int) -> dict[str, Any]:
    """Every field of :class:`~lwflow.settings.AdaptiveConfig` for one experiment block
    (its ``adaptive:`` section over the defaults), checked."""
    try:
        return dataclasses.asdict(AdaptiveConfig(**block.get("adaptive", {})))
    except ValueError as error:
        raise ConfigError(f"config: experiments block {number}: {error}; fix its adaptive: section") from None


def rows_inputs(rows: list[dict[str, Any]]) -> list[str]:
    """Every artefact a table's rows read."""
    return [path for row in rows for path in row["metrics"] + row["floors"] + row.get("modes", [])]
