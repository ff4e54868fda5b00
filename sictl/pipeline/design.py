"""`design-schedule`: pick the method for the target, build the schedule, measure it (SPEC §2.2).

Methods (docs/math.md, "Schedule design"):
  a. Gaussian, every ratio on one side of 1 → closed form ``designed:λ`` (λ_min or λ_max rule);
  b. any target on the variance-preserving path → optimal clock t = H(β)/H(1) (numerical);
  c. Gaussian with ratios on both sides of 1 → the rescaled closed form ``designed:λ_lo,λ_hi``,
     the A2 lower bound; method b's value is reported to show what the rescaling saves.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core import design, gaussian, two_mode
from sictl.core.schedules import Linear, Schedule, Trig, VariancePreserving
from sictl.core.solvers import time_grid
from sictl.errors import ConfigError
from sictl.pipeline.targets import GaussianTarget, GeneralMixtureTarget, MixtureTarget, build_target


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
            raise ConfigError(f"--mc-samples must be ≥ 16, got {self.mc_samples}")


@dataclass
class Criterion:
    """A2 and Lipschitz constant of any schedule for the chosen target."""

    target: object
    profile_grid: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # β, G_mean, G_max

    def a2(self, s: Schedule) -> float:
        t = self.target
        if isinstance(t, GaussianTarget):
            return gaussian.a2(s, (t.ratio_min, t.ratio_max))
        if isinstance(t, MixtureTarget):
            return two_mode.two_mode_a2(VariancePreserving(s), t.M, t.p)
        return self._grid_integral(s, 1)

    def kinetic(self, s: Schedule) -> float | None:
        """Kinetic energy ∫ E|b|² dt (Gaussians: per unit base variance, summed over modes)."""
        t = self.target
        if isinstance(t, GaussianTarget):
            valid = (t.target_var > 0) & (t.base_var > 0)
            return gaussian.kinetic_energy(s, (t.target_var[valid] / t.base_var[valid]))
        if isinstance(t, MixtureTarget):
            return two_mode.two_mode_kinetic(s, t.M, t.p)
        return None

    def lipschitz(self, s: Schedule) -> float:
        t = self.target
        if isinstance(t, GaussianTarget):
            return gaussian.lipschitz(s, (t.ratio_min, t.ratio_max))
        if isinstance(t, MixtureTarget):
            return two_mode.two_mode_lipschitz(VariancePreserving(s), t.M)
        return self._grid_integral(s, 2)

    def profile(self, s: Schedule, ts: torch.Tensor) -> torch.Tensor:
        """Per-time Lipschitz constant of the drift (for plots)."""
        t = self.target
        if isinstance(t, GaussianTarget):
            rates = gaussian.mode_rate(s, ts[:, None], torch.tensor([t.ratio_min, t.ratio_max], dtype=torch.float64))
            return rates.abs().max(1).values
        _, bbd = VariancePreserving(s).half_square_rates(ts)
        if isinstance(t, MixtureTarget):
            return t.M**2 * bbd.abs()
        beta, _, gmax = self.profile_grid
        vb = VariancePreserving(s)(ts)
        return vb.beta_dot * torch.from_numpy(np.interp(vb.beta.numpy(), beta.numpy(), gmax.sqrt().numpy()))

    def _grid_integral(self, s: Schedule, which: int) -> float:
        """General mixtures: G tabulated on a β grid (Monte Carlo), interpolated in β."""
        beta, gmean, gmax = self.profile_grid
        nodes, weights = gaussian.graded_nodes()
        vb = VariancePreserving(s)(nodes)
        g = gmean if which == 1 else gmax
        gi = torch.from_numpy(np.interp(vb.beta.numpy(), beta.numpy(), g.numpy()))
        if which == 1:
            return float((weights * vb.beta_dot**2 * gi).sum())
        return float((vb.beta_dot * gi.sqrt()).max())


def _gaussian_design(cfg: DesignConfig, target: GaussianTarget, info: dict):
    valid = (target.target_var > 0) & (target.base_var > 0)
    ratios = (target.target_var[valid] / target.base_var[valid]).flatten()
    if cfg.criterion == "kinetic":
        clock = design.optimal_vp_clock(design.gaussian_profile(ratios, "kinetic"))
        info["kinetic_energy"] = clock.value
        return clock.schedule, "vp-clock", {"criterion": "kinetic"}
    closed = design.designed_closed_form(ratios)
    if closed is not None:
        return closed, "designed", {"lam": closed.lam}
    vp = design.optimal_vp_clock(design.gaussian_profile(ratios, "a2"))
    info["a2_variance_preserving"] = vp.value
    if not cfg.rescale:
        return vp.schedule, "vp-clock", {"criterion": "a2"}
    from sictl.core.schedules import DesignedPair

    pair = DesignedPair(target.ratio_min, target.ratio_max)
    info["a2_saved_by_rescaling"] = vp.value - gaussian.a2(pair, (target.ratio_min, target.ratio_max))
    return pair, "designed-pair", {"lam_lo": pair.lam_lo, "lam_hi": pair.lam_hi}


def _mixture_profile_grid(cfg: DesignConfig, target: GeneralMixtureTarget):
    beta = torch.linspace(0.0, 1.0, 129, dtype=torch.float64)
    common = dict(base_var=target.base_var, samples=cfg.mc_samples, seed=cfg.seed)
    gmean = design.mixture_profile(target.mixture, cfg.criterion, **common)(beta)
    gmax = design.mixture_profile(target.mixture, "a2", reduce="max", **common)(beta)
    return beta, gmean, gmax


def run(cfg: DesignConfig) -> tuple[dict, dict]:
    """Design the schedule. Returns (table columns and metadata for the file, JSON summary)."""
    cfg.validate()
    started = time.perf_counter()
    target = build_target(cfg)
    info: dict = {}
    crit = Criterion(target)
    if isinstance(target, GaussianTarget):
        sched, family, params = _gaussian_design(cfg, target, info)
    elif isinstance(target, MixtureTarget):
        clock = design.optimal_vp_clock(design.two_mode_profile(target.M, target.p, cfg.criterion))
        sched, family, params = clock.schedule, "vp-clock", {"criterion": cfg.criterion, "M": target.M, "p": target.p}
        info["criterion_value"] = clock.value
    else:
        crit.profile_grid = _mixture_profile_grid(cfg, target)
        beta, gmean, _ = crit.profile_grid
        profile = lambda b: torch.from_numpy(np.interp(b.numpy(), beta.numpy(), gmean.numpy()))  # noqa: E731
        clock = design.optimal_vp_clock(profile)
        sched, family, params = clock.schedule, "vp-clock", {"criterion": cfg.criterion, "mc_samples": cfg.mc_samples}
        info["criterion_value"] = clock.value
    mixture = not isinstance(target, GaussianTarget)
    shown = {"designed": sched, "linear": Linear(), "trig": Trig()}
    a2 = {k: crit.a2(s) for k, s in shown.items()}
    lip = {k: crit.lipschitz(s) for k, s in shown.items()}
    if cfg.criterion == "kinetic":
        info["kinetic"] = {k: crit.kinetic(s) for k, s in shown.items()}
    columns = design.tabulate(sched)
    v = sched(columns["t"])
    aad, _ = sched.half_square_rates(columns["t"])
    eps = v.alpha**2 * v.beta_dot / v.beta - aad
    eps[-1] = 0.0  # ε* = α c → 0 at t = 1
    columns["eps_star"] = eps
    grid = time_grid("uniform", cfg.steps, cfg.t_min, cfg.t_max)
    described = target.describe()
    described["checksum"] = target.checksum or _description_checksum(described)
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


def _description_checksum(description: dict) -> str:
    """sha256 of the canonical JSON of a target that is not a file (ratios, Matérn, two-mode)."""
    import hashlib
    import json

    return "sha256:" + hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def lipschitz_profile_for_plot(plot: dict, ts: torch.Tensor) -> dict[str, torch.Tensor]:
    crit = plot["criterion"]
    return {name: crit.profile(plot[name], ts) for name in ("designed", "linear")}


__all__ = ["DesignConfig", "run", "lipschitz_profile_for_plot"]
