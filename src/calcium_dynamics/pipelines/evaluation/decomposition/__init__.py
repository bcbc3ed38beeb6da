"""Evaluation of decomposition results."""
