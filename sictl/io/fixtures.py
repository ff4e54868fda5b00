"""Tiny, schema-valid files built in code, for tests, recipes and docs (no downloads).

The data are small periodic Gaussian fields with a smooth power-law spectrum (or, for vectors, a
two-component Gaussian mixture); they are for exercising the file plumbing, not for science.
"""

from __future__ import annotations

import os

import numpy as np

from sictl.io.dataset_writer import write_dataset
from sictl.io.datasets import DatasetMeta, DatasetStats
from sictl.io.schedules import ScheduleTable, write_schedule


def _stats(flat: np.ndarray, vector: bool) -> DatasetStats:
    """Statistics of samples ``flat`` (n, *sample_shape), with the conventions of docs/file-formats.md."""
    rms, mean = float(np.sqrt(np.mean(flat.astype(np.float64) ** 2))), float(np.mean(flat, dtype=np.float64))
    if vector:
        return DatasetStats(None, None, rms, mean)
    axes = tuple(range(1, flat.ndim))
    power = np.mean(np.abs(np.fft.fftn(flat.astype(np.float64), axes=axes, norm="forward")) ** 2, axis=0)
    if power.ndim == 1:
        return DatasetStats(power, power.copy(), rms, mean)
    n = power.shape[0]
    k = np.fft.fftfreq(n, 1.0 / n)
    kappa = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    shell = np.array([power[np.abs(kappa - c) < 0.5].mean() * 2 * np.pi * c for c in range(1, n // 2 + 1)])
    return DatasetStats(power, shell, rms, mean)


def tiny_fields(n: int, shape: tuple[int, ...], *, seed: int = 0, exponent: float = 2.0) -> np.ndarray:
    """``n`` periodic Gaussian fields with per-mode variance ∝ (1 + |k|²)^(-exponent), float32 (n, *shape)."""
    rng = np.random.default_rng(seed)
    white = rng.standard_normal((n, *shape))
    grids = np.meshgrid(*(np.fft.fftfreq(m, 1.0 / m) for m in shape), indexing="ij")
    amplitude = (1.0 + sum(g**2 for g in grids)) ** (-exponent / 2)
    axes = tuple(range(1, len(shape) + 1))
    fields = np.fft.ifftn(np.fft.fftn(white, axes=axes) * amplitude, axes=axes).real
    return (fields / fields.std()).astype(np.float32)


def write_tiny_dataset(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    n: int = 16,
    shape: tuple[int, ...] = (16,),
    n_times: int = 1,
    vector: bool = False,
    lag: int | None = None,
) -> DatasetMeta:
    """Write a small dataset file with statistics (and forecasting pairs if ``lag`` is given).

    Args:
        path: output path.
        seed: numpy seed.
        n: number of trajectories.
        shape: spatial shape ``(N,)``/``(N, N)``, or ``(dim,)`` with ``vector=True``.
        n_times: snapshots per trajectory.
        vector: write a vector (GMM-like) dataset ``(n, n_times, dim)`` instead of fields.
        lag: if given (< n_times), also store pairs ``(x[:, t], x[:, t + lag])``.

    Returns:
        The metadata written.
    """
    if lag is not None and not 0 < lag < n_times:
        raise ValueError(f"lag must be in 1..n_times-1 = {n_times - 1}, got {lag}")
    rng = np.random.default_rng(seed)
    if vector:
        centres = np.where(rng.random((n * n_times, 1)) < 0.5, -2.0, 2.0)
        data = (centres + 0.5 * rng.standard_normal((n * n_times, *shape))).astype(np.float32)
    else:
        data = tiny_fields(n * n_times, shape, seed=seed)
    arrays = data.reshape(n, n_times, *shape)
    meta = DatasetMeta(
        dataset_name="tiny",
        source="gmm" if vector else "gaussian-field",
        sample_shape=shape,
        time=np.arange(n_times, dtype=np.float32),
        vector=vector,
        pairs_lag=lag,
        attrs={"fixture": True},
        config={"fixture": "write_tiny_dataset", "seed": seed},
        seed=seed,
    )
    pairs = None
    if lag is not None:
        x0 = arrays[:, : n_times - lag].reshape(-1, *shape)
        x1 = arrays[:, lag:].reshape(-1, *shape)
        pairs = (x0, x1)
    write_dataset(path, arrays, meta, _stats(data, vector), pairs=pairs)
    return meta


def linear_schedule_table(n_points: int = 101) -> ScheduleTable:
    """The linear schedule α = 1 − t, β = t, tabulated on ``n_points`` uniform times (ε* = +inf at 0)."""
    t = np.linspace(0.0, 1.0, n_points)
    alpha, beta = 1.0 - t, t.copy()
    with np.errstate(divide="ignore"):
        eps = np.where(t > 0, alpha**2 / np.where(t > 0, t, 1.0) + alpha, np.inf)
    ones = np.ones_like(t)
    return ScheduleTable(
        t=t,
        alpha=alpha,
        beta=beta,
        alpha_dot=-ones,
        beta_dot=ones,
        eps_star=eps,
        family="linear",
        params={},
        grid=np.linspace(0.0, 1.0, 11),
    )


def write_tiny_schedule(path: str | os.PathLike, n_points: int = 101) -> ScheduleTable:
    """Write :func:`linear_schedule_table` to ``path`` and return it."""
    table = linear_schedule_table(n_points)
    write_schedule(path, table)
    return table
