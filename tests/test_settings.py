"""The library's settings get the config schema's ranges and types, from one definition
(src/lwflow/settings.schema.yaml): each bad value is refused before any likelihood call, by a
message that names the key, the value and what to give instead."""

from __future__ import annotations

import numpy as np
import pytest

import lwflow
from lwflow.settings import SettingsError


def _problem(calls: list[int]) -> lwflow.Problem:
    def log_likelihood(theta):
        calls.append(len(theta))
        return -0.5 * (theta**2).sum(1)

    return lwflow.Problem("box", lwflow.UniformBox([-3, -3], [3, 3]), log_likelihood)


BAD_SETTINGS = [
    ({"training": {"eval_every": 0}}, "training.eval_every = 0", ">= 1"),
    ({"training": {"max_steps": 0}}, "training.max_steps = 0", ">= 1"),
    ({"training": {"max_steps": -5}}, "training.max_steps = -5", ">= 1"),
    ({"training": {"batch_size": 0}}, "training.batch_size = 0", ">= 1"),
    ({"training": {"learning_rate": -1}}, "training.learning_rate = -1", "> 0"),
    ({"training": {"learning_rate": float("nan")}}, "training.learning_rate = nan", "finite"),
    ({"training": {"validation_fraction": 1.5}}, "training.validation_fraction = 1.5", "< 1"),
    ({"training": {"max_step": 10}}, "unknown setting 'max_step'", "did you mean 'max_steps'"),
    ({"model": {"n_layers": -1}}, "model.n_layers = -1", ">= 1"),
    ({"model": {"hidden_units": 0}}, "model.hidden_units = 0", ">= 2"),
    ({"model": {"n_modes": 0}}, "model.n_modes = 0", "'auto'"),
    ({"model": {"arch": "glow"}}, "model.arch = 'glow'", "'realnvp'"),
    ({"mode_selection": {"k_max": 0}}, "mode_selection.k_max = 0", ">= 1"),
    ({"clipping": {"threshold": 2.0}}, "clipping.threshold = 2.0", "<= 1"),
    ({"check": {"n_draws": 10}}, "check.n_draws = 10", ">= 100"),
    ({"n_prior_samples": 0}, "n_prior_samples = 0", ">= 100"),
    ({"n_prior_samples": -5}, "n_prior_samples = -5", ">= 100"),
    ({"seed": -1}, "seed = -1", ">= 0"),
    ({"seed": 2**64}, "seed = 18446744073709551616", "<= 2147483647"),
    ({"proposal": "adaptve"}, "proposal = 'adaptve'", "'adaptive'"),
    ({"proposal": "adaptive", "adaptive": "fast"}, "adaptive: give a mapping", "got 'fast'"),
    ({"proposal": "adaptive", "adaptive": {"final_ess": float("nan")}}, "adaptive.final_ess = nan", "finite"),
    ({"proposal": "adaptive", "adaptive": {"n_per_round": "400"}}, "adaptive.n_per_round = '400'", "integer"),
    ({"proposal": "adaptive", "adaptive": {"n_per_round": 250.7}}, "adaptive.n_per_round = 250.7", "integer"),
    ({"proposal": "adaptive", "adaptive": {"max_calls": 200, "n_per_round": 400}}, "adaptive.max_calls = 200", "raise"),
    ({"adaptive": {"n_per_round": 400}}, "proposal='prior', which would ignore them", "proposal='adaptive'"),
]


@pytest.mark.parametrize(("arguments", "names", "fix"), BAD_SETTINGS, ids=[case[1] for case in BAD_SETTINGS])
def test_a_bad_setting_is_refused_before_any_likelihood_call(arguments, names, fix):
    calls: list[int] = []
    with pytest.raises(SettingsError) as refused:
        lwflow.fit(_problem(calls), **{"n_prior_samples": 1000, **arguments})
    assert names in str(refused.value) and fix in str(refused.value)
    assert calls == []


def test_the_settings_objects_check_themselves_and_numpy_numbers_pass():
    from lwflow.settings import ModelConfig, TrainConfig

    assert ModelConfig(n_modes=np.int64(2)).n_modes == 2
    assert TrainConfig(max_steps=np.int32(7)).max_steps == 7
    with pytest.raises(SettingsError, match="training.device = 'gpu'"):
        TrainConfig(device="gpu")
