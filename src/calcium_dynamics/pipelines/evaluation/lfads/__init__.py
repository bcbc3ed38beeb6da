"""Evaluation of lfads results."""
