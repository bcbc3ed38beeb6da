"""Evaluation of spikes results."""
