"""Bad input and faults: clear errors, recovery from a non-finite loss, identical reruns."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from lwflow.artefacts import Provenance, read_npz, sidecar_path, write_npz
from lwflow.fitting.train import TrainingDiverged, train_flow
from lwflow.models.flows import FlowArchitecture, StandardisedFlow
from lwflow.settings import CheckConfig, ClippingConfig, EvaluationConfig, ModelConfig, TrainConfig
from lwflow.stages import data, evaluate, report, train
from lwflow.stages.settings import ModelSettings, SamplingSettings

SMALL_FLOW = FlowArchitecture(arch="realnvp", n_modes=1, n_layers=2, hidden_units=16)


BOX_SPEC = {"kind": "gaussian_mixture", "bounds": [-4, 4], "means": [[0, 0]], "covariances": [np.eye(2)]}


def gaussian_weighted_sample(n=5000, seed=0):
    theta = np.random.default_rng(seed).uniform(-4, 4, size=(n, 2))
    return theta, np.exp(-0.5 * (theta**2).sum(1))


def poison_after(monkeypatch, first_bad_call: int, n_bad_calls: int | None):
    """Make the flow's log-density NaN from call ``first_bad_call`` on, for ``n_bad_calls`` calls."""
    original = StandardisedFlow.log_prob_standardised
    calls = {"n": 0}

    def patched(self, u):
        calls["n"] += 1
        out = original(self, u)
        bad = calls["n"] >= first_bad_call and (n_bad_calls is None or calls["n"] < first_bad_call + n_bad_calls)
        return out * float("nan") if bad else out

    monkeypatch.setattr(StandardisedFlow, "log_prob_standardised", patched)


def test_a_non_finite_loss_recovers_with_a_smaller_step(monkeypatch):
    theta, weights = gaussian_weighted_sample()
    poison_after(monkeypatch, first_bad_call=15, n_bad_calls=2)
    config = TrainConfig(max_steps=60, eval_every=20, learning_rate=1e-3, final_learning_rate_fraction=1.0)
    result = train_flow(theta, weights, SMALL_FLOW, config, seed=0)
    assert np.isfinite(result.history["val_loss"]).all()
    assert result.history["lr"].iloc[-1] == pytest.approx(1e-3 / 4)  # halved twice


def test_a_loss_that_stays_non_finite_fails_with_step_history_and_advice(monkeypatch):
    theta, weights = gaussian_weighted_sample()
    poison_after(monkeypatch, first_bad_call=30, n_bad_calls=None)
    config = TrainConfig(max_steps=100, eval_every=10)
    with pytest.raises(TrainingDiverged, match=r"(?s)at step \d+.*val_loss.*advice"):
        train_flow(theta, weights, SMALL_FLOW, config, seed=0)


def test_ess_below_the_floor_stops_with_advice(tmp_path):
    log_likelihood = np.full(1000, -np.inf)
    log_likelihood[:3] = 0.0
    likelihood = tmp_path / "likelihood.npz"
    write_npz(likelihood, {"log_likelihood": log_likelihood}, Provenance("test", [], {}))
    with pytest.raises(ValueError, match=r"effective sample size 3.0 before clipping \(3.0 after\) is below .* prior"):
        data.clip_weights(
            likelihood,
            ClippingConfig(strategy="none", threshold=None, min_ess=50),
            tmp_path / "w.npz",
            tmp_path / "r.json",
            Provenance("test", [], {}),
        )
    assert not (tmp_path / "w.npz").exists()


@pytest.mark.parametrize(
    "log_likelihood, message",
    [
        ("lambda t: np.full(len(t), np.nan)", "NaN for 100 of 100"),
        ("lambda t: np.zeros((len(t), 2))", "shape"),
        ("lambda t: np.zeros(len(t) - 1)", "expected"),
    ],
)
def test_a_bad_likelihood_is_stopped_before_anything_is_written(tmp_path, monkeypatch, log_likelihood, message):
    module = f"bad_model_{tmp_path.name}"  # one module per case: imports are cached
    (tmp_path / f"{module}.py").write_text(
        "import numpy as np\nfrom lwflow.problems import Problem, UniformBox\n"
        f"problem = Problem('bad', UniformBox([-1, -1], [1, 1]), {log_likelihood})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = {"kind": "user", "target": f"{module}:problem", "n_prior_samples": 100}
    prior = tmp_path / "prior.npz"
    data.sample_prior("bad", spec, 0, prior, Provenance("test", [], {}))
    with pytest.raises(ValueError, match=message):
        data.evaluate_likelihood("bad", spec, prior, 0, 1, tmp_path / "ll.npz", Provenance("test", [], {}))
    assert not (tmp_path / "ll.npz").exists()


def test_a_likelihood_all_zero_is_stopped_when_the_chunks_are_gathered(tmp_path):
    """One chunk may have no compatible draw; all chunks together may not."""
    ll = [tmp_path / f"chunk{i}.npz" for i in range(2)]
    for path in ll:
        write_npz(path, {"log_likelihood": np.full(10, -np.inf)}, Provenance("test", [], {}))
    with pytest.raises(ValueError, match="-inf for all 20 samples"):
        data.gather_likelihood(ll, tmp_path / "ll.npz", Provenance("test", [], {}))
    assert not (tmp_path / "ll.npz").exists()


def test_chunked_and_unchunked_likelihoods_give_identical_weights(tmp_path):
    spec = {
        "kind": "gaussian_mixture",
        "n_prior_samples": 1001,
        "bounds": [-8, 8],
        "means": [[-3, 0], [3, 1]],
        "covariances": [np.eye(2).tolist()] * 2,
    }
    provenance = Provenance("test", [], {})
    prior = tmp_path / "prior.npz"
    data.sample_prior("gm", spec, 0, prior, provenance)
    weights = {}
    for n_chunks in (1, 3):
        chunks = [tmp_path / f"ll{n_chunks}_{i}.npz" for i in range(n_chunks)]
        for i, path in enumerate(chunks):
            data.evaluate_likelihood("gm", spec, prior, i, n_chunks, path, provenance)
        data.gather_likelihood(chunks, tmp_path / f"ll{n_chunks}.npz", provenance)
        data.clip_weights(
            tmp_path / f"ll{n_chunks}.npz",
            ClippingConfig(strategy="max_share", threshold=0.01, min_ess=10),
            tmp_path / f"w{n_chunks}.npz",
            tmp_path / f"r{n_chunks}.json",
            provenance,
        )
        weights[n_chunks] = read_npz(tmp_path / f"w{n_chunks}.npz")["weights"]
    assert len(weights[1]) == 1001
    np.testing.assert_array_equal(weights[1], weights[3])


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def train_and_sample(folder: Path, flow: dict, training: dict, n_samples: int, seed: int) -> dict[str, Path]:
    """The jobs train_flow then sample_model on the prior draws and weights beside ``folder``; every output's path."""
    provenance = Provenance("test", [], {})
    trained = {name: folder / f"{name}{ext}" for name, ext in [("model", ".pt"), ("loss", ".csv"), ("modes", ".json")]}
    settings = ModelSettings(BOX_SPEC, ModelConfig(**flow), TrainConfig(**training))
    train.train("box", settings, folder.parent / "prior.npz", folder.parent / "weights.npz", seed, trained, provenance)
    drawn = {
        name: folder / f"{name}{ext}"
        for name, ext in [("samples", ".npz"), ("summary", ".json"), ("summary_markdown", ".md")]
    }
    sampling = SamplingSettings(BOX_SPEC, n_samples, CheckConfig(n_draws=500))
    train.sample_model(
        "box", sampling, "samples", "test", trained["model"], trained["modes"], None, seed, drawn, provenance
    )
    return trained | drawn


def test_same_seed_gives_byte_identical_training_artefacts(tmp_path):
    theta, weights = gaussian_weighted_sample()
    write_npz(tmp_path / "prior.npz", {"theta": theta}, Provenance("test", [], {}))
    write_npz(tmp_path / "weights.npz", {"weights": weights}, Provenance("test", [], {}))
    flow = {"arch": "realnvp", "n_modes": 2, "n_layers": 2, "hidden_units": 16}
    training = {"max_steps": 40, "eval_every": 20, "batch_size": 128}
    digests = []
    for run in ("a", "b"):
        outputs = train_and_sample(tmp_path / run, flow, training, 500, 7)
        digests.append([digest(p) for p in outputs.values()])
    assert digests[0] == digests[1]


EVALUATION = EvaluationConfig(n_samples=400, n_projections=10, w2_points=200, mmd_points=200)


def test_a_model_the_check_does_not_trust_is_flagged_in_its_log_sidecar_summary_metrics_and_tables(tmp_path, capsys):
    """A flow trained on weights centred 2.5 away from the problem's posterior: its check against
    the likelihood says ``not trusted``, and every artefact built from it says so."""
    provenance = Provenance("test", [], {})
    theta, _ = gaussian_weighted_sample()
    write_npz(tmp_path / "prior.npz", {"theta": theta}, provenance)
    write_npz(tmp_path / "weights.npz", {"weights": np.exp(-0.5 * ((theta - 2.5) ** 2).sum(1))}, provenance)
    flow = {"arch": "realnvp", "n_modes": 1, "n_layers": 2, "hidden_units": 16}
    outputs = train_and_sample(tmp_path / "m", flow, {"max_steps": 40, "eval_every": 20}, 400, 0)
    summary = json.loads(outputs["summary"].read_text())
    assert summary["verdict"] == "not trusted" and "train longer" in summary["warning"]
    assert f"WARNING: {summary['warning']}" in capsys.readouterr().out
    assert json.loads(sidecar_path(outputs["samples"]).read_text())["check"]["verdict"] == "not trusted"
    assert outputs["summary_markdown"].read_text().startswith("verdict: not trusted")
    evaluate.truth_reference(
        "box", BOX_SPEC, EVALUATION, 0, tmp_path / "truth.npz", tmp_path / "floor.json", provenance
    )
    metrics = tmp_path / "metrics.json"
    evaluate.model_metrics(
        "box", BOX_SPEC, [outputs["model"]], [outputs["samples"]], tmp_path / "truth.npz", EVALUATION, [metrics],
        [tmp_path / "log_q.npz"], provenance,
    )  # fmt: skip
    assert json.loads(metrics.read_text())["verdict"] == "not trusted"
    row = {"label": "K1", "published": {}, "seeds": [0], "metrics": [metrics], "floors": [tmp_path / "floor.json"]}
    table = [tmp_path / f"table.{ext}" for ext in ("csv", "md", "html", "png")]
    report.paper_table("table", [row], ("kl", "sliced_w1"), *table, provenance)
    markdown = table[1].read_text()
    assert "K1 [not trusted: seed 0]" in markdown and "failed (lwflow.fitting.verdict)" in markdown


def test_models_scored_together_match_models_scored_alone(tmp_path):
    """One scoring job per group of models gives each model the metrics it gets alone, and each
    output's sidecar names that model's inputs only; mismatched lists stop before any write."""
    spec = {"kind": "gaussian_mixture", "bounds": [-6, 6], "means": [[-2, 0], [2, 0]], "covariances": [np.eye(2)] * 2}
    evaluation = EVALUATION
    provenance = Provenance("test", [], {})
    reference = tmp_path / "truth.npz"
    evaluate.truth_reference("gm", spec, evaluation, 0, reference, tmp_path / "floor.json", provenance)
    theta, weights = gaussian_weighted_sample()
    write_npz(tmp_path / "prior.npz", {"theta": theta}, provenance)
    write_npz(tmp_path / "weights.npz", {"weights": weights}, provenance)
    models, samples = [], []
    for modes in (1, 2):
        flow = {"arch": "realnvp", "n_modes": modes, "n_layers": 2, "hidden_units": 16}
        outputs = train_and_sample(tmp_path / f"K{modes}", flow, {"max_steps": 20, "eval_every": 10}, 400, 0)
        models.append(outputs["model"])
        samples.append(outputs["samples"])

    def score(indices, folder):
        metrics = [tmp_path / folder / f"{i}.json" for i in indices]
        log_q = [tmp_path / folder / f"{i}_log_q.npz" for i in indices]
        evaluate.model_metrics(
            "gm",
            spec,
            [models[i] for i in indices],
            [samples[i] for i in indices],
            reference,
            evaluation,
            metrics,
            log_q,
            provenance,
        )
        return metrics

    together = score([0, 1], "together")
    for i in (0, 1):
        alone = score([i], f"alone{i}")[0]
        assert json.loads(together[i].read_text()) == json.loads(alone.read_text())
        sidecar = json.loads(sidecar_path(together[i]).read_text())
        assert set(sidecar["inputs"]) == {str(models[i]), str(samples[i]), str(reference)}
    with pytest.raises(ValueError, match="one draws file and two outputs per model"):
        evaluate.model_metrics(
            "gm",
            spec,
            models,
            samples[:1],
            reference,
            evaluation,
            [tmp_path / "x.json"] * 2,
            [tmp_path / "x.npz"] * 2,
            provenance,
        )
    assert not (tmp_path / "x.json").exists()


def test_draws_of_a_prior_that_changed_with_its_data_are_refused_before_their_likelihood(tmp_path):
    """The prior draws' job reads the problem's module only (a data edit reruns the likelihood,
    not the draws); a prior built from a data file that changed is caught by the likelihood's job."""
    import lwflow
    from lwflow.stages.data import check_prior_unchanged

    old = lwflow.Problem("shifting", lwflow.UniformBox([-5, -5], [5, 5]), lambda t: -(t**2).sum(1))
    theta = old.prior.sample(100, np.random.default_rng(0))
    check_prior_unchanged(old, theta, old.prior.log_prob(theta), tmp_path / "draws.npz")  # unchanged: silent
    new = lwflow.Problem("shifting", lwflow.UniformBox([-4, -5], [5, 5]), lambda t: -(t**2).sum(1))
    with pytest.raises(ValueError, match="prior of problem 'shifting' changed since .*--forcerun sample_prior"):
        check_prior_unchanged(new, theta, old.prior.log_prob(theta), tmp_path / "draws.npz")
