"""Classical latent models (HMM, GPFA) on simulated data"""
