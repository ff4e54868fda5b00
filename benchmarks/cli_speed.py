"""Wall time of the commands whose speed the issues promise, each run as a user runs it (a new process).

Targets (this machine: 2 CPU cores):
- `sictl --help` is fast (no torch import);
- `sictl gaussian-check --matern 128 --schedules linear,designed --solvers rk4-38 --steps 19 --json` < 10 s;
- `sictl design-schedule --matern 128 --lipschitz -o s.h5 --json` < 5 s;
- `sictl design-schedule --gmm 20 -o s.h5 --json` < 5 s.

A second table runs `sictl sample` (exact Matérn drift at N = 128, 1024 samples in batches of 256, rk4-38,
19 steps) and `sictl prepare gaussian-field` with the heap setting that `sictl` applies to itself
(sictl/cli/runtime.py) and with `SICTL_MALLOC=system` (the C library's defaults), interleaved, and
reports the ratio of the medians.

Each command runs `--repeat` times (default 3) and the median is reported, next to the time of a bare
`python -c "import torch"` measured in the same run, so that start-up cost and the command's own work can
be told apart. Prints a table and writes JSON to benchmarks/results/cli_speed.json.

    python benchmarks/cli_speed.py [--repeat 3] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

SICTL = [sys.executable, "-m", "sictl"]


def cases(tmp: str) -> list[tuple[str, list[str], float | None]]:
    """(label, argv, target seconds or None for a reference timing)."""
    return [
        ("python -c 'import torch'", [sys.executable, "-c", "import torch"], None),
        ("sictl --help", SICTL + ["--help"], 1.0),
        ("gaussian-check --matern 128 (rk4-38, 19 steps)",
         SICTL + ["gaussian-check", "--matern", "128", "--schedules", "linear,designed", "--solvers", "rk4-38",
                  "--steps", "19", "--json"], 10.0),
        ("design-schedule --matern 128 --lipschitz",
         SICTL + ["design-schedule", "--matern", "128", "--lipschitz", "-o", os.path.join(tmp, "m.h5"), "--json"],
         5.0),
        ("design-schedule --gmm 20",
         SICTL + ["design-schedule", "--gmm", "20", "-o", os.path.join(tmp, "g.h5"), "--json"], 5.0),
    ]


def malloc_cases(tmp: str) -> list[tuple[str, list[str]]]:
    """(label, argv) of the commands timed with and without the kept heap; the dataset is made first."""
    data = os.path.join(tmp, "grf128.h5")
    subprocess.run(SICTL + ["prepare", "gaussian-field", "--res", "128", "--dim", "2", "--n", "16", "--seed", "0",
                            "-o", data, "--quiet"], check=True)
    return [
        ("sample --exact N=128, 1024 samples, rk4-38 19 steps",
         SICTL + ["sample", "--exact", data, "--schedule", "linear", "--solver", "rk4-38", "--steps", "19",
                  "--n", "1024", "--batch-size", "256", "-o", os.path.join(tmp, "s.h5"), "--quiet"]),
        ("prepare gaussian-field N=128, 2048 fields",
         SICTL + ["prepare", "gaussian-field", "--res", "128", "--dim", "2", "--n", "2048", "--seed", "0",
                  "-o", os.path.join(tmp, "p.h5"), "--quiet"]),
    ]


def malloc_rows(tmp: str, repeat: int) -> list[dict]:
    rows = []
    for label, argv in malloc_cases(tmp):
        times: dict[str, list[float]] = {"kept": [], "system": []}
        for _ in range(repeat):
            for mode in times:  # interleaved, so that drifting machine load hits both alike
                times[mode].append(time_once(argv, {"SICTL_MALLOC": "system"} if mode == "system" else None))
        kept, system = statistics.median(times["kept"]), statistics.median(times["system"])
        rows.append({"command": label, "kept_s": kept, "system_s": system, "speedup": system / kept, "runs": times})
    return rows


def time_once(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=None if env is None else {**os.environ, **env})
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "cli_speed.json"))
    args = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, argv, target in cases(tmp):
            times = [time_once(argv) for _ in range(args.repeat)]
            med = statistics.median(times)
            rows.append({"command": label, "median_s": med, "min_s": min(times), "runs": times,
                         "target_s": target, "ok": None if target is None else med < target})
        heap = malloc_rows(tmp, args.repeat)
    import_torch = rows[0]["median_s"]
    print(f"{'command':50s} {'median s':>9s} {'min s':>7s} {'− torch':>8s} {'target':>7s}  ok")
    for r in rows:
        target = "" if r["target_s"] is None else f"{r['target_s']:.0f} s"
        ok = "" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        print(f"{r['command']:50s} {r['median_s']:9.2f} {r['min_s']:7.2f} {r['median_s'] - import_torch:8.2f} "
              f"{target:>7s}  {ok}")
    print(f"\n{'command (heap kept vs SICTL_MALLOC=system)':50s} {'kept s':>9s} {'system s':>9s} {'speed-up':>9s}")
    for r in heap:
        print(f"{r['command']:50s} {r['kept_s']:9.2f} {r['system_s']:9.2f} {r['speedup']:8.2f}x")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"machine_cpus": os.cpu_count(), "rows": rows, "malloc": heap}, fh, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
