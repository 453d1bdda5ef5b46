"""Any likelihood, anywhere: per-point likelihoods, and the calls spread over a pool of processes
(a count, concurrent.futures, multiprocessing, a real dask cluster), each fit equal to the serial one."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import lwflow
from lwflow.problems.likelihoods import PooledLikelihood

TINY_MODEL = {"arch": "realnvp", "n_modes": 2, "n_layers": 2, "hidden_units": 16}
TINY_TRAINING = {"max_steps": 60, "eval_every": 20, "batch_size": 256}
SMALL = {"model": TINY_MODEL, "training": TINY_TRAINING, "check": {"n_draws": 300}, "refine": {"n_draws": 300}}
ADAPTIVE = {"proposal": "adaptive", "adaptive": {"n_per_round": 400, "max_calls": 1200}}
CENTRES = np.array([[-2.0, 0.0], [2.0, 0.0]])


def two_modes(theta: np.ndarray) -> np.ndarray:
    """Two unit Gaussians at (+-2, 0), a batch of rows."""
    squared = ((theta[:, None, :] - CENTRES) ** 2).sum(-1)
    return np.logaddexp(-0.5 * squared[:, 0], -0.5 * squared[:, 1])


def problem(**options) -> lwflow.Problem:
    return lwflow.Problem("pooled", lwflow.UniformBox([-6, -6], [6, 6]), two_modes, **options)


def same_fit(first: lwflow.Posterior, second: lwflow.Posterior) -> None:
    np.testing.assert_array_equal(first.sample(200, seed=3), second.sample(200, seed=3))
    assert first.log_evidence == second.log_evidence
    assert first.diagnostics["n_likelihood_calls"] == second.diagnostics["n_likelihood_calls"]


@pytest.fixture(scope="module")
def serial() -> dict[str, lwflow.Posterior]:
    return {
        "prior": lwflow.fit(problem(), n_prior_samples=2000, seed=0, **SMALL),
        "adaptive": lwflow.fit(problem(), seed=0, **SMALL, **ADAPTIVE),
    }


def test_a_per_point_likelihood_gives_the_fit_of_the_vectorised_one(serial):
    pointwise = lwflow.Problem(
        "pooled", lwflow.UniformBox([-6, -6], [6, 6]), lambda t: float(two_modes(t[None, :])[0]), vectorized=False
    )
    assert pointwise.log_likelihood(np.zeros((3, 2))).shape == (3,)
    same_fit(serial["prior"], lwflow.fit(pointwise, n_prior_samples=2000, seed=0, **SMALL))


@pytest.mark.parametrize("proposal", ["prior", "adaptive"])
def test_two_processes_give_the_serial_fit(serial, proposal):
    """pool=2: two spawned processes, each evaluating chunks of rows, put back in order."""
    options = ADAPTIVE if proposal == "adaptive" else {"n_prior_samples": 2000}
    pooled = lwflow.fit(problem(), seed=0, pool=2, **SMALL, **options)
    same_fit(serial[proposal], pooled)
    assert pooled.fitted_problem.log_likelihood is two_modes  # the pool is gone; corrected draws run serially
    assert pooled.sample(50, corrected=True).shape == (50, 2)


def test_a_concurrent_futures_executor_and_a_multiprocessing_pool_give_the_serial_fit(serial):
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        same_fit(serial["prior"], lwflow.fit(problem(), n_prior_samples=2000, seed=0, pool=executor, **SMALL))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        same_fit(serial["prior"], lwflow.fit(problem(), n_prior_samples=2000, seed=0, pool=pool, **SMALL))


def test_a_dask_cluster_gives_the_serial_fit(serial):
    """A real dask.distributed cluster (two worker processes), through its documented
    concurrent.futures interface, client.get_executor()."""
    distributed = pytest.importorskip("distributed")  # the test extra installs it: this never skips in CI
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        pooled = lwflow.fit(problem(), n_prior_samples=2000, seed=0, pool=client.get_executor(), **SMALL)
        workers = client.run(lambda: 1)
    same_fit(serial["prior"], pooled)
    assert len(workers) == 2


def test_pooled_rows_come_back_in_their_order():
    """Chunks of uneven cost, finished out of order by the workers, are returned in row order."""
    theta = np.arange(40.0).reshape(20, 2)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        values = PooledLikelihood(lambda t: t[:, 0] * 10 + t[:, 1], executor, n_chunks=7)(theta)
    np.testing.assert_array_equal(values, theta[:, 0] * 10 + theta[:, 1])


@pytest.mark.parametrize("pool, error", [(0, "number of worker processes >= 1"), ("four", "has no map")])
def test_a_pool_that_cannot_work_is_refused_naming_what_to_give(pool, error):
    with pytest.raises((ValueError, TypeError), match=error):
        lwflow.fit(problem(), n_prior_samples=500, seed=0, pool=pool, **SMALL)
