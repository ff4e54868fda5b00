"""How much of `sictl sample`'s time goes into drift evaluations (target: ≥ 90 %).

A Matérn s=3 field dataset with exact statistics at N = 128 is written to a temporary directory and
the drift is wrapped in a timer (the drift evaluation is whatever the drift's ``velocity`` does; the
timer wraps nothing else). Two measurements per solver:

* ``loop``: :func:`sictl.pipeline.sample.sample_batch` on one batch, planned exactly as
  `sictl sample --exact` plans it: base noise, the solver's arithmetic, bookkeeping;
* ``end to end``: :func:`sictl.pipeline.sample.run`, the whole `sictl sample` path: planning
  (reading the dataset), base noise, integration, de-normalisation, the finiteness count and the
  HDF5 samples file written batch by batch and renamed into place.

The fraction is drift seconds / wall seconds of the measured call. The ``fused`` column is an upper
bound for any solver written with torch on this machine: the loop's own drift time, plus only the
traffic a perfectly fused step must move (explicit RK: each stage reads x and the slopes so far and
writes one state) at the bandwidth of a measured ``torch.add`` pass, with no base draw and no
bookkeeping. The process applies the heap setting of the ``sictl`` command (sictl/cli/runtime.py)
unless ``--system-malloc`` is given. With a trained network the drift
costs far more, so this is the worst case. Timings on a shared machine are noisy: the load average
during each measurement is recorded next to it, and the same fraction is also given in process CPU
time (all threads of this process), which other processes' load disturbs much less than wall time
(on a quiet machine the two agree). Prints a table; writes JSON to benchmarks/results/sample_overhead.json.

    python benchmarks/sample_overhead.py [--n 128] [--batch 256] [--steps 19] [--solvers euler,heun,rk4-38,expint2]
                                         [--dtypes float32] [--batches 1] [--repeat 3] [--device cpu]
                                         [--system-malloc]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import torch

from sictl.cli.runtime import keep_freed_memory
from sictl.core.fields.spectra import matern_power
from sictl.core.sampling.drift import Drift
from sictl.io import DatasetMeta, DatasetStats, Normalization, write_dataset
from sictl.pipeline.drift_sources import open_exact_source
from sictl.pipeline.sample import SampleConfig, plan, run, sample_batch


class TimedDrift(Drift):
    """Wraps a drift and accumulates the wall time spent in its velocity evaluations."""

    def __init__(self, inner: Drift, device: str):
        self.inner, self.schedule, self.device = inner, inner.schedule, device
        self.seconds = self.cpu_seconds = 0.0

    def _sync(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()

    def velocity(self, t, x):
        self._sync()
        start, cpu = time.perf_counter(), time.process_time()
        out = self.inner.velocity(t, x)
        self._sync()
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu
        return out

    def sample_base(self, shape, *, generator, like):
        return self.inner.sample_base(shape, generator=generator, like=like)


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _timed_source(data: str, device: str):
    """The exact drift source of ``data`` whose drifts are wrapped in :class:`TimedDrift`; (source, timers)."""
    source = open_exact_source(data)
    timers: list[TimedDrift] = []

    def build(schedule):
        timers.append(TimedDrift(source.build(schedule), device))
        return timers[-1]

    return dataclasses.replace(source, build=build), timers


def _config(data: str, solver: str, dtype: str, args, n: int) -> SampleConfig:
    extra = {"diffusion": "optimal"} if solver == "em" else {}
    return SampleConfig(exact=data, schedule="designed", solver=solver, steps=args.steps, n=n,
                        batch_size=args.batch, dtype=dtype, device=args.device, **extra)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class _Tally:
    """Wall and CPU seconds of repeated measurements, and the drift's share of each."""

    def __init__(self):
        self.wall, self.fraction, self.cpu_fraction, self.load = [], [], [], []

    def time(self, call, device: str, timers) -> object:
        load0, start, cpu = _load(), time.perf_counter(), time.process_time()
        result = call()
        _sync(device)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        self.wall.append(wall)
        self.fraction.append(sum(t.seconds for t in timers) / wall)
        self.cpu_fraction.append(sum(t.cpu_seconds for t in timers) / cpu)
        self.load.append((load0 + _load()) / 2)
        return result

    def row(self, **fields) -> dict:
        med = statistics.median
        return {**fields, "seconds": med(self.wall), "drift_fraction": med(self.fraction),
                "drift_fraction_cpu": med(self.cpu_fraction), "drift_fraction_all": self.fraction,
                "drift_fraction_cpu_all": self.cpu_fraction, "load": med(self.load)}


def measure_loop(data: str, solver: str, dtype: str, args) -> dict:
    """The sampling loop alone: sample_batch on one batch."""
    p = plan(_config(data, solver, dtype, args, args.batch))
    timed = TimedDrift(p.drift, args.device)
    p.drift = timed
    sample_batch(p, 0, min(args.batch, 8))  # warm-up (allocator, FFT plans)
    tally = _Tally()
    for _ in range(args.repeat):
        timed.seconds = timed.cpu_seconds = 0.0
        _, _, nfe = tally.time(lambda: sample_batch(p, 0, args.batch), args.device, [timed])
    row = tally.row(measure="loop", solver=solver, dtype=dtype, nfe=nfe, n=args.batch)
    # the share a perfectly fused solver would reach: the same drift time, plus only the minimum traffic
    # of the steps at the measured pass bandwidth (the base draw and the bookkeeping counted as nothing)
    one_pass = pass_seconds(torch.empty((args.batch, *p.source.sample_shape), dtype=p.dtype, device=args.device),
                            args.device)
    drift = row["seconds"] * row["drift_fraction"]
    fused = FUSED_ARRAYS.get(solver, float("nan")) / 3 * one_pass * (len(p.ts) - 1)
    return {**row, "pass_seconds": one_pass, "fused_bound": drift / (drift + fused)}


# arrays a perfectly fused step must read or write (explicit RK: stage j reads x and j − 1 slopes and
# writes one state; the update reads x and every slope); expint2 combines x, b and the previous (x, b)
FUSED_ARRAYS = {"euler": 3, "midpoint": 3 + 3, "heun": 3 + 4, "rk4": 3 + 3 + 3 + 6, "rk4-38": 3 + 4 + 5 + 6,
                "expint1": 3, "expint2": 5, "em": 4}


def pass_seconds(like: torch.Tensor, device: str, repeat: int = 15) -> float:
    """Median seconds of one ``torch.add(a, b, alpha=c, out=o)`` over arrays shaped like ``like``, rotating
    through 8 of them so that successive passes do not find their inputs in cache (3 arrays of traffic)."""
    pool = [torch.randn_like(like) for _ in range(8)]
    times = []
    for i in range(repeat):
        a, b, o = pool[i % 8], pool[(i + 3) % 8], pool[(i + 5) % 8]
        _sync(device)
        start = time.perf_counter()
        torch.add(a, b, alpha=0.5, out=o)
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def measure_end_to_end(data: str, solver: str, dtype: str, args, tmp: str) -> dict:
    """The whole `sictl sample` path, writing a real samples file."""
    n = args.batch * args.batches
    cfg = _config(data, solver, dtype, args, n)
    out = os.path.join(tmp, "samples.h5")
    tally = _Tally()
    for _ in range(args.repeat):
        source, timers = _timed_source(data, args.device)
        summary = tally.time(lambda: run(cfg, out, source=source), args.device, timers)
        os.remove(out)
    return tally.row(measure="end-to-end", solver=solver, dtype=dtype, nfe=summary["nfe"], n=n)


def write_data(path: str, n: int) -> None:
    power = matern_power(n, 2).numpy()
    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(n, n),
                       normalization=Normalization("rms", 2.0))  # c ≠ 1: de-normalisation is measured too
    write_dataset(path, np.zeros((1, 1, n, n), np.float32), meta,
                  DatasetStats(power, None, float(np.sqrt(power.sum())), 0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=1, help="batches of the end-to-end run")
    parser.add_argument("--steps", type=int, default=19)
    parser.add_argument("--solvers", default="euler,heun,rk4-38,expint2")
    parser.add_argument("--dtypes", default="float32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--system-malloc", action="store_true",
                        help="keep the C library's malloc defaults instead of the setting `sictl` applies to itself")
    parser.add_argument("--label", default="", help="a note stored with the results (e.g. 'before', 'quiet machine')")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "sample_overhead.json"))
    args = parser.parse_args()
    malloc = "system" if args.system_malloc else ("kept" if keep_freed_memory() else "system")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "grf.h5")
        write_data(data, args.n)
        print(f"N = {args.n}, batch {args.batch}, {args.steps} steps, device {args.device}, torch threads "
              f"{torch.get_num_threads()}, CPUs {os.cpu_count()}, malloc {malloc}, load average {_load():.2f} at start")
        print(f"{'':<22} {'sampling loop':^26} {'end to end (sictl sample)':^26}")
        print(f"{'solver':<8} {'dtype':<8} {'NFE':>4} {'wall s':>8} {'drift':>8} {'(cpu)':>8} "
              f"{'wall s':>8} {'drift':>8} {'(cpu)':>8} {'load':>6} {'fused':>6}")
        for dtype in args.dtypes.split(","):
            for solver in args.solvers.split(","):
                loop = measure_loop(data, solver, dtype, args)
                e2e = measure_end_to_end(data, solver, dtype, args, tmp)
                rows += [loop, e2e]
                print(f"{solver:<8} {dtype:<8} {loop['nfe']:>4} "
                      + " ".join(f"{r['seconds']:>8.3f} {r['drift_fraction']:>8.1%} {r['drift_fraction_cpu']:>8.1%}"
                                 for r in (loop, e2e))
                      + f" {(loop['load'] + e2e['load']) / 2:>6.2f} {loop['fused_bound']:>6.1%}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"label": args.label, "n": args.n, "batch": args.batch, "batches": args.batches, "steps": args.steps,
                   "device": args.device, "malloc": malloc, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                   "machine": platform.machine(), "torch": torch.__version__, "rows": rows}, fh, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
