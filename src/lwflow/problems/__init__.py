"""Priors, problems, user problems and the built-in targets."""

from lwflow._exports import lazy_exports

_EXPORTS = {
    "BUILTIN_KINDS": "lwflow.problems.builtin",
    "Banana": "lwflow.problems.shapes",
    "Gaussian": "lwflow.problems.priors",
    "GaussianMixture": "lwflow.problems.targets",
    "MapPool": "lwflow.problems.likelihoods",
    "MixtureOf1D": "lwflow.problems.targets",
    "PointwiseLikelihood": "lwflow.problems.likelihoods",
    "PooledLikelihood": "lwflow.problems.likelihoods",
    "Prior": "lwflow.problems.priors",
    "Problem": "lwflow.problems.problem",
    "ProductOfMarginals": "lwflow.problems.priors",
    "Rings": "lwflow.problems.shapes",
    "Target": "lwflow.problems.problem",
    "TruncatedToBox": "lwflow.problems.targets",
    "TwoMoons": "lwflow.problems.shapes",
    "UniformBox": "lwflow.problems.priors",
    "banana_problem": "lwflow.problems.builtin",
    "check_prior": "lwflow.problems.priors",
    "gaussian_mixture_problem": "lwflow.problems.builtin",
    "likelihood_pool": "lwflow.problems.likelihoods",
    "load_user_problem": "lwflow.problems.user",
    "problem_files": "lwflow.problems.user",
    "problem_from_spec": "lwflow.problems.spec",
    "rings_problem": "lwflow.problems.builtin",
    "trimodal_product_problem": "lwflow.problems.builtin",
    "two_moons_problem": "lwflow.problems.builtin",
    "user_module_file": "lwflow.problems.user",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
