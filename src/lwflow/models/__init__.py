"""Density models: flows (RealNVP, MAF, NSF) with Gaussian-mixture bases, RBIG, the
rational-quadratic spline, checkpoints, and the restriction to a prior's support."""

from lwflow._exports import lazy_exports

_EXPORTS = {
    "ARCHITECTURES": "lwflow.models.flows",
    "DensityModel": "lwflow.models.density",
    "FlowArchitecture": "lwflow.models.flows",
    "RBIG": "lwflow.models.rbig",
    "RBIGConfig": "lwflow.settings",
    "StandardisedFlow": "lwflow.models.flows",
    "TruncatedModel": "lwflow.models.support",
    "build_flow": "lwflow.models.flows",
    "load_checkpoint": "lwflow.models.flows",
    "restrict_to_support": "lwflow.models.support",
    "save_checkpoint": "lwflow.models.flows",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS, deprecated={"FlowSpec": "FlowArchitecture"})
