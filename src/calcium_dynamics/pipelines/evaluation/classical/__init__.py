"""Evaluation of classical results."""
