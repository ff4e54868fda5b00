"""How much of `sictl sample`'s time goes into drift evaluations (target: ≥ 90 %).

A Matérn s=3 field dataset with exact statistics at N = 128 is written to a temporary directory, the
sampler is planned exactly as `sictl sample --exact` plans it, and one batch of 256 samples is
integrated with the drift wrapped in a timer. The rest is the sampler's own work: base noise, the
solver's arithmetic, bookkeeping. With a trained network the drift is far more expensive, so this is
the worst case. Prints a table; writes JSON to benchmarks/results/sample_overhead.json.

    python benchmarks/sample_overhead.py [--n 128] [--batch 256] [--steps 19] [--device cpu] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch

from sictl.core.drifts import Drift
from sictl.core.spectra import matern_power
from sictl.io import DatasetMeta, DatasetStats, write_dataset
from sictl.pipeline.sample import SampleConfig, plan, sample_batch


class TimedDrift(Drift):
    """Wraps a drift and accumulates the wall time spent in its velocity evaluations."""

    def __init__(self, inner: Drift, device: str):
        self.inner, self.schedule, self.device, self.seconds = inner, inner.schedule, device, 0.0

    def _sync(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def velocity(self, t, x):
        self._sync()
        start = time.perf_counter()
        out = self.inner.velocity(t, x)
        self._sync()
        self.seconds += time.perf_counter() - start
        return out

    def sample_base(self, shape, *, generator, like):
        return self.inner.sample_base(shape, generator=generator, like=like)


def measure(data: str, solver: str, args, dtype: str) -> dict:
    extra = {"diffusion": "optimal"} if solver == "em" else {}
    cfg = SampleConfig(exact=data, schedule="designed", solver=solver, steps=args.steps, n=args.batch,
                       batch_size=args.batch, dtype=dtype, device=args.device, **extra)
    p = plan(cfg)
    timed = TimedDrift(p.drift, args.device)
    p.drift = timed
    sample_batch(p, 0, min(args.batch, 8))  # warm-up (allocator, FFT plans)
    fractions, totals = [], []
    for _ in range(args.repeat):
        timed.seconds = 0.0
        start = time.perf_counter()
        x, _, nfe = sample_batch(p, 0, args.batch)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        total = time.perf_counter() - start
        fractions.append(timed.seconds / total)
        totals.append(total)
    return {"solver": solver, "dtype": dtype, "nfe": nfe, "seconds": statistics.median(totals),
            "drift_fraction": statistics.median(fractions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=19)
    parser.add_argument("--solvers", default="euler,heun,rk4-38,expint2,em")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "sample_overhead.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "grf.h5")
        power = matern_power(args.n, 2).numpy()
        meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(args.n, args.n))
        write_dataset(data, np.zeros((1, 1, args.n, args.n), np.float32), meta,
                      DatasetStats(power, None, float(np.sqrt(power.sum())), 0.0))
        print(f"N = {args.n}, batch {args.batch}, {args.steps} steps, device {args.device}, "
              f"torch threads {torch.get_num_threads()}")
        print(f"{'solver':<8} {'dtype':<8} {'NFE':>4} {'seconds':>8} {'in drift':>9}")
        for dtype in args.dtypes.split(","):
            for solver in args.solvers.split(","):
                row = measure(data, solver, args, dtype)
                rows.append(row)
                print(f"{solver:<8} {dtype:<8} {row['nfe']:>4} {row['seconds']:>8.3f} {row['drift_fraction']:>8.1%}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"n": args.n, "batch": args.batch, "steps": args.steps, "device": args.device,
                   "threads": torch.get_num_threads(), "rows": rows}, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
