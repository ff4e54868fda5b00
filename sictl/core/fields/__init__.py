"""Periodic fields: Fourier spectra, resampling, and the metrics that compare sample sets."""
