"""Observation likelihoods shared by the LFADS family and the classical models (one module each)."""
