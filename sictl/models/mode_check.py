"""Where a drift is wrong on a Gaussian field: its error per Fourier shell and per time.

`gaussian-check --model RUN --spectrum FILE` compares a network's drift b̂(t, x) with the exact drift of
the Gaussian whose per-mode power the dataset stores (a Fourier multiplier, arXiv 2509.02971) on inputs
drawn from the exact marginal x_t = α z + β x1 (z from the model's base, x1 from the Gaussian). For each
time and each shell κ (|k| rounded; 1-D: κ = |k|), with hats the Fourier coefficients:

    relative_error(t, κ) = √( Σ_{k∈κ} E|b̂_k − b_k|² / Σ_{k∈κ} E|b_k|² )
    gain(t, κ)           = Σ_{k∈κ} E Re(b̂_k conj b_k) / Σ_{k∈κ} E|b_k|²
    target_error(t, κ)   = √( Σ_{k∈κ} E|b̂_k − b_k|² / Σ_{k∈κ} E|R_k|² ),   R = α̇ z + β̇ x1

The gain is the network's effective multiplier on that shell relative to the exact one (1: right
slope; below 1: it under-reacts), the relative error adds what is not a multiplier (noise, coupling
between modes). Where a shell's exact drift crosses zero (its multiplier changes sign, near α²μ_k ≈
β²λ_k … for the linear schedule) the relative error is large by construction; the target error — the
same error in units of the shell's regression target R (what the training loss sees; b = E[R | x_t],
so it never exceeds the relative error) — stays meaningful there. ``total`` is the relative L2 error of the drift over all
non-empty modes.
Tensors in, tensors out; no files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from sictl.core.exact.drifts import FourierGaussianDrift
from sictl.core.fields import spectra
from sictl.core.interpolants.schedules import Schedule
from sictl.core.sampling.noise import FourierNoise

__all__ = ["ModeErrors", "drift_mode_errors"]


@dataclass
class ModeErrors:
    """Per-time (T,) and per-time-and-shell (T, n/2) comparisons of a drift with the exact one.

    Attributes:
        times: (T,). shells: (n/2,) κ = 1..n/2. relative_error, gain: (T, n/2) (NaN for a shell without
        power). target_error: (T, n/2). total: (T,) relative L2 error over all modes. samples: draws per time.
    """

    times: Tensor
    shells: Tensor
    relative_error: Tensor
    gain: Tensor
    target_error: Tensor
    total: Tensor
    samples: int

    def as_dict(self) -> dict:
        err = torch.nan_to_num(self.target_error, nan=-1.0)  # the worst shell in loss units: no zero-crossing artefacts
        worst = err.argmax(1)
        return {
            "times": self.times.tolist(), "shells": self.shells.tolist(),
            "relative_error": _lists(self.relative_error), "gain": _lists(self.gain),
            "target_error": _lists(self.target_error),
            "total_relative_error": self.total.tolist(),
            "worst_shell": self.shells[worst].tolist(), "worst_shell_target_error": err.max(1).values.tolist(),
            "samples": self.samples,
        }


def _lists(x: Tensor) -> list:
    return [[None if v != v else v for v in row] for row in x.tolist()]  # NaN → null in JSON


def drift_mode_errors(
    velocity: Callable[[float, Tensor], Tensor],
    schedule: Schedule,
    target_power: Tensor,
    base_power: Tensor,
    times: Tensor,
    *,
    samples: int = 256,
    batch: int = 256,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> ModeErrors:
    """Per-shell errors of ``velocity`` (under ``schedule``) against the exact Gaussian drift.

    Args:
        velocity: (t, x) → b̂(t, x) for x of shape (P, 1, *grid).
        target_power, base_power: per-mode power on the full FFT grid (*grid); modes empty in either are
            left out (they are never visited).
        times: (T,) times of ``schedule`` strictly inside (0, 1).
        generator: seeds the draws (the same z, x1 at every time; drawn on the CPU).
        dtype, device: what ``velocity`` is given (its output comes back to float64 on the CPU).
    """
    grid = tuple(target_power.shape)
    dim, n = len(grid), grid[0]
    valid = (target_power > 0) & (base_power > 0)
    tp = torch.where(valid, target_power, torch.zeros_like(target_power)).to(torch.float64)
    bp = torch.where(valid, base_power, torch.zeros_like(base_power)).to(torch.float64)
    exact = FourierGaussianDrift(schedule, tp, bp)
    like = torch.empty(0, dtype=torch.float64)
    x1 = FourierNoise(tp).sample((samples, 1, *grid), generator=generator, like=like)
    z = FourierNoise(bp).sample((samples, 1, *grid), generator=generator, like=like)
    dims = tuple(range(-dim, 0))
    shells = spectra.shell_index(n, dim)
    keep = valid & (shells >= 1)
    errors, gains, scaled, totals = [], [], [], []
    x1h = torch.fft.fftn(x1[:, 0], dim=dims, norm="forward")
    zh = torch.fft.fftn(z[:, 0], dim=dims, norm="forward")
    for t in torch.as_tensor(times, dtype=torch.float64).flatten().tolist():
        v = schedule(torch.tensor(t, dtype=torch.float64))
        err2 = torch.zeros(grid, dtype=torch.float64)
        ref2 = torch.zeros(grid, dtype=torch.float64)
        cross = torch.zeros(grid, dtype=torch.float64)
        for j in range(0, samples, batch):
            xt = float(v.alpha) * z[j:j + batch] + float(v.beta) * x1[j:j + batch]
            with torch.no_grad():
                learned = velocity(t, xt.to(device=device, dtype=dtype)).to(device="cpu", dtype=torch.float64)
            true = exact.velocity(t, xt)
            lh = torch.fft.fftn(learned[:, 0], dim=dims, norm="forward")
            th = torch.fft.fftn(true[:, 0], dim=dims, norm="forward")
            err2 += (lh - th).abs().pow(2).sum(0)
            ref2 += th.abs().pow(2).sum(0)
            cross += (lh * th.conj()).real.sum(0)
        ref_shell = spectra.shell_mean(torch.where(keep, ref2, 0.0), n, dim)
        err_shell = spectra.shell_mean(torch.where(keep, err2, 0.0), n, dim)
        cross_shell = spectra.shell_mean(torch.where(keep, cross, 0.0), n, dim)
        has = ref_shell > 0
        nan = torch.full_like(ref_shell, float("nan"))
        errors.append(torch.where(has, (err_shell / ref_shell.clamp_min(1e-300)).sqrt(), nan))
        gains.append(torch.where(has, cross_shell / ref_shell.clamp_min(1e-300), nan))
        r2 = (float(v.alpha_dot) * zh + float(v.beta_dot) * x1h).abs().pow(2).sum(0)
        r_shell = spectra.shell_mean(torch.where(keep, r2, 0.0), n, dim)
        scaled.append(torch.where(r_shell > 0, (err_shell / r_shell.clamp_min(1e-300)).sqrt(), nan))
        totals.append(float((err2[keep].sum() / ref2[keep].sum().clamp_min(1e-300)).sqrt()))
    return ModeErrors(torch.as_tensor(times, dtype=torch.float64).flatten(),
                      torch.arange(1, n // 2 + 1), torch.stack(errors), torch.stack(gains),
                      torch.stack(scaled), torch.tensor(totals, dtype=torch.float64), samples)
