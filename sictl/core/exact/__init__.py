"""Exact laboratory: Gaussian and Gaussian-mixture closed forms, their drifts, and schedule design."""
