#!/usr/bin/env bash
# Unconditional generation of 2-D stochastic Navier–Stokes vorticity fields (arXiv 2509.01629): simulate
# trajectories (train/test split by trajectory, RMS-normalised) → design a schedule for white noise of pixel std
# σ0 = 10 (the authors' base) → train a U-Net with the linear schedule → sample with the same checkpoint: linear
# rk4-38 on 19 and 9 steps, and the designed schedule by transfer on 9 steps → evaluate the enstrophy spectra
# against the held-out trajectories. Prints the table on stdout and writes WORKDIR/summary.json
# ({"scale", "res", "data", "train", "runs": {name: {"relative_error_mean", "relative_error_max", "bands",
# "energy_relative_error_mean", "nfe", ...}}}) and WORKDIR/spectra.png.
#
# Usage: bash recipes/navier_stokes.sh [--scale cpu|paper|quick] [N] [workdir]     (N: stored grid per side)
#   cpu (default): N = 32 (simulated at 64², stored at 32²), 16 trajectories × 100 snapshots, a `small` U-Net,
#                  under 30 minutes on 2 CPU cores in all;
#   paper:         the authors' settings, for a GPU: 128² (simulated at 256²), a `medium` U-Net (≈ 2.06M
#                  parameters), batch 100, lr 1e-4 with cosine decay, 50 000 steps, t ~ U[0, 1], white noise of
#                  pixel std 10 on RMS-normalised data, sampling window [1e-3, 1 − 1e-3]. Simulating 200
#                  trajectories at 256² takes hours; with NS_IMPORT=data_file01.pt the authors' own file
#                  (Zenodo 10939479) is imported instead;
#   quick, or SICTL_RECIPE_SCALE=quick: 16², a tiny network, seconds (the test suite).
# Both cpu and paper keep N from the scale unless N is given.
set -euo pipefail
SCALE=${SICTL_RECIPE_SCALE:-cpu}
if [ "${1:-}" = "--scale" ]; then SCALE=$2; shift 2; fi
if [ "${1:-}" = "--quick" ]; then SCALE=quick; shift; fi
DEVICE=cpu
case "$SCALE" in
  cpu)
    RES=${1:-32}; SIM=(--preset small --res 64); TRAJ=16; SNAP=100; BURN=50; SPLIT=0.875
    MODEL=small; STEPS=3000; BATCH=32; LR=2e-3; EMA=0.999; TMIN=1e-3; TMAX=0.999; NSAMP=400 ;;
  paper)
    RES=${1:-128}; SIM=(--preset paper); TRAJ=200; SNAP=100; BURN=50; SPLIT=0.9
    MODEL=medium; STEPS=50000; BATCH=100; LR=1e-4; EMA=0.999; TMIN=0; TMAX=1; NSAMP=1000; DEVICE=cuda ;;
  quick)
    RES=${1:-16}; SIM=(--res 32); TRAJ=4; SNAP=8; BURN=2; SPLIT=0.5
    MODEL=tiny; STEPS=10; BATCH=8; LR=1e-3; EMA=0.9; TMIN=1e-3; TMAX=0.999; NSAMP=16 ;;
  *) echo "Error: unknown scale '$SCALE' (cpu, paper or quick)" >&2; exit 2 ;;
esac
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"

if [ -n "${NS_IMPORT:-}" ]; then
    echo "== import $NS_IMPORT at ${RES}², RMS-normalised, split $SPLIT by trajectory" >&2
    sictl prepare import "$NS_IMPORT" --resolution "$RES" --normalize rms --split "$SPLIT" -o "$WORK/ns.h5" \
        --json > "$WORK/prepare.json"
else
    echo "== simulate $TRAJ trajectories × $SNAP snapshots, stored at ${RES}² ($SCALE scale)" >&2
    sictl prepare navier-stokes "${SIM[@]}" --resolution "$RES" --trajectories "$TRAJ" --snapshots "$SNAP" \
        --burn-in "$BURN" --normalize rms --split "$SPLIT" --seed 0 --device "$DEVICE" -o "$WORK/ns.h5" \
        --json > "$WORK/prepare.json"
fi

echo "== a schedule designed for white noise of pixel std 10 (the authors' σ0)" >&2
sictl design-schedule --data "$WORK/ns-train.h5" --base white:10 --t-min 1e-3 --t-max 0.999 -o "$WORK/designed.h5" \
    --json > "$WORK/design.json"

echo "== train a '$MODEL' U-Net: $STEPS steps of batch $BATCH, lr $LR (linear schedule, --base white:10)" >&2
sictl train "$WORK/ns-train.h5" -o "$WORK/run" --force --base white:10 --model "$MODEL" --steps "$STEPS" \
    --batch-size "$BATCH" --lr "$LR" --ema "$EMA" --t-min "$TMIN" --t-max "$TMAX" \
    --checkpoint-every "$(( STEPS < 1000 ? STEPS : 1000 ))" --device "$DEVICE" --seed 0 --quiet --json > "$WORK/train.json"

RUNS="linear-19 linear 19
linear-9 linear 9
designed-9 $WORK/designed.h5 9"
while read -r name schedule steps; do
    echo "== sample $NSAMP fields: $name (rk4-38 on [1e-3, 1 − 1e-3], EMA weights)" >&2
    sictl sample --model "$WORK/run" --schedule "$schedule" --solver rk4-38 --steps "$steps" --t-min 1e-3 \
        --t-max 0.999 --n "$NSAMP" --seed 1 --device "$DEVICE" -o "$WORK/samples_$name.h5" --quiet \
        --json > "$WORK/sample_$name.json"
    sictl evaluate "$WORK/samples_$name.h5" --reference "$WORK/ns-test.h5" --metrics spectrum,pdf,moments \
        --plot "$WORK/plots_$name" -o "$WORK/report_$name.h5" --quiet --json > "$WORK/evaluate_$name.json"
done <<< "$RUNS"

python3 - "$WORK" "$RES" "$SCALE" <<'EOF'
import json, sys
work, res, scale = sys.argv[1], int(sys.argv[2]), sys.argv[3]
load = lambda name: json.load(open(f"{work}/{name}.json"))
prep, design, train = load("prepare"), load("design"), load("train")
runs = {}
for name in ("linear-19", "linear-9", "designed-9"):
    sample, m = load(f"sample_{name}"), load(f"evaluate_{name}")["metrics"]
    s = m["spectrum"]
    runs[name] = {"schedule": sample["schedule"], "steps": sample["steps"], "nfe": sample["nfe"],
                  "transfer": sample["transfer"], "relative_error_mean": s["relative_error_mean"],
                  "relative_error_max": s["relative_error_max"], "bands": s["bands"],
                  "energy_relative_error_mean": (s.get("energy") or {}).get("relative_error_mean"),
                  "mc_relative_sd_mean": sum(s["mc_relative_sd"]) / len(s["mc_relative_sd"]),
                  "wasserstein1_relative": m["pdf"]["wasserstein1_relative"], "wall_time_s": sample["wall_time_s"]}
tr = {"preset": train["model_preset"], "parameters": train["parameters"], "steps": train["steps"],
      "batch_size": train["config"]["batch_size"], "lr": train["config"]["lr"], "wall_time_s": train["wall_time_s"],
      "steps_per_s": train["steps"] / train["wall_time_s"], "final_ema_loss": train["final_ema_loss"]}
summary = {"scale": scale, "res": res,
           "data": {"train": prep["outputs"][0]["n_samples"], "test": prep["outputs"][1]["n_samples"],
                    "prepare_wall_time_s": prep.get("wall_time_s"), "ratio_min": design["target"]["ratio_min"]},
           "train": tr, "runs": runs}
with open(f"{work}/summary.json", "w") as fh:
    json.dump(summary, fh, indent=1)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ref = load("evaluate_linear-19")["metrics"]["spectrum"]
    ax.loglog(ref["k"], ref["reference"], "k-", lw=2, label="held-out reference")
    for name, r in runs.items():
        s = load(f"evaluate_{name}")["metrics"]["spectrum"]
        ax.loglog(s["k"], s["spectrum"], "--", label=f"{name} ({r['nfe']} NFE): {r['relative_error_mean']:.3f}")
    ax.set_xlabel("wavenumber |k|")
    ax.set_ylabel("enstrophy spectrum")
    ax.set_title(f"Navier–Stokes {res}²: one checkpoint, three samplers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{work}/spectra.png", dpi=120)
except ImportError:
    print("(matplotlib is not installed: no spectra.png)", file=sys.stderr)
print(f"data: {summary['data']['train']} train / {summary['data']['test']} held-out fields at {res}²; training: "
      f"{tr['preset']} U-Net, {tr['parameters']} parameters, {tr['steps']} steps of batch {tr['batch_size']} in "
      f"{tr['wall_time_s']:.0f} s ({tr['steps_per_s']:.2f} steps/s)")
print(f"{'run':<11} {'NFE':>4} {'mean rel. err':>13} {'max':>8} {'low':>7} {'mid':>7} {'high':>7} {'energy':>7} {'W1/std':>7}")
for name, r in runs.items():
    b, e = r["bands"], r["energy_relative_error_mean"]
    print(f"{name:<11} {r['nfe']:>4} {r['relative_error_mean']:>13.4f} {r['relative_error_max']:>8.3f} {b['low']:>7.3f} "
          f"{b['mid']:>7.3f} {b['high']:>7.3f} {e if e is None else round(e, 3)!s:>7} {r['wasserstein1_relative']:>7.3f}")
EOF
echo "files in $WORK (summary.json: the table as JSON; spectra.png: the spectra)" >&2
