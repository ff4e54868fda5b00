"""Training throughput of the network presets, the share of a step spent on data, peak memory, and the share of
`sictl sample --model` spent inside the network (targets: data ≤ 10 % of a step, network ≥ 95 % of sampling).

For every preset (tiny, small, medium) and shape (1-D fields N = 64, 2-D fields 64²) a Matérn Gaussian-field
dataset is written with `sictl prepare gaussian-field` and a training step is built exactly as `sictl train` builds
it (:func:`sictl.pipeline.train._setup`: the streamed, shuffled data order, the objective's seeded draws, the
network, AdamW, the EMA) and run by :class:`sictl.train.loop.Trainer`. Each configuration runs in a fresh child
process, so that its peak resident memory (``getrusage`` max RSS) is its own. Within a step three parts are timed
side by side: the data rows (``rows(start, stop)``: the HDF5 shuffle buffer, loaded when first needed, and the
copy of the batch), the draws of times and base noise (``Objective.step_draws``), and the rest (forward,
backward, clipping, AdamW, EMA). ``data %`` is the first part over the step's wall time; ``draws %`` the second.

Sampling: a `small` 1-D model is trained for a few steps (its weights do not matter for speed) and sampled with
:func:`sictl.pipeline.sample.run` — the whole `sictl sample --model RUN` path after start-up: reading the
checkpoint, base noise, rk4-38 on 19 steps, the samples file — with forward hooks on the network that add up the
time spent inside its ``forward``. ``network %`` is that time over the run's wall time; the same sampling is also
timed as a whole command in a new process (start-up and imports included) beside it.

Timings on a shared machine are noisy; the load average is recorded with each row. Prints a table; writes JSON to
benchmarks/results/train_throughput.json.

    python benchmarks/train_throughput.py [--presets tiny,small,medium] [--shapes 1d,2d] [--batch 64]
                                          [--seconds 10] [--max-steps 200] [--threads 2] [--sample-n 512]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

SHAPES = {"1d": (1, 64), "2d": (2, 64)}  # (dim, N)


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(path: str, dim: int, n: int, count: int) -> None:
    subprocess.run(["sictl", "prepare", "gaussian-field", "--res", str(n), "--dim", str(dim), "--n", str(count),
                    "--seed", "0", "-o", path, "--quiet"], check=True)


def measure_one(data: str, preset: str, batch: int, seconds: float, max_steps: int, threads: int) -> dict:
    """One configuration, in this process (run in a child): steps/s and the shares of data and draws."""
    import torch

    torch.set_num_threads(threads)
    from sictl.cli.runtime import keep_freed_memory
    from sictl.pipeline.train import TrainConfig, _setup
    from sictl.train.distributed import DistInfo
    from sictl.train.loop import LoopOptions, Trainer

    keep_freed_memory()
    rss_start = _rss_mib()
    cfg = TrainConfig(data=data, model=preset, steps=10**9, batch_size=batch, device="cpu")
    setup = _setup(cfg)
    timers = {"data": 0.0, "draws": 0.0}

    def rows(start, stop):
        t0 = time.perf_counter()
        out = setup.rows(start, stop)
        timers["data"] += time.perf_counter() - t0
        return out

    objective = setup.objective
    draws = objective.step_draws

    def timed_draws(*args, **kwargs):
        t0 = time.perf_counter()
        out = draws(*args, **kwargs)
        timers["draws"] += time.perf_counter() - t0
        return out

    objective.step_draws = timed_draws
    opts = LoopOptions(steps=10**9, batch_size=batch, lr=cfg.lr, warmup=cfg.warmup, ema=cfg.ema, seed=0)
    trainer = Trainer(setup.model, objective, opts, rows, DistInfo(0, 1, 0), "cpu")
    for _ in range(2):  # warm-up: allocator, first data buffer
        trainer.train_step()
    timers.update(data=0.0, draws=0.0)
    load0, steps, start, cpu = _load(), 0, time.perf_counter(), time.process_time()
    while steps < max_steps and (steps < 3 or time.perf_counter() - start < seconds):
        trainer.train_step()
        steps += 1
    float(trainer.pending[-1])  # the losses stay lazy on the device until read
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    setup.reader.close()
    return {"preset": preset, "parameters": sum(p.numel() for p in setup.model.parameters()),
            "sample_shape": list(setup.config["sample_shape"]), "batch": batch, "threads": threads, "steps": steps,
            "seconds": wall, "steps_per_s": steps / wall, "samples_per_s": steps * batch / wall,
            "data_fraction": timers["data"] / wall, "draws_fraction": timers["draws"] / wall,
            "cpu_per_wall": cpu / wall, "peak_rss_mib": _rss_mib(), "rss_after_imports_mib": rss_start,
            "load": (load0 + _load()) / 2}


def measure_sampling(tmp: str, n: int, threads: int) -> dict:
    """`sictl sample --model` on a small 1-D model: the share of time inside the network's forward."""
    data = os.path.join(tmp, "sample_data.h5")
    make_data(data, 1, 64, 512)
    run_dir = os.path.join(tmp, "run")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(["sictl", "train", data, "-o", run_dir, "--model", "small", "--steps", "5", "--batch-size", "16",
                    "--device", "cpu", "--quiet"], check=True, env=env)
    import torch

    torch.set_num_threads(threads)
    from sictl.cli.runtime import keep_freed_memory
    from sictl.pipeline.drift_sources import open_model_source
    from sictl.pipeline.sample import SampleConfig, run

    keep_freed_memory()
    cfg = SampleConfig(model=run_dir, schedule="linear", solver="rk4-38", steps=19, n=n, batch_size=256, seed=1)
    rows = []
    for repeat in range(3):
        source = open_model_source(run_dir)
        net = source.build(source.native_schedule).net
        clock = {"t": 0.0, "calls": 0, "start": 0.0}

        def before(*_):
            clock["start"] = time.perf_counter()

        def after(*_):  # returns None, so the output is left alone
            clock["t"] += time.perf_counter() - clock["start"]
            clock["calls"] += 1

        net.register_forward_pre_hook(before)
        net.register_forward_hook(after)
        out = os.path.join(tmp, f"samples{repeat}.h5")
        load0, start = _load(), time.perf_counter()
        summary = run(cfg, out, source=source)
        wall = time.perf_counter() - start
        rows.append({"seconds": wall, "network_seconds": clock["t"], "network_fraction": clock["t"] / wall,
                     "forward_calls": clock["calls"], "nfe": summary["nfe"], "load": (load0 + _load()) / 2})
    # the whole command, start-up included, right after
    start = time.perf_counter()
    subprocess.run(["sictl", "sample", "--model", run_dir, "--solver", "rk4-38", "--steps", "19", "--n", str(n),
                    "--seed", "1", "--device", "cpu", "-o", os.path.join(tmp, "cli.h5"), "--quiet"], check=True, env=env)
    command = time.perf_counter() - start
    best = min(rows, key=lambda r: r["seconds"])
    return {"n": n, "solver": "rk4-38", "steps": 19, "threads": threads, "runs": rows,
            "seconds": best["seconds"], "network_fraction": best["network_fraction"],
            "network_fraction_all": [r["network_fraction"] for r in rows], "command_seconds": command,
            "network_fraction_of_command": best["network_seconds"] / command}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="tiny,small,medium")
    parser.add_argument("--shapes", default="1d,2d")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per configuration (at least 3 steps)")
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--dataset-n", type=int, default=2048, help="samples in each benchmark dataset")
    parser.add_argument("--sample-n", type=int, default=512, help="samples drawn in the sampling measurement")
    parser.add_argument("--no-sampling", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("DATA", "PRESET"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # child process: one configuration
        print(json.dumps(measure_one(args.one[0], args.one[1], args.batch, args.seconds, args.max_steps, args.threads)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            dim, n = SHAPES[shape]
            data = os.path.join(tmp, f"grf_{shape}.h5")
            make_data(data, dim, n, args.dataset_n)
            for preset in args.presets.split(","):
                out = subprocess.run([sys.executable, __file__, "--one", data, preset, "--batch", str(args.batch),
                                      "--seconds", str(args.seconds), "--max-steps", str(args.max_steps),
                                      "--threads", str(args.threads)], check=True, capture_output=True, text=True)
                row = {"shape": shape, **json.loads(out.stdout.strip().splitlines()[-1])}
                rows.append(row)
                print(f"{shape} {preset:<6} {row['steps_per_s']:7.2f} steps/s  data {100 * row['data_fraction']:.2f} %",
                      file=sys.stderr)
        sampling = None if args.no_sampling else measure_sampling(tmp, args.sample_n, args.threads)

    print(f"{'shape':<6}{'preset':<8}{'params':>10}{'batch':>6}{'steps/s':>9}{'samples/s':>10}{'data %':>8}"
          f"{'draws %':>8}{'peak RSS MiB':>13}{'load':>6}")
    for r in rows:
        print(f"{r['shape']:<6}{r['preset']:<8}{r['parameters']:>10,}{r['batch']:>6}{r['steps_per_s']:>9.2f}"
              f"{r['samples_per_s']:>10.0f}{100 * r['data_fraction']:>8.2f}{100 * r['draws_fraction']:>8.2f}"
              f"{r['peak_rss_mib']:>13.0f}{r['load']:>6.1f}")
    if sampling:
        print(f"sample --model (small 1-D, n = {sampling['n']}, rk4-38, 19 steps): {sampling['seconds']:.2f} s in process, "
              f"network {100 * sampling['network_fraction']:.1f} % (runs: "
              + ", ".join(f"{100 * f:.1f}" for f in sampling["network_fraction_all"])
              + f"); whole command {sampling['command_seconds']:.2f} s, network "
              f"{100 * sampling['network_fraction_of_command']:.1f} % of it")
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    path = os.path.join(os.path.dirname(__file__), "results", "train_throughput.json")
    import torch

    with open(path, "w") as fh:
        json.dump({"rows": rows, "sampling": sampling, "args": vars(args), "torch": torch.__version__,
                   "machine": platform.machine(), "cpus": os.cpu_count(),
                   "when": time.strftime("%Y-%m-%dT%H:%M:%S")}, fh, indent=1)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
