#!/usr/bin/env bash
# A learned drift end to end on stochastic Allen–Cahn samples (arXiv 2509.01629): prepare N = 64 samples of the
# invariant measure (train/test split by chain) → design a schedule from the train part's stored spectrum →
# train a U-Net on CPU (linear schedule, white base with unit per-mode variance: the defaults) → sample with the
# same checkpoint: linear rk4-38 on 39 and on 9 steps, and the designed schedule by transfer on 9 steps (no
# retraining) → evaluate each against the held-out chains. Prints the table on stdout (mean relative spectral
# error per run, and whether the acceptance bounds hold at the full scale), writes WORKDIR/summary.json and
# WORKDIR/spectra.png (the three spectra against the reference; evaluate's own plots are in WORKDIR/plots_*).
#
# Usage: bash recipes/allen_cahn.sh [--quick] [N] [workdir]      (N: grid intervals, default 64)
#   full scale (default): ≈ 12 minutes of training on a CPU core (12.7 steps/s), ≈ 20 minutes in all (docs/train.md,
#                         "Allen–Cahn recipe", has the measured numbers);
#   --quick, or SICTL_RECIPE_SCALE=quick: a tiny network and a few hundred samples, seconds (the test suite).
# summary.json: {"n", "scale", "data": {...}, "train": {"steps", "batch_size", "wall_time_s", "steps_per_s",
#   "parameters", ...}, "runs": {"linear-39" | "linear-9" | "designed-9": {"schedule", "steps", "nfe",
#   "transfer", "relative_error_mean", "relative_error_max", "bands", "mc_relative_sd_mean",
#   "wasserstein1_relative", "wall_time_s", "bound", "passes"}}, "acceptance": {...}}
set -euo pipefail
SCALE=${SICTL_RECIPE_SCALE:-full}
if [ "${1:-}" = "--quick" ]; then SCALE=quick; shift; fi
N=${1:-64}
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"

case "$SCALE" in
  full)
    CHAINS=512; PER_CHAIN=64; BURN_IN=1000; SPLIT=0.75    # 24 576 train / 8192 held-out samples
    MODEL=small; STEPS=9000; BATCH=64; LR=8e-3; EMA=0.999  # ≈ 12 min on one core (docs/train.md)
    NSAMP=4096 ;;
  quick)
    CHAINS=16; PER_CHAIN=16; BURN_IN=100; SPLIT=0.75
    MODEL=tiny; STEPS=20; BATCH=16; LR=1e-3; EMA=0.9
    NSAMP=64 ;;
  *) echo "Error: unknown scale '$SCALE' (full or quick)" >&2; exit 2 ;;
esac

echo "== Allen–Cahn N = $N ($SCALE scale): $CHAINS chains × $PER_CHAIN samples, split $SPLIT by chain" >&2
sictl prepare allen-cahn --res "$N" --chains "$CHAINS" --samples-per-chain "$PER_CHAIN" --burn-in "$BURN_IN" --split "$SPLIT" \
    --seed 0 -o "$WORK/ac.h5" --json > "$WORK/prepare.json"

echo "== a schedule designed from the train part's spectrum (white base, unit variance per mode)" >&2
sictl design-schedule --data "$WORK/ac-train.h5" -o "$WORK/designed.h5" --json > "$WORK/design.json"

echo "== train a '$MODEL' U-Net: $STEPS steps of batch $BATCH, lr $LR, EMA $EMA (linear schedule, white base)" >&2
sictl train "$WORK/ac-train.h5" -o "$WORK/run" --force --model "$MODEL" --steps "$STEPS" --batch-size "$BATCH" \
    --lr "$LR" --ema "$EMA" --checkpoint-every "$STEPS" --device cpu --seed 0 --quiet --json > "$WORK/train.json"

# name  schedule  steps
RUNS="linear-39 linear 39
linear-9 linear 9
designed-9 $WORK/designed.h5 9"
while read -r name schedule steps; do
    echo "== sample $NSAMP fields: $name (rk4-38, EMA weights)" >&2
    sictl sample --model "$WORK/run" --schedule "$schedule" --solver rk4-38 --steps "$steps" --n "$NSAMP" \
        --seed 1 --device cpu -o "$WORK/samples_$name.h5" --quiet --json > "$WORK/sample_$name.json"
    sictl evaluate "$WORK/samples_$name.h5" --reference "$WORK/ac-test.h5" --metrics spectrum,pdf,moments \
        --plot "$WORK/plots_$name" -o "$WORK/report_$name.h5" --quiet --json > "$WORK/evaluate_$name.json"
done <<< "$RUNS"

python3 - "$WORK" "$N" "$SCALE" <<'EOF'
import json, sys
work, n, scale = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda name: json.load(open(f"{work}/{name}.json"))
prep, design, train = load("prepare"), load("design"), load("train")
bounds = {"linear-39": ("<=", 0.08), "linear-9": (">", 0.4), "designed-9": ("<=", 0.15)}
runs = {}
for name in bounds:
    sample, ev = load(f"sample_{name}"), load(f"evaluate_{name}")
    s, sd = ev["metrics"]["spectrum"], ev["metrics"]["spectrum"]["mc_relative_sd"]
    op, bound = bounds[name]
    err = s["relative_error_mean"]
    runs[name] = {"schedule": sample["schedule"], "steps": sample["steps"], "nfe": sample["nfe"],
                  "transfer": sample["transfer"], "relative_error_mean": err,
                  "relative_error_max": s["relative_error_max"], "bands": s["bands"],
                  "mc_relative_sd_mean": sum(sd) / len(sd),
                  "wasserstein1_relative": ev["metrics"]["pdf"]["wasserstein1_relative"],
                  "wall_time_s": sample["wall_time_s"], "bound": f"{op} {bound}",
                  "passes": err <= bound if op == "<=" else err > bound}
tr = {"preset": train["model_preset"], "parameters": train["parameters"], "steps": train["steps"],
      "batch_size": train["config"]["batch_size"], "lr": train["config"]["lr"], "ema": train["config"]["ema"],
      "wall_time_s": train["wall_time_s"], "steps_per_s": train["steps"] / train["wall_time_s"],
      "final_ema_loss": train["final_ema_loss"], "threads": __import__("os").environ.get("OMP_NUM_THREADS")}
summary = {"n": n, "scale": scale,
           "data": {"train": prep["outputs"][0]["n_samples"], "test": prep["outputs"][1]["n_samples"],
                    "ratio_min": design["target"]["ratio_min"]},
           "train": tr, "runs": runs,
           "acceptance": {"applies": scale == "full" and n == 64,
                          "passes": all(r["passes"] for r in runs.values())}}
with open(f"{work}/summary.json", "w") as fh:
    json.dump(summary, fh, indent=1)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ref = load("evaluate_linear-39")["metrics"]["spectrum"]
    ax.loglog(ref["k"], ref["reference"], "k-", lw=2, label="held-out reference")
    for name, r in runs.items():
        s = load(f"evaluate_{name}")["metrics"]["spectrum"]
        ax.loglog(s["k"], s["spectrum"], "--", label=f"{name} ({r['nfe']} NFE): {r['relative_error_mean']:.3f}")
    ax.set_xlabel("wavenumber k")
    ax.set_ylabel("E|û_k|²")
    ax.set_title(f"Allen–Cahn N = {n}: one checkpoint, three samplers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{work}/spectra.png", dpi=120)
except ImportError:
    print("(matplotlib is not installed: no spectra.png)", file=sys.stderr)
print(f"training: {tr['preset']} U-Net, {tr['parameters']} parameters, {tr['steps']} steps of batch {tr['batch_size']} "
      f"in {tr['wall_time_s']:.0f} s ({tr['steps_per_s']:.2f} steps/s), {summary['data']['train']} train samples")
print(f"{'run':<11} {'NFE':>4} {'mean rel. err':>13} {'max':>8} {'high band':>9} {'MC sd':>7} {'W1/std':>7} "
      f"{'bound':>7}  {'met' if summary['acceptance']['applies'] else ''}")
for name, r in runs.items():
    met = ("yes" if r["passes"] else "NO") if summary["acceptance"]["applies"] else ""
    print(f"{name:<11} {r['nfe']:>4} {r['relative_error_mean']:>13.4f} {r['relative_error_max']:>8.3f} "
          f"{r['bands']['high']:>9.3f} {r['mc_relative_sd_mean']:>7.3f} {r['wasserstein1_relative']:>7.3f} "
          f"{r['bound']:>7}  {met}")
EOF
echo "files in $WORK (summary.json: the table as JSON; spectra.png: the spectra)" >&2
