"""Batched pseudo-spectral solver for the 2-D stochastic vorticity equation on the torus [0, 2π]².

The equation (the Navier–Stokes experiment of arXiv 2403.13724; docs/cli.md, "sictl prepare SOURCE"):

    dω + v·∇ω dt = (νΔω − αω) dt + ε Σ_j σ_j φ_j(x) dW_j,

with the paper's ν = 1e−3, α = 0.1, ε = 1 and eight forcing modes φ_j ∈ {sin 6x, cos 7x, sin 5(x+y),
cos 8(x+y), cos 6x, sin 7x, cos 5(x+y), sin 8(x+y)}, σ_j = 1, W_j independent Wiener processes.

Conventions:

- Fields are (batch, N, N) on x_i = 2πi/N (axis −2) and y_j = 2πj/N (axis −1).
- ω̂ = rfft2(ω, norm="forward"), shape (batch, N, N//2 + 1), so mean_x ω² = Σ_k |ω̂_k|² (docs/math.md).
- Stream function ψ̂ = ω̂/|k|², velocity v = (∂_yψ, −∂_xψ), so curl v = ω (jax-cfd's convention; the
  paper's text has a sign slip).
- 2/3 rule: the state and the advection term live in the box |k_x|, |k_y| ≤ K = ⌊(N−1)/3⌋ with zero mean,
  so the quadratic term is alias-free and the scheme is the Galerkin truncation of the SPDE (with
  ν = α = ε = 0 it conserves energy and enstrophy up to the time-stepping error).
- Time stepping: the linear part −λ_k = −(ν|k|² + α) is integrated exactly (integrating factor),
  advection by Kutta's third-order Runge–Kutta in integrating-factor (Lawson) form, and the noise by one
  Gaussian increment per mode and step: the exact stochastic convolution ∫ e^{−λ(t+dt−s)} dW(s), whose
  variance (1 − e^{−2λdt})/(2λ) = dt(1 + O(λdt)) (the √dt scaling). The advection-free (Ornstein–Uhlenbeck)
  dynamics is therefore exact for every dt.
- Energy E = ½⟨|v|²⟩ = ½Σ|ω̂|²/|k|², enstrophy Z = ½⟨ω²⟩, palinstrophy P = ½⟨|∇ω|²⟩ (⟨·⟩ spatial mean).
  Itô budgets: dE/dt = −2αE − 2νZ + ε²Σσ_j²⟨φ_j²⟩/(2|k_j|²), dZ/dt = −2αZ − 2νP + ε²Σσ_j²⟨φ_j²⟩/2;
  in stationarity α⟨|v|²⟩ + ν⟨ω²⟩ = 0.0380 and α⟨ω²⟩ + ν⟨|∇ω|²⟩ = 2 for the paper's forcing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from sictl.core.fields.spectra import spectral_resample
from sictl.errors import ConfigError, ConvergenceError, ShapeError

__all__ = [
    "PAPER_FORCING",
    "PRESETS",
    "ForcingMode",
    "NSConfig",
    "NSPreset",
    "NavierStokes2D",
    "dealias_cutoff",
    "energy",
    "enstrophy",
    "palinstrophy",
    "spectral_truncate",
]

F64 = torch.float64
_CHECK_EVERY = 32  # steps between CFL / finiteness checks (each check synchronises the device)


@dataclass(frozen=True)
class ForcingMode:
    """One stochastic forcing mode σ · sin(k_x x + k_y y) or σ · cos(k_x x + k_y y), driven by its own W_j."""

    kx: int
    ky: int
    kind: str = "sin"
    amplitude: float = 1.0


#: The eight modes of eq. (106) of arXiv 2403.13724.
PAPER_FORCING: tuple[ForcingMode, ...] = (
    ForcingMode(6, 0, "sin"), ForcingMode(7, 0, "cos"), ForcingMode(5, 5, "sin"), ForcingMode(8, 8, "cos"),
    ForcingMode(6, 0, "cos"), ForcingMode(7, 0, "sin"), ForcingMode(5, 5, "cos"), ForcingMode(8, 8, "sin"),
)


def dealias_cutoff(n: int) -> int:
    """K = ⌊(N−1)/3⌋: the largest |k_x|, |k_y| kept by the 2/3 rule (3K < N makes products alias-free)."""
    return (n - 1) // 3


def _finite(name: str, value, low: float, strict: bool, hint: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        rel = ">" if strict else "≥"
        raise ConfigError(f"Navier–Stokes {name} must be a finite number {rel} {low}, got {value!r}", hint=hint)


@dataclass(frozen=True)
class NSConfig:
    """Physics and numerics of the stochastic vorticity equation.

    Args:
        n: grid side N (even, ≥ 8); the forcing wavevectors must lie in the 2/3 box |k_i| ≤ ⌊(N−1)/3⌋.
        nu: viscosity ν ≥ 0.
        alpha: linear damping α ≥ 0 (the −αω term).
        eps: noise amplitude ε ≥ 0 (0 switches the noise off).
        dt: time step > 0.
        forcing: the modes φ_j (ForcingMode or tuples (kx, ky, "sin"|"cos"[, amplitude])); None = the paper's 8.
        dtype: torch.float64 (tests) or torch.float32 (faster production runs).
        advection: False drops v·∇ω (the linear Ornstein–Uhlenbeck test case).
        cfl_max: the run stops with ConvergenceError when dt·max(|v_x| + |v_y|)/Δx exceeds it.
    """

    n: int = 64
    nu: float = 1e-3
    alpha: float = 0.1
    eps: float = 1.0
    dt: float = 2e-3
    forcing: Sequence[ForcingMode] | None = None
    dtype: torch.dtype = torch.float64
    advection: bool = True
    cfl_max: float = 0.5

    def __post_init__(self):
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 8 or self.n % 2:
            raise ConfigError(f"Navier–Stokes grid side n must be an even integer ≥ 8, got {self.n!r}",
                              hint="use e.g. 64 (small), 128 (medium) or 256 (paper)")
        _finite("nu", self.nu, 0.0, False, "the viscosity ν must be ≥ 0 (paper: 1e-3)")
        _finite("alpha", self.alpha, 0.0, False, "the damping α must be ≥ 0 (paper: 0.1)")
        _finite("eps", self.eps, 0.0, False, "the noise amplitude ε must be ≥ 0 (paper: 1; 0 = no noise)")
        _finite("dt", self.dt, 0.0, True, "the time step must be > 0, e.g. 2e-3 at N=64")
        _finite("cfl_max", self.cfl_max, 0.0, True, "a Courant limit in (0, 0.8], e.g. 0.5")
        if self.dtype not in (torch.float32, torch.float64):
            raise ConfigError(f"Navier–Stokes dtype must be torch.float32 or torch.float64, got {self.dtype}",
                              hint="float64 for tests, float32 for speed")
        modes = []
        cut = dealias_cutoff(self.n)
        for m in PAPER_FORCING if self.forcing is None else self.forcing:
            try:
                m = m if isinstance(m, ForcingMode) else ForcingMode(*m)
            except TypeError:
                raise ConfigError(f"bad forcing mode {m!r}", hint='give (kx, ky, "sin"|"cos"[, amplitude])') from None
            if not all(isinstance(k, int) and not isinstance(k, bool) for k in (m.kx, m.ky)) or m.kind not in (
                    "sin", "cos"):
                raise ConfigError(f"bad forcing mode {m!r}", hint='wavevector integers, kind "sin" or "cos"')
            if (m.kx, m.ky) == (0, 0) or max(abs(m.kx), abs(m.ky)) > cut:
                raise ConfigError(f"forcing wavevector ({m.kx}, {m.ky}) is zero or outside the 2/3 box |k_i| ≤ {cut}"
                                  f" of n={self.n}", hint="use a nonzero wavevector, or a larger grid n")
            _finite("forcing amplitude", m.amplitude, 0.0, False, "mode amplitudes σ_j must be ≥ 0")
            modes.append(m)
        object.__setattr__(self, "forcing", tuple(modes))


@dataclass(frozen=True)
class NSPreset:
    """A resolution/time-step recipe (docs/cli.md, `prepare navier-stokes --preset`); physics stays the paper's."""

    n: int
    dt: float
    store_n: int
    dtype: torch.dtype = torch.float32  # the data are stored as float32; float64 costs ≈ 2× the time
    burn_in: float = 50.0
    snapshot_dt: float = 0.5
    n_snapshots: int = 100

    def config(self, **overrides) -> NSConfig:
        """The NSConfig of this preset, with any field overridden (e.g. nu=…, forcing=…)."""
        return NSConfig(**{"n": self.n, "dt": self.dt, "dtype": self.dtype, **overrides})


PRESETS: dict[str, NSPreset] = {
    "small": NSPreset(n=64, dt=2e-3, store_n=64),
    "medium": NSPreset(n=128, dt=1e-3, store_n=128),
    "paper": NSPreset(n=256, dt=1e-4, store_n=128),
}


# ---- diagnostics -------------------------------------------------------------------------------------------
def _wavenumbers(n: int, device=None) -> tuple[Tensor, Tensor]:
    kx = torch.fft.fftfreq(n, d=1.0 / n, dtype=F64, device=device)[:, None]
    ky = torch.fft.rfftfreq(n, d=1.0 / n, dtype=F64, device=device)[None, :]
    return kx, ky


def _half_weights(n: int, device=None) -> Tensor:
    """Weights (N//2+1,) turning a sum over the rfft half-plane of an even grid into a full-grid sum."""
    w = torch.full((n // 2 + 1,), 2.0, dtype=F64, device=device)
    w[0] = w[-1] = 1.0
    return w


def _check_field(w: Tensor) -> int:
    if w.ndim < 2 or w.shape[-1] != w.shape[-2] or w.is_complex():
        raise ShapeError(f"expected real fields (..., N, N), got {tuple(w.shape)} {w.dtype}",
                         hint="pass vorticity fields of shape (batch, N, N)")
    return w.shape[-1]


def _weighted_mean_square(w: Tensor, power_of_k2: int) -> Tensor:
    n = _check_field(w)
    wh = torch.fft.rfft2(w.to(F64), norm="forward")
    kx, ky = _wavenumbers(n, w.device)
    k2 = kx * kx + ky * ky
    if power_of_k2 < 0:
        k2[0, 0] = math.inf
    weight = k2.pow(power_of_k2) * _half_weights(n, w.device)
    return 0.5 * (wh.abs().square() * weight).sum((-2, -1))


def energy(w: Tensor) -> Tensor:
    """Kinetic energy E = ½⟨|v|²⟩ = ½Σ_k |ω̂_k|²/|k|² (mean mode ignored). w: (..., N, N) → (...), float64."""
    return _weighted_mean_square(w, -1)


def enstrophy(w: Tensor) -> Tensor:
    """Enstrophy Z = ½⟨ω²⟩ = ½Σ_k |ω̂_k|². w: (..., N, N) → (...), float64."""
    return _weighted_mean_square(w, 0)


def palinstrophy(w: Tensor) -> Tensor:
    """Palinstrophy P = ½⟨|∇ω|²⟩ = ½Σ_k |k|²|ω̂_k|². w: (..., N, N) → (...), float64."""
    return _weighted_mean_square(w, 1)


def spectral_truncate(w: Tensor, n_out: int) -> Tensor:
    """Downsample periodic fields by Fourier truncation (norm="forward": kept coefficients unchanged).

    Keeps |k_x|, |k_y| < n_out/2 (the output's Nyquist lines are dropped so the field stays real); this is
    ``sictl.core.fields.spectra.spectral_resample``, the method `prepare` records as "spectral".

    Args:
        w: (..., N, N) real fields.
        n_out: even output side, 2 ≤ n_out ≤ N.

    Returns:
        (..., n_out, n_out) in w's dtype.
    """
    n = _check_field(w)
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 2 or n_out % 2 or n_out > n:
        raise ConfigError(f"spectral_truncate needs an even n_out in [2, {n}], got {n_out!r}",
                          hint="truncation only lowers the resolution; e.g. 256 → 128")
    return w if n_out == n else spectral_resample(w, n_out, 2)


# ---- solver --------------------------------------------------------------------------------------------------
class NavierStokes2D:
    """The solver for one NSConfig on one device; all operators are precomputed.

    Args:
        config: physics and numerics.
        device: where the state lives (the generator passed to step/simulate must live there too).
    """

    def __init__(self, config: NSConfig, device: torch.device | str | None = None):
        self.config = c = config
        self.device = torch.device("cpu" if device is None else device)
        n, dev = c.n, self.device
        self.cdtype = torch.complex64 if c.dtype == torch.float32 else torch.complex128
        kx, ky = _wavenumbers(n, dev)
        k2 = kx * kx + ky * ky
        k2inv = torch.where(k2 > 0, 1.0 / k2.clamp_min(1.0), torch.zeros_like(k2))
        cut = dealias_cutoff(n)
        mask = (kx.abs() <= cut) & (ky <= cut) & (k2 > 0)
        lam = c.nu * k2 + c.alpha
        self._mask = mask.to(c.dtype)
        self._decay = torch.exp(-lam * c.dt).to(c.dtype)
        # e^{−λdt} − 1: applying the decay as w + (e^{−λdt} − 1)w keeps float32 free of a systematic damping
        # error (a rounded e^{−λdt} ≈ 1 − 1e−5 would bias λ by up to 0.3% at dt = 1e−4)
        self._decay_m1 = torch.expm1(-lam * c.dt).to(c.dtype)
        self._decay_half = torch.exp(-lam * c.dt / 2).to(c.dtype)
        # (4, 1, N, N/2+1): ω̂ ↦ (v̂_x, v̂_y, ∂_x ω̂, ∂_y ω̂) with v = (∂_yψ, −∂_xψ), ψ̂ = ω̂/|k|².
        ops = torch.stack((1j * ky * k2inv, -1j * kx * k2inv, 1j * kx + 0 * ky, 1j * ky + 0 * kx))
        self._ops = ops[:, None].to(self.cdtype)
        # Noise operator (M, N·(N/2+1)): one exact OU increment per mode and step.
        var = torch.where(lam > 0, -torch.expm1(-2 * lam * c.dt) / (2 * lam.clamp_min(1e-300)),
                          torch.full_like(lam, c.dt))
        x = 2 * math.pi * torch.arange(n, dtype=F64, device=dev) / n
        basis = torch.zeros(len(c.forcing), n, n, dtype=F64, device=dev)
        for j, m in enumerate(c.forcing):
            phase = m.kx * x[:, None] + m.ky * x[None, :]
            basis[j] = m.amplitude * (torch.sin(phase) if m.kind == "sin" else torch.cos(phase))
        # (M, N, N/2+1) with ε = 1 (rfft2 rejects an empty batch)
        self._basis_hat = torch.fft.rfft2(basis, norm="forward") * mask if c.forcing else basis[:, :, : n // 2 + 1]
        self._noise = (c.eps * self._basis_hat * var.sqrt()).reshape(len(c.forcing), n * (n // 2 + 1))
        self._noise = self._noise.to(self.cdtype)
        self._weights, self._k2, self._k2inv, self._dx = _half_weights(n, dev), k2, k2inv, 2 * math.pi / n

    # -- state conversions ---------------------------------------------------------------------------------------
    def to_spectral(self, w: Tensor) -> Tensor:
        """(batch, N, N) real → (batch, N, N//2+1) ω̂, projected onto the dealiased zero-mean box."""
        if w.is_complex() or w.ndim != 3 or w.shape[-2:] != (self.config.n, self.config.n):
            n = self.config.n
            raise ShapeError(f"expected real vorticity (batch, {n}, {n}), got {tuple(w.shape)} {w.dtype}",
                             hint=f"pass a (batch, {n}, {n}) tensor, or build the solver with n={w.shape[-1]}")
        return torch.fft.rfft2(w.to(self.device, self.config.dtype), norm="forward") * self._mask

    def to_physical(self, w_hat: Tensor) -> Tensor:
        """(batch, N, N//2+1) ω̂ → (batch, N, N) real, in the config dtype."""
        return torch.fft.irfft2(w_hat, s=(self.config.n, self.config.n), norm="forward")

    # -- dynamics ----------------------------------------------------------------------------------------------
    def _derived(self, w_hat: Tensor) -> Tensor:
        """(4, batch, N, N): v_x, v_y, ∂_x ω, ∂_y ω in physical space."""
        return torch.fft.irfft2(self._ops * w_hat, s=(self.config.n, self.config.n), norm="forward")

    def _rhs(self, w_hat: Tensor, speed: bool = False) -> tuple[Tensor, Tensor | None]:
        """Dealiased −(v·∇ω)^ and, if asked, the largest |v_x| + |v_y| (0-d tensor)."""
        u, v, wx, wy = self._derived(w_hat)
        adv = torch.fft.rfft2(u * wx + v * wy, norm="forward")
        return -adv * self._mask, (u.abs() + v.abs()).amax() if speed else None

    def velocity(self, w: Tensor) -> Tensor:
        """Velocity v = (∂_yψ, −∂_xψ) of vorticity fields: (batch, N, N) → (batch, 2, N, N)."""
        return self._derived(self.to_spectral(w))[:2].transpose(0, 1)

    def advection(self, w: Tensor) -> Tensor:
        """The dealiased advection term v·∇ω: (batch, N, N) → (batch, N, N)."""
        return self.to_physical(-self._rhs(self.to_spectral(w))[0])

    def _step(self, wh: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor | None]:
        c, e, eh = self.config, self._decay, self._decay_half
        h = c.dt
        speed = None
        if c.advection:
            k1, speed = self._rhs(wh, True)
            k2, _ = self._rhs(eh * (wh + (0.5 * h) * k1))
            ew, ek1, ehk2 = wh + self._decay_m1 * wh, e * k1, eh * k2
            k3, _ = self._rhs(ew - h * ek1 + (2 * h) * ehk2)
            out = ew + (h / 6) * (ek1 + 4 * ehk2 + k3)
        else:
            out = wh + self._decay_m1 * wh
        if self._noise.shape[0] and c.eps > 0:
            # drawn in float64 whatever the arithmetic: a seed gives the same noise in float32 and float64
            xi = torch.randn((wh.shape[0], self._noise.shape[0]), generator=generator, dtype=F64,
                             device=self.device)
            out = out + (xi.to(self.cdtype) @ self._noise).view(wh.shape)
        return out, speed

    def _advance(self, wh: Tensor, steps: int, generator: torch.Generator | None) -> Tensor:
        worst = torch.zeros((), dtype=self.config.dtype, device=self.device)
        for i in range(steps):
            wh, speed = self._step(wh, generator)
            if speed is not None:
                worst = torch.maximum(worst, speed)  # propagates NaN; no device sync here
            if (i + 1) % _CHECK_EVERY == 0 or i + 1 == steps:
                self._guard(wh, worst)
        return wh

    def _guard(self, wh: Tensor, worst: Tensor) -> None:
        c = self.config
        courant = float(worst) * c.dt / self._dx
        if not math.isfinite(courant) or not bool(torch.isfinite(torch.view_as_real(wh)).all()):
            raise ConvergenceError("Navier–Stokes state became non-finite",
                                   hint=f"lower dt (now {c.dt:g}) or check ν, α, ε and the initial condition")
        if courant > c.cfl_max:
            raise ConvergenceError(
                f"Navier–Stokes CFL guard tripped: dt·max(|v_x|+|v_y|)/Δx = {courant:.3g} > {c.cfl_max:g}",
                hint=f"lower dt below {c.dt * c.cfl_max / courant:.3g} (now {c.dt:g})")

    def step(self, w: Tensor, generator: torch.Generator | None = None, steps: int = 1) -> Tensor:
        """Advance by ``steps`` time steps (one noise increment each).

        Args:
            w: real (batch, N, N) vorticity, or complex (batch, N, N//2+1) ω̂ (then ω̂ is returned).
            generator: the noise source (on the solver's device); None uses torch's global generator.
            steps: number of steps ≥ 1.

        Returns:
            The state after ``steps·dt``, in the form it was given, projected onto the dealiased box.

        Raises:
            ConvergenceError: the CFL guard tripped or the state became non-finite.
        """
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"steps must be an integer ≥ 1, got {steps!r}", hint="e.g. steps=10")
        n = self.config.n
        if w.is_complex():
            if w.ndim != 3 or w.shape[-2:] != (n, n // 2 + 1):
                raise ShapeError(f"expected ω̂ of shape (batch, {n}, {n // 2 + 1}), got {tuple(w.shape)}",
                                 hint="use NavierStokes2D.to_spectral, or pass the real field")
            return self._advance(w.to(self.device, self.cdtype) * self._mask, steps, generator)
        return self.to_physical(self._advance(self.to_spectral(w), steps, generator))

    def _n_steps(self, name: str, duration: float, allow_zero: bool) -> int:
        _finite(name, duration, 0.0, not allow_zero, f"{name} is a time span in the equation's units")
        count = round(duration / self.config.dt)
        if abs(count * self.config.dt - duration) > 1e-9 * max(1.0, duration):
            raise ConfigError(f"{name} = {duration:g} is not a multiple of dt = {self.config.dt:g}",
                              hint="choose burn_in and snapshot_dt as integer multiples of dt")
        return count

    def simulate(self, w0: Tensor, *, burn_in: float, snapshot_dt: float, n_snapshots: int,
                 generator: torch.Generator | None = None,
                 callback: Callable[[float, float], None] | None = None) -> Iterator[tuple[float, Tensor]]:
        """Run trajectories and yield snapshots one time at a time (so a writer can stream them to disk).

        Snapshots are taken at t_i = burn_in + i·snapshot_dt, i = 1..n_snapshots (the paper's (50, 100] for
        burn_in = 50, snapshot_dt = 0.5, n_snapshots = 100). Arguments are validated before the first yield.

        Args:
            w0: (batch, N, N) initial vorticity (projected onto the dealiased zero-mean box).
            burn_in: discarded time span ≥ 0, a multiple of dt.
            snapshot_dt: time between snapshots > 0, a multiple of dt.
            n_snapshots: number of snapshots ≥ 1.
            generator: the noise source; None uses torch's global generator.
            callback: called as callback(sim_time, total_time) after every snapshot interval (burn-in included).

        Yields:
            (t_i, ω(t_i)) with ω of shape (batch, N, N) in the config dtype.
        """
        burn = self._n_steps("burn_in", burn_in, True)
        every = self._n_steps("snapshot_dt", snapshot_dt, False)
        if isinstance(n_snapshots, bool) or not isinstance(n_snapshots, int) or n_snapshots < 1:
            raise ConfigError(f"n_snapshots must be an integer ≥ 1, got {n_snapshots!r}",
                              hint="the number of stored snapshots per trajectory, e.g. 100")
        return self._run(self.to_spectral(w0), burn, every, n_snapshots, generator, callback)

    def _run(self, wh, burn, every, count, generator, callback):
        dt, total = self.config.dt, (burn + every * count) * self.config.dt
        done = 0
        while done < burn:
            chunk = min(every, burn - done)
            wh = self._advance(wh, chunk, generator)
            done += chunk
            if callback is not None:
                callback(done * dt, total)
        for _ in range(count):
            wh = self._advance(wh, every, generator)
            done += every
            if callback is not None:
                callback(done * dt, total)
            yield done * dt, self.to_physical(wh)

    # -- budgets and initial conditions -------------------------------------------------------------------------
    def injection_rates(self) -> tuple[float, float]:
        """Itô injection rates (energy, enstrophy) = (ε²Σσ_j²⟨φ_j²⟩/(2|k_j|²), ε²Σσ_j²⟨φ_j²⟩/2)."""
        power = (self._basis_hat.abs().square() * self._weights).sum(0)  # Σ_j |φ̂_j(k)|² per mode
        eps2 = self.config.eps ** 2
        return 0.5 * eps2 * float((power * self._k2inv).sum()), 0.5 * eps2 * float(power.sum())

    def dissipation_rates(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """(2αE + 2νZ, 2αZ + 2νP) per field: (batch, N, N) → two (batch,) float64; equal injection in the mean."""
        a, nu = self.config.alpha, self.config.nu
        z = enstrophy(w)
        return 2 * a * energy(w) + 2 * nu * z, 2 * a * z + 2 * nu * palinstrophy(w)

    def initial_condition(self, batch: int, generator: torch.Generator | None = None, *, kind: str = "random",
                          rms: float = 3.0) -> Tensor:
        """Initial vorticity (batch, N, N) in the config dtype.

        The paper's initial conditions are unknown (its draft notebook uses a random jax-cfd
        ``filtered_velocity_field``); "random" is a Gaussian field with per-mode power ∝ |k|² e^{−|k|²/36}
        (peaked near the forced band), inside the dealiased box and scaled to pixel RMS ``rms`` (≈ the
        stationary 3.07), which shortens the burn-in; "zero" starts at rest.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigError(f"batch must be an integer ≥ 1, got {batch!r}", hint="the number of trajectories, e.g. 8")
        n = self.config.n
        if kind == "zero":
            return torch.zeros(batch, n, n, dtype=self.config.dtype, device=self.device)
        if kind != "random":
            raise ConfigError(f"unknown initial condition {kind!r}", hint='choose "random" or "zero"')
        _finite("rms", rms, 0.0, False, "the pixel RMS of the initial vorticity, e.g. 3.0")
        xi = torch.randn((batch, n, n), generator=generator, dtype=F64, device=self.device)
        amp = (self._k2 * torch.exp(-self._k2 / 36.0)).sqrt() * self._mask.to(F64)
        w = torch.fft.irfft2(torch.fft.rfft2(xi, norm="forward") * amp, s=(n, n), norm="forward")
        w = w * (rms / w.square().mean((-2, -1), keepdim=True).sqrt())
        return w.to(self.config.dtype)
