"""Command-line options and files → a target of the exact laboratory (:mod:`sictl.core.exact.targets`).

The same options mean the same target in every command: ``--ratio``, ``--matern``, ``--spectrum`` /
``--data`` (a dataset's stored per-mode power, read through :mod:`sictl.io`), ``--gmm`` (two modes)
and ``--gmm-file`` (any mixture), each over the base named by ``--base``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sictl.core.exact import two_mode
from sictl.core.exact.targets import DesignTarget, GaussianTarget, MixtureTarget, TwoModeTarget
from sictl.core.fields import spectra
from sictl.errors import ConfigError, UsageError

__all__ = ["build_target", "white_base_variance", "GaussianTarget", "TwoModeTarget", "MixtureTarget"]


def _numbers(text: str, what: str, count: tuple[int, int]) -> list[float]:
    hint = f"give {what} as {count[0]}–{count[1]} comma-separated finite numbers"
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{what}: cannot read numbers from {text!r}", hint=hint) from None
    if not (count[0] <= len(values) <= count[1]) or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{what}: expected {count[0]}–{count[1]} finite numbers, got {text!r}", hint=hint)
    return values


def white_base_variance(base: str, n_pixels: int | None) -> tuple[float, str]:
    """Per-mode base variance of ``white`` (unit per mode) or ``white:σ0`` (pixel std σ0)."""
    name, _, arg = base.partition(":")
    if name != "white":
        raise ConfigError(f"unknown base {base!r}", hint="use white, white:σ0 or (for field targets) spectral:FILE")
    if not arg:
        return 1.0, "white, unit variance per Fourier mode"
    sigma0 = _white_std(arg)
    if n_pixels is None:
        return 1.0, "white (ratios are already target/base)"
    return sigma0**2 / n_pixels, f"white, pixel std {sigma0}"


def _white_std(arg: str) -> float:
    """σ0 of ``white:σ0`` (1 for plain ``white``)."""
    if not arg:
        return 1.0
    sigma0 = _numbers(arg, "--base white:σ0", (1, 1))[0]
    if sigma0 <= 0:
        raise ConfigError(f"--base white:σ0 needs σ0 > 0, got {sigma0}", hint="σ0 is the pixel standard deviation, e.g. --base white:10")
    return sigma0


def build_target(cfg) -> DesignTarget:
    """Build the single target named by the options (--ratio, --matern, --spectrum/--data, --gmm,
    --gmm-file), the same way for every command.

    ``--base`` acts on every target: ``--gmm M`` over ``white:σ0`` has separation M/σ0 in base units,
    ``--ratio`` refuses a base (a ratio is already target/base), and ``spectral`` without FILE means the
    target's own spectrum (every ratio 1).
    """
    spectrum = getattr(cfg, "spectrum", None) or getattr(cfg, "data", None)
    gmm_file = getattr(cfg, "gmm_file", None)
    field_mixture = getattr(cfg, "field_mixture", None)
    given = [bool(cfg.ratios), cfg.matern is not None, getattr(cfg, "spectrum", None) is not None,
             getattr(cfg, "data", None) is not None, cfg.gmm is not None, gmm_file is not None,
             field_mixture is not None]
    if sum(given) != 1:
        flags = _target_flags(cfg)
        raise (UsageError if not any(given) else ConfigError)(  # none given: a usage error (exit 2)
            f"give exactly one target: {', '.join(flags[:-1])} or {flags[-1]}", hint="e.g. --matern 64, or --ratio 1e-4")
    if field_mixture is not None or (spectrum is not None and _has_field_mixture(spectrum)):
        from sictl.pipeline.field_mixtures import field_mixture_target

        return field_mixture_target(field_mixture or spectrum, cfg.base, samples=getattr(cfg, "lab_samples", 64),
                                    seed=getattr(cfg, "seed", 0))
    if gmm_file is not None:
        return _mixture_file_target(gmm_file, cfg.base, getattr(cfg, "mc_samples", 2048), getattr(cfg, "seed", 0))
    if cfg.ratios:
        if cfg.base != "white":
            raise ConfigError(f"--base {cfg.base} does not apply to --ratio: a ratio λ is already target/base per mode",
                              hint=f"drop --base, or give the target's power with {_spectrum_flags(cfg)} FILE "
                                   "and the base with --base")
        lam = torch.tensor(cfg.ratios, dtype=torch.float64)
        if not bool(torch.isfinite(lam).all()) or not bool((lam > 0).all()):
            raise ConfigError(f"every ratio λ must be > 0 and finite, got {list(cfg.ratios)}", hint="e.g. --ratio 1e-4")
        return GaussianTarget(lam, torch.ones_like(lam), None, None, {"kind": "ratios", "ratios": list(cfg.ratios)})
    if cfg.matern is not None:
        vals = _numbers(cfg.matern, "--matern N[,s,ell]", (1, 3))
        n, s, ell = int(vals[0]), (vals[1] if len(vals) > 1 else 3.0), (vals[2] if len(vals) > 2 else 1.0)
        if n != vals[0] or n < 4 or n % 2:
            raise ConfigError(f"--matern N needs an even integer N ≥ 4, got {vals[0]}", hint="e.g. --matern 64 or --matern 128,2,0.5")
        power = spectra.matern_power(n, cfg.dim, s, ell)
        if cfg.base.partition(":")[0] == "spectral":
            base, base_info = _spectral_base(cfg.base, power, f"Matérn {n}^{cfg.dim}")
        else:
            mu, base_info = white_base_variance(cfg.base, n**cfg.dim)
            base = torch.full_like(power, mu)
        base.view(-1)[0] = 0.0
        info = {"kind": "matern", "n": n, "dim": cfg.dim, "s": s, "ell": ell,
                "sigma2": spectra.matern_default_sigma2(s, ell), "base": base_info}
        return GaussianTarget(power, base, cfg.dim, n, info)
    if spectrum is not None:
        return _spectrum_target(spectrum, cfg.base)
    vals = _numbers(cfg.gmm, "--gmm M[,p]", (1, 2))
    p = vals[1] if len(vals) > 1 else 0.5
    name, _, arg = cfg.base.partition(":")
    if name != "white":
        raise ConfigError(f"--base {cfg.base} does not apply to --gmm: its components share the base covariance σ0² I",
                          hint=f"use --base white or white:σ0; a spectral base needs a field target ({_spectrum_flags(cfg)})")
    sigma0 = _white_std(arg)
    info = None if not arg else {"M_given": vals[0], "base": f"white, std {sigma0}", "note": "M = M_given/σ0 (base units)"}
    two_mode.check_two_mode(vals[0], p)
    return TwoModeTarget(vals[0] / sigma0, p, info=info)


def _has_field_mixture(path: str) -> bool:
    """Whether a dataset file carries a field-mixture description (then it is that laboratory)."""
    from sictl.io import dataset_field_mixture

    return str(path) != "-" and dataset_field_mixture(path) is not None


def _spectrum_flags(cfg) -> str:
    """The options of this command that name a dataset's spectrum as the target (``--data`` is design-schedule's)."""
    return "--data/--spectrum" if hasattr(cfg, "data") else "--spectrum"


def _target_flags(cfg) -> list[str]:
    """The target options this command has, so that messages name only real options."""
    flags = ["--ratio", "--matern", _spectrum_flags(cfg), "--gmm"]
    flags += ["--field-mixture"] if hasattr(cfg, "field_mixture") else []
    return flags + (["--gmm-file"] if hasattr(cfg, "gmm_file") else [])


def _spectral_base(base: str, power: Tensor, what: str) -> tuple[Tensor, str]:
    """Per-mode base power of ``spectral`` (the target's own: every ratio 1) or ``spectral:FILE``."""
    path = base.partition(":")[2]
    if not path:
        return power.clone(), "spectral (the target's own spectrum: every ratio is 1)"
    base_power, _ = _stored_power(path)
    if base_power.shape != power.shape:
        raise ConfigError(f"base spectrum grid {tuple(base_power.shape)} of {path} differs from the {what} grid {tuple(power.shape)}",
                          hint="use a base spectrum at the same resolution (sictl prepare --resolution N)")
    return base_power.clone(), f"spectral ({path})"


def _stored_power(path: str) -> tuple[Tensor, str | None]:
    from sictl.io import file_checksum, read_dataset

    ds = read_dataset(path)
    if ds.stats is None or ds.stats.mode_power is None:
        raise ConfigError(
            f"{path} stores no per-mode power spectrum",
            hint="only field datasets made by `sictl prepare` carry stats/mode_power",
        )
    power = torch.as_tensor(ds.stats.mode_power, dtype=torch.float64)
    shape = tuple(power.shape)
    if len(set(shape)) != 1 or shape[0] % 2:
        raise ConfigError(f"{path}: spectrum grid {shape} is not square with an even side",
                          hint="the stored stats/mode_power must be the full FFT grid (N,)*dim with N even; re-run `sictl prepare`")
    if not bool((power > 0).any()):
        raise ConfigError(f"{path}: the stored spectrum is empty (all modes have zero power)",
                          hint="the dataset's samples are constant; check the data or re-run `sictl prepare`")
    return power, (file_checksum(path) if str(path) != "-" else None)


def _spectrum_target(path: str, base: str) -> GaussianTarget:
    power, checksum = _stored_power(path)
    n, dim = power.shape[0], power.ndim
    if base.partition(":")[0] == "spectral":
        base_var, base_info = _spectral_base(base, power, f"{path}")
    else:
        mu, base_info = white_base_variance(base, n**dim)
        base_var = torch.full_like(power, mu)
    base_var.view(-1)[0] = 0.0
    info = {"kind": "spectrum", "path": str(path), "n": n, "dim": dim, "base": base_info}
    return GaussianTarget(power, base_var, dim, n, info, checksum, power_floor=float32_power_floor(power))


def float32_power_floor(power: Tensor) -> float:
    """The power of a mode that float32 samples cannot tell from zero: (8 ε_32)² × total power / modes.

    Rounding a stored sample to float32 adds white noise of variance ~ε_32² times its mean square
    (ε_32 = 1.2e-7), which spreads evenly over the modes; a mode whose true power is zero (the Nyquist line
    after `prepare --resolution`, a projected-out mean) shows about that much. 8 ε_32 leaves a margin of 64.
    """
    eps = float(torch.finfo(torch.float32).eps)
    return float((8 * eps) ** 2 * power.sum() / power.numel())


def _mixture_file_target(path: str, base: str, samples: int, seed: int) -> MixtureTarget:
    """A mixture JSON file over ``white`` or ``white:σ0``; its profiles use ``samples`` draws from ``seed``."""
    from sictl.io import file_checksum, read_mixture

    mixture = read_mixture(path)
    name, _, arg = base.partition(":")
    if name != "white":
        raise ConfigError(f"unknown base {base!r} for a mixture", hint="use white or white:σ0 (base N(0, σ0² I))")
    base_var = _white_std(arg) ** 2
    return MixtureTarget(mixture, base_var, {"path": str(path)}, file_checksum(path), samples=samples, seed=seed)
