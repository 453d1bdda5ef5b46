"""How a likelihood is called: per batch of rows or per point, serially or over a pool.

lwflow calls a problem's ``log_likelihood`` with an ``(n, dim)`` array of rows.  Two wrappers
keep that interface for every other kind of likelihood:

* :class:`PointwiseLikelihood`: a likelihood of one point (``(dim,)`` -> float), what nautilus
  (``vectorized=False``), pocoMC (``vectorize=False``) and dynesty take, called row by row
  (``Problem(..., vectorized=False)`` wraps it);
* :class:`PooledLikelihood`: the rows split into chunks that an executor evaluates side by
  side, returned in the rows' order, so a seed gives the same fit serially or over any pool
  (``fit(..., pool=...)``).

A pool is a number of processes, or any object with ``map(function, iterable)`` returning
the results in order: :class:`concurrent.futures.ProcessPoolExecutor`,
:class:`multiprocessing.pool.Pool`, mpi4py's ``MPIPoolExecutor``, or a dask cluster through
``client.get_executor()``.  The likelihood travels to the workers by cloudpickle, so closures
and lambdas work where plain pickling refuses them.

Example (a pool of threads here; processes, a dask cluster or MPI the same way)::

    >>> import numpy as np
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> theta = np.random.default_rng(0).normal(size=(1000, 2))
    >>> with ThreadPoolExecutor(2) as pool, likelihood_pool(lambda t: -0.5 * (t**2).sum(1), pool) as pooled:
    ...     log_likelihood = pooled(theta)
    >>> np.array_equal(log_likelihood, -0.5 * (theta**2).sum(1))  # the rows' order kept
    True

    ``lwflow.fit(problem, proposal="adaptive", pool=pool)`` calls the likelihood this way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

__all__ = ["MapPool", "PointwiseLikelihood", "PooledLikelihood", "likelihood_pool"]

CHUNKS_PER_WORKER = 4  # chunks per worker: uneven points even out, and each chunk is still a batch


class MapPool(Protocol):
    """Anything with an ordered ``map(function, iterable)``: a ``concurrent.futures`` executor, a
    ``multiprocessing`` pool, mpi4py's ``MPIPoolExecutor``, dask's ``client.get_executor()``."""

    def map(self, function: Callable[[Any], Any], iterable: Any, /) -> Any: ...


@dataclass(frozen=True)
class PointwiseLikelihood:
    """A likelihood of one point, called on each row of a batch: ``(n, dim)`` -> ``(n,)``."""

    log_likelihood_of_point: Callable[[np.ndarray], float]

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        return np.array([float(self.log_likelihood_of_point(row)) for row in theta], dtype=float)


@dataclass(frozen=True)
class PooledLikelihood:
    """A batch likelihood evaluated in ``n_chunks`` chunks by ``pool.map``, in the rows' order."""

    log_likelihood: Callable[[np.ndarray], np.ndarray]
    pool: MapPool
    n_chunks: int

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        import cloudpickle

        theta = np.atleast_2d(theta)
        chunks = [chunk for chunk in np.array_split(theta, min(self.n_chunks, len(theta))) if len(chunk)]
        payload = cloudpickle.dumps(self.log_likelihood)
        results = list(self.pool.map(_evaluate_chunk, [(payload, chunk) for chunk in chunks]))
        return np.concatenate([np.asarray(result, dtype=float).reshape(-1) for result in results])


def _evaluate_chunk(task: tuple[bytes, np.ndarray]) -> np.ndarray:
    """One worker's chunk: the likelihood unpickled (cloudpickle's output is plain pickle) and
    called; one argument, as ``multiprocessing.Pool.map`` passes one."""
    import pickle

    payload, rows = task
    return np.asarray(pickle.loads(payload)(rows), dtype=float)


@contextlib.contextmanager
def likelihood_pool(
    log_likelihood: Callable[[np.ndarray], np.ndarray], pool: int | MapPool | None
) -> Iterator[Callable[[np.ndarray], np.ndarray]]:
    """``log_likelihood`` as it is (``pool`` None or 1), over ``pool`` fresh processes (an int,
    started by spawn, so no thread of torch is forked, and shut down on exit), or over the
    given executor (left running: it is the caller's)."""
    count = pool if isinstance(pool, int) and not isinstance(pool, bool) else None
    if pool is None or count == 1:
        yield log_likelihood
        return
    if count is not None:
        if count < 1:
            raise ValueError(f"pool = {pool}: give a number of worker processes >= 1, or an executor with map")
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn")) as executor:
            yield PooledLikelihood(log_likelihood, executor, CHUNKS_PER_WORKER * count)
        return
    if not callable(getattr(pool, "map", None)):
        raise TypeError(
            f"pool = {pool!r} has no map(function, iterable): give a number of processes, a "
            "concurrent.futures executor, a multiprocessing pool, or a dask client's get_executor()"
        )
    mapper = cast(MapPool, pool)  # not None, not an int, and has a map
    yield PooledLikelihood(log_likelihood, mapper, CHUNKS_PER_WORKER * _workers(mapper))


def _workers(pool: MapPool) -> int:
    """The pool's worker count where it says (``concurrent.futures`` executors, multiprocessing
    pools), else 4."""
    for attribute in ("_max_workers", "_processes"):
        count = getattr(pool, attribute, None)
        if isinstance(count, int) and count > 0:
            return count
    return 4
