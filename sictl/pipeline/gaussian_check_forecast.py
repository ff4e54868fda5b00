"""`gaussian-check --point-source`: the exact linear-Gaussian forecasting laboratory.

Target: an Ornstein–Uhlenbeck field over one lag, x1 | x0 ~ N(A x0, Σ) with A, Σ Fourier-diagonal
(:class:`sictl.core.exact.forecast.OUField`). For every point-source schedule and diffusion coefficient
g asked for, with no sampling (arXiv 2403.13724, arXiv 2602.10989):

* ``runs``: the exact law of the em endpoint X_1 at each step count (each em step is affine-Gaussian per
  Fourier mode), as errors against the target law: mean error (pixel RMS, averaged over stationary
  conditions, and relative to the forecast spread) and variance error per mode and in total;
* ``fingerprint``: Cov(X_t, X_1) of the continuous SDE against β_t Σ — equal only for g = g_F;
* ``kl``: the path KL of the exact drift of a mis-specified target (Σ̂ = (1 + misfit) Σ) per g, and the
  closed form that g_F attains under every schedule.

``--monte-carlo N`` samples N forecasts of one stationary condition with em and the exact drift and
reports their mean, variance and fingerprint beside the exact predictions.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields

import torch

from sictl.core.exact import forecast as fc
from sictl.core.interpolants.point_source import (
    POINT_SOURCE_BETAS,
    SOURCES,
    PointSourceSchedule,
    TabulatedPointSource,
    point_source_diffusion,
    point_source_g2,
)
from sictl.core.interpolants.schedules import make_schedule
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import make_solver
from sictl.errors import ConfigError

__all__ = ["DEFAULT_DIFFUSIONS", "DEFAULT_SCHEDULES", "ForecastCheckConfig", "check", "parse_ou", "run"]

DEFAULT_SCHEDULES = tuple(POINT_SOURCE_BETAS)
DEFAULT_DIFFUSIONS = ("sigma", "follmer", "const:1")
#: the stochastic solver the laboratory computes exactly (its steps are affine-Gaussian per mode)
SOLVER = "em"
F64 = torch.float64


@dataclass(frozen=True, kw_only=True)
class ForecastCheckConfig:
    """Everything `gaussian-check --point-source` needs; serialised into every output.

    ``ou`` is a key=value list (see :func:`parse_ou`); ``diffusions`` are g specs (``sigma``,
    ``follmer``, ``const:c`` with g = c).
    """

    ou: str = ""
    source: str = "state"
    schedules: tuple[str, ...] = DEFAULT_SCHEDULES
    diffusions: tuple[str, ...] = DEFAULT_DIFFUSIONS
    steps: tuple[int, ...] = (50, 200)
    t_min: float = 0.0
    t_max: float = 1.0
    fingerprint_time: float = 0.5
    kl_misfit: float = 0.4
    monte_carlo: int = 0
    seed: int = 0
    device: str = "cpu"

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"--source must be one of {', '.join(SOURCES)}, got {self.source!r}",
                              hint="state: x0 = the current state; zero: the increment is learned")
        if not self.schedules or not self.diffusions or not self.steps:
            raise ConfigError("need at least one schedule, diffusion and step count",
                              hint="e.g. --schedules beta-t2 --diffusion sigma,follmer --steps 200")
        if any(n < 1 for n in self.steps):
            raise ConfigError(f"--steps must be positive integers, got {self.steps}", hint="e.g. --steps 50,200")
        if not (0.0 <= self.t_min < self.t_max <= 1.0):
            raise ConfigError(f"need 0 ≤ t-min < t-max ≤ 1, got {self.t_min}, {self.t_max}",
                              hint="the exact point-source drift is defined on [0, 1]: --t-min 0 --t-max 1")
        if not (0.0 < self.fingerprint_time < 1.0):
            raise ConfigError(f"--fingerprint-time must be in (0, 1), got {self.fingerprint_time}", hint="e.g. 0.5")
        if not (self.kl_misfit > -1.0 and self.kl_misfit != 0.0):
            raise ConfigError(f"--kl-misfit must be > −1 and ≠ 0, got {self.kl_misfit}",
                              hint="the learned target variance is (1 + misfit) Σ, e.g. 0.4")
        if self.monte_carlo < 0:
            raise ConfigError(f"--monte-carlo must be ≥ 0, got {self.monte_carlo}", hint="e.g. --monte-carlo 4000")


_OU_KEYS = {f.name.replace("_", "-"): f.name for f in fields(fc.OUField)}


def parse_ou(spec: str) -> tuple[fc.OUField, float]:
    """``res=16,dim=1,slope=2,corner=4,variance=1,theta=1,theta-k=0,lag=0.5`` (any subset) → (field, lag)."""
    values: dict = {}
    lag = 0.5
    for item in (p.strip() for p in (spec or "").split(",")):
        if not item:
            continue
        key, eq, value = item.partition("=")
        key = key.strip().replace("_", "-")
        if not eq or (key not in _OU_KEYS and key != "lag"):
            raise ConfigError(f"--ou: cannot read {item!r}",
                              hint=f"give key=value pairs with keys {', '.join([*_OU_KEYS, 'lag'])}, e.g. res=16,lag=0.5")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"--ou {key}: {value!r} is not a number", hint="e.g. theta=1") from None
        if key == "lag":
            lag = number
        elif key in ("res", "dim"):
            if number != int(number):
                raise ConfigError(f"--ou {key} must be an integer, got {value}", hint="e.g. res=16,dim=1")
            values[_OU_KEYS[key]] = int(number)
        else:
            values[_OU_KEYS[key]] = number
    field = fc.OUField(**values)
    field.validate()
    if not (math.isfinite(lag) and lag > 0):
        raise ConfigError(f"--ou lag must be > 0, got {lag}", hint="e.g. lag=0.5")
    return field, lag


def resolve_point_source_schedule(spec: str) -> tuple[PointSourceSchedule, str | None]:
    """A point-source schedule by registry name (``family[:c]``) or a schedule file (β of the file,
    σ = 1 − t). Returns (schedule, checksum of the file or None)."""
    from sictl.pipeline.schedule_files import is_schedule_file, load_schedule

    if is_schedule_file(spec):
        sched, checksum, _ = load_schedule(spec)
        return TabulatedPointSource(sched, 1.0, label=spec), checksum
    sched = make_schedule(spec)
    if not isinstance(sched, PointSourceSchedule):
        raise ConfigError(f"--point-source needs point-source schedules, got {spec!r}",
                          hint=f"use {', '.join(DEFAULT_SCHEDULES)}, follmer-g-1 or g-sqrt1-t (optionally :c), or a schedule file")
    return sched, None


def _g2_label(spec: str, schedule: PointSourceSchedule):
    g2 = point_source_g2(spec, schedule)
    if g2 is None:
        raise ConfigError("--point-source samples with an SDE: g = 0 (the probability-flow ODE) is not in the laboratory",
                          hint="use sigma, follmer or const:c")
    return g2


def _schedule_report(schedule, g_specs, target, nu, cfg) -> dict:
    lam = target.cov_power
    ts = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0], dtype=F64)
    t_fp = cfg.fingerprint_time
    beta_t = float(schedule(t_fp).beta)
    keep = lam > 0
    sigma0 = float(schedule.sigma(0.0)[0])
    report: dict = {"description": schedule.describe(),
                    "follmer_g2": dict(zip([f"{float(t):g}" for t in ts], schedule.follmer_g2(ts).tolist())),
                    "fingerprint": {}, "kl": {}, "singular_at_0": {}}
    lam_hat = (1 + cfg.kl_misfit) * lam
    for spec in g_specs:
        g2 = _g2_label(spec, schedule)
        fp = fc.fingerprint(schedule, t_fp, lam, nu, g2)
        per_mode = fp[keep] / (beta_t * lam[keep]) - 1
        report["fingerprint"][spec] = {"total": float(fp.sum()), "target_total": beta_t * float(lam.sum()),
                                       "total_rel": float(fp.sum() / (beta_t * lam.sum()) - 1),
                                       "max_abs_rel_per_mode": float(per_mode.abs().max())}
        report["kl"][spec] = float(fc.path_kl(schedule, lam[keep] / nu[keep], lam_hat[keep] / nu[keep], g2).sum())
        report["singular_at_0"][spec] = bool(abs(float(g2(torch.tensor(0.0, dtype=F64))) - sigma0**2) > 1e-12)
    return report


def _run_report(schedule, spec, steps, target, nu, cfg) -> tuple[dict, dict]:
    lam, s = target.cov_power, target.stationary_power
    g2 = _g2_label(spec, schedule)
    ts = torch.linspace(cfg.t_min, cfg.t_max, steps + 1, dtype=F64)
    em = fc.em_moments(schedule, ts, lam, nu, g2, cross_time=cfg.fingerprint_time)
    start_gain = 1.0 if cfg.source == "state" else 0.0
    gain = em.start_coef * start_gain + em.mean_coef * target.endpoint_gain(cfg.source)
    keep = lam > 0
    var_rel = torch.where(keep, em.variance / torch.where(keep, lam, 1.0) - 1, em.variance)
    spread = math.sqrt(float(lam.sum()))
    mean_rms = math.sqrt(float((gain**2 * s).sum()))
    beta_fp = float(schedule(em.cross_time).beta)
    out = {
        "schedule": schedule.describe()["name"], "diffusion": spec, "steps": steps, "solver": SOLVER, "nfe": steps,
        "mean_error_rms": mean_rms, "mean_error_rel": mean_rms / spread,
        "variance_error_total_rel": float(em.variance.sum() / lam.sum() - 1),
        "variance_error_max_abs_rel": float(var_rel[keep].abs().max()),
        "fingerprint_time": em.cross_time,
        "em_fingerprint_total_rel": float(em.cross.sum() / (beta_fp * lam.sum()) - 1),
    }
    return out, {"variance_error_rel": var_rel.numpy(), "mean_error_gain": gain.numpy()}


def _monte_carlo(schedule, spec, steps, target, cfg, n: int) -> dict:
    """Sample n forecasts of one stationary condition with em and the exact drift."""
    gen = torch.Generator().manual_seed(cfg.seed)
    like = torch.empty(0, dtype=F64, device=cfg.device)
    current = target.sample_conditions(1, generator=gen, like=like)
    drift = target.drift(schedule, current.expand(n, *target.grid), cfg.source)
    solver = make_solver(SOLVER, diffusion=point_source_diffusion(spec, schedule))
    ts = torch.linspace(cfg.t_min, cfg.t_max, steps + 1, dtype=F64)
    j = int(torch.argmin((ts - cfg.fingerprint_time).abs()))
    kept: dict = {}

    def keep(i, t1, x):
        if i + 1 == j:
            kept["x"] = x

    x = drift.sample_base((n, *target.grid), generator=gen, like=like)
    if j == 0:
        kept["x"] = x
    x1, nfe = integrate(drift, solver, x, ts, generator=gen, callback=keep)
    forecast = drift.forecast(x1)
    exact_mean = target.conditional_mean(current)[0]
    lam_total = float(target.cov_power.sum())
    xt, beta_fp = kept["x"], float(schedule(float(ts[j])).beta)
    cov = float(((xt - xt.mean(0)) * (x1 - x1.mean(0))).sum(0).mean()) / (n - 1)
    em = fc.em_moments(schedule, ts, target.cov_power, target.white_noise_power(), point_source_g2(spec, schedule))
    gain = em.start_coef * (1.0 if cfg.source == "state" else 0.0) + em.mean_coef * target.endpoint_gain(cfg.source)
    predicted = target.apply(gain, current)[0]  # the em mean error for this condition, exactly
    return {
        "mc_samples": n, "mc_nfe": nfe,
        "mc_mean_error_rms": float((forecast.mean(0) - exact_mean).pow(2).mean().sqrt()),
        "mc_mean_error_vs_em_rms": float((forecast.mean(0) - exact_mean - predicted).pow(2).mean().sqrt()),
        "mc_mean_standard_error": math.sqrt(lam_total / n),
        "em_mean_error_rms_condition": float(predicted.pow(2).mean().sqrt()),
        "mc_variance_error_total_rel": float(forecast.var(0).mean()) / lam_total - 1,
        "mc_variance_standard_error_rel": math.sqrt(2 * float((target.cov_power**2).sum()) / n) / lam_total,
        "mc_fingerprint_total_rel": cov / (beta_fp * lam_total) - 1,
    }


def check(cfg: ForecastCheckConfig, progress=None) -> tuple[dict, dict]:
    """Run the laboratory. Returns (summary JSON, arrays for the HDF5 report)."""
    cfg.validate()
    started = time.perf_counter()
    field, lag = parse_ou(cfg.ou)
    target = field.forecast(lag)
    nu = target.white_noise_power()
    resolved = [(spec, *resolve_point_source_schedule(spec)) for spec in cfg.schedules]
    if len({spec for spec, _, _ in resolved}) != len(resolved):
        raise ConfigError(f"schedule names repeat in --schedules: {', '.join(cfg.schedules)}", hint="name each schedule once")
    lam = target.cov_power
    ratio = lam / nu
    lam_hat = (1 + cfg.kl_misfit) * lam
    summary: dict = {
        "target": {**target.describe(), "source": cfg.source, "modes": target.n, "xi": "white",
                   "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()),
                   "forecast_variance": float(lam.sum())},
        "kl_follmer_closed_form": float(fc.follmer_kl(lam / nu, lam_hat / nu).sum()),
        "kl_misfit": cfg.kl_misfit, "schedules": {}, "runs": []}
    arrays: dict = {"target/gain": target.gain.numpy(), "target/cov_power": lam.numpy(),
                    "target/stationary_power": target.stationary_power.numpy()}
    for spec, schedule, _ in resolved:
        summary["schedules"][spec] = _schedule_report(schedule, cfg.diffusions, target, nu, cfg)
    follmer = [r["kl"]["follmer"] for r in summary["schedules"].values() if "follmer" in r["kl"]]
    if follmer:
        summary["kl_follmer_spread_rel"] = (max(follmer) - min(follmer)) / summary["kl_follmer_closed_form"]
    combos = [(spec, sched, g, n) for spec, sched, _ in resolved for g in cfg.diffusions for n in cfg.steps]
    for i, (spec, schedule, g, steps) in enumerate(combos):
        info, per_mode = _run_report(schedule, g, steps, target, nu, cfg)
        info["schedule"] = spec
        if cfg.monte_carlo:
            info.update(_monte_carlo(schedule, g, steps, target, cfg, cfg.monte_carlo))
        summary["runs"].append(info)
        arrays.update({f"runs/{i:03d}/{k}": v for k, v in per_mode.items()})
        if progress is not None:
            progress(i + 1, len(combos))
    summary["config"] = asdict(cfg)
    summary["inputs"] = {spec: checksum for spec, _, checksum in resolved if checksum}
    summary["wall_time_s"] = time.perf_counter() - started
    return summary, arrays


def run(cfg: ForecastCheckConfig, output: str | None = None, progress=None) -> dict:
    """Run the laboratory and write the report to ``output`` (``-`` = stdout) if given. Returns the summary."""
    summary, arrays = check(cfg, progress)
    if output is not None:
        from sictl.io import write_report

        write_report(output, summary, arrays, config=summary["config"], inputs=summary["inputs"], seed=cfg.seed)
        summary["report"] = output
    return summary
