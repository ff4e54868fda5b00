"""Interpolants x_t = α(t) z + β(t) x1: schedules, velocity/denoiser/score conversions, transfer."""
