"""Sampling: the drift interface, solvers, time grids, diffusion coefficients and ``integrate``."""
