"""Numerical verification of identities the whole toolkit relies on (`gaussian-check --transfer`;
arXiv 2509.01629 for the transfer formula and ε*, arXiv 2403.13724 for g_F).

* transfer formula: the drift of a schedule obtained from the exact drift of another schedule by SNR
  matching equals the exact drift computed directly (both directions, every listed schedule);
* ε*: the closed form α²β̇/β − αα̇ is the minimiser of the KL weight (W/β + ε/α)²/ε;
* g_F: the Föllmer coefficient 2tσ(β̇σ − βσ̇)/β − σ² equals −β² dκ/dt with κ = tσ²/β².
"""

from __future__ import annotations

import math

import torch

from sictl.core.exact.drifts import DiagonalGaussianDrift
from sictl.core.interpolants.conversions import eps_star, follmer_g2, wronskian
from sictl.core.interpolants.schedules import POINT_SOURCE_BETAS, Linear, PointSource
from sictl.core.sampling.drift import TransferredDrift


def _probe_ratios(target) -> torch.Tensor:
    """Probe modes spanning a Gaussian target's ratios (a mixture has none: 1e-4 to 1)."""
    lo, hi = getattr(target, "ratio_min", 1e-4), getattr(target, "ratio_max", 1.0)
    return torch.tensor(sorted({lo, math.sqrt(lo * hi), hi, 0.5, 2.0}), dtype=torch.float64)


def transfer_checks(named, target, t_min: float, t_max: float) -> dict:
    """Max error of the transferred drift against the direct exact drift, per direction, each
    schedule taken on the target's path (a mixture's: the variance-preserving one).

    The error at each time is max_k |b_transfer − b_direct| / max_k |b_direct| over probe modes
    spanning the target's ratios (stiff modes make the identity ill-conditioned, not wrong).
    """
    lam = _probe_ratios(target)
    ts = torch.linspace(max(t_min, 1e-4), min(t_max, 1 - 1e-4), 9, dtype=torch.float64)
    x = torch.linspace(-2.0, 3.0, lam.numel(), dtype=torch.float64)
    ref = Linear()
    out = {}
    for ns in named:
        sched = target.path(ns.schedule)
        pairs = {f"linear->{ns.label}": (ref, sched), f"{ns.label}->linear": (sched, ref)}
        for key, (src, dst) in pairs.items():
            moved = TransferredDrift(DiagonalGaussianDrift(src, lam), dst)
            direct = DiagonalGaussianDrift(dst, lam)
            worst = 0.0
            for t in ts:
                a, b = moved.velocity(t, x), direct.velocity(t, x)
                worst = max(worst, float((a - b).abs().max() / b.abs().max().clamp_min(1e-300)))
            out[key] = worst
    return {"max_relative_error": out, "times": ts.tolist(), "ratios": lam.tolist()}


def identity_checks(named) -> dict:
    """ε* minimises the KL weight for each schedule; g_F² = −β² dκ/dt for each point-source family."""
    ts = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    eps_dev = {}
    for ns in named:
        v = ns.schedule(ts)
        c = wronskian(v) / v.beta
        closed = eps_star(v)
        grid = closed[:, None] * torch.logspace(-2, 2, 4001, dtype=torch.float64)
        weight = (c[:, None] + grid / v.alpha[:, None]) ** 2 / grid
        best = grid.gather(1, weight.argmin(1, keepdim=True)).squeeze(1)
        eps_dev[ns.label] = float(((best - closed).abs() / closed).max())
    g_dev = {}
    h = 1e-6
    for family in POINT_SOURCE_BETAS:
        ps = PointSource(family, 1.0)

        def kappa(t, ps=ps):
            sigma, _ = ps.sigma(t)
            return t * sigma**2 / ps(t).beta**2

        sigma, sigma_dot = ps.sigma(ts)
        g2 = follmer_g2(ts, ps(ts), sigma, sigma_dot)
        fd = -ps(ts).beta ** 2 * (kappa(ts + h) - kappa(ts - h)) / (2 * h)
        g_dev[family] = float((g2 - fd).abs().max())
    return {
        "eps_star_vs_kl_minimiser_rel": eps_dev,
        "eps_star_grid_resolution_rel": float(10 ** (4 / 4000) - 1),
        "follmer_g2_vs_kappa_derivative_abs": g_dev,
    }
