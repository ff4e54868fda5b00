"""Spectral error of the generated samples against NFE, with the exact machinery (no sampling).

For the Matérn s=3, ℓ=1 field (S(|k|=1) = 1) on an N×N grid with white noise of unit variance per mode,
every (schedule, solver, grid, NFE) gets the exact per-mode variance of what the pipeline would generate
(`sictl.core.exact.gaussian.generated_variance`: the real solver steps on the exact linear drift) and from it
the relative error of the shell spectrum, κ = 1..N/2 (mean and max over shells). Schedules: linear,
trig, designed (λ_min); solvers: all of them (em with ε*); grids: uniform, logsnr; N ∈ {32, 64, 128,
256}. Prints one table per N (mean error; `*` marks a max error below 5 %) and writes JSON to
benchmarks/results/quality_vs_nfe.json.

    python benchmarks/quality_vs_nfe.py [--sizes 32,64] [--nfe 8,16,32] [--out PATH]

With ``--designed`` it runs the comparison of issue 15 instead (:mod:`grid_benchmark`): the paper method,
linear + rk4, and every new solver on the uniform log-SNR grid and on the grid designed for it, on the Matérn
field and on the field mixture, N ∈ {32, 64, 128, 256}, NFE ∈ {10, 20, 40}; a table, JSON
(benchmarks/results/quality_vs_nfe_designed.json, written after every size) and a plot of error against NFE
(benchmarks/results/quality_vs_nfe_designed.png).

    python benchmarks/quality_vs_nfe.py --designed [--sizes 32,64] [--nfe 10,20,40] [--targets matern,mixture] [--resume]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

import torch

from sictl.core.exact.gaussian import generated_variance
from sictl.core.fields import spectra
from sictl.core.interpolants.schedules import Designed, Linear, Trig
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.solvers import SOLVERS, make_solver

T_MIN, T_MAX = 1e-4, 1 - 1e-4


def target(n: int):
    """(distinct per-mode powers, index of each grid mode into them, shell index of each mode)."""
    power = spectra.matern_power(n, 2)
    values, inverse = torch.unique(power.flatten(), return_inverse=True)
    return values, inverse, power


def errors(gen_values: torch.Tensor, values: torch.Tensor, inverse: torch.Tensor, power: torch.Tensor, n: int):
    gen = gen_values[inverse].reshape(power.shape)
    e_gen, e_true = spectra.shell_mean(gen, n, 2), spectra.shell_mean(power, n, 2)
    rel = (e_gen - e_true).abs() / e_true
    return float(rel.mean()), float(rel.max())


def run(sizes, nfes, solvers, grids) -> list[dict]:
    rows = []
    for n in sizes:
        values, inverse, power = target(n)
        positive = values[values > 0]
        lam_min = float(positive.min())
        base = torch.where(values > 0, torch.ones_like(values), torch.zeros_like(values))  # mean mode: not generated
        for sched_name, sched in (("linear", Linear()), ("trig", Trig()), ("designed", Designed(lam_min))):
            for solver_name in solvers:
                per_step = SOLVERS[solver_name].nfe_per_step
                for grid in grids:
                    for nfe in nfes:
                        if nfe % per_step:
                            continue
                        steps = nfe // per_step
                        diffusion = make_diffusion("optimal", sched) if solver_name == "em" else None
                        solver = make_solver(solver_name, diffusion=diffusion)
                        ts = time_grid(grid, steps, T_MIN, T_MAX, sched)
                        var, used = generated_variance(solver, sched, values, ts, base)
                        mean, worst = errors(var, values, inverse, power, n)
                        rows.append({"n": n, "schedule": sched_name, "solver": solver_name, "grid": grid,
                                     "steps": steps, "nfe": used, "error_mean": mean, "error_max": worst})
    return rows


def fmt(value: float) -> str:
    if not math.isfinite(value):
        return "nan"
    return f"{value:.1e}" if value < 1e-2 or value >= 1e3 else f"{value:.3f}"


def print_tables(rows: list[dict], nfes) -> None:
    for n in sorted({r["n"] for r in rows}):
        print(f"\nN = {n}: mean relative spectral error (* = max error < 5%)")
        print(f"{'schedule':<9} {'solver':<8} {'grid':<7} " + " ".join(f"{'NFE ' + str(k):>10}" for k in nfes))
        keys = sorted({(r["schedule"], r["solver"], r["grid"]) for r in rows if r["n"] == n},
                      key=lambda k: (["linear", "trig", "designed"].index(k[0]), list(SOLVERS).index(k[1]), k[2]))
        for key in keys:
            cells = []
            for k in nfes:
                match = [r for r in rows if (r["n"], r["schedule"], r["solver"], r["grid"], r["nfe"]) == (n, *key, k)]
                cells.append(f"{fmt(match[0]['error_mean']) + ('*' if match[0]['error_max'] < 0.05 else ' '):>10}"
                             if match else f"{'-':>10}")
            print(f"{key[0]:<9} {key[1]:<8} {key[2]:<7} " + " ".join(cells))


def designed_main(args) -> None:
    """The issue-15 comparison (module docstring)."""
    import grid_benchmark

    sizes = [int(v) for v in args.sizes.split(",")]
    nfes = [int(v) for v in (args.nfe or "10,20,40").split(",")]
    solvers = args.solvers.split(",") if args.solvers else grid_benchmark.NEW_SOLVERS
    out = args.out or os.path.join(os.path.dirname(__file__), "results", "quality_vs_nfe_designed.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    started, rows = time.perf_counter(), []
    if args.resume and os.path.exists(out):  # keep what an interrupted run measured
        with open(out, encoding="utf-8") as fh:
            rows = json.load(fh)["rows"]
    for kind in args.targets.split(","):
        for n in sizes:
            for nfe in nfes:
                if any((r["target"], r["n"], r["nfe_budget"]) == (kind, n, nfe) for r in rows):
                    continue
                rows += grid_benchmark.rows_for(kind, n, [nfe], solvers)
                with open(out, "w", encoding="utf-8") as fh:  # after every budget: a long run keeps what it has
                    json.dump({"t_min": T_MIN, "t_max": T_MAX, "mixture": grid_benchmark.MIXTURE,
                               "wall_time_s": time.perf_counter() - started, "rows": rows}, fh, indent=1)
    grid_benchmark.print_table(rows, nfes)
    grid_benchmark.plot(rows, out.replace(".json", ".png"))
    print(f"\nwrote {out} and {out.replace('.json', '.png')} ({len(rows)} rows, {time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="32,64,128,256")
    parser.add_argument("--nfe", default=None, help="default 8,16,32,64,128,256 (10,20,40 with --designed)")
    parser.add_argument("--solvers", default=None)
    parser.add_argument("--grids", default="uniform,logsnr")
    parser.add_argument("--out", default=None)
    parser.add_argument("--designed", action="store_true", help="the issue-15 comparison of designed grids")
    parser.add_argument("--targets", default="matern,mixture", help="with --designed: matern, mixture")
    parser.add_argument("--resume", action="store_true", help="with --designed: keep the budgets already in --out")
    args = parser.parse_args()
    if args.designed:
        return designed_main(args)
    args.nfe = args.nfe or "8,16,32,64,128,256"
    args.solvers = args.solvers or ",".join(SOLVERS)
    args.out = args.out or os.path.join(os.path.dirname(__file__), "results", "quality_vs_nfe.json")
    sizes = [int(v) for v in args.sizes.split(",")]
    nfes = [int(v) for v in args.nfe.split(",")]
    started = time.perf_counter()
    rows = run(sizes, nfes, args.solvers.split(","), args.grids.split(","))
    print_tables(rows, nfes)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"target": "matern s=3 ell=1, white unit per-mode base", "t_min": T_MIN, "t_max": T_MAX,
                   "wall_time_s": time.perf_counter() - started, "rows": rows}, fh, indent=1)
    print(f"\nwrote {args.out} ({len(rows)} runs, {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
