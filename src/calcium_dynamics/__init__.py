"""calcium-dynamics: from ΔF/F traces to spikes, latent dynamics and network decompositions.

``from calcium_dynamics import infer_spikes`` gives the one-call spike inference with the
shipped models (imported on first use, so ``import calcium_dynamics`` stays light: no Kedro,
DVC, Ray or torch import).
"""

__version__ = "0.1.0"

__all__ = ["SpikeInference", "SpikeStream", "infer_spikes"]


def __getattr__(name: str):
    if name in ("infer_spikes", "SpikeInference"):
        from calcium_dynamics.models.spikes import api

        return getattr(api, name)
    if name == "SpikeStream":
        from calcium_dynamics.models.spikes.stream import SpikeStream

        return SpikeStream
    raise AttributeError(f"module 'calcium_dynamics' has no attribute {name!r}")
