"""Synthetic data: profiles, published statements, calibration, generator, demo, reproduction."""
