"""calcium-dynamics: from ΔF/F traces to spikes, latent dynamics and network decompositions."""

__version__ = "0.1.0"
