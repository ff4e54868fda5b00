"""`design-schedule`: pick the method for the target, build the schedule, measure it (SPEC §2.2).

Methods (docs/math.md, "Schedule design"):
  a. Gaussian, every ratio on one side of 1 → closed form ``designed:λ`` (λ_min or λ_max rule);
  b. any target on the variance-preserving path → optimal clock t = H(β)/H(1) (numerical);
  c. Gaussian with ratios on both sides of 1 → the rescaled closed form ``designed:λ_lo,λ_hi``,
     the A2 lower bound; method b's value is reported to show what the rescaling saves.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch

from sictl.core.exact import design, gaussian, two_mode
from sictl.core.interpolants.conversions import optimal_diffusion
from sictl.core.interpolants.schedules import Linear, Schedule, Trig, VariancePreserving
from sictl.core.sampling.grids import time_grid
from sictl.errors import ConfigError
from sictl.pipeline.targets import GaussianTarget, MixtureTarget, build_target


@dataclass(frozen=True, kw_only=True)
class DesignConfig:
    ratios: tuple[float, ...] = ()
    matern: str | None = None
    dim: int = 2
    data: str | None = None
    spectrum: str | None = None
    gmm: str | None = None
    gmm_file: str | None = None
    base: str = "white"
    criterion: str = "a2"
    rescale: bool = True
    steps: int = 19
    t_min: float = 1e-4
    t_max: float = 1 - 1e-4
    mc_samples: int = 2048
    seed: int = 0

    def validate(self) -> None:
        if self.criterion not in ("a2", "kinetic"):
            raise ConfigError(f"unknown criterion {self.criterion!r}", hint="use --lipschitz (a2) or --kinetic")
        time_grid("uniform", self.steps, self.t_min, self.t_max)  # raises on bad steps / window
        if self.mc_samples < 16:
            raise ConfigError(f"--mc-samples must be ≥ 16, got {self.mc_samples}",
                              hint="the Monte-Carlo profile of a mixture needs enough draws; the default is 2048")


@dataclass
class Criterion:
    """A2, kinetic energy and Lipschitz constant of any schedule for the chosen target.

    Mixtures use every schedule on the variance-preserving path with its β. ``designed_lipschitz``
    (set for variance-preserving clock designs) is the designed schedule's Lipschitz constant taken
    from the clock itself, H(1) sup_β L(β)/√G(β): its time table cannot resolve a final jump, and
    between nodes near t = 0 it stores α ≈ 1 with too few digits for a sup (docs/math.md).
    """

    target: object
    mixture: design.MixtureProfile | None = None  # general mixtures: Monte-Carlo profiles
    designed_lipschitz: float | None = None

    def a2(self, s: Schedule) -> float:
        t = self.target
        if isinstance(t, GaussianTarget):
            return gaussian.a2(s, (t.ratio_min, t.ratio_max))
        if isinstance(t, MixtureTarget):
            return two_mode.two_mode_a2(VariancePreserving(s), t.M, t.p)
        return self._vp_integral(s, self.mixture.root_profile("a2"))

    def kinetic(self, s: Schedule) -> float | None:
        """Kinetic energy ∫ E|b|² dt (Gaussians: per unit base variance, summed over modes)."""
        t = self.target
        if isinstance(t, GaussianTarget):
            valid = (t.target_var > 0) & (t.base_var > 0)
            return gaussian.kinetic_energy(s, (t.target_var[valid] / t.base_var[valid]))
        if isinstance(t, MixtureTarget):
            return two_mode.two_mode_kinetic(s, t.M, t.p)
        return self._vp_integral(s, self.mixture.root_profile("kinetic"))

    def lipschitz(self, s: Schedule, designed: bool = False) -> float:
        t = self.target
        if designed and self.designed_lipschitz is not None:
            return self.designed_lipschitz
        if isinstance(t, GaussianTarget):
            return gaussian.lipschitz(s, (t.ratio_min, t.ratio_max))
        if isinstance(t, MixtureTarget):
            return two_mode.two_mode_lipschitz(VariancePreserving(s), t.M)
        nodes, _ = gaussian.graded_nodes()
        vb = VariancePreserving(s)(nodes)
        return float((vb.beta_dot * self.mixture.root_max_profile()(vb.beta)).max())

    def profile(self, s: Schedule, ts: torch.Tensor) -> torch.Tensor:
        """Per-time Lipschitz constant of the drift (for plots)."""
        t = self.target
        if isinstance(t, GaussianTarget):
            rates = gaussian.mode_rate(s, ts[:, None], torch.tensor([t.ratio_min, t.ratio_max], dtype=torch.float64))
            return rates.abs().max(1).values
        _, bbd = VariancePreserving(s).half_square_rates(ts)
        if isinstance(t, MixtureTarget):
            return t.M**2 * bbd.abs()
        vb = VariancePreserving(s)(ts)
        return vb.beta_dot * self.mixture.root_max_profile()(vb.beta)

    @staticmethod
    def _vp_integral(s: Schedule, root: design.Profile) -> float:
        """∫ β̇² G(β) dt on the variance-preserving path (graded Gauss–Legendre in t)."""
        nodes, weights = gaussian.graded_nodes()
        vb = VariancePreserving(s)(nodes)
        g = root(vb.beta) ** 2
        # where G is 0 (β = 0 exactly) the integrand is 0, not ∞·0
        return float((weights * torch.where(g > 0, vb.beta_dot**2 * g, torch.zeros_like(g))).sum())


def _gaussian_ratio(ratios: torch.Tensor, criterion: str) -> design.Profile:
    """β ↦ L(β)/√G(β) for a Gaussian: the worst rate max_k |f_k| over the criterion's √G (1 for A2)."""
    if criterion == "a2":
        return lambda beta: torch.ones_like(beta)
    worst, kin = design.gaussian_profile(ratios, "a2"), design.gaussian_profile(ratios, "kinetic")
    return lambda beta: (worst(beta) / kin(beta).clamp_min(1e-300)).sqrt()


def _gaussian_design(cfg: DesignConfig, target: GaussianTarget, info: dict, crit: Criterion):
    valid = (target.target_var > 0) & (target.base_var > 0)
    ratios = (target.target_var[valid] / target.base_var[valid]).flatten()
    if cfg.criterion == "kinetic":
        clock = design.optimal_vp_clock(design.gaussian_profile(ratios, "kinetic"))
        info["kinetic_energy"] = clock.value
        crit.designed_lipschitz = clock.lipschitz(_gaussian_ratio(ratios, "kinetic"))
        return clock.schedule, "vp-clock", {"criterion": "kinetic"}
    closed = design.designed_closed_form(ratios)
    if closed is not None:
        return closed, "designed", {"lam": closed.lam}
    vp = design.optimal_vp_clock(design.gaussian_profile(ratios, "a2"))
    info["a2_variance_preserving"] = vp.value
    if not cfg.rescale:
        crit.designed_lipschitz = vp.lipschitz(_gaussian_ratio(ratios, "a2"))
        return vp.schedule, "vp-clock", {"criterion": "a2"}
    from sictl.core.interpolants.schedules import DesignedPair

    pair = DesignedPair(target.ratio_min, target.ratio_max)
    info["a2_saved_by_rescaling"] = vp.value - gaussian.a2(pair, (target.ratio_min, target.ratio_max))
    return pair, "designed-pair", {"lam_lo": pair.lam_lo, "lam_hi": pair.lam_hi}


def run(cfg: DesignConfig) -> tuple[dict, dict]:
    """Design the schedule. Returns (table columns and metadata for the file, JSON summary)."""
    cfg.validate()
    started = time.perf_counter()
    target = build_target(cfg)
    info: dict = {}
    crit = Criterion(target)
    if isinstance(target, GaussianTarget):
        sched, family, params = _gaussian_design(cfg, target, info, crit)
    elif isinstance(target, MixtureTarget):
        clock = design.optimal_vp_clock(design.two_mode_profile(target.M, target.p, cfg.criterion))
        sched, family, params = clock.schedule, "vp-clock", {"criterion": cfg.criterion, "M": target.M, "p": target.p}
        info["criterion_value"] = clock.value
        crit.designed_lipschitz = clock.lipschitz(design.two_mode_lipschitz_ratio(target.M, target.p, cfg.criterion))
    else:
        crit.mixture = design.mixture_profile_table(target.mixture, base_var=target.base_var,
                                                    samples=cfg.mc_samples, seed=cfg.seed)
        clock = design.optimal_vp_clock(crit.mixture.profile(cfg.criterion))
        sched, family, params = clock.schedule, "vp-clock", {"criterion": cfg.criterion, "mc_samples": cfg.mc_samples}
        info["criterion_value"] = clock.value
        crit.designed_lipschitz = math.sqrt(clock.value) * crit.mixture.lipschitz_ratio(cfg.criterion)
    mixture = not isinstance(target, GaussianTarget)
    shown = {"designed": sched, "linear": Linear(), "trig": Trig()}
    a2 = {k: crit.a2(s) for k, s in shown.items()}
    lip = {k: crit.lipschitz(s, designed=k == "designed") for k, s in shown.items()}
    if cfg.criterion == "kinetic":
        info["kinetic"] = {k: crit.kinetic(s) for k, s in shown.items()}
    columns = design.tabulate(sched)
    columns["eps_star"] = _eps_star(sched, columns["t"], vp_clock=family == "vp-clock")
    grid = time_grid("uniform", cfg.steps, cfg.t_min, cfg.t_max)
    from sictl.io import description_checksum

    described = target.describe()
    described["checksum"] = target.checksum or description_checksum(described)
    summary = {
        "family": family,
        "params": params,
        "criterion": cfg.criterion,
        "a2": a2,
        "lipschitz": lip,
        "target": described,
        "path": "variance-preserving" if mixture or family == "vp-clock" else sched.describe().get("name"),
        "grid": grid.tolist(),
        **info,
        "config": asdict(cfg),
        "inputs": {"target": target.checksum} if target.checksum else {},
        "wall_time_s": time.perf_counter() - started,
    }
    if mixture and not isinstance(target, GaussianTarget):
        summary["note"] = "linear and trig are measured on the variance-preserving path with their β"
    plot = {"designed": sched, "linear": Linear(), "criterion": crit}
    return {"columns": columns, "grid": grid, "plot": plot}, summary


def _eps_star(sched: Schedule, t: torch.Tensor, *, vp_clock: bool) -> torch.Tensor:
    """ε* = α²β̇/β − αα̇ on the table (∞ at t = 0, where β = 0).

    αα̇ comes from :meth:`Schedule.half_square_rates`, finite at t = 1 where α = 0 and α̇ = −∞; on a
    variance-preserving clock it is −ββ̇ exactly, so there ε* = β̇/β (β̇(1) at t = 1).
    """
    if not vp_clock:
        return optimal_diffusion(sched, t)
    v = sched(t)
    beta = torch.where(v.beta > 0, v.beta, 1.0)
    return torch.where(v.beta > 0, v.beta_dot / beta, torch.full_like(t, math.inf))


def lipschitz_profile_for_plot(plot: dict, ts: torch.Tensor) -> dict[str, torch.Tensor]:
    crit = plot["criterion"]
    return {name: crit.profile(plot[name], ts) for name in ("designed", "linear")}


__all__ = ["DesignConfig", "run", "lipschitz_profile_for_plot"]
