"""Stochastic Allen–Cahn samples: cost and statistics of the default sampler against the authors' data.

Runs sictl.core.allen_cahn.AllenCahnSampler with its default configuration (preconditioned HMC,
256 chains × 128 stored samples, burn-in 1000, thin 4) at each resolution and reports, with the
reference values of reference/data_and_metrics.md §1.3–1.4:

- wall time, final step size, post-burn-in acceptance, integrated autocorrelation time (IAT) of ∫u dx
  in stored samples and the effective sample size;
- norm per pixel = mean_i ‖u_i‖₂/(N+1) over all N+1 nodes (the authors' loader; 0.14817 at N = 32,
  0.10496 at N = 64), and for comparison the other conventions (first N nodes, /N or /(N+1));
- per-mode power E|û_k|², û = fft(u[:N], norm="forward"), k = 0..5, against the authors' truth files,
  with the relative error and its Monte Carlo standard error (from the spread of per-chain means);
- well occupancies P(∫u > 0.5), P(∫u < −0.5) (reference: ≈ 0.33 each).

Prints a table; writes JSON to benchmarks/results/allen_cahn.json.

    python benchmarks/allen_cahn.py [--n 32 64] [--chains 256] [--samples-per-chain 128] [--thin 4]
                                    [--burn-in 1000] [--method hmc|mala] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import torch

from sictl.core.allen_cahn import AllenCahnConfig, AllenCahnSampler

NORM_PER_PIXEL = {32: 0.1481711503315729, 64: 0.10495965013442342}  # authors' loader output (§1.3)
TRUTH_POWER = {  # AllenCahn-res{N}-truth.pt, k = 0..5 (§1.4)
    32: [0.7058, 0.04432, 0.01177, 0.005424, 0.003132, 0.002063],
    64: [0.70733, 0.04213, 0.01142, 0.00507, 0.00289, 0.00188],
    128: [0.6924, 0.0424, 0.0114, 0.0052, 0.0029, 0.0018],
}
KMAX = 5


def run_one(n: int, args) -> dict:
    defaults = AllenCahnConfig(n=n)
    cfg = AllenCahnConfig(
        n=n, method=args.method,
        chains=args.chains or defaults.chains,
        samples_per_chain=args.samples_per_chain or defaults.samples_per_chain,
        thin=args.thin or defaults.thin,
        burn_in=defaults.burn_in if args.burn_in is None else args.burn_in,
    )
    sampler = AllenCahnSampler(cfg, generator=torch.Generator().manual_seed(args.seed + n),
                               threads=args.threads)
    # per-chain running sums: power of modes 0..KMAX and the four norm conventions
    power = torch.zeros(cfg.chains, KMAX + 1, dtype=torch.float64)
    norms = {name: torch.zeros(cfg.chains, dtype=torch.float64) for name in ("all/(N+1)", "first N/N",
                                                                             "first N/(N+1)", "all/N")}
    last = [0.0]

    def progress(stage, done, total):
        now = time.perf_counter() - start
        if now - last[0] >= 10 or done == total:
            last[0] = now
            print(f"  N={n} {stage}: {done}/{total} ({now:.1f} s)", file=sys.stderr)

    start = time.perf_counter()
    for block in sampler.run(callback=progress, block=64):
        power += (torch.fft.fft(block[..., :n], norm="forward").abs() ** 2)[..., : KMAX + 1].sum(1)
        norms["all/(N+1)"] += (block.norm(dim=-1) / (n + 1)).sum(1)
        norms["first N/N"] += (block[..., :n].norm(dim=-1) / n).sum(1)
        norms["first N/(N+1)"] += (block[..., :n].norm(dim=-1) / (n + 1)).sum(1)
        norms["all/N"] += (block.norm(dim=-1) / n).sum(1)
    wall = time.perf_counter() - start

    s = cfg.samples_per_chain
    # mean and standard error from the spread of per-chain means (the chains are independent)
    mean_se = lambda x: (float(x.mean()), float(x.std() / math.sqrt(len(x))))  # noqa: E731
    p_mean, p_se = zip(*(mean_se(power[:, k] / s) for k in range(KMAX + 1)), strict=True)
    truth = TRUTH_POWER.get(n)
    npp_ref = NORM_PER_PIXEL.get(n)
    out = {
        "n": n, "method": cfg.method, "chains": cfg.chains, "samples": cfg.chains * s, "thin": cfg.thin,
        "burn_in": cfg.burn_in, "iterations": cfg.iterations, "wall_s": wall, **sampler.summary(),
        "norm_per_pixel": {name: dict(zip(("value", "se"), mean_se(v / s), strict=True),
                                      rel_err=(mean_se(v / s)[0] / npp_ref - 1) if npp_ref else None)
                           for name, v in norms.items()},
        "norm_per_pixel_reference": npp_ref,
        "power": [{"k": k, "value": p_mean[k], "se": p_se[k],
                   "reference": truth[k] if truth else None,
                   "rel_err": p_mean[k] / truth[k] - 1 if truth else None,
                   "rel_se": p_se[k] / p_mean[k]} for k in range(KMAX + 1)],
    }
    return out


def print_table(results: list[dict]) -> None:
    for r in results:
        print(f"\nN = {r['n']}  ({r['method']}, {r['chains']} chains × {r['samples'] // r['chains']} samples"
              f" = {r['samples']}, thin {r['thin']}, burn-in {r['burn_in']}, {r['iterations']} iterations)")
        print(f"  wall {r['wall_s']:.1f} s   step {r['step_size']:.3f}"
              f"   acceptance {r['acceptance_rate']:.3f}"
              f"   IAT(∫u) {r['integrated_autocorrelation_time']:.2f} stored samples"
              f"   ESS {r['effective_sample_size']:.0f}")
        print(f"  P(∫u>0.5) {r['occupancy_positive']:.3f}   P(∫u<-0.5) {r['occupancy_negative']:.3f}"
              f"   mean ∫u {r['mean_path_integral']:+.4f}")
        ref = r["norm_per_pixel_reference"]
        print(f"  norm per pixel (reference {ref if ref else 'n/a'}):")
        for name, v in r["norm_per_pixel"].items():
            rel = f"{100 * v['rel_err']:+6.2f} %" if v["rel_err"] is not None else "   n/a"
            print(f"    {name:<14} {v['value']:.5f} ± {v['se']:.5f}   rel. err. {rel}")
        print(f"  {'k':>3} {'E|û_k|²':>10} {'± s.e.':>9} {'reference':>10} {'rel. err.':>10} {'(s.e.)':>8}")
        for p in r["power"]:
            ref_s = f"{p['reference']:.5g}" if p["reference"] is not None else "n/a"
            rel = f"{100 * p['rel_err']:+.2f} %" if p["rel_err"] is not None else "n/a"
            print(f"  {p['k']:>3} {p['value']:>10.5g} {p['se']:>9.2g} {ref_s:>10} {rel:>10}"
                  f" {100 * p['rel_se']:>6.2f} %")


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--chains", type=int, default=None, help="(default config's: 256)")
    ap.add_argument("--samples-per-chain", type=int, default=None, help="(default config's: 128)")
    ap.add_argument("--thin", type=int, default=None, help="(default config's: 4)")
    ap.add_argument("--burn-in", type=int, default=None, help="(default config's: 1000)")
    ap.add_argument("--method", choices=["hmc", "mala"], default="hmc")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="intra-op threads while sampling (0: torch's)")
    ap.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "allen_cahn.json"))
    args = ap.parse_args(argv)
    args.threads = args.threads or None
    results = [run_one(n, args) for n in args.n]
    print_table(results)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"benchmark": "allen_cahn", "torch": torch.__version__, "results": results}, fh, indent=1)
    os.replace(tmp, args.output)
    print(f"\nwrote {args.output}", file=sys.stderr)
    return results


if __name__ == "__main__":
    main()
