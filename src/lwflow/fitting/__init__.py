"""Fitting a posterior: likelihood weights and clipping, base modes, training, AMF-VI
mixtures, and ``fit`` -> ``Posterior``."""

from lwflow._exports import lazy_exports

_EXPORTS = {
    "ClippingConfig": "lwflow.settings",
    "FittedModel": "lwflow.fitting.model_fit",
    "ModeSelection": "lwflow.fitting.modes",
    "ModeSelectionConfig": "lwflow.settings",
    "ModelConfig": "lwflow.settings",
    "Posterior": "lwflow.fitting.posterior",
    "TrainConfig": "lwflow.settings",
    "TrainingDiverged": "lwflow.fitting.train",
    "clip_weights": "lwflow.fitting.weights",
    "density_maxima": "lwflow.fitting.modes",
    "effective_sample_size": "lwflow.weighted_draws",
    "em_weights": "lwflow.fitting.mixture",
    "ema_weights": "lwflow.fitting.mixture",
    "evaluate_log_likelihood": "lwflow.fitting.weights",
    "fit": "lwflow.fitting.pipeline",
    "fresh_batches": "lwflow.fitting.mixture",
    "fit_model": "lwflow.fitting.model_fit",
    "read_saved_posterior": "lwflow.fitting.posterior",
    "log_evidence": "lwflow.fitting.weights",
    "mixture_log_prob": "lwflow.fitting.mixture",
    "mixture_samples": "lwflow.fitting.mixture",
    "mixture_weights": "lwflow.fitting.mixture",
    "select_n_modes": "lwflow.fitting.modes",
    "separated_mode_count": "lwflow.fitting.modes",
    "train_flow": "lwflow.fitting.train",
    "training_weights": "lwflow.fitting.weights",
    "weights_from_log_likelihood": "lwflow.fitting.weights",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, deprecated={"clipped_weights": "training_weights"})
