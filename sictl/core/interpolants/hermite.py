"""The cubic Hermite interpolant on one interval, shared by tabulated schedules, clocks and profiles.

Works on torch tensors and numpy arrays alike (pure arithmetic).
"""

from __future__ import annotations


def hermite(s, y0, m0, y1, m1):
    """Value at the fraction s ∈ [0, 1] of an interval with end values y0, y1 and end slopes m0, m1
    (already multiplied by the interval's width): h00 y0 + h10 m0 + h01 y1 + h11 m1."""
    s2 = s * s
    s3 = s2 * s
    return (2 * s3 - 3 * s2 + 1) * y0 + (s3 - 2 * s2 + s) * m0 + (-2 * s3 + 3 * s2) * y1 + (s3 - s2) * m1


def hermite_derivative(s, y0, m0, y1, m1):
    """d/ds of :func:`hermite` (divide by the interval's width for the derivative in the variable)."""
    s2 = s * s
    return (6 * s2 - 6 * s) * y0 + (3 * s2 - 4 * s + 1) * m0 + (-6 * s2 + 6 * s) * y1 + (3 * s2 - 2 * s) * m1
