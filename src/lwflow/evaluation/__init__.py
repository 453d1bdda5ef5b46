"""Evaluation against the exact posterior: every metric, the tables and the figures."""

from lwflow._exports import lazy_exports

_EXPORTS = {
    "bridge_mass": "lwflow.evaluation.metrics",
    "effective_number": "lwflow.evaluation.metrics",
    "hole_mass": "lwflow.evaluation.metrics",
    "kl_divergence": "lwflow.evaluation.metrics",
    "markdown_table": "lwflow.evaluation.tables",
    "mmd_squared": "lwflow.evaluation.metrics",
    "negative_log_likelihood": "lwflow.evaluation.metrics",
    "pair_figure": "lwflow.evaluation.figures",
    "sample_metrics": "lwflow.evaluation.metrics",
    "save_figure": "lwflow.evaluation.figures",
    "score_model": "lwflow.evaluation.metrics",
    "sliced_w1": "lwflow.evaluation.metrics",
    "summarise": "lwflow.evaluation.tables",
    "wasserstein2": "lwflow.evaluation.metrics",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
