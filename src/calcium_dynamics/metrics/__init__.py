"""Metrics: spike inference, latent recovery, state matching, assignments."""
