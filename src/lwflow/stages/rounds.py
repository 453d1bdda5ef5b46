"""The adaptive round stages (workflow/rules/rounds.smk): a round's draws from the last round's flow
mixed with the prior, and the pooled weights that decide whether another round follows; the
round's likelihood is the data stages' (:mod:`lwflow.stages.data`), its flow the training stage's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lwflow.artefacts import (
    Provenance,
    read_json,
    read_npz,
    sidecar_path,
    write_json,
    write_npz,
)
from lwflow.settings import AdaptiveConfig

__all__ = ["propose_round", "weigh_round", "remove_later_rounds"]


def propose_round(
    name: str,
    spec: dict[str, Any],
    adaptive: AdaptiveConfig,
    proposal_model: Path | None,
    last_report: Path | None,
    seed: int,
    round_index: int,
    output: Path,
    provenance: Provenance,
) -> None:
    """Adaptive round ``round_index``'s draws (:func:`lwflow.fitting.rounds.draw_round`): from the
    prior in round 0, else from the last round's flow mixed with the prior; with their log-prior.
    Their number is the last round's report's (``last_report``: :func:`lwflow.fitting.rounds.round_size`);
    ``adaptive``'s ``n_per_round``, ``tempering_round_share`` and ``defensive_share`` are the only
    fields read (the workflow records those three)."""
    from lwflow.fitting.rounds import draw_round, round_size
    from lwflow.models.flows import load_checkpoint
    from lwflow.problems import problem_from_spec

    problem = problem_from_spec(name, spec)
    flow = None if proposal_model is None else load_checkpoint(proposal_model)
    n = round_size(adaptive, None if last_report is None else read_json(last_report))
    theta = draw_round(problem, flow, n, adaptive.defensive_share, seed, round_index)
    write_npz(output, {"theta": theta, "log_prior": problem.prior.log_prob(theta)}, provenance)
    print(f"round {round_index}: {len(theta)} draws from {'the prior' if flow is None else proposal_model}")


def weigh_round(
    config: AdaptiveConfig,
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
    from lwflow.fitting.rounds import Pool, evidence, pool_training_weights, weigh_round
    from lwflow.models.flows import load_checkpoint

    new = read_npz(draws)
    pool = Pool.from_arrays(read_npz(previous["pool"])) if previous else Pool.empty(new["theta"].shape[1])
    report = read_json(previous["report"]) if previous else {"rounds": []}
    proposals = [None, *(load_checkpoint(path) for path in proposal_models)]
    log_likelihood = read_npz(likelihood)["log_likelihood"]
    pool = pool.extend(new["theta"], new["log_prior"], log_likelihood, proposals, config.defensive_share)
    outcome = weigh_round(pool, config, report["rounds"])
    records = [*report["rounds"], outcome.record]
    log_z, log_z_se, k_hat = evidence(pool)
    weights = pool_training_weights(outcome.log_weights)
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
