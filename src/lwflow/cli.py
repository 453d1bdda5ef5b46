"""The ``lwflow`` command: one problem without Snakemake, its artefacts audited and summarised.

::

    lwflow fit my_model:make_problem --out results --arg noise=0.1 --data observations=obs.csv
    lwflow fit my_model:make_problem --out results --proposal adaptive --pool 4
    lwflow audit results
    lwflow summary results

``lwflow fit`` runs the workflow's own stages (:mod:`lwflow.stages.data`,
:mod:`lwflow.stages.rounds`, :mod:`lwflow.stages.train`): prior draws, likelihood, clipped weights
with the evidence (``--proposal prior``) or the adaptive rounds' draws, likelihood, pooled weights
and round flows until one stops them (``--proposal adaptive``), then training restricted to the
prior's support with the posterior summary, and writes the files a workflow run writes, in the same
layout (:mod:`lwflow.stages.layout`) with the same sidecars and a log per stage,
under ``--out``; ``lwflow.load_posterior`` opens its model folder.  ``--pool N`` shares
the likelihood's calls among N processes.  Every option's default is its settings-schema entry's.
A progress bar (tqdm) follows the likelihood rows and the training steps.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lwflow.artefacts import lwflow_version
from lwflow.stages.layout import artefact_path
from lwflow.stages.settings import ModelSettings, SamplingSettings


def _key_values(pairs: list[str], option: str) -> dict[str, Any]:
    """``key=value`` pairs; values read as JSON where they parse (numbers, lists), else strings."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"lwflow fit: {option} takes key=value, got {pair!r}")
        try:
            result[key] = json.loads(value)
        except json.JSONDecodeError:
            result[key] = value
    return result


def _stage(root: str, rule: str, label: str, inputs: list[Path], config: dict[str, Any], seed: int) -> Any:
    """A job-like record for :func:`lwflow.stages.jobs.job_context`: its log, inputs, config slice, seed."""
    return SimpleNamespace(
        rule=rule,
        input=[str(p) for p in inputs],
        log=[f"{root}/logs/{rule}/{label}.log"],
        threads=1,
        wildcards=SimpleNamespace(seed=seed),
        params=SimpleNamespace(config_slice=config),
    )


def run_fit(args: argparse.Namespace, bar_factory: Callable[..., Any]) -> Path:
    """Every stage of one fit under ``args.out``; returns the summary's path.  Everything the
    command is given is checked before the problem's module runs; one fit at a time writes to
    ``--out`` (a lock beside it)."""
    from lwflow.models.flows import ONE_PARAMETER_REALNVP
    from lwflow.problems import load_user_problem, problem_files

    sys.path.insert(0, os.getcwd())  # the module, like `python -m`, from the working directory
    data = {k: str(Path(v).resolve()) for k, v in _key_values(args.data, "--data").items()}
    spec = {"kind": "user", "target": args.target, "args": _key_values(args.arg, "--arg"), "data": data}
    if args.proposal == "prior":
        spec["n_prior_samples"] = args.n_prior_samples
    _check_options(args)
    out = _writable_folder(Path(args.out))
    with _only_writer(out):
        with contextlib.chdir(out.parent):
            problem_files(spec)  # data files: regular files under the folder, before the factory reads them
        problem = load_user_problem(args.target, spec["args"], data)
        if problem.dim == 1 and args.arch == "realnvp":
            raise SystemExit(f"lwflow fit: problem {problem.name!r}: {ONE_PARAMETER_REALNVP}: pass --arch nsf")
        name = args.name or problem.name
        _check_option("--name", "problem_name", name)
        return _run_stages(args, spec, name, out, bar_factory)


def _run_stages(
    args: argparse.Namespace, spec: dict[str, Any], name: str, out: Path, bar_factory: Callable[..., Any]
) -> Path:
    """The data stages of ``args.proposal`` (prior draws or adaptive rounds), then the final flow
    and its samples, each stage as the workflow's job of the same name."""
    from lwflow.problems import problem_files

    fit = "adaptive" if args.proposal == "adaptive" else "likelihood"
    run = _FitRun(args, spec, name, out.name, fit, bar_factory)
    with contextlib.chdir(out.parent):
        run.code = [Path(p) for p in problem_files(spec)]
        run.module = [Path(p) for p in problem_files(spec, data=False)]  # what the prior draws read
        theta, report = run.adaptive_rounds() if fit == "adaptive" else run.prior_draws()
        return out.parent / run.final_flow(theta, report)


class _FitRun:
    """One ``lwflow fit``: its settings as the workflow's config sections and its stages."""

    def __init__(
        self,
        args: argparse.Namespace,
        spec: dict[str, Any],
        name: str,
        root: str,
        fit: str,
        bar_factory: Callable[..., Any],
    ) -> None:
        self.args, self.spec, self.name, self.root, self.fit = args, spec, name, root, fit
        self.bar_factory, self.seed = bar_factory, args.seed
        self.code: list[Path] = []  # the problem's files (set by run_fit)
        self.module: list[Path] = []
        flow = {"arch": args.arch, "n_modes": args.modes, "hidden_units": args.hidden_units}
        self.flow = flow | ({"n_layers": args.n_layers} if args.n_layers is not None else {})  # else the arch's
        training = {"max_steps": args.max_steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate}
        self.training = training
        self.model = {"problem": name, "arch": args.arch, "modes": args.modes, "seed": args.seed}
        self.label = f"{name}/seed{args.seed}"

    def path(self, key: str, **wildcards: Any) -> Path:
        return artefact_path(key, self.root, **(self.model | {"fit": self.fit, "chunk": 0} | wildcards))

    def likelihood(self, rule: str, label: str, draws: Path, chunk: Path, total: int) -> None:
        """The likelihood at ``draws`` (one chunk, over ``--pool`` processes) with a progress bar."""
        from lwflow.stages import data, jobs

        job = _stage(self.root, rule, label, [draws, *self.code], {"problem": self.spec}, self.seed)
        bar = self.bar_factory(total=total, desc="likelihood", unit="rows")
        with bar, jobs.job_context(job) as provenance:
            data.evaluate_likelihood(
                self.name, self.spec, draws, 0, 1, chunk, provenance, lambda done, _: bar.update(done - bar.n),
                pool=self.args.pool,
            )  # fmt: skip

    def prior_draws(self) -> tuple[Path, Path]:
        """Prior draws, their likelihood and clipped weights with the evidence: the draws (with
        their weights) and the weights' report."""
        from lwflow.settings import ClippingConfig
        from lwflow.stages import data, jobs

        args, paths = self.args, {key: self.path(key) for key in ("prior", "likelihood_chunk", "likelihood")}
        with jobs.job_context(
            _stage(self.root, "sample_prior", self.label, self.module, {"problem": self.spec}, self.seed)
        ) as provenance:
            data.sample_prior(self.name, self.spec, self.seed, paths["prior"], provenance)
        label = f"{self.label}/chunk0"
        self.likelihood("evaluate_likelihood", label, paths["prior"], paths["likelihood_chunk"], args.n_prior_samples)
        job = _stage(self.root, "gather_likelihood", self.label, [paths["likelihood_chunk"]], {}, self.seed)
        with jobs.job_context(job) as provenance:
            data.gather_likelihood([paths["likelihood_chunk"]], paths["likelihood"], provenance)
        clipping = ClippingConfig(strategy=args.clip, threshold=args.clip_threshold, min_ess=args.min_ess)
        weights, report = self.path("weights"), self.path("weights_report")
        recorded = {"clipping": dataclasses.asdict(clipping)}
        job = _stage(self.root, "clip_weights", self.label, [paths["likelihood"]], recorded, self.seed)
        with jobs.job_context(job) as provenance:
            data.clip_weights(paths["likelihood"], clipping, weights, report, provenance)
        self.weights = weights
        return paths["prior"], report

    def adaptive_rounds(self) -> tuple[Path, Path]:
        """The adaptive rounds as the workflow's round stages (draws, likelihood, pooled weights,
        the round's flow) until one stops them: the last round's pool and report."""
        from lwflow.fitting.rounds import round_size, round_training_seed
        from lwflow.settings import AdaptiveConfig
        from lwflow.stages import data, jobs, rounds, train

        adaptive = AdaptiveConfig(**self.adaptive_settings())
        recorded = {"adaptive": dataclasses.asdict(adaptive)}
        model_label = f"{self.name}/{self.args.arch}_K{self.args.modes}/seed{self.seed}"
        flows: list[Path] = []
        record: dict[str, Any] | None = None  # the last round's report, as propose_round reads it
        for round_index in range(adaptive.max_rounds):
            paths = {key: self.path(f"round_{key}", round=round_index) for key in ROUND_ARTEFACTS}
            label = f"{model_label}/round{round_index}"
            last_report = self.path("round_report", round=round_index - 1) if round_index else None
            inputs = [*flows[-1:], *([last_report] if last_report else []), *self.module]
            job = _stage(self.root, "propose_round", label, inputs, recorded, self.seed)
            with jobs.job_context(job) as provenance:
                rounds.propose_round(
                    self.name, self.spec, adaptive, flows[-1] if flows else None, last_report, self.seed,
                    round_index, paths["draws"], provenance,
                )  # fmt: skip
            n_draws = round_size(adaptive, record)
            self.likelihood(
                "evaluate_round_likelihood", f"{label}/chunk0", paths["draws"], paths["likelihood_chunk"], n_draws
            )
            job = _stage(self.root, "gather_round_likelihood", label, [paths["likelihood_chunk"]], {}, self.seed)
            with jobs.job_context(job) as provenance:
                data.gather_likelihood([paths["likelihood_chunk"]], paths["likelihood"], provenance)
            previous = {"pool": self.path("round_pool", round=round_index - 1)} if round_index else None
            if previous:
                previous["report"] = self.path("round_report", round=round_index - 1)
            inputs = [paths["draws"], paths["likelihood"], *(previous or {}).values(), *flows]
            with jobs.job_context(_stage(self.root, "weigh_round", label, inputs, recorded, self.seed)) as provenance:
                rounds.weigh_round(
                    adaptive, paths["draws"], paths["likelihood"], previous, flows,
                    {"pool": paths["pool"], "report": paths["report"]}, provenance,
                )  # fmt: skip
            record = json.loads(paths["report"].read_text())
            print(_round_line(record), file=sys.stderr, flush=True)
            if record["next"] != "train":
                self.weights = paths["pool"]
                return paths["pool"], paths["report"]
            settings = self.model_settings().for_rounds(adaptive)
            inputs = [*flows[-1:], paths["pool"]]
            job = _stage(self.root, "train_round", label, inputs, settings.recorded(), self.seed)
            outputs = {key: paths[key] for key in ("model", "loss", "modes")}
            seed = round_training_seed(self.seed, round_index, last=False)
            with jobs.job_context(job) as provenance:
                train.train(
                    self.name, settings, paths["pool"], paths["pool"], seed, outputs, provenance,
                    warm_start=flows[-1] if flows else None,
                )  # fmt: skip
            flows.append(paths["model"])
        raise AssertionError("the last round stops the rounds (max_rounds)")  # weigh_round's rule

    def adaptive_settings(self) -> dict[str, Any]:
        """The adaptive section: each option given, else its :class:`AdaptiveConfig` default."""
        defaults = _adaptive_defaults()
        return {key: defaults[key] if getattr(self.args, key) is None else getattr(self.args, key) for key in defaults}

    def model_settings(self) -> ModelSettings:
        from lwflow.settings import ModelConfig, TrainConfig

        return ModelSettings(self.spec, ModelConfig(**self.flow), TrainConfig(**self.training))

    def final_flow(self, theta: Path, report: Path) -> Path:
        """The final flow trained on ``theta`` (with :attr:`weights`), its base refined, then its
        samples, check and summary; the summary's path."""
        from lwflow.settings import CheckConfig, RefineConfig
        from lwflow.stages import jobs, train

        args = self.args
        outputs = {key: self.path(key) for key in ("model", "loss", "modes")}
        drawn = {key: self.path(key) for key in ("samples", "summary", "summary_markdown")}
        settings = dataclasses.replace(self.model_settings(), refine=RefineConfig(n_draws=args.refine_draws))
        model_label = f"{self.fit}/{self.name}/{args.arch}_K{args.modes}/seed{self.seed}"
        inputs = [theta, self.weights, report]
        job = _stage(self.root, "train_flow", model_label, inputs, settings.recorded(), self.seed)
        bar = self.bar_factory(total=args.max_steps, desc="training", unit="steps")
        with bar, jobs.job_context(job) as provenance:
            train.train(
                self.name, settings, theta, self.weights, self.seed, outputs, provenance, report=report,
                on_step=lambda record: bar.update(int(record["step"]) - bar.n),
            )  # fmt: skip
        inputs = [outputs["model"], outputs["modes"], report]
        sampling = SamplingSettings(self.spec, args.n_samples, CheckConfig(n_draws=args.check_draws))
        job = _stage(self.root, "sample_model", model_label, inputs, sampling.recorded(), self.seed)
        with jobs.job_context(job) as provenance:
            train.sample_model(
                self.name, sampling, self.fit, f"{args.arch}_K{args.modes} (fit on {self.fit})", outputs["model"],
                outputs["modes"], report, self.seed, drawn, provenance,
            )  # fmt: skip
        return drawn["summary_markdown"]


ROUND_ARTEFACTS = ("draws", "likelihood_chunk", "likelihood", "pool", "report", "model", "loss", "modes")


def _round_line(record: dict[str, Any]) -> str:
    """One line per adaptive round on the terminal: its draws, tempering, ESS and what follows."""
    return (
        f"round {record['round']}: {record['calls']} likelihood calls, beta {record['beta']:.3g}, "
        f"evidence ESS {record['evidence_ess']:.0f}, next: {record['next']}"
    )


# Each option with its settings-schema entry (lwflow.settings): option -> (section, key); its
# type, range, default and help come from there.
ADAPTIVE_OPTIONS = [f"--{key}" for key in ("n-per-round", "max-calls", "beta-ess-fraction", "final-ess-fraction")]
ADAPTIVE_OPTIONS += [f"--{key}" for key in ("final-ess", "defensive-share", "max-rounds", "warm-start-steps")]
ADAPTIVE_OPTIONS += ["--proposal-patience", "--proposal-max-steps", "--tempering-round-share"]
OPTION_SETTINGS = {
    "--proposal": ("proposal", None),
    "--n-prior-samples": ("n_prior_samples", None),
    "--seed": ("seed", None),
    "--arch": ("model", "arch"),
    "--modes": ("model", "n_modes"),
    "--n-layers": ("model", "n_layers"),
    "--hidden-units": ("model", "hidden_units"),
    "--max-steps": ("training", "max_steps"),
    "--batch-size": ("training", "batch_size"),
    "--learning-rate": ("training", "learning_rate"),
    "--clip": ("clipping", "strategy"),
    "--clip-threshold": ("clipping", "threshold"),
    "--min-ess": ("clipping", "min_ess"),
    "--check-draws": ("check", "n_draws"),
    "--refine-draws": ("refine", "n_draws"),
    **{option: ("adaptive", option[2:].replace("-", "_")) for option in ADAPTIVE_OPTIONS},
}


def _adaptive_defaults() -> dict[str, Any]:
    """The adaptive section's defaults, from :class:`lwflow.settings.AdaptiveConfig` (one home)."""
    import dataclasses

    from lwflow.settings import AdaptiveConfig

    return dataclasses.asdict(AdaptiveConfig())


def _check_option(option: str, section: str, value: Any, key: str | None = None) -> None:
    from lwflow.settings import SettingsError, check_section

    try:
        check_section(section, value if key is None else {key: value}, label=option)
    except SettingsError as error:
        raise SystemExit(f"lwflow fit: {str(error).replace(f'{option}.{key}', option)}") from None


def _check_options(args: argparse.Namespace) -> None:
    """Every numeric option against the same ranges as the config's keys."""
    for option, (section, key) in OPTION_SETTINGS.items():
        value = getattr(args, option[2:].replace("-", "_"))
        if value is not None:  # None: the default that depends on another option (--n-layers on --arch)
            _check_option(option, section, value, key)
    given = [key for key in _adaptive_defaults() if getattr(args, key) is not None]
    if args.proposal == "prior" and given:
        options = ", ".join(f"--{key.replace('_', '-')}" for key in given)
        raise SystemExit(
            f"lwflow fit: {options} set adaptive rounds, which --proposal prior does not run: add --proposal adaptive, "
            f"or drop {options}"
        )
    if args.proposal == "adaptive":
        from lwflow.settings import AdaptiveConfig, SettingsError

        try:
            AdaptiveConfig(**{k: v for k, v in vars(args).items() if k in _adaptive_defaults() and v is not None})
        except SettingsError as error:
            raise SystemExit(f"lwflow fit: {error}") from None
    if args.pool is not None and args.pool < 1:
        raise SystemExit(f"lwflow fit: --pool {args.pool}: give a number of processes >= 1")
    if args.n_samples < 1:
        raise SystemExit(f"lwflow fit: --n-samples {args.n_samples}: give a positive number of draws")


def _writable_folder(out: Path) -> Path:
    """``out`` resolved, refused where it is a file or cannot be written, before any work."""
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise SystemExit(f"lwflow fit: --out {out} is a file, not a folder; give a folder (made if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(
            f"lwflow fit: --out {out} cannot be made ({error.strerror}); give a folder you can write"
        ) from None
    if not os.access(out, os.W_OK) or not os.access(out.parent, os.W_OK):
        raise SystemExit(
            f"lwflow fit: --out {out} (or the folder that holds it) is not writable; give a folder you can write"
        )
    return out


@contextlib.contextmanager
def _only_writer(out: Path) -> Any:
    """Hold an exclusive lock on ``out`` for one fit; a second fit into it at once is refused
    (their artefacts and provenance would mix)."""
    import fcntl

    with open(out / ".lwflow-fit.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(
                f"lwflow fit: another lwflow fit is writing to {out}; wait for it, or give another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _base_modes(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"base modes must be a positive integer or auto, got {value!r}") from None


def summarise(root: Path) -> str:
    """Every posterior summary under ``root`` as markdown."""
    files = sorted(p for p in (root / "summary").rglob("seed*.md"))
    if not files:
        raise SystemExit(f"lwflow summary: no posterior summaries under {root}/summary; run lwflow fit or the workflow")
    return "\n".join(f"## {p.relative_to(root / 'summary').with_suffix('')}\n\n{p.read_text()}" for p in files)


class _HelpWithDefaults(argparse.HelpFormatter):
    """Every option's help ends with its default (once), where ``argparse.ArgumentDefaultsHelpFormatter``
    shows it for options with a help text only."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or not action.option_strings or action.default in (None, argparse.SUPPRESS, []):
            return text
        return f"{text} (default: %(default)s)".strip()


def _schema_option(group: Any, option: str, **overrides: Any) -> None:
    """``option`` with the type, choices, default and help of its settings-schema entry
    (:data:`OPTION_SETTINGS`; :mod:`lwflow.settings`: one home for each default); ``overrides``
    where the command differs (an adaptive option's default is None until ``--proposal adaptive``)."""
    from lwflow.settings import section_schema

    section, key = OPTION_SETTINGS[option]
    schema = section_schema(section)
    schema = schema["properties"][key] if key is not None else schema
    settings: dict[str, Any] = {"help": " ".join(schema["description"].split()), "default": schema.get("default")}
    if "enum" in schema:
        settings["choices"] = schema["enum"]
    elif schema.get("type") in ("integer", "number"):
        settings["type"] = int if schema["type"] == "integer" else float
    if "default" in overrides and overrides["default"] is None and settings["default"] is not None:
        settings["help"] += f" (default: {settings['default']})"
    group.add_argument(option, **(settings | overrides))


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="lwflow", description="Likelihood-weighted normalizing flows for posteriors.")
    main.add_argument("--version", action="version", version=f"lwflow {lwflow_version()}")
    commands = main.add_subparsers(dest="command", required=True)
    fit = commands.add_parser(
        "fit", help="fit one problem (module:attribute) and write its artefacts", formatter_class=_HelpWithDefaults
    )
    fit.add_argument("target", help="module:attribute of an lwflow.Problem or a function returning one")
    fit.add_argument("--out", required=True, help="results folder (the layout of a workflow run's results/)")
    fit.add_argument("--name", help="the problem's name in paths (default: the Problem's name)")
    fit.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="factory keyword argument")
    fit.add_argument("--data", action="append", default=[], metavar="KEY=PATH", help="data file, passed as a path")
    _schema_option(fit, "--proposal")
    _schema_option(fit, "--n-prior-samples", default=100_000)
    _schema_option(fit, "--seed", default=0)
    fit.add_argument("--pool", type=int, help="processes that share the likelihood's calls (default: this one)")
    rounds = fit.add_argument_group("adaptive rounds (--proposal adaptive; lwflow.settings.AdaptiveConfig)")
    for option in ADAPTIVE_OPTIONS:
        _schema_option(rounds, option, default=None)
    model = fit.add_argument_group("model and training (lwflow.ModelConfig, lwflow.TrainConfig)")
    _schema_option(model, "--arch")
    _schema_option(model, "--modes", type=_base_modes)
    _schema_option(model, "--n-layers", default=None, help="layers (default: 8, and 4 for nsf)")
    for option in ("--hidden-units", "--max-steps", "--batch-size", "--learning-rate"):
        _schema_option(model, option)
    clipping = fit.add_argument_group("weight clipping (--proposal prior; lwflow.ClippingConfig)")
    for option in ("--clip", "--clip-threshold", "--min-ess"):
        _schema_option(clipping, option)
    results = fit.add_argument_group("the posterior")
    results.add_argument("--n-samples", type=int, default=50_000, help="posterior draws written with their log-density")
    _schema_option(results, "--check-draws")
    _schema_option(results, "--refine-draws")
    audit = commands.add_parser("audit", help="check every artefact under a results folder against its sidecar")
    audit.add_argument("root", type=Path)
    audit.add_argument("--all", action="store_true", help="one line per finding (default: stale ones by cause)")
    summary = commands.add_parser("summary", help="print the posterior summaries under a results folder")
    summary.add_argument("root", type=Path)
    check = commands.add_parser(
        "check-config", help="check config files against the config schema: each problem with its line and fix"
    )
    check.add_argument("files", type=Path, nargs="+")
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "audit":
        from lwflow.audit import main as audit_main

        return audit_main([str(args.root), *(["--all"] if args.all else [])])
    if args.command == "summary":
        print(summarise(args.root))
        return 0
    if args.command == "check-config":
        from lwflow.stages.config_file import ConfigError, check_config_file

        try:
            for path in args.files:
                check_config_file(path)
        except ConfigError as error:
            raise SystemExit(str(error)) from None
        print(f"{len(args.files)} config file(s): well-formed YAML, no key twice, valid against the config schema")
        return 0
    from tqdm.auto import tqdm

    try:
        path = run_fit(args, lambda **options: tqdm(leave=False, **options))
    except ValueError as error:  # the user's problem refused (module, factory, data, prior, likelihood)
        raise SystemExit(f"lwflow fit: {error}") from None
    print(path.read_text())
    print(f"artefacts under {args.out}; `lwflow summary {args.out}` prints this again")
    return 0


def run(argv: list[str] | None = None) -> int:
    """:func:`main` for the console script: a reader that closes the pipe early (``| head``) ends
    the output quietly, as command-line tools do."""
    try:
        return main(argv)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


if __name__ == "__main__":
    sys.exit(run())
