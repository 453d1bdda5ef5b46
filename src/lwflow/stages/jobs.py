"""One function per workflow stage: read artefacts, call the library, write artefacts.

The workflow's rule scripts only forward their inputs, outputs and parameters here, so
every stage can also be run from Python without Snakemake.  ``job_context`` accepts
any object with Snakemake's job attributes (``rule, input, output, params, wildcards,
log, threads``); the library never imports Snakemake.

Random streams are derived from the seed alone, one per stage, so the same seed gives
the same artefact: :data:`lwflow.streams.STREAMS` names them.

Modules that take long to import (torch, the flows, the problems and scipy.stats behind
them, the metrics with POT) are imported inside the stages that use them: every job is
its own process, and a training job that imports only what it uses starts 0.6 s sooner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lwflow.artefacts import (
    Provenance,
    first_changed_row,
    read_json,
    read_npz,
    read_sidecar,
    sidecar_path,
    verified_inputs,
    write_csv,
    write_json,
    write_npz,
    write_sidecar,
    write_text,
)
from lwflow.fitting.weights import weights_from_log_likelihood
from lwflow.settings import settings_of
from lwflow.stages.orphans import stop_when_orphaned
from lwflow.streams import rng_for, seed_for


@contextlib.contextmanager
def job_context(job: Any) -> Iterator[Provenance]:
    """Send output to the job's log, set torch threads from ``job.threads``, check every input
    against its own sidecar (:func:`lwflow.artefacts.verified_inputs`), yield provenance; a job
    whose Snakemake process dies stops itself (:mod:`lwflow.stages.orphans`).

    The objects that exist on entry (torch's modules: about 200 000) and on a clean exit are
    moved out of the garbage collector's reach (``gc.freeze``): a job is one short process, and
    the interpreter's collections at shutdown otherwise walk all of them (0.4-0.6 s per torch job).
    """
    gc.freeze()
    stop_when_orphaned()
    log_path = Path(job.log[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(job.threads))
        seed = getattr(job.wildcards, "seed", None)
        try:
            provenance = Provenance(
                step=job.rule,
                inputs=[str(p) for p in job.input],
                config=dict(getattr(job.params, "config_slice", {})),
                seed=int(seed) if seed is not None else None,
                input_hashes=verified_inputs(list(job.input)),
            )
            yield provenance
        except Exception as error:
            print(f"{type(error).__name__}: {error}", file=log)
            raise
    gc.freeze()


def sample_prior(name: str, spec: dict[str, Any], seed: int, output: Path, provenance: Provenance) -> None:
    """``theta``: ``spec['n_prior_samples']`` draws from the prior, with their ``log_prior`` (the
    likelihood's job checks it against the problem's prior: :func:`check_prior_unchanged`)."""
    from lwflow.problems import problem_from_spec

    problem = problem_from_spec(name, spec)
    theta = problem.prior.sample(int(spec["n_prior_samples"]), rng_for(seed, "prior"))
    write_npz(output, {"theta": theta, "log_prior": problem.prior.log_prob(theta)}, provenance)
    print(f"{len(theta)} prior samples in {problem.dim} dimensions")


def sample_target(
    name: str, spec: dict[str, Any], n_samples: int, seed: int, output: Path, provenance: Provenance
) -> None:
    """``theta``: ``n_samples`` exact draws of the target (the ``samples`` training mode, paper B)."""
    truth = _truth_of(name, spec)
    theta = truth.sample(n_samples, rng_for(seed, "target"))
    write_npz(output, {"theta": theta}, provenance)
    print(f"{len(theta)} exact target samples in {theta.shape[1]} dimensions")


def _truth_of(name: str, spec: dict[str, Any]) -> Any:
    from lwflow.problems import problem_from_spec

    truth = problem_from_spec(name, spec).truth
    if truth is None:
        raise ValueError(f"problem {name!r} has no exact sampler; it can only be trained with fit: likelihood")
    return truth


def evaluate_likelihood(
    name: str,
    spec: dict[str, Any],
    prior: Path,
    chunk: int,
    n_chunks: int,
    output: Path,
    provenance: Provenance,
    on_rows: Callable[[int, int], None] | None = None,
    pool: int | None = None,
) -> None:
    """``log_likelihood`` of chunk ``chunk`` of ``n_chunks`` of the prior draws (consecutive rows,
    :func:`numpy.array_split`), checked for NaN, ``+inf`` and shape; one job per chunk, so an
    expensive likelihood runs in parallel, and within a chunk over ``pool`` processes
    (:func:`lwflow.problems.likelihoods.likelihood_pool`).  A flushed log line after every batch of rows."""
    from lwflow.fitting.weights import evaluate_log_likelihood
    from lwflow.problems import problem_from_spec
    from lwflow.problems.likelihoods import likelihood_pool

    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} does not exist: problem {name!r} has likelihood_chunks {n_chunks}")
    problem = problem_from_spec(name, spec)
    draws = read_npz(prior)
    theta = np.array_split(draws["theta"], n_chunks)[chunk]
    if "log_prior" in draws:
        check_prior_unchanged(problem, theta, np.array_split(draws["log_prior"], n_chunks)[chunk], Path(prior))

    def progress(done: int, total: int) -> None:
        print(f"chunk {chunk + 1}/{n_chunks}: {done}/{total} rows", flush=True)
        if on_rows is not None:
            on_rows(done, total)

    with likelihood_pool(problem.log_likelihood, pool) as pooled:
        pooled_problem = dataclasses.replace(problem, log_likelihood=pooled, vectorized=True)
        log_likelihood = evaluate_log_likelihood(pooled_problem, theta, progress=progress)
    write_npz(output, {"log_likelihood": log_likelihood}, provenance)
    n_nonzero = np.isfinite(log_likelihood).sum()
    print(f"chunk {chunk + 1}/{n_chunks}: {n_nonzero} of {len(theta)} samples have nonzero likelihood")


def check_prior_unchanged(problem: Any, theta: np.ndarray, log_prior: np.ndarray, draws: Path) -> None:
    """Refuse draws whose recorded log-prior is not the problem's prior now.  The draws' job reads
    the problem's module only, so a data file edit reruns the likelihood but not the draws; a
    prior built from the data would otherwise be weighed against draws of the old one."""
    now = problem.prior.log_prob(theta)
    row = first_changed_row(log_prior, now)
    if row is not None:
        raise ValueError(
            f"the prior of problem {problem.name!r} changed since {draws} was drawn (log-prior {log_prior[row]:.6g} "
            f"then, {now[row]:.6g} now, at {theta[row].tolist()}): its prior depends on a data file; remake the "
            f"draws: snakemake --cores 1 --forcerun sample_prior propose_round"
        )


def gather_likelihood(chunks: list[Path], output: Path, provenance: Provenance) -> None:
    """The chunks' log-likelihoods in prior-draw order; stops if no draw has nonzero likelihood."""
    log_likelihood = np.concatenate([read_npz(path)["log_likelihood"] for path in chunks])
    weights_from_log_likelihood(log_likelihood)
    write_npz(output, {"log_likelihood": log_likelihood}, provenance)
    print(f"{np.isfinite(log_likelihood).sum()} of {len(log_likelihood)} samples have nonzero likelihood")


def clip_weights(
    likelihood: Path, clipping: dict[str, Any], weights_out: Path, report_out: Path, provenance: Provenance
) -> None:
    """Normalised, clipped weights and a report of ESS and largest weight share before/after,
    with the evidence estimate of the prior draws and the gates that held; stops where the ESS
    before or after clipping is below ``clipping['min_ess']``."""
    from lwflow.fitting.weights import ClippingConfig, clipped_weights, log_evidence

    log_likelihood = read_npz(likelihood)["log_likelihood"]
    config = settings_of(ClippingConfig, clipping)
    clipped, report = clipped_weights(log_likelihood, config)
    log_z, log_z_se = log_evidence(log_likelihood)
    print(report, flush=True)
    gates = {
        "min_ess": config.min_ess,
        "min_ess_held_on": ["ess_before", "ess_after"],
        "max_ess_gain": config.max_ess_gain,
    }
    write_npz(weights_out, {"weights": clipped}, provenance)
    write_json(report_out, report.as_dict() | gates | {"log_evidence": log_z, "log_evidence_se": log_z_se}, provenance)


def train(
    name: str,
    spec: dict[str, Any],
    theta_path: Path,
    weights_path: Path | None,
    flow: dict[str, Any],
    training: dict[str, Any],
    rbig: dict[str, Any],
    mode_selection: dict[str, Any],
    seed: int,
    outputs: dict[str, Path],
    provenance: Provenance,
    on_step: Callable[[dict[str, float]], None] | None = None,
    refine: dict[str, Any] | None = None,
    beta: float | None = None,
    warm_start: Path | None = None,
    warm_steps: int = 0,
) -> None:
    """Train one model on ``theta`` with weights (all equal without ``weights_path``) by
    :func:`lwflow.fitting.model_fit.fit_model`, restricted to the prior's support, its base refined on
    fresh draws where ``refine`` says (:mod:`lwflow.fitting.refine`: a final flow fitted to the
    likelihood, not after adaptive rounds that stopped at ``beta`` < 1; its record in the checkpoint's
    sidecar); ``warm_start``: an adaptive round's flow that this one starts from for ``warm_steps``
    steps where it has the base modes chosen (:func:`lwflow.fitting.model_fit.fit_model`); write its checkpoint,
    loss history and base-modes record (``outputs``: ``model``, ``loss``, ``modes``).  Its samples
    are another job's (:func:`sample_model`), so that their number reruns no training.  A
    flushed log line per evaluation step."""
    from lwflow.fitting.model_fit import ModelConfig, ModeSelectionConfig, fit_model
    from lwflow.fitting.refine import RefineConfig, refine_base
    from lwflow.fitting.train import TrainConfig
    from lwflow.models.flows import load_checkpoint, save_checkpoint
    from lwflow.problems import problem_from_spec

    def progress(record: dict[str, float]) -> None:
        print(f"step {record['step']}: train {record['train_loss']:.4f} val {record['val_loss']:.4f}", flush=True)
        if on_step is not None:
            on_step(record)

    problem = problem_from_spec(name, spec)
    theta = read_npz(theta_path)["theta"]
    w = read_npz(weights_path)["weights"] if weights_path is not None else np.ones(len(theta))
    fitted = fit_model(
        theta,
        w,
        problem.prior.support(),
        settings_of(ModelConfig, flow),
        seed,
        settings_of(TrainConfig, training),
        rbig,
        settings_of(ModeSelectionConfig, mode_selection),
        progress=progress,
        warm_start=None if warm_start is None else load_checkpoint(warm_start),
        warm_steps=warm_steps,
    )
    if refine:
        config = settings_of(RefineConfig, refine)
        fitted.model, fitted.facts["refinement"] = refine_base(fitted.model, problem, config, seed, beta)
        print(f"base refined: {fitted.facts['refinement']}", flush=True)
    if "device" in fitted.facts:
        print(f"trained on {fitted.facts['device']}: {fitted.facts['device_reason']}", flush=True)
    write_json(outputs["modes"], fitted.modes, provenance)
    provenance.extra = fitted.facts
    save_checkpoint(outputs["model"], fitted.model, fitted.spec)
    write_sidecar(outputs["model"], provenance)
    write_csv(outputs["loss"], fitted.history, provenance)
    print(fitted.history.tail().to_string(index=False))


def train_with_settings(
    name: str,
    settings: dict[str, Any],
    theta_path: Path,
    weights_path: Path | None,
    device: str,
    seed: int,
    outputs: dict[str, Path],
    provenance: Provenance,
    report: Path | None = None,
    warm_start: Path | None = None,
) -> None:
    """:func:`train` with the sections of one model's settings as the workflow's plan slices them
    (``problem``, ``flow``, ``training``, ``rbig``, ``mode_selection``, and ``refine`` for a final flow:
    :meth:`lwflow.stages.plan.Plan.final_model_settings`; ``warm_start_steps`` for an adaptive round's
    flow, which starts from the last round's flow ``warm_start``) and the device, which is no rerun
    trigger; ``report``: the training data's report, whose ``beta`` (adaptive rounds) the refinement reads."""
    training = {**settings["training"], "device": device}
    beta = read_json(report).get("beta") if report is not None else None
    train(
        name, settings["problem"], theta_path, weights_path, settings["flow"], training, settings["rbig"],
        settings["mode_selection"], seed, outputs, provenance, refine=settings.get("refine"), beta=beta,
        warm_start=warm_start, warm_steps=settings.get("warm_start_steps", 0),
    )  # fmt: skip


def propose_round(
    name: str,
    spec: dict[str, Any],
    adaptive: dict[str, Any],
    proposal_model: Path | None,
    last_report: Path | None,
    seed: int,
    round_index: int,
    output: Path,
    provenance: Provenance,
) -> None:
    """Adaptive round ``round_index``'s draws (:func:`lwflow.fitting.rounds.draw_round`): from the
    prior in round 0, else from the last round's flow mixed with the prior; with their log-prior.
    Their number is the last round's report's (``last_report``: :func:`lwflow.fitting.rounds.round_size`)."""
    from lwflow.fitting.rounds import draw_round, round_size
    from lwflow.models.flows import load_checkpoint
    from lwflow.problems import problem_from_spec

    problem = problem_from_spec(name, spec)
    flow = None if proposal_model is None else load_checkpoint(proposal_model)
    n = round_size(adaptive["n_per_round"], None if last_report is None else read_json(last_report))
    theta = draw_round(problem, flow, n, adaptive["defensive_share"], seed, round_index)
    write_npz(output, {"theta": theta, "log_prior": problem.prior.log_prob(theta)}, provenance)
    print(f"round {round_index}: {len(theta)} draws from {'the prior' if flow is None else proposal_model}")


def weigh_round(
    adaptive: dict[str, Any],
    draws: Path,
    likelihood: Path,
    previous: dict[str, Path] | None,
    proposal_models: Sequence[Path],
    outputs: dict[str, Path],
    provenance: Provenance,
) -> None:
    """Pool round r's draws with rounds 0..r-1 (``previous``: round r-1's pool and report), weigh
    them all and decide whether another round follows (:func:`lwflow.fitting.rounds.weigh_round`);
    ``proposal_models`` are the flows of rounds 0..r-1, whose mixtures with the prior proposed
    rounds 1..r.  Writes the pool with the training weights and a report: this round's record,
    every round's so far, the ESS and :math:`\\log \\hat Z` with its se and Pareto :math:`\\hat k`."""
    from lwflow.fitting.rounds import AdaptiveConfig, Pool, evidence, training_weights, weigh_round
    from lwflow.models.flows import load_checkpoint

    config = AdaptiveConfig(**adaptive)
    new = read_npz(draws)
    pool = Pool.from_arrays(read_npz(previous["pool"])) if previous else Pool.empty(new["theta"].shape[1])
    report = read_json(previous["report"]) if previous else {"rounds": []}
    proposals = [None, *(load_checkpoint(path) for path in proposal_models)]
    log_likelihood = read_npz(likelihood)["log_likelihood"]
    pool = pool.extend(new["theta"], new["log_prior"], log_likelihood, proposals, config.defensive_share)
    outcome = weigh_round(pool, config, report["rounds"])
    records = [*report["rounds"], outcome.record]
    log_z, log_z_se, k_hat = evidence(pool, records)
    weights = training_weights(outcome.log_weights)
    write_npz(outputs["pool"], pool.arrays() | {"log_weights": outcome.log_weights, "weights": weights}, provenance)
    ess = outcome.record["ess"]
    summary = {"ess_before": ess, "ess_after": ess, "log_evidence": log_z, "log_evidence_se": log_z_se}
    summary |= {"pareto_k": k_hat, "n_likelihood_calls": outcome.record["calls"]}
    write_json(outputs["report"], outcome.record | summary | {"rounds": records}, provenance)
    print(outcome.record | summary, flush=True)
    if outcome.record["next"] != "train":
        remove_later_rounds(Path(outputs["report"]).parent, int(outcome.record["round"]))


def remove_later_rounds(round_folder: Path, last: int) -> None:
    """Delete what a run under other settings (``n_per_round`` changed, say) left after this run's
    last round: the folders of later rounds, and this round's own flow (trained when that run
    went on from it).  This run's rounds stop at ``last``, so those files belong to no result of
    it and would only stay stale for the audit."""
    import re
    import shutil

    leftovers = [round_folder / name for name in ("model.pt", "loss.csv", "modes.json")]
    for path in [*leftovers, *(sidecar_path(path) for path in leftovers)]:
        if path.is_file():
            print(f"removing {path}: round {last} is this run's last; a run under other settings trained it")
            path.unlink()
    for folder in round_folder.parent.iterdir():
        match = re.fullmatch(r"round(\d+)", folder.name)
        if match and int(match.group(1)) > last and folder.is_dir():
            print(f"removing {folder}: a round after this run's last ({last}), left by a run under other settings")
            shutil.rmtree(folder)


def model_check(samples: Path) -> dict[str, Any]:
    """A model's check (:mod:`lwflow.fitting.verdict`), from the sidecar of its samples."""
    return dict(read_sidecar(sidecar_path(samples)).get("check") or {})


def _fit_calls(fit: str, spec: dict[str, Any], report: dict[str, Any], model: Path) -> int:
    """The likelihood calls of a workflow model's fit: its prior draws, its rounds' draws, or none
    (trained on exact draws), and its base refinement's draws (from the checkpoint's sidecar)."""
    refined = int((read_sidecar(sidecar_path(model)).get("refinement") or {}).get("n_draws", 0))
    if fit == "adaptive":
        return int(report["n_likelihood_calls"]) + refined
    return (int(spec.get("n_prior_samples", 0)) if fit == "likelihood" else 0) + refined


def _check_model(problem: Any, fitted: Any, fit: str, report: dict[str, Any], check: dict[str, Any], seed: int) -> Any:
    """The check of a workflow model: against the weights' or the last round's evidence, with the
    rounds' stop and beta for adaptive fits."""
    from lwflow.fitting.verdict import CheckConfig, advice_for, check_posterior

    evidence = (report["log_evidence"], report["log_evidence_se"]) if "log_evidence" in report else None
    rounds = report.get("rounds") or [{}]
    stop, beta = rounds[-1].get("next"), rounds[-1].get("beta")
    proposal = {"likelihood": "prior"}.get(fit, fit)
    advice = advice_for(proposal, stop, report.get("n_likelihood_calls"), report.get("adaptive"))
    rng = rng_for(seed, "check")
    return check_posterior(fitted, problem, settings_of(CheckConfig, check), rng, evidence, stop, beta, advice)


def sample_model(
    name: str,
    spec: dict[str, Any],
    fit: str,
    label: str,
    model: Path,
    modes: Path,
    weights_report: Path | None,
    sampling: dict[str, Any],
    seed: int,
    outputs: dict[str, Path],
    provenance: Provenance,
) -> None:
    """``sampling['n_samples']`` draws of one trained model with their log-density
    (``outputs['samples']``), its check against the likelihood (:mod:`lwflow.fitting.verdict`,
    settings ``sampling['check']``; in the samples' sidecar) and what a scientist reads first
    about that posterior (``summary``, ``summary_markdown``): the verdict, per parameter the mean,
    sd and 5/50/95 % quantiles of the draws (names from the problem), with the ESS before and
    after clipping, the chosen base modes and :math:`\\log \\hat Z \\pm` se (fit on the
    likelihood or adaptive).  A ``not trusted`` verdict is a ``WARNING:`` line in the log."""
    from lwflow.evaluation.tables import markdown_table
    from lwflow.fitting.posterior import check_headline, summarise_samples
    from lwflow.models.flows import load_checkpoint
    from lwflow.problems import problem_from_spec

    fitted = load_checkpoint(model)
    problem = problem_from_spec(name, spec)
    report = read_json(weights_report) if weights_report is not None else {}
    check = _check_model(problem, fitted, fit, report, sampling.get("check", {}), seed)
    samples = fitted.sample(int(sampling["n_samples"]), seed_for(seed, "model_samples"))
    checked = dataclasses.replace(provenance, extra={"check": check.as_dict()})  # read back by model_check
    write_npz(outputs["samples"], {"samples": samples, "log_q": fitted.log_prob(samples)}, checked)
    frame = summarise_samples(samples, problem.names)
    headline = (
        {
            "problem": name,
            "model": label,
            "seed": provenance.seed,
            "n_modes": read_json(modes)["n_modes"],
            "ess_before_clipping": report.get("ess_before"),
            "ess": report.get("ess_after"),
            "log_evidence": report.get("log_evidence"),
            "log_evidence_se": report.get("log_evidence_se"),
            "n_likelihood_calls": _fit_calls(fit, spec, report, model) + check.n_draws,
        }
        | check_headline(check)
        | {"warning": check.warning}
    )
    write_json(outputs["summary"], headline | {"parameters": frame.to_dict(orient="records")}, provenance)
    in_line = set(check_headline(check)) - {"verdict"}  # the verdict line above the table says them
    shown = {k: v for k, v in headline.items() if v is not None and k not in in_line | {"warning"}}
    facts = markdown_table(pd.DataFrame([shown]))
    notes = "".join(f"\n**{key}**: {headline[key]}\n" for key in ("advice", "warning") if headline[key])
    write_text(outputs["summary_markdown"], f"{check.line()}\n\n{facts}{notes}\n{markdown_table(frame)}", provenance)
    print(f"{len(samples)} samples of {label}; {check.line()}", flush=True)
    if check.warning is not None:
        print(f"WARNING: {check.warning}", flush=True)


def problem_summary(
    summaries: Sequence[Path], csv_out: Path, markdown_out: Path, html_out: Path, provenance: Provenance
) -> None:
    """Every model's summary of one problem in one long table (a row per model, seed and
    parameter), also as markdown, and as an HTML page of two narrow tables: the fits (verdict,
    modes, ESS, log Z +- se, Pareto k, shift per model and seed) and their parameters."""
    from lwflow.evaluation.tables import markdown_table, summary_sections, to_html

    rows = []
    for path in summaries:
        record = read_json(path)
        head = {k: v for k, v in record.items() if k != "parameters"}
        rows += [head | parameter for parameter in record["parameters"]]
    columns = ["problem", "model", "seed", "verdict", "parameter", "mean", "sd", "q05", "q50", "q95", "n_modes"]
    columns += ["ess", "log_evidence", "log_evidence_se", "pareto_k", "shift"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    write_csv(csv_out, frame, provenance)
    write_text(markdown_out, markdown_table(frame), provenance)
    write_text(html_out, to_html(summary_sections(frame), f"Posterior summaries: {Path(csv_out).stem}"), provenance)


def truth_reference(
    name: str,
    spec: dict[str, Any],
    evaluation: dict[str, Any],
    seed: int,
    reference_out: Path,
    floor_out: Path,
    provenance: Provenance,
) -> None:
    """Two independent exact posterior samples: one to score models, one for the floors."""
    from lwflow.evaluation.metrics import bridge_mass, log_density_maximum, sample_metrics

    truth = _truth_of(name, spec)
    rng = rng_for(seed, "truth")
    n = int(evaluation["n_samples"])
    reference, independent = truth.sample(n, rng), truth.sample(n, rng)
    log_p, log_p_independent = truth.log_prob(reference), truth.log_prob(independent)
    log_p_max = log_density_maximum(truth.log_prob, reference)
    floor = sample_metrics(independent, reference, evaluation)
    floor["nll"], floor["kl"], floor["hole_mass"] = float(-log_p_independent.mean()), 0.0, 0.0
    floor["bridge_mass"] = bridge_mass(log_p_independent, log_p_max, evaluation["bridge_fraction"])
    write_npz(reference_out, {"samples": reference, "log_p": log_p, "log_p_max": np.array(log_p_max)}, provenance)
    write_json(floor_out, floor, provenance)


def _score(
    truth: Any, log_q: np.ndarray, q_samples: np.ndarray, ref: dict[str, np.ndarray], evaluation: dict[str, Any]
) -> dict[str, Any]:
    """Every metric of one model from its log-density on the reference and its own samples."""
    from lwflow.evaluation.metrics import bridge_mass, hole_mass, kl_divergence, negative_log_likelihood, sample_metrics

    kl, kl_se = kl_divergence(ref["log_p"], log_q)
    result: dict[str, Any] = {
        "kl": kl,
        "kl_se": kl_se,
        "nll": negative_log_likelihood(log_q),
        "n_samples": len(q_samples),
    }
    result |= sample_metrics(q_samples, ref["samples"], evaluation)
    result["bridge_mass"] = bridge_mass(
        truth.log_prob(q_samples), float(ref["log_p_max"]), evaluation["bridge_fraction"]
    )
    result["hole_mass"] = hole_mass(ref["log_p"], log_q, evaluation["hole_fraction"])
    return result


def model_metrics(
    name: str,
    spec: dict[str, Any],
    models: Sequence[Path],
    samples: Sequence[Path],
    reference: Path,
    evaluation: dict[str, Any],
    outputs: Sequence[Path],
    log_q_outputs: Sequence[Path],
    provenance: Provenance,
) -> None:
    """NLL, KL, W1,avg, sliced W1, W2, MMD^2, bridge and hole mass of trained models of one problem
    against its exact posterior; also each one's log-density on the reference sample (for the
    mixtures).  ``models[i]`` (a checkpoint) with its draws ``samples[i]`` is scored into
    ``outputs[i]`` and ``log_q_outputs[i]``; one process scores several, so its imports and
    the exact posterior are paid for once.  All are scored before any is written: the workflow
    marks these outputs ``update``, so when one model cannot be scored Snakemake restores the
    group's earlier metrics instead of deleting them."""
    from lwflow.models.flows import load_checkpoint

    groups = (models, samples, outputs, log_q_outputs)
    if len({len(group) for group in groups}) != 1:
        raise ValueError(
            f"model_metrics needs one draws file and two outputs per model; got {[len(g) for g in groups]} "
            "(models, samples, outputs, log_q_outputs)"
        )
    truth = _truth_of(name, spec)
    ref = read_npz(reference)
    scored = []
    for model, draws in zip(models, samples, strict=True):  # every model scored before any is written
        log_q = load_checkpoint(model).log_prob(ref["samples"])
        result = _score(truth, log_q, read_npz(draws)["samples"], ref, evaluation)
        scored.append((log_q, result | {"verdict": model_check(draws).get("verdict")}))
        print(f"{model}: {scored[-1][1]}", flush=True)
    for (log_q, result), model, draws, output, log_q_out in zip(scored, *groups, strict=True):
        own = dataclasses.replace(provenance, inputs=[str(model), str(draws), str(reference)])
        write_npz(log_q_out, {"log_q": log_q}, own)
        write_json(output, result, own)


def amfvi_weights(
    name: str,
    spec: dict[str, Any],
    fit: str,
    experts: dict[str, Path],
    amfvi: dict[str, Any],
    seed: int,
    output: Path,
    trajectory_out: Path,
    provenance: Provenance,
) -> None:
    """AMF-VI (EMA) and EM mixture weights over the frozen ``experts`` (arch -> checkpoint).

    Fresh batches are exact target draws (``fit == 'samples'``) or fresh prior draws with
    self-normalised likelihood weights (``fit == 'likelihood'``); EM uses all of them.
    """
    from lwflow.evaluation.metrics import effective_number
    from lwflow.fitting.mixture import em_weights, ema_weights
    from lwflow.fitting.weights import weights_from_log_likelihood
    from lwflow.models.density import DensityModel
    from lwflow.models.flows import load_checkpoint
    from lwflow.problems import problem_from_spec

    problem = problem_from_spec(name, spec)
    truth = _truth_of(name, spec) if fit == "samples" else None
    models: dict[str, DensityModel] = {arch: load_checkpoint(path) for arch, path in experts.items()}
    rng = rng_for(seed, "fresh")
    draws, batch_weights = [], []
    for _ in range(int(amfvi["n_batches"])):
        if truth is not None:
            x = truth.sample(int(amfvi["batch_size"]), rng)
            w = np.ones(len(x))
        else:
            x = problem.prior.sample(int(amfvi["batch_size"]), rng)
            w = weights_from_log_likelihood(np.asarray(problem.log_likelihood(x), dtype=float))
            x, w = x[w > 0], w[w > 0]
        draws.append(x)
        batch_weights.append(w)
    # every expert sees all batches in one call (its per-call costs, e.g. RBIG's tables, paid once)
    log_q = np.column_stack([models[a].log_prob(np.concatenate(draws)) for a in models])
    batches = np.split(log_q, np.cumsum([len(x) for x in draws])[:-1])
    trajectory = ema_weights(batches, float(amfvi["beta"]), batch_weights)
    em = em_weights(np.concatenate(batches), np.concatenate([w / w.sum() for w in batch_weights]))
    archs = list(models)
    result = {
        "experts": archs,
        "ema": dict(zip(archs, trajectory[-1].tolist())),
        "em": dict(zip(archs, em.tolist())),
        "n_eff_ema": effective_number(trajectory[-1]),
        "n_eff_em": effective_number(em),
        "beta": float(amfvi["beta"]),
        "n_batches": len(batches),
    }
    write_json(output, result, provenance)
    write_csv(trajectory_out, pd.DataFrame(trajectory, columns=archs).rename_axis("update").reset_index(), provenance)
    print(result)


def mixture_metrics(
    name: str,
    spec: dict[str, Any],
    weights: Path,
    log_q: dict[str, Path],
    samples: dict[str, Path],
    reference: Path,
    evaluation: dict[str, Any],
    seed: int,
    output: Path,
    samples_out: Path,
    provenance: Provenance,
) -> None:
    """Every metric of the AMF-VI and EM mixtures (their log-density from the experts' on the
    reference; their samples drawn from the experts' samples by multinomial counts)."""
    from lwflow.evaluation.metrics import effective_number
    from lwflow.fitting.mixture import mixture_log_prob, mixture_samples

    truth, ref, mix = _truth_of(name, spec), read_npz(reference), read_json(weights)
    archs = mix["experts"]
    expert_log_q = np.column_stack([read_npz(log_q[a])["log_q"] for a in archs])
    expert_samples = [read_npz(samples[a])["samples"] for a in archs]
    rng = rng_for(seed, "mixture")
    result, draws = {}, {}
    for method in ("ema", "em"):
        pi = np.array([mix[method][a] for a in archs])
        draws[method] = mixture_samples(expert_samples, pi, min(len(s) for s in expert_samples), rng)
        result[method] = _score(truth, mixture_log_prob(expert_log_q, pi), draws[method], ref, evaluation)
        result[method]["n_eff"] = effective_number(pi)
    write_npz(samples_out, draws, provenance)
    write_json(output, result, provenance)
    print(result)


def paper_table(
    table: str,
    rows: list[dict[str, Any]],
    metric_names: tuple[str, ...],
    csv_out: Path,
    markdown_out: Path,
    html_out: Path,
    seeds_png: Path,
    provenance: Provenance,
) -> None:
    """A long-format table from per-seed metrics (also as markdown, as an HTML page and as a
    figure of every seed's values, :func:`lwflow.evaluation.figures.seeds_figure`).

    ``rows`` carry label, published, seeds, metrics, floors paths, and optionally ``key`` (the
    metrics sit under that key of each JSON: mixtures), ``true_modes``, ``density_maxima``
    and ``modes`` (per-seed ``modes.json`` paths: the chosen K, column ``chosen_k``)."""
    from lwflow.evaluation.figures import save_figure, seeds_figure
    from lwflow.evaluation.tables import FLAGGED_VERDICTS, summarise, to_html, to_markdown

    records, per_seed = [], []
    for row in rows:
        metrics = [read_json(p)[row["key"]] if row.get("key") else read_json(p) for p in row["metrics"]]
        per_seed += [
            {"row": row["label"], "metric": name, "seed": seed, "value": float(values[name])}
            for name in metric_names
            for seed, values in zip(row["seeds"], metrics)
            if name in values
        ]
        floors = [read_json(p) for p in row["floors"]]
        extra = {
            column: math.nan if row[column] is None else row[column]
            for column in ("true_modes", "density_maxima")
            if column in row
        }
        if "modes" in row:
            extra["chosen_k"] = " ".join(str(read_json(p)["n_modes"]) for p in row["modes"])
        for verdict, (column, _) in FLAGGED_VERDICTS.items():
            extra[column] = " ".join(
                str(s) for s, values in zip(row["seeds"], metrics) if values.get("verdict") == verdict
            )
        records += [
            record | extra for record in summarise(table, row["label"], metrics, floors, row["published"], metric_names)
        ]
    frame = pd.DataFrame.from_records(records)
    write_csv(csv_out, frame, provenance)
    write_text(markdown_out, to_markdown(frame), provenance)
    write_text(html_out, to_html(frame, table), provenance)
    figure = seeds_figure(pd.DataFrame(per_seed), frame, f"{table}: every seed")
    save_figure(figure, [seeds_png], provenance)


def results_page(template: Path, tables: dict[str, Path], page_out: Path, provenance: Provenance) -> None:
    """A results page (:mod:`lwflow.evaluation.pages`): ``template`` filled with each table's
    markdown (``$name``: the ``.md`` beside its ``.csv``, as the table job wrote it), its
    comparison with the published values (``$name_comparison``, from the ``.csv``) and the stamp
    of the jobs that made the tables (``$stamp``)."""
    from lwflow.evaluation.pages import published_comparison, render_page, run_stamp

    values = {"stamp": run_stamp([read_json(sidecar_path(Path(path))) for path in tables.values()])}
    for name, path in tables.items():
        values[name] = Path(path).with_suffix(".md").read_text().strip()
        values[f"{name}_comparison"] = published_comparison(pd.read_csv(path))
    write_text(page_out, render_page(Path(template).read_text(), values), provenance)


def paper_a_figure(
    figure: str, title: str, panels: list[dict[str, Any]], png: Path, pdf: Path, provenance: Provenance
) -> None:
    """Paper A's figure ``figure`` from truth references and model samples.

    Each entry of ``panels`` has ``title, problem, spec, reference`` and ``samples`` (a
    model's samples, or None for the truth).
    """
    from lwflow.evaluation.figures import Panel, projection_figure, save_figure, scatter3d_figure, shared_limits
    from lwflow.problems import problem_from_spec

    references = [read_npz(p["reference"]) for p in panels]
    dim = references[0]["samples"].shape[1]
    if figure == "paper_a_fig4":
        fig = scatter3d_figure(references[0]["samples"][:5000], references[0]["log_p"][:5000], title)
        save_figure(fig, [png, pdf], provenance)
        return
    built = []
    for entry in panels:
        if entry["samples"] is None:
            truth = problem_from_spec(entry["problem"], entry["spec"]).truth
            built.append(Panel(entry["title"], log_prob=truth.log_prob))
        else:
            built.append(Panel(entry["title"], samples=read_npz(entry["samples"])["samples"]))
    limits = shared_limits([ref["samples"] for ref in references])
    projections = [(0, 1)] if dim == 2 else [(0, 1), (0, 2)] if len(panels) > 1 else [(0, 1), (0, 2), (1, 2)]
    save_figure(projection_figure(built, projections, limits, title), [png, pdf], provenance)


def loss_curves(
    problem: str, histories: dict[str, dict[str, Path]], png: Path, pdf: Path, provenance: Provenance
) -> None:
    """Validation-loss curves of every model of one problem (``histories``: model -> seed -> path)."""
    from lwflow.evaluation.figures import loss_figure, save_figure

    frames = {label: {int(s): pd.read_csv(path) for s, path in paths.items()} for label, paths in histories.items()}
    save_figure(loss_figure(frames, f"{problem}: training curves"), [png, pdf], provenance)


def model_diagnostics(
    name: str,
    spec: dict[str, Any],
    label: str,
    samples: Path,
    modes: Path,
    background: dict[str, Path],
    seed: int,
    png: Path,
    provenance: Provenance,
) -> None:
    """Pair plot of a model's samples over the exact posterior (``background['reference']``)
    or, without one, over its weighted draws resampled by weight (an adaptive model's last
    ``pool``, else the clipped prior draws ``prior`` and ``weights``); the axes
    named after the problem's parameters, the title with the model's base modes."""
    from lwflow.evaluation.figures import pair_figure, save_figure
    from lwflow.problems import problem_from_spec

    n_points = 5000
    model = read_npz(samples)["samples"][:n_points]
    if "reference" in background:
        points, what = read_npz(background["reference"])["samples"][:50_000], "exact posterior"
    else:
        pool = background.get("pool")
        theta = read_npz(pool or background["prior"])["theta"]
        weights = read_npz(pool or background["weights"])["weights"]
        chosen = rng_for(seed, "diagnostics").choice(len(theta), size=50_000, p=weights / weights.sum())
        points, what = theta[chosen], "weighted draws of the rounds" if pool else "weighted prior samples"
    from lwflow.reproduction.paper_a import base_modes

    title = f"{label}: {base_modes(read_json(modes)['n_modes'])}"
    problem = problem_from_spec(name, spec)
    figure = pair_figure(model, points, what, title, problem.names, problem.prior.support())
    save_figure(figure, [png], provenance)


def paper_b_weights_figure(weights: dict[str, list[Path]], png: Path, pdf: Path, provenance: Provenance) -> None:
    """Paper B, Figure 1: AMF-VI (EMA) and EM weights per dataset (``weights``: dataset -> per-seed JSONs)."""
    from lwflow.evaluation.figures import save_figure, weights_figure
    from lwflow.reproduction.paper_b import PUBLISHED_WEIGHTS, TITLES

    records = [
        {"dataset": TITLES.get(dataset, dataset), "method": method, "expert": expert, "seed": seed, "weight": value}
        for dataset, paths in weights.items()
        for seed, path in enumerate(paths)
        for method in ("ema", "em")
        for expert, value in read_json(path)[method].items()
    ]
    published = {TITLES[d]: w for d, w in PUBLISHED_WEIGHTS.items()}
    title = "Mixture weights per dataset: AMF-VI moving average vs maximum likelihood (EM); black: paper"
    save_figure(weights_figure(pd.DataFrame.from_records(records), published, title), [png, pdf], provenance)


def paper_b_samples_figure(rows: list[dict[str, Any]], png: Path, pdf: Path, provenance: Provenance) -> None:
    """Paper B, Figure 2: per target, exact samples then each expert's and AMF-VI's samples.

    Each entry of ``rows`` has ``title, reference`` and ``models`` (label -> samples path,
    or ``(path, key)`` for a mixture's samples)."""
    from lwflow.evaluation.figures import Panel, sample_grid_figure, save_figure

    n = 20000
    grid = []
    for row in rows:
        panels = [Panel("exact", samples=read_npz(row["reference"])["samples"][:n])]
        for label, source in row["models"].items():
            path, key = source if isinstance(source, (list, tuple)) else (source, "samples")
            panels.append(Panel(label, samples=read_npz(path)[key][:n]))
        grid.append((row["title"], panels))
    fig = sample_grid_figure(grid, "Exact samples and model samples (log-scale 2D histograms)")
    save_figure(fig, [png, pdf], provenance)
