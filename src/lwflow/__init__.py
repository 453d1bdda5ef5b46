"""lwflow: likelihood-weighted normalizing flows for posteriors with several separated modes.

Five lines from a prior and a likelihood to a posterior::

    import lwflow
    prior = lwflow.UniformBox([-5, -5], [5, 5])
    problem = lwflow.Problem("mine", prior, lambda t: -0.5 * ((t - 1) ** 2).sum(1) / 0.1)
    posterior = lwflow.fit(problem, n_prior_samples=50_000)
    posterior.sample(1000), posterior.log_evidence

The library, by concept: :mod:`lwflow.problems` (priors, problems, the built-in targets),
:mod:`lwflow.models` (flows, RBIG, splines, the support restriction), :mod:`lwflow.fitting`
(weights, base modes, training, mixtures, ``fit`` and ``Posterior``), :mod:`lwflow.evaluation`
(metrics, tables, figures), :mod:`lwflow.reproduction` (papers A and B), :mod:`lwflow.stages`
(the workflow's stages, its plan and results layout); :mod:`lwflow.artefacts` and
:mod:`lwflow.audit` (every artefact with its provenance), :mod:`lwflow.cli` (the command).
"""

from lwflow._exports import lazy_exports

_EXPORTS = {
    "ClippingConfig": "lwflow.settings",
    "Gaussian": "lwflow.problems.priors",
    "ModeSelectionConfig": "lwflow.settings",
    "ModelConfig": "lwflow.settings",
    "Posterior": "lwflow.fitting.posterior",
    "Prior": "lwflow.problems.priors",
    "Problem": "lwflow.problems.problem",
    "ProductOfMarginals": "lwflow.problems.priors",
    "TrainConfig": "lwflow.settings",
    "UniformBox": "lwflow.problems.priors",
    "fit": "lwflow.fitting.pipeline",
    "load_posterior": "lwflow.stages.model_folder",
    "load_user_problem": "lwflow.problems.user",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
