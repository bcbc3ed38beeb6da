"""PyTorch Lightning models (ENS², CASCADE, the LFADS family)."""
