"""Simulators of the data: stochastic Allen–Cahn (Metropolis-corrected) and 2-D Navier–Stokes."""
