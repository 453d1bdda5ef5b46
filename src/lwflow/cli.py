"""The ``lwflow`` command: one problem without Snakemake, its artefacts audited and summarised.

::

    lwflow fit my_model:make_problem --out results --arg noise=0.1 --data observations=obs.csv
    lwflow audit results
    lwflow summary results

``lwflow fit`` runs the workflow's own stages (:mod:`lwflow.stages.jobs`: prior draws, likelihood,
clipped weights with the evidence, training restricted to the prior's support with the
posterior summary) and writes the files a workflow run writes, in the same layout
(:mod:`lwflow.stages.layout`) with the same sidecars and a log per stage, under ``--out``.
A progress bar (tqdm) follows the likelihood rows and the training steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lwflow.artefacts import lwflow_version
from lwflow.stages.layout import artefact_path


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
    from lwflow.problems import load_user_problem, problem_files

    sys.path.insert(0, os.getcwd())  # the module, like `python -m`, from the working directory
    data = {k: str(Path(v).resolve()) for k, v in _key_values(args.data, "--data").items()}
    spec = {"kind": "user", "target": args.target, "args": _key_values(args.arg, "--arg"), "data": data}
    spec["n_prior_samples"] = args.n_prior_samples
    _check_options(args)
    out = _writable_folder(Path(args.out))
    with _only_writer(out):
        with contextlib.chdir(out.parent):
            problem_files(spec)  # data files: regular files under the folder, before the factory reads them
        name = args.name or load_user_problem(args.target, spec["args"], data).name
        _check_option("--name", "problem_name", name)
        return _run_stages(args, spec, name, out, bar_factory)


def _run_stages(
    args: argparse.Namespace, spec: dict[str, Any], name: str, out: Path, bar_factory: Callable[..., Any]
) -> Path:
    from lwflow.problems import problem_files
    from lwflow.stages import jobs

    root, seed = out.name, args.seed
    flow = {"arch": args.arch, "n_modes": args.modes, "hidden_units": args.hidden_units}
    flow |= {"n_layers": args.n_layers} if args.n_layers is not None else {}  # else the architecture's
    refine = {"n_draws": args.refine_draws}
    training = {"max_steps": args.max_steps, "batch_size": args.batch_size, "learning_rate": args.learning_rate}
    clipping = {"strategy": args.clip, "threshold": args.clip_threshold, "min_ess": args.min_ess}
    model = {"fit": "likelihood", "problem": name, "arch": args.arch, "modes": args.modes, "seed": seed}
    paths = {
        key: artefact_path(key, root, chunk=0, **model)
        for key in ("prior", "likelihood_chunk", "likelihood", "weights", "weights_report")
    }
    outputs = {key: artefact_path(key, root, **model) for key in ("model", "loss", "modes")}
    drawn = {key: artefact_path(key, root, **model) for key in ("samples", "summary", "summary_markdown")}
    label = f"{name}/seed{seed}"
    with contextlib.chdir(out.parent):
        code = [Path(p) for p in problem_files(spec)]
        with jobs.job_context(_stage(root, "sample_prior", label, code, {"problem": spec}, seed)) as provenance:
            jobs.sample_prior(name, spec, seed, paths["prior"], provenance)
        job = _stage(root, "evaluate_likelihood", f"{label}/chunk0", [paths["prior"], *code], {"problem": spec}, seed)
        bar = bar_factory(total=args.n_prior_samples, desc="likelihood", unit="rows")
        with bar, jobs.job_context(job) as provenance:
            jobs.evaluate_likelihood(
                name,
                spec,
                paths["prior"],
                0,
                1,
                paths["likelihood_chunk"],
                provenance,
                lambda done, _: bar.update(done - bar.n),
            )
        job = _stage(root, "gather_likelihood", label, [paths["likelihood_chunk"]], {}, seed)
        with jobs.job_context(job) as provenance:
            jobs.gather_likelihood([paths["likelihood_chunk"]], paths["likelihood"], provenance)
        job = _stage(root, "clip_weights", label, [paths["likelihood"]], {"clipping": clipping}, seed)
        with jobs.job_context(job) as provenance:
            jobs.clip_weights(paths["likelihood"], clipping, paths["weights"], paths["weights_report"], provenance)
        config = {"problem": spec, "flow": flow, "training": training, "refine": refine}
        model_label = f"likelihood/{name}/{args.arch}_K{args.modes}/seed{seed}"
        inputs = [paths["prior"], paths["weights"], paths["weights_report"]]
        job = _stage(root, "train_flow", model_label, inputs, config, seed)
        bar = bar_factory(total=args.max_steps, desc="training", unit="steps")
        with bar, jobs.job_context(job) as provenance:
            jobs.train(
                name, spec, paths["prior"], paths["weights"], flow, training, {}, {}, seed,
                outputs, provenance, lambda record: bar.update(int(record["step"]) - bar.n), refine=refine,
            )  # fmt: skip
        inputs = [outputs["model"], outputs["modes"], paths["weights_report"]]
        sampling = {"n_samples": args.n_samples, "check": {"n_draws": args.check_draws}}
        job = _stage(root, "sample_model", model_label, inputs, {"problem": spec} | sampling, seed)
        with jobs.job_context(job) as provenance:
            jobs.sample_model(
                name, spec, "likelihood", f"{args.arch}_K{args.modes} (fit on likelihood)", outputs["model"],
                outputs["modes"], paths["weights_report"], sampling, seed, drawn, provenance,
            )  # fmt: skip
    return out.parent / drawn["summary_markdown"]


# Each option checked by its settings-schema entry (lwflow.settings): option -> (section, key).
OPTION_SETTINGS = {
    "--n-prior-samples": ("n_prior_samples", None),
    "--seed": ("seed", None),
    "--modes": ("model", "n_modes"),
    "--n-layers": ("model", "n_layers"),
    "--hidden-units": ("model", "hidden_units"),
    "--max-steps": ("training", "max_steps"),
    "--batch-size": ("training", "batch_size"),
    "--learning-rate": ("training", "learning_rate"),
    "--clip-threshold": ("clipping", "threshold"),
    "--min-ess": ("clipping", "min_ess"),
    "--check-draws": ("check", "n_draws"),
    "--refine-draws": ("refine", "n_draws"),
}


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


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="lwflow", description="Likelihood-weighted normalizing flows for posteriors.")
    main.add_argument("--version", action="version", version=f"lwflow {lwflow_version()}")
    commands = main.add_subparsers(dest="command", required=True)
    fit = commands.add_parser(
        "fit",
        help="fit one problem (module:attribute) and write its artefacts",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    fit.add_argument("target", help="module:attribute of an lwflow.Problem or a function returning one")
    fit.add_argument("--out", required=True, help="results folder (the layout of a workflow run's results/)")
    fit.add_argument("--name", help="the problem's name in paths (default: the Problem's name)")
    fit.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE", help="factory keyword argument")
    fit.add_argument("--data", action="append", default=[], metavar="KEY=PATH", help="data file, passed as a path")
    fit.add_argument("--n-prior-samples", type=int, default=100_000)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--arch", default="realnvp", choices=["realnvp", "maf", "nsf", "rbig"])
    fit.add_argument("--modes", default="auto", type=_base_modes, help="base modes or auto")
    fit.add_argument("--n-layers", type=int, default=None, help="layers (default: 8, and 4 for nsf)")
    fit.add_argument("--hidden-units", type=int, default=64)
    fit.add_argument("--max-steps", type=int, default=1000)
    fit.add_argument("--batch-size", type=int, default=1024)
    fit.add_argument("--learning-rate", type=float, default=3e-3)
    fit.add_argument("--clip", default="max_share", choices=["none", "quantile", "max_share"])
    fit.add_argument("--clip-threshold", type=float, default=0.01)
    fit.add_argument("--min-ess", type=float, default=100.0)
    fit.add_argument("--n-samples", type=int, default=50_000, help="posterior draws written with their log-density")
    fit.add_argument(
        "--check-draws", type=int, default=2000, help="draws of the check against the likelihood (the verdict)"
    )
    fit.add_argument(
        "--refine-draws", type=int, default=2000, help="draws of the base refinement (lwflow.fitting.refine); 0: none"
    )
    audit = commands.add_parser("audit", help="check every artefact under a results folder against its sidecar")
    audit.add_argument("root", type=Path)
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

        return audit_main([str(args.root)])
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
