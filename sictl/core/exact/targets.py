"""Targets of the exact laboratory: one protocol for what `design-schedule` designs for and
`gaussian-check` measures.

A target knows the path its schedules are applied on — a Gaussian takes a schedule as it is, a
mixture takes the variance-preserving path α = √(1 − β²) with the schedule's β — and, for any
schedule, the regularity of its exact drift b on that path (arXiv 2509.01629):

    A2 = ∫ E‖∇b‖₂² dt,   Lipschitz = sup_t sup_x ‖∇b(t, x)‖₂,   K = ∫ E|b|² dt (kinetic energy).

It designs the schedule that minimises A2 (or K): a closed form where one exists (a Gaussian with all
ratios on one side of 1; the rescaled pair for ratios on both sides), otherwise the optimal clock of
the variance-preserving path for the target's profile G (:mod:`sictl.core.exact.design`).

* :class:`GaussianTarget`: diagonal in a known basis (ratios, Matérn fields, stored spectra);
* :class:`TwoModeTarget`: p N(r, I) + (1 − p) N(−r, I), profiles in closed form;
* :class:`MixtureTarget`: any Gaussian mixture, profiles by Monte Carlo.

The first two also answer `gaussian-check`'s exact questions (:class:`LabTarget`). Building a target
from command-line options and files is the pipeline's job (:mod:`sictl.pipeline.targets`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from sictl.core.exact import gaussian, two_mode
from sictl.core.exact.design import (
    ClockDesign,
    MixtureProfile,
    Profile,
    designed_closed_form,
    gaussian_lipschitz_ratio,
    gaussian_profile,
    mixture_profile_table,
    optimal_vp_clock,
    two_mode_lipschitz_ratio,
    two_mode_profile,
)
from sictl.core.exact.drifts import DiagonalGaussianDrift, FourierGaussianDrift
from sictl.core.fields import spectra
from sictl.core.interpolants.schedules import DesignedPair, Schedule, make_schedule, variance_preserving
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import Solver
from sictl.errors import ConfigError

__all__ = ["Design", "DesignTarget", "LabTarget", "GaussianTarget", "TwoModeTarget", "MixtureTarget"]

VP_PATH = "variance-preserving"


@dataclass
class Design:
    """A designed schedule and what `design-schedule` reports about it.

    Attributes:
        schedule: the designed schedule (a closed form or a tabulated clock).
        family: ``designed``, ``designed-pair`` or ``vp-clock`` (the schedule file's family).
        params: the family's parameters, as written to the file.
        path: the path it is applied on: ``variance-preserving`` or the closed form's name.
        info: further summary entries (criterion values, what the rescaling saves).
        lipschitz: the designed schedule's Lipschitz constant taken from the clock itself,
            H(1) sup_β L(β)/√G(β) (:meth:`ClockDesign.lipschitz`), where a table cannot resolve it
            (a final jump; α ≈ 1 stored with too few digits near t = 0); None: measure the schedule.
        note: a remark for the summary, if any.
    """

    schedule: Schedule
    family: str
    params: dict
    path: str
    info: dict = field(default_factory=dict)
    lipschitz: float | None = None
    note: str | None = None

    @property
    def vp_clock(self) -> bool:
        return self.family == "vp-clock"


class DesignTarget(Protocol):
    """What a schedule is designed for: its path, its drift's regularity, its designed schedule."""

    checksum: str | None

    def describe(self) -> dict:
        """JSON description (kind and parameters)."""

    def path(self, schedule: Schedule) -> Schedule:
        """The schedule actually applied to this target (mixtures: the variance-preserving path)."""

    def a2(self, schedule: Schedule) -> float:
        """Averaged squared Lipschitzness ∫ E‖∇b‖₂² dt of the exact drift on :meth:`path`."""

    def lipschitz(self, schedule: Schedule) -> float:
        """Lipschitz constant sup_t sup_x ‖∇b‖₂ of the exact drift on :meth:`path`."""

    def kinetic(self, schedule: Schedule) -> float:
        """Kinetic energy ∫ E|b|² dt of the exact drift on :meth:`path`."""

    def lipschitz_profile(self, schedule: Schedule, ts: Tensor) -> Tensor:
        """Lipschitz constant of the drift at each time of ``ts`` (for plots)."""

    def profile(self, criterion: str = "a2") -> Profile:
        """β ↦ G(β) of the criterion ("a2" or "kinetic") on the variance-preserving path."""

    def design(self, criterion: str = "a2", *, rescale: bool = True) -> Design:
        """The schedule minimising the criterion (``rescale``: a Gaussian may leave the VP path)."""


@runtime_checkable
class LabTarget(DesignTarget, Protocol):
    """A target `gaussian-check` measures exactly, without sampling."""

    def named_schedule(self, spec: str) -> Schedule:
        """A schedule by name (``designed`` means this target's design, where it has a closed form)."""

    def schedule_report(self, schedule: Schedule, checksum: str | None = None) -> dict:
        """Lipschitz constant and A2 of a schedule (and how they were obtained)."""

    def exact_run(self, solver: Solver, schedule: Schedule, ts: Tensor) -> tuple[dict, Tensor | None]:
        """The exact error of what ``solver`` generates on grid ``ts`` (and per-mode errors, if any)."""

    def monte_carlo(self, solver: Solver, schedule: Schedule, ts: Tensor, *, samples: int, seed: int,
                    device: str = "cpu") -> dict:
        """The same error measured on ``samples`` generated samples ({} where nothing is sampled)."""

    def report_arrays(self) -> dict:
        """Arrays of the target for the report file."""


# ------------------------------------------------------------------------------------------ Gaussian


@dataclass
class GaussianTarget:
    """A Gaussian target diagonal in a known basis, with its base (arXiv 2509.02971).

    Attributes:
        target_var: λ_k, either (K,) independent modes or the full FFT grid (n,)*dim of a field.
        base_var: μ_k, same shape (or broadcastable).
        dim: spatial dimension for fields, None for a list of modes.
        n: grid points per side for fields.
        info: JSON description.
        checksum: checksum of the file it came from, if any.
        power_floor: modes with λ_k at or below it count as empty for the design (ratio_min, ratio_max,
            ratios): a spectrum estimated from float32 samples gives structurally empty modes (a Nyquist
            line after a change of resolution) a power of rounding size, ~1e-19, that no schedule should
            be designed for. The exact drift and the errors still use every mode.
    """

    target_var: Tensor
    base_var: Tensor
    dim: int | None
    n: int | None
    info: dict
    checksum: str | None = None
    power_floor: float = 0.0

    def __post_init__(self):
        self.base_var = torch.as_tensor(self.base_var, dtype=torch.float64).expand_as(self.target_var).clone()
        valid = (self.target_var > self.power_floor) & (self.base_var > 0)
        if self.dim is not None:
            valid.view(-1)[0] = False  # the mean mode is excluded
        ratios = (self.target_var[valid] / self.base_var[valid]).flatten()
        if ratios.numel() == 0 or not bool(torch.isfinite(ratios).all()):
            raise ConfigError("the target has no mode with positive, finite power", hint="check the spectrum or ratios")
        self.ratio_min, self.ratio_max = float(ratios.min()), float(ratios.max())

    @property
    def shells(self):
        return None if self.dim is None else spectra.shell_index(self.n, self.dim)

    @cached_property
    def ratios(self) -> Tensor:
        """r_k = λ_k/μ_k of every mode with power in both target and base (flattened)."""
        valid = (self.target_var > self.power_floor) & (self.base_var > 0)
        return (self.target_var[valid] / self.base_var[valid]).flatten()

    def relative_errors(self, generated_var: Tensor) -> Tensor:
        """|generated − target| / target per shell κ = 1..n/2 (fields) or per mode (mode lists)."""
        if self.dim is None:
            return (generated_var / self.target_var - 1).abs()
        gen = spectra.shell_mean(generated_var.cpu(), self.n, self.dim)
        true = spectra.shell_mean(self.target_var, self.n, self.dim)
        return (gen - true).abs() / true

    def describe(self) -> dict:
        return {**self.info, "ratio_min": self.ratio_min, "ratio_max": self.ratio_max}

    # design: A2 and the Lipschitz constant depend on the extreme ratios only
    def path(self, schedule: Schedule) -> Schedule:
        return schedule

    def a2(self, schedule: Schedule) -> float:
        return gaussian.a2(schedule, (self.ratio_min, self.ratio_max))

    def lipschitz(self, schedule: Schedule) -> float:
        return gaussian.lipschitz(schedule, (self.ratio_min, self.ratio_max))

    def kinetic(self, schedule: Schedule) -> float:
        """Per unit base variance, summed over modes."""
        return gaussian.kinetic_energy(schedule, self.ratios)

    def lipschitz_profile(self, schedule: Schedule, ts: Tensor) -> Tensor:
        extremes = torch.tensor([self.ratio_min, self.ratio_max], dtype=torch.float64)
        return gaussian.mode_rate(schedule, ts[:, None], extremes).abs().max(1).values

    def profile(self, criterion: str = "a2") -> Profile:
        return gaussian_profile(self.ratios, criterion)

    def design(self, criterion: str = "a2", *, rescale: bool = True) -> Design:
        """Methods (docs/math.md, "Schedule design"): the kinetic criterion → the VP clock; every ratio
        on one side of 1 → closed form ``designed:λ``; ratios on both sides → the rescaled closed
        form ``designed:λ_lo,λ_hi`` (the A2 lower bound; the VP optimum is reported to show what the
        rescaling saves), or the VP clock with ``rescale=False``."""
        if criterion == "kinetic":
            clock = optimal_vp_clock(self.profile("kinetic"))
            return self._clock(clock, "kinetic", {"kinetic_energy": clock.value})
        closed = designed_closed_form(self.ratios)
        if closed is not None:
            return Design(closed, "designed", {"lam": closed.lam}, closed.describe().get("name"))
        vp = optimal_vp_clock(self.profile("a2"))
        info = {"a2_variance_preserving": vp.value}
        if not rescale:
            return self._clock(vp, "a2", info)
        pair = DesignedPair(self.ratio_min, self.ratio_max)
        info["a2_saved_by_rescaling"] = vp.value - self.a2(pair)
        return Design(pair, "designed-pair", {"lam_lo": pair.lam_lo, "lam_hi": pair.lam_hi},
                      pair.describe().get("name"), info)

    def _clock(self, clock: ClockDesign, criterion: str, info: dict) -> Design:
        return Design(clock.schedule, "vp-clock", {"criterion": criterion}, VP_PATH, info,
                      clock.lipschitz(gaussian_lipschitz_ratio(self.ratios, criterion)))

    # the exact laboratory
    def named_schedule(self, spec: str) -> Schedule:
        """``designed`` without λ takes the smallest ratio."""
        return make_schedule(spec, default_lam=self.ratio_min)

    def schedule_report(self, schedule: Schedule, checksum: str | None = None) -> dict:
        ratios = (self.ratio_min, self.ratio_max)
        lip_cf = gaussian.closed_form_lipschitz(schedule, ratios)
        a2_cf = gaussian.closed_form_a2(schedule, ratios)
        out = {
            "lipschitz": lip_cf if lip_cf is not None else gaussian.lipschitz_numeric(schedule, ratios),
            "a2": a2_cf if a2_cf is not None else gaussian.a2_numeric(schedule, ratios),
            "closed_form": {"lipschitz": lip_cf is not None, "a2": a2_cf is not None},
            "description": schedule.describe(),
        }
        if checksum:
            out["checksum"] = checksum
        return out

    def exact_run(self, solver: Solver, schedule: Schedule, ts: Tensor) -> tuple[dict, Tensor]:
        """The exact spectral error of the generated samples (:func:`gaussian.generated_variance`)."""
        var, nfe = gaussian.generated_variance(solver, schedule, self.target_var, ts, self.base_var)
        errors = self.relative_errors(var)
        run = {"nfe": nfe, "spectral_error_mean": float(errors.mean()), "spectral_error_max": float(errors.max())}
        if self.dim is None and self.target_var.numel() <= 16:
            run["std_ratio"] = (var / self.target_var).sqrt().tolist()
        return run, errors

    def monte_carlo(self, solver: Solver, schedule: Schedule, ts: Tensor, *, samples: int, seed: int,
                    device: str = "cpu") -> dict:
        gen = torch.Generator(device=device).manual_seed(seed)
        lam = self.target_var.to(device)
        mu = self.base_var.expand_as(self.target_var).to(device)
        drift = (DiagonalGaussianDrift if self.dim is None else FourierGaussianDrift)(schedule, lam, mu)
        like = torch.empty(0, dtype=torch.float64, device=device)
        total, done, batch = torch.zeros_like(lam), 0, 500
        while done < samples:
            n = min(batch, samples - done)
            z = drift.sample_base((n, *lam.shape), generator=gen, like=like)
            x = integrate(drift, solver, z, ts, generator=gen).x
            total += (x * x).sum(0) if self.dim is None else spectra.mode_power(x, self.dim) * n
            done += n
        errors = self.relative_errors(total / done)
        return {"mc_samples": done, "mc_spectral_error_mean": float(errors.mean()),
                "mc_spectral_error_max": float(errors.max())}

    def report_arrays(self) -> dict:
        return {"target/target_var": self.target_var.numpy()}


# ------------------------------------------------------------------------------------------ mixtures


class _VariancePreservingTarget:
    """A mixture: every schedule is applied on the variance-preserving path with its β, and the
    design is the optimal clock of that path for the target's profile."""

    note = "linear and trig are measured on the variance-preserving path with their β"

    def path(self, schedule: Schedule) -> Schedule:
        return variance_preserving(schedule)

    def design(self, criterion: str = "a2", *, rescale: bool = True) -> Design:
        """The optimal clock (``rescale`` does not apply: a mixture stays on the VP path)."""
        clock = optimal_vp_clock(self.profile(criterion))
        return Design(clock.schedule, "vp-clock", self._params(criterion), VP_PATH,
                      {"criterion_value": clock.value}, self._clock_lipschitz(clock, criterion), self.note)

    def _params(self, criterion: str) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _clock_lipschitz(self, clock: ClockDesign, criterion: str) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def profile(self, criterion: str = "a2") -> Profile:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class TwoModeTarget(_VariancePreservingTarget):
    """p N(r, I) + (1 − p) N(−r, I), |r| = M, over a white unit base (:mod:`sictl.core.exact.two_mode`).

    ``--gmm M --base white:σ0`` (component covariance = base covariance σ0² I) is this problem in units
    of σ0: x ↦ x/σ0 maps it to separation M/σ0 with unit covariances, and leaves ∇b, A2 and the
    Lipschitz constant unchanged, so ``M`` holds M/σ0 and ``info`` records what was given.
    """

    M: float
    p: float = 0.5
    checksum: str | None = None
    info: dict | None = None

    def __post_init__(self):
        two_mode.check_two_mode(self.M, self.p)

    def describe(self) -> dict:
        return {"kind": "gmm-two-mode", "M": self.M, "p": self.p, "path": VP_PATH, **(self.info or {})}

    def a2(self, schedule: Schedule) -> float:
        return two_mode.two_mode_a2(self.path(schedule), self.M, self.p)

    def lipschitz(self, schedule: Schedule) -> float:
        return two_mode.two_mode_lipschitz(self.path(schedule), self.M)

    def kinetic(self, schedule: Schedule) -> float:
        return two_mode.two_mode_kinetic(self.path(schedule), self.M, self.p)

    def lipschitz_profile(self, schedule: Schedule, ts: Tensor) -> Tensor:
        _, bbd = self.path(schedule).half_square_rates(ts)
        return self.M**2 * bbd.abs()

    def profile(self, criterion: str = "a2") -> Profile:
        return two_mode_profile(self.M, self.p, criterion)

    def _params(self, criterion: str) -> dict:
        return {"criterion": criterion, "M": self.M, "p": self.p}

    def _clock_lipschitz(self, clock: ClockDesign, criterion: str) -> float:
        return clock.lipschitz(two_mode_lipschitz_ratio(self.M, self.p, criterion))

    # the exact laboratory
    def named_schedule(self, spec: str) -> Schedule:
        if spec == "designed":
            raise ConfigError(
                "`designed` for a mixture is the mixture-optimal schedule, which comes from a schedule file",
                hint="pass a file made by `sictl design-schedule --gmm M`, or designed:λ for a Gaussian design",
            )
        return make_schedule(spec, default_lam=None)

    def schedule_report(self, schedule: Schedule, checksum: str | None = None) -> dict:
        return {"lipschitz": self.lipschitz(schedule), "a2": self.a2(schedule)}

    def exact_run(self, solver: Solver, schedule: Schedule, ts: Tensor) -> tuple[dict, None]:
        """The exact fraction of samples sent to the +r mode (:func:`two_mode.minority_weight`)."""
        weight = two_mode.minority_weight(solver, schedule, ts, self.M, self.p)
        return {"nfe": len(ts[1:]) * solver.nfe_per_step, "mode_weight_plus": weight,
                "mode_weight_error": abs(weight - self.p)}, None

    def monte_carlo(self, solver: Solver, schedule: Schedule, ts: Tensor, *, samples: int, seed: int,
                    device: str = "cpu") -> dict:
        """Nothing to sample: :meth:`exact_run` already gives the exact mode weight."""
        return {}

    def report_arrays(self) -> dict:
        return {}


class _TableTarget(_VariancePreservingTarget):
    """A variance-preserving target whose profiles are tabulated on β nodes (``self.table``, a
    :class:`MixtureProfile`): a mixture's Monte-Carlo profiles, or a learned drift's
    (:mod:`sictl.core.exact.tabulated`)."""

    table: MixtureProfile

    def _vp_integral(self, schedule: Schedule, root: Profile) -> float:
        """∫ β̇² G(β) dt on the variance-preserving path (graded Gauss–Legendre in t)."""
        nodes, weights = gaussian.graded_nodes()
        vb = self.path(schedule)(nodes)
        g = root(vb.beta) ** 2
        # where G is 0 (β = 0 exactly) the integrand is 0, not ∞·0
        return float((weights * torch.where(g > 0, vb.beta_dot**2 * g, torch.zeros_like(g))).sum())

    def a2(self, schedule: Schedule) -> float:
        return self._vp_integral(schedule, self.table.root_profile("a2"))

    def kinetic(self, schedule: Schedule) -> float:
        return self._vp_integral(schedule, self.table.root_profile("kinetic"))

    def lipschitz(self, schedule: Schedule) -> float:
        nodes, _ = gaussian.graded_nodes()
        return float(self.lipschitz_profile(schedule, nodes).max())

    def lipschitz_profile(self, schedule: Schedule, ts: Tensor) -> Tensor:
        vb = self.path(schedule)(ts)
        # |β̇|: a table read back may give β̇ a round-off sign where β has saturated at 1
        return vb.beta_dot.abs() * self.table.root_max_profile()(vb.beta)

    def profile(self, criterion: str = "a2") -> Profile:
        return self.table.profile(criterion)

    def _clock_lipschitz(self, clock: ClockDesign, criterion: str) -> float:
        """H(1) times the Monte-Carlo sup of L/√G, taken at the profile's nodes."""
        return math.sqrt(clock.value) * self.table.lipschitz_ratio(criterion)


@dataclass
class MixtureTarget(_TableTarget):
    """Any Gaussian mixture (weights, means, covariances) over a white base N(0, base_var I).

    Its profiles are Monte-Carlo estimates on β nodes (:func:`mixture_profile_table`, ``samples``
    draws from ``seed``), computed once, at the first question.
    """

    mixture: object  # sictl.core.exact.gmm.GaussianMixture
    base_var: float = 1.0
    info: dict | None = None
    checksum: str | None = None
    samples: int = 2048
    seed: int = 0

    def describe(self) -> dict:
        return {"kind": "gmm", "dim": self.mixture.dim, "components": self.mixture.n_components,
                "base_var": self.base_var, **(self.info or {})}

    @cached_property
    def table(self) -> MixtureProfile:
        return mixture_profile_table(self.mixture, base_var=self.base_var, samples=self.samples, seed=self.seed)

    def _params(self, criterion: str) -> dict:
        return {"criterion": criterion, "mc_samples": self.samples}
