"""The issue-15 comparison of `quality_vs_nfe.py --designed`: designed step grids against the paper method.

For the Matérn s = 3 field (white unit base; exact per-mode errors, gaussian-check's) and for the field
mixture 0.5 Matérn(ℓ = 1, S(1) = 1) + 0.5 Matérn(ℓ = 20, S(1) = 0.01) (errors against the laboratory's
reference run from 64 base draws, on draws held apart from the ones grids are designed on), at N ∈ {32, 64,
128, 256} and NFE ∈ {10, 20, 40}:

* ``paper``: the designed schedule (λ_min) with rk4-38 on the uniform t-grid (NFE/4 steps, rounded down);
* ``linear+rk4``: the linear schedule with rk4 on the uniform t-grid;
* every new solver (expint3, unipc2, unipc3, sde-expint1, sde-expint2 with ε*) on the designed schedule, on the
  uniform log-SNR grid and on the grid designed for it (``design-schedule --grid-for SOLVER --nfe K``), both on
  [1e-4, 0.9999].

Each row: max and mean shell error, and for designed grids the time the design took.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import torch

from sictl.core.exact.field_mixture import parse_field_mixture
from sictl.core.exact.field_mixture_lab import FieldMixtureTarget
from sictl.core.interpolants.schedules import Designed, Linear
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.solvers import make_solver
from sictl.pipeline.grid_design import designed_grid
from sictl.pipeline.targets import build_target

T_MIN, T_MAX = 1e-4, 1 - 1e-4
NEW_SOLVERS = ("expint3", "unipc2", "unipc3", "sde-expint1", "sde-expint2")
MIXTURE = "0.5,3,1,1;0.5,3,20,0.01"


def target(kind: str, n: int, samples: int = 64):
    if kind == "matern":
        cfg = SimpleNamespace(ratios=(), matern=str(n), dim=2, spectrum=None, data=None, gmm=None, base="white")
        return build_target(cfg)
    base = torch.ones(n, n, dtype=torch.float64)
    base[0, 0] = 0.0
    return FieldMixtureTarget(parse_field_mixture(f"{n}:{MIXTURE}"), base, samples=samples)


def _row(kind, n, nfe, method, run, **extra) -> dict:
    out = {"target": kind, "n": n, "nfe_budget": nfe, "nfe": run["nfe"], "method": method,
           "error_max": run["spectral_error_max"], "error_mean": run["spectral_error_mean"], **extra}
    for key in ("path_error_max", "component_error_max"):
        if key in run:
            out[key] = run[key]
    return out


def rows_for(kind: str, n: int, nfes, solvers=NEW_SOLVERS, progress=print) -> list[dict]:
    """Every method at every budget for one target and size."""
    tg = target(kind, n)
    sched = Designed(tg.ratio_min)
    rows = []
    for nfe in nfes:
        steps = max(1, nfe // 4)
        for method, schedule, solver in (("paper", sched, "rk4-38"), ("linear+rk4", Linear(), "rk4")):
            run, _ = tg.exact_run(make_solver(solver), schedule, time_grid("uniform", steps, T_MIN, T_MAX, schedule))
            rows.append(_row(kind, n, nfe, method, run))
        for name in solvers:
            cfg = SimpleNamespace(grid_for=name, nfe=nfe, diffusion="optimal", t_min=T_MIN, t_max=T_MAX)
            started = time.perf_counter()
            _, info = designed_grid(cfg, tg, sched)
            uniform = {"nfe": nfe, **info["uniform_logsnr"]}
            designed = {"nfe": nfe, **info["designed"]}
            rows.append(_row(kind, n, nfe, f"{name}/logsnr", uniform))
            rows.append(_row(kind, n, nfe, f"{name}/designed", designed, design_time_s=info["design_time_s"],
                             design_cpu_s=info.get("design_cpu_s"), objective=info["objective"]))
            if progress is not None:
                progress(f"{kind} N={n} NFE={nfe} {name}: uniform {uniform['spectral_error_max']:.3g} → designed "
                         f"{designed['spectral_error_max']:.3g} ({time.perf_counter() - started:.0f} s)")
    return rows


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    if value < 1e-4:
        return f"{100 * value:.1e}%"
    return f"{100 * value:.2f}%" if value < 10 else f"{value:.0f}×"


def print_table(rows: list[dict], nfes) -> None:
    for kind in sorted({r["target"] for r in rows}):
        for n in sorted({r["n"] for r in rows if r["target"] == kind}):
            print(f"\n{kind} N = {n}: max (mean) shell error")
            print(f"{'method':<22}" + "".join(f"{'NFE ' + str(k):>22}" for k in nfes))
            methods = list(dict.fromkeys(r["method"] for r in rows if (r["target"], r["n"]) == (kind, n)))
            for m in methods:
                cells = []
                for k in nfes:
                    hit = [r for r in rows if (r["target"], r["n"], r["method"], r["nfe_budget"]) == (kind, n, m, k)]
                    cells.append(f"{fmt(hit[0]['error_max']) + ' (' + fmt(hit[0]['error_mean']) + ')':>22}" if hit
                                 else f"{'-':>22}")
                print(f"{m:<22}" + "".join(cells))


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({r["target"] for r in rows})
    sizes = sorted({r["n"] for r in rows})
    fig, axes = plt.subplots(len(kinds), len(sizes), figsize=(4 * len(sizes), 3.6 * len(kinds)), squeeze=False)
    for i, kind in enumerate(kinds):
        for j, n in enumerate(sizes):
            ax = axes[i][j]
            sub = [r for r in rows if (r["target"], r["n"]) == (kind, n)]
            for m in dict.fromkeys(r["method"] for r in sub):
                pts = sorted((r["nfe"], r["error_max"]) for r in sub if r["method"] == m)
                style = "-" if m.endswith("/designed") else (":" if m.endswith("/logsnr") else "--")
                ax.plot([p[0] for p in pts], [max(p[1], 1e-6) for p in pts], style, marker="o", ms=3, label=m)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.axhline(0.01, color="grey", lw=0.5)
            ax.set_title(f"{kind}, N = {n}")
            ax.set_xlabel("NFE")
            ax.set_ylabel("max shell error")
    axes[0][-1].legend(fontsize=6, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
