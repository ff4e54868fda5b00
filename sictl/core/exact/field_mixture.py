"""A mixture of Fourier-diagonal Gaussian fields and its exact drift: a non-Gaussian exact laboratory.

The target is x1 ~ Σ_j w_j N(0, C_j), each C_j diagonal in Fourier space with per-mode power S_j(k) =
E|x̂_k|² (FFT ``norm="forward"``): Matérn components a_j σ²(4π²|k|² + ℓ_j²)^{−s_j}, σ² making S(|k| = 1) = a_j
(:func:`sictl.core.fields.spectra.matern_power`), so the components differ in amplitude and length scale.
The base is Fourier-diagonal too (power S0). Given the component, x_t = α z + β x1 is Gaussian with
per-mode variance D_jk = α² S0_k + β² S_jk, and its drift is the Fourier multiplier
a_jk = (αα̇ S0_k + ββ̇ S_jk)/D_jk (:class:`~sictl.core.exact.drifts.FourierGaussianDrift`). So the exact drift
of the mixture is

    b(t, x) = E[α̇ z + β̇ x1 | x_t = x] = Σ_j π_j(t, x) A_j(t) x,   π_j ∝ w_j N(x; 0, diag D_j),

with the posterior over components computable mode by mode: for a real field the log density is
−½ Σ_k (|x̂_k|²/D_jk + log D_jk) + const over the full FFT grid (the quadratic form of the covariance
whose eigenvalues are N^d D_jk; the constant is common to all components). Modes with no power in any
component and in the base (the mean mode) carry nothing and are left out. A leading axis of x that is
not spatial (batch, channel) is a separate field with its own posterior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from sictl.core.exact.drifts import gaussian_mode_rate
from sictl.core.fields import spectra
from sictl.core.interpolants.schedules import Schedule, as_time
from sictl.core.sampling.drift import Drift
from sictl.core.sampling.noise import FourierNoise, even_half
from sictl.errors import ConfigError

__all__ = ["MaternComponent", "FieldMixture", "FieldMixtureDrift", "ModeClasses", "ReducedMixtureDrift", "parse_field_mixture"]

_HINT = "e.g. 64:0.5,3,1,1;0.5,3,20,0.01 (N[,dim]: then weight,s,ell,amplitude per component, ';' between)"


@dataclass(frozen=True)
class MaternComponent:
    """One component: weight w, Matérn exponent s, ℓ, and its power at |k| = 1 (``amplitude``)."""

    weight: float
    s: float = 3.0
    ell: float = 1.0
    amplitude: float = 1.0

    def power(self, n: int, dim: int) -> Tensor:
        return self.amplitude * spectra.matern_power(n, dim, self.s, self.ell)


@dataclass(frozen=True)
class FieldMixture:
    """Σ_j w_j N(0, diag S_j) on the n^dim torus (see the module docstring)."""

    n: int
    dim: int
    components: tuple[MaternComponent, ...]

    def __post_init__(self):
        if not (isinstance(self.n, int) and self.n >= 4 and self.n % 2 == 0) or self.dim not in (1, 2, 3):
            raise ConfigError(f"a field mixture needs an even n ≥ 4 and dim 1..3, got n={self.n}, dim={self.dim}",
                              hint=_HINT)
        if len(self.components) < 1:
            raise ConfigError("a field mixture needs at least one component", hint=_HINT)
        for c in self.components:
            values = (c.weight, c.s, c.ell, c.amplitude)
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise ConfigError(f"every component needs finite weight, s, ell, amplitude > 0, got {values}",
                                  hint=_HINT)
        total = sum(c.weight for c in self.components)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"the component weights must sum to 1, got {total:.6g}", hint=_HINT)

    @property
    def weights(self) -> Tensor:
        return torch.tensor([c.weight for c in self.components], dtype=torch.float64)

    def powers(self) -> Tensor:
        """(J, *grid) per-mode powers of the components, mean mode 0."""
        return torch.stack([c.power(self.n, self.dim) for c in self.components])

    def mean_power(self) -> Tensor:
        """Σ_j w_j S_j: the per-mode power of the mixture."""
        return torch.einsum("j,j...->...", self.weights, self.powers())

    def to_dict(self) -> dict:
        return {"kind": "field-mixture", "n": self.n, "dim": self.dim,
                "components": [{"weight": c.weight, "s": c.s, "ell": c.ell, "amplitude": c.amplitude}
                               for c in self.components]}

    @classmethod
    def from_dict(cls, spec: dict, where: str = "field mixture") -> FieldMixture:
        try:
            comps = tuple(MaternComponent(float(c["weight"]), float(c.get("s", 3.0)), float(c.get("ell", 1.0)),
                                          float(c.get("amplitude", 1.0))) for c in spec["components"])
            return cls(int(spec["n"]), int(spec.get("dim", 2)), comps)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: not a field-mixture description ({exc})",
                              hint='{"n": 64, "dim": 2, "components": [{"weight": 0.5, "s": 3, "ell": 1, '
                                   '"amplitude": 1}, ...]}') from None

    def sample(self, count: int, *, generator: torch.Generator | None = None) -> Tensor:
        """(count, *grid) float64 fields: a component drawn by weight, then a Gaussian field with its power."""
        which = torch.multinomial(self.weights, count, replacement=True, generator=generator)
        powers = self.powers()
        out = torch.empty(count, *powers.shape[1:], dtype=torch.float64)
        for j in range(len(self.components)):
            idx = (which == j).nonzero().flatten()
            if idx.numel():
                out[idx] = spectra.gaussian_field(powers[j], idx.numel(), generator=generator)
        return out


def parse_field_mixture(text: str) -> FieldMixture:
    """``N[,dim]:w,s,ell,amp;w,s,ell,amp...`` → :class:`FieldMixture` (s, ell, amp default 3, 1, 1)."""
    head, sep, body = text.partition(":")
    try:
        first = [float(v) for v in head.split(",") if v.strip()]
        comps = []
        for part in body.split(";"):
            if not part.strip():
                continue
            vals = [float(v) for v in part.split(",")]
            if not 1 <= len(vals) <= 4:
                raise ValueError(part)
            comps.append(MaternComponent(*vals))
    except ValueError:
        raise ConfigError(f"cannot read the field mixture {text!r}", hint=_HINT) from None
    if not sep or not 1 <= len(first) <= 2 or any(v != int(v) for v in first):
        raise ConfigError(f"cannot read the field mixture {text!r}", hint=_HINT)
    return FieldMixture(int(first[0]), int(first[1]) if len(first) > 1 else 2, tuple(comps))


class FieldMixtureDrift(Drift):
    """Exact drift of a :class:`FieldMixture` target over a Fourier-diagonal base (module docstring).

    Args:
        schedule: the interpolation schedule.
        powers: (J, *grid) component powers S_j on the full FFT grid.
        weights: (J,) component weights.
        base_power: S0 on the same grid (or a scalar).
    """

    def __init__(self, schedule: Schedule, powers: Tensor, weights: Tensor, base_power: Tensor | float = 1.0):
        self.schedule = schedule
        self.powers = torch.as_tensor(powers, dtype=torch.float64)
        self.log_weights = torch.as_tensor(weights, dtype=torch.float64).log()
        grid = tuple(self.powers.shape[1:])
        self.base = FourierNoise(torch.as_tensor(base_power, dtype=torch.float64).expand(grid).clone())
        self.base_power = self.base.power
        self.ndim = len(grid)
        half = self.powers[..., : grid[-1] // 2 + 1]
        self._half_powers, self._half_base = half, self.base_power[..., : grid[-1] // 2 + 1]
        mult = torch.full(half.shape[1:], 2.0, dtype=torch.float64)
        mult[..., 0] = 1.0
        if grid[-1] % 2 == 0:
            mult[..., -1] = 1.0
        live = (self._half_base > 0) | (half > 0).any(0)
        self._mult = torch.where(live, mult, torch.zeros_like(mult))  # each full-grid mode counted once

    def posterior(self, t: float | Tensor, x: Tensor, xh: Tensor | None = None) -> Tensor:
        """(..., J) posterior weights π_j(t, x) of the components (leading axes of x kept)."""
        dims = tuple(range(-self.ndim, 0))
        if xh is None:
            xh = torch.fft.rfftn(x, dim=dims, norm="forward")
        v = self.schedule(as_time(t))
        alpha2, beta2 = float(v.alpha) ** 2, float(v.beta) ** 2
        d = alpha2 * self._half_base + beta2 * self._half_powers  # (J, *half)
        live = self._mult > 0
        safe = torch.where(live, d, torch.ones_like(d))
        q = (xh.real.double() ** 2 + xh.imag.double() ** 2)  # (..., *half)
        flat_q = q.reshape(*q.shape[: q.ndim - self.ndim], -1)
        inv = (self._mult / safe).reshape(len(d), -1).to(flat_q.device)
        logdet = (self._mult * safe.log()).reshape(len(d), -1).sum(1).to(flat_q.device)
        ll = self.log_weights.to(flat_q.device) - 0.5 * (flat_q @ inv.T + logdet)
        return torch.softmax(ll, dim=-1)

    def velocity(self, t, x):
        dims = tuple(range(-self.ndim, 0))
        xh = torch.fft.rfftn(x, dim=dims, norm="forward")
        pi = self.posterior(t, x, xh)  # (..., J) float64
        rates = torch.stack([even_half(gaussian_mode_rate(self.schedule, t, self.base_power, p)) for p in self.powers])
        flat = pi.reshape(-1, pi.shape[-1]) @ rates.reshape(len(rates), -1).to(pi.device)
        mult = flat.reshape(*pi.shape[:-1], *rates.shape[1:])
        xh.mul_(mult.to(dtype=xh.real.dtype))
        return torch.fft.irfftn(xh, s=tuple(self.powers.shape[1:]), dim=dims, norm="forward").to(x.dtype)

    def sample_base(self, shape, *, generator, like):
        return self.base.sample(shape, generator=generator, like=like)


# ------------------------------------------------------------------------------------------ mode classes


@dataclass
class ModeClasses:
    """The modes of the grid grouped into classes c with equal shell, base power and component powers.

    The exact drift multiplies every mode of a class by the same number (its rates and the posterior
    depend on the mode through these powers only), and so does every step of an ODE solver, which only
    forms linear combinations of states and drifts with scalar coefficients. So x̂_k(t) = g_c(t) x̂_k(0)
    for k in class c, along the exact flow and along any ODE solver's steps: a sample is its class
    energies E_c = Σ_{k∈c} |x̂_k(0)|² (full FFT grid) and its path is the gains g (one per class).

    Attributes:
        index: (*grid) class of every mode.  counts: (C,) modes per class.  shell: (C,) shell κ − 1 (−1: none).
        base: (C,) S0.  powers: (J, C) S_j.
    """

    index: Tensor
    counts: Tensor
    shell: Tensor
    base: Tensor
    powers: Tensor

    @classmethod
    def of(cls, powers: Tensor, base_power: Tensor, n: int, dim: int) -> ModeClasses:
        shells = spectra.shell_index(n, dim).reshape(-1).to(torch.float64)
        rows = torch.cat([shells[None], base_power.reshape(1, -1), powers.reshape(len(powers), -1)]).T
        uniq, inverse, counts = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
        shell = uniq[:, 0].to(torch.int64)
        return cls(inverse.reshape(base_power.shape), counts.to(torch.float64), torch.where(shell > 0, shell - 1, -1),
                   uniq[:, 1].contiguous(), uniq[:, 2:].T.contiguous())

    def energies(self, x: Tensor) -> Tensor:
        """(B, C) class energies Σ_{k∈c} |x̂_k|² of fields (B, *grid)."""
        dims = tuple(range(-self.index.ndim, 0))
        xh = torch.fft.fftn(x.double(), dim=dims, norm="forward")
        q = (xh.real**2 + xh.imag**2).reshape(len(x), -1)
        out = torch.zeros(len(x), len(self.counts), dtype=torch.float64)
        return out.index_add_(1, self.index.reshape(-1), q)

    def log_likelihoods(self, alpha2, beta2, power_sums: Tensor, log_weights: Tensor):
        """(..., J) log w_j − ½ Σ_c (P_c/D_jc + n_c log D_jc) for class energies P (..., C) at the state;
        ``alpha2``, ``beta2`` scalars or arrays broadcasting against (..., 1, 1)."""
        d = alpha2 * self.base + beta2 * self.powers  # (..., J, C)
        live = (self.base > 0) | (self.powers > 0).any(0)
        safe = torch.where(live, d, torch.ones_like(d))
        inv = torch.where(live, 1.0 / safe, torch.zeros_like(safe))
        quad = (power_sums[..., None, :] * inv).sum(-1)
        logdet = (torch.where(live, self.counts, torch.zeros_like(self.counts)) * safe.log()).sum(-1)
        return log_weights - 0.5 * (quad + logdet)


class ReducedMixtureDrift(Drift):
    """The exact drift of a field mixture acting on class gains g (B, C) of fixed base draws (:class:`ModeClasses`):
    ġ_c = Σ_j π_j(t, g) a_jc(t) g_c with the posterior of the fields x̂_k = g_c x̂_k(0). For ODE solvers only
    (noise would break the classes); equal to :class:`FieldMixtureDrift` on the fields to round-off."""

    def __init__(self, schedule: Schedule, classes: ModeClasses, weights: Tensor, energies: Tensor):
        self.schedule, self.classes, self.energies = schedule, classes, energies
        self.log_weights = torch.as_tensor(weights, dtype=torch.float64).log()
        self.has_score = False

    def posterior(self, t, g: Tensor) -> Tensor:
        v = self.schedule(as_time(t))
        ll = self.classes.log_likelihoods(float(v.alpha) ** 2, float(v.beta) ** 2, g * g * self.energies,
                                          self.log_weights)
        return torch.softmax(ll, dim=-1)

    def velocity(self, t, g):
        rates = gaussian_mode_rate(self.schedule, t, self.classes.base, self.classes.powers)  # (J, C)
        return (self.posterior(t, g) @ rates) * g
