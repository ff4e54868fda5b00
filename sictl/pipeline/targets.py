"""Targets of the exact laboratory: diagonal Gaussians (ratios, Matérn fields, stored spectra) and
the two-mode mixture. Shared by `gaussian-check` and, later, `design-schedule` and `sample`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from sictl.core import spectra, two_mode
from sictl.errors import ConfigError


@dataclass
class GaussianTarget:
    """A Gaussian target diagonal in a known basis, with its base.

    Attributes:
        target_var: λ_k, either (K,) independent modes or the full FFT grid (n,)*dim of a field.
        base_var: μ_k, same shape (or broadcastable).
        dim: spatial dimension for fields, None for a list of modes.
        n: grid points per side for fields.
        info: JSON description.
        checksum: checksum of the file it came from, if any.
    """

    target_var: Tensor
    base_var: Tensor
    dim: int | None
    n: int | None
    info: dict
    checksum: str | None = None

    def __post_init__(self):
        self.base_var = torch.as_tensor(self.base_var, dtype=torch.float64).expand_as(self.target_var).clone()
        valid = (self.target_var > 0) & (self.base_var > 0)
        if self.dim is not None:
            valid.view(-1)[0] = False  # the mean mode is excluded
        ratios = (self.target_var[valid] / self.base_var[valid]).flatten()
        if ratios.numel() == 0 or not bool(torch.isfinite(ratios).all()):
            raise ConfigError("the target has no mode with positive, finite power", hint="check the spectrum or ratios")
        self.ratio_min, self.ratio_max = float(ratios.min()), float(ratios.max())

    @property
    def shells(self):
        return None if self.dim is None else spectra.shell_index(self.n, self.dim)

    def relative_errors(self, generated_var: Tensor) -> Tensor:
        """|generated − target| / target per shell κ = 1..n/2 (fields) or per mode (mode lists)."""
        if self.dim is None:
            return (generated_var / self.target_var - 1).abs()
        gen = spectra.shell_mean(generated_var.cpu(), self.n, self.dim)
        true = spectra.shell_mean(self.target_var, self.n, self.dim)
        return (gen - true).abs() / true

    def describe(self) -> dict:
        return {**self.info, "ratio_min": self.ratio_min, "ratio_max": self.ratio_max}


@dataclass
class MixtureTarget:
    """p N(r, I) + (1 − p) N(−r, I), |r| = M, over a white unit base."""

    M: float
    p: float = 0.5
    checksum: str | None = None

    def __post_init__(self):
        two_mode.check_two_mode(self.M, self.p)

    def describe(self) -> dict:
        return {"kind": "gmm-two-mode", "M": self.M, "p": self.p, "path": "variance-preserving"}


def _numbers(text: str, what: str, count: tuple[int, int]) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}: cannot read numbers from {text!r}") from None
    if not (count[0] <= len(values) <= count[1]) or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{what}: expected {count[0]}–{count[1]} finite numbers, got {text!r}")
    return values


def white_base_variance(base: str, n_pixels: int | None) -> tuple[float, str]:
    """Per-mode base variance of ``white`` (unit per mode) or ``white:σ0`` (pixel std σ0)."""
    name, _, arg = base.partition(":")
    if name != "white":
        raise ConfigError(f"unknown base {base!r} for gaussian-check", hint="use white or white:σ0")
    if not arg:
        return 1.0, "white, unit variance per Fourier mode"
    sigma0 = _numbers(arg, "--base white:σ0", (1, 1))[0]
    if sigma0 <= 0:
        raise ConfigError(f"--base white:σ0 needs σ0 > 0, got {sigma0}")
    if n_pixels is None:
        return 1.0, "white (ratios are already target/base)"
    return sigma0**2 / n_pixels, f"white, pixel std {sigma0}"


def build_target(cfg) -> GaussianTarget | MixtureTarget:
    """Build the single target named by the options (--ratio, --matern, --spectrum or --gmm)."""
    given = [bool(cfg.ratios), cfg.matern is not None, cfg.spectrum is not None, cfg.gmm is not None]
    if sum(given) != 1:
        raise ConfigError(
            "give exactly one target: --ratio, --matern, --spectrum or --gmm",
            hint="e.g. sictl gaussian-check --matern 64 --schedules linear,designed",
        )
    if cfg.ratios:
        lam = torch.tensor(cfg.ratios, dtype=torch.float64)
        if not bool(torch.isfinite(lam).all()) or not bool((lam > 0).all()):
            raise ConfigError(f"every ratio λ must be > 0 and finite, got {list(cfg.ratios)}", hint="e.g. --ratio 1e-4")
        return GaussianTarget(lam, torch.ones_like(lam), None, None, {"kind": "ratios", "ratios": list(cfg.ratios)})
    if cfg.matern is not None:
        vals = _numbers(cfg.matern, "--matern N[,s,ell]", (1, 3))
        n, s, ell = int(vals[0]), (vals[1] if len(vals) > 1 else 3.0), (vals[2] if len(vals) > 2 else 1.0)
        if n != vals[0] or n < 4 or n % 2:
            raise ConfigError(f"--matern N needs an even integer N ≥ 4, got {vals[0]}")
        power = spectra.matern_power(n, cfg.dim, s, ell)
        mu, base_info = white_base_variance(cfg.base, n**cfg.dim)
        base = torch.full_like(power, mu)
        base.view(-1)[0] = 0.0
        info = {"kind": "matern", "n": n, "dim": cfg.dim, "s": s, "ell": ell,
                "sigma2": spectra.matern_default_sigma2(s, ell), "base": base_info}
        return GaussianTarget(power, base, cfg.dim, n, info)
    if cfg.spectrum is not None:
        return _spectrum_target(cfg)
    vals = _numbers(cfg.gmm, "--gmm M[,p]", (1, 2))
    return MixtureTarget(vals[0], vals[1] if len(vals) > 1 else 0.5)


def _spectrum_target(cfg) -> GaussianTarget:
    from sictl.io import file_checksum, read_dataset

    ds = read_dataset(cfg.spectrum)
    if ds.stats is None or ds.stats.mode_power is None:
        raise ConfigError(
            f"{cfg.spectrum} stores no per-mode power spectrum",
            hint="only field datasets made by `sictl prepare` carry stats/mode_power",
        )
    power = torch.as_tensor(ds.stats.mode_power, dtype=torch.float64)
    shape = tuple(power.shape)
    if len(set(shape)) != 1 or shape[0] % 2:
        raise ConfigError(f"{cfg.spectrum}: spectrum grid {shape} is not square with an even side")
    n, dim = shape[0], len(shape)
    mu, base_info = white_base_variance(cfg.base, n**dim)
    base = torch.full_like(power, mu)
    base.view(-1)[0] = 0.0
    info = {"kind": "spectrum", "path": str(cfg.spectrum), "n": n, "dim": dim, "base": base_info}
    checksum = file_checksum(cfg.spectrum) if str(cfg.spectrum) != "-" else None
    return GaussianTarget(power, base, dim, n, info, checksum)
