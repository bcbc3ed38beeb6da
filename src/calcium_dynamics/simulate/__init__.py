"""Simulators with known ground truth.

Lorenz-driven spiking, calcium and line-scan sampling, HMM / GPFA data, NMF network models.
"""
