#!/usr/bin/env bash
# Probabilistic forecasting of 2-D stochastic Navier–Stokes vorticity (arXiv 2403.13724, arXiv 2602.10989):
# simulate trajectories with forecasting pairs at lag L snapshots (train/test split by trajectory, RMS-normalised)
# → train a U-Net on the pairs with the zero point source (learn the increment; the current state is an input
# channel), β = t² (schedule beta-t2), σ = 1 − t → forecast held-out conditions with an ensemble per condition and
# a short autoregressive rollout (lead 1 is the one-lag forecast; each member follows its own trajectory), with em
# at g = σ (the trained diffusion) and at g = g_F (the Föllmer coefficient, retuned after training), equal steps →
# score both against the held-out truth per lead (fair CRPS, ensemble-mean RMSE, spread, spread–skill ratio, energy
# and enstrophy spectra, KL of total energy and enstrophy). Prints the table on stdout and writes
# WORKDIR/summary.json ({"scale", "res", "lag", "data", "train", "runs": {"sigma" | "follmer": {"diffusion", "steps",
# "nfe_per_lead", "members", "conditions", "lead", "crps", "rmse", "spread", "spread_skill", "spread_skill_se",
# "enstrophy_spectrum_error", "energy_spectrum_error", "kl_enstrophy", "kl_energy", "wall_time_s"}},
# "comparison": {"equal_nfe", "crps_lead1_sigma", "crps_lead1_follmer", "follmer_below_sigma", ...}}).
#
# Usage: bash recipes/ns_forecast.sh [--scale cpu|paper|quick] [N] [workdir]     (N: stored grid per side)
#   cpu (default): N = 32 (simulated at 64², dt 2e-3), 24 trajectories × 100 snapshots every 0.5 after a burn-in
#                  of 50, lag 2 snapshots (τ = 1, as in the paper's g_F comparison), 18 train / 6 held-out
#                  trajectories (1 764 training pairs); a `small` U-Net (≈ 0.24M parameters), 2 500 steps of
#                  batch 32; 24 held-out conditions × 16 members × 3 leads, em 50 steps for g = σ and g = g_F.
#                  Estimated from measured per-step costs on one busy core (simulation 3.6 ms per solver step for
#                  8 trajectories at 64², training 0.41 s per step, forecasting 3.5 ms per member and drift
#                  evaluation, about 4 s to start each command): ≈ 9 min simulating, ≈ 17 min training, ≈ 7 min
#                  forecasting, ≈ 34 minutes in all on 2 CPU cores; measured: 20 minutes on one thread beside
#                  another recipe (docs/train.md has the table);
#   paper:         the paper's settings, for a GPU (arXiv 2403.13724 §4.2, App. B.2): 128² (simulated at 256²),
#                  200 trajectories × 100 snapshots after a burn-in of 50, lag 2 snapshots (τ = 1), a `medium`
#                  U-Net (≈ 2.06M parameters), batch 100, lr 1e-3, 50 000 steps; 50 held-out conditions × 300
#                  members × 10 leads, em 200 steps for σ and g_F. Simulating 200 trajectories at 256² takes
#                  hours; with NS_IMPORT=data_file01.pt the authors' own file (Zenodo 10939479) is imported instead;
#   quick, or SICTL_RECIPE_SCALE=quick: 16², a tiny network, seconds (the test suite).
set -euo pipefail
SCALE=${SICTL_RECIPE_SCALE:-cpu}
if [ "${1:-}" = "--scale" ]; then SCALE=$2; shift 2; fi
if [ "${1:-}" = "--quick" ]; then SCALE=quick; shift; fi
DEVICE=cpu
case "$SCALE" in
  cpu)
    RES=${1:-32}; SIM=(--preset small --res 64); TRAJ=24; SNAP=100; BURN=50; SPLIT=0.75; LAG=2
    MODEL=small; STEPS=2500; BATCH=32; LR=2e-3; EMA=0.999
    NCOND=24; MEMBERS=16; EMSTEPS=50; LEADS=3 ;;
  paper)
    RES=${1:-128}; SIM=(--preset paper); TRAJ=200; SNAP=100; BURN=50; SPLIT=0.9; LAG=2
    MODEL=medium; STEPS=50000; BATCH=100; LR=1e-3; EMA=0.999
    NCOND=50; MEMBERS=300; EMSTEPS=200; LEADS=10; DEVICE=cuda ;;
  quick)
    RES=${1:-16}; SIM=(--res 32); TRAJ=4; SNAP=8; BURN=2; SPLIT=0.5; LAG=1
    MODEL=tiny; STEPS=10; BATCH=8; LR=1e-3; EMA=0.9
    NCOND=4; MEMBERS=4; EMSTEPS=5; LEADS=2 ;;
  *) echo "Error: unknown scale '$SCALE' (cpu, paper or quick)" >&2; exit 2 ;;
esac
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"

if [ -n "${NS_IMPORT:-}" ]; then
    echo "== import $NS_IMPORT at ${RES}², RMS-normalised, pairs at lag $LAG, split $SPLIT by trajectory" >&2
    sictl prepare import "$NS_IMPORT" --resolution "$RES" --normalize rms --lag "$LAG" --split "$SPLIT" \
        -o "$WORK/ns.h5" --json > "$WORK/prepare.json"
else
    echo "== simulate $TRAJ trajectories × $SNAP snapshots, stored at ${RES}², pairs at lag $LAG ($SCALE scale)" >&2
    sictl prepare navier-stokes "${SIM[@]}" --resolution "$RES" --trajectories "$TRAJ" --snapshots "$SNAP" \
        --burn-in "$BURN" --normalize rms --lag "$LAG" --split "$SPLIT" --seed 0 --device "$DEVICE" \
        -o "$WORK/ns.h5" --json > "$WORK/prepare.json"
fi

echo "== held-out conditions and their truth: $NCOND conditions × $LEADS leads of lag $LAG" >&2
python3 - "$WORK" "$LAG" "$NCOND" "$LEADS" <<'PY'
import sys
import h5py
import numpy as np
work, lag, ncond, leads = sys.argv[1], *map(int, sys.argv[2:])
with h5py.File(f"{work}/ns-test.h5", "r") as f:
    name = f["t0_fields"].attrs["field_names"][0]
    name = name.decode() if isinstance(name, bytes) else str(name)
    fields = f[f"t0_fields/{name}"][()] * float(f["normalization"].attrs["constant"])  # data units
b, t = fields.shape[:2]
if t <= leads * lag:
    sys.exit(f"Error: {t} snapshots per trajectory cannot hold {leads} leads of lag {lag}")
# (trajectory, start) pairs from which every lead of the rollout is in the data, spread evenly
starts = [(i, s) for s in range(t - leads * lag) for i in range(b)]
pick = np.linspace(0, len(starts) - 1, min(ncond, len(starts))).round().astype(int)
chosen = [starts[j] for j in pick]
np.save(f"{work}/conditions.npy", np.stack([fields[i, s] for i, s in chosen]).astype(np.float32))
np.save(f"{work}/truth.npy", np.stack([[fields[i, s + k * lag] for k in range(1, leads + 1)]
                                       for i, s in chosen]).astype(np.float32))
PY
sictl prepare import "$WORK/conditions.npy" --layout "sample x y" -o "$WORK/conditions.h5" --quiet

echo "== train a '$MODEL' U-Net on the pairs: zero point source, β = t², σ = 1 − t; $STEPS steps of batch $BATCH" >&2
sictl train "$WORK/ns-train.h5" -o "$WORK/run" --force --point-source zero --schedule beta-t2 --sigma-scale 1 \
    --model "$MODEL" --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --ema "$EMA" \
    --checkpoint-every "$(( STEPS < 1000 ? STEPS : 1000 ))" --device "$DEVICE" --seed 0 --quiet --json > "$WORK/train.json"

for name in sigma follmer; do
    echo "== forecast with g = $name: em $EMSTEPS steps, $MEMBERS members × $NCOND conditions × $LEADS leads" >&2
    sictl sample --model "$WORK/run" --condition "$WORK/conditions.h5" --members "$MEMBERS" --rollout "$LEADS" \
        --solver em --diffusion "$name" --steps "$EMSTEPS" --seed 1 --device "$DEVICE" \
        -o "$WORK/forecast_$name.h5" --quiet --json > "$WORK/sample_$name.json"
    sictl evaluate "$WORK/forecast_$name.h5" --truth "$WORK/truth.npy" --truth-layout "condition lead x y" \
        --vorticity -o "$WORK/report_$name.h5" --quiet --json > "$WORK/evaluate_$name.json"
done

python3 - "$WORK" "$RES" "$SCALE" "$LAG" <<'PY'
import json, sys
work, res, scale, lag = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
load = lambda name: json.load(open(f"{work}/{name}.json"))
prep, train = load("prepare"), load("train")
runs = {}
for name in ("sigma", "follmer"):
    s, m = load(f"sample_{name}"), load(f"evaluate_{name}")["metrics"]
    runs[name] = {"diffusion": s["diffusion"], "solver": s["solver"], "steps": s["steps"],
                  "nfe_per_lead": s["nfe_per_lead"], "members": s["members"], "conditions": s["conditions"],
                  "lead": list(range(1, s["rollout"] + 1)), "crps": m["crps"]["per_lead"], "rmse": m["rmse"]["per_lead"],
                  "spread": m["spread"]["per_lead"], "spread_skill": m["spread_skill"]["per_lead"],
                  "spread_skill_se": m["spread_skill"]["standard_error"],
                  "enstrophy_spectrum_error": m["spectra"]["enstrophy"]["relative_error_mean"],
                  "energy_spectrum_error": m["spectra"]["energy"]["relative_error_mean"],
                  "kl_enstrophy": m["kl"]["enstrophy"]["per_lead"], "kl_energy": m["kl"]["energy"]["per_lead"],
                  "wall_time_s": s["wall_time_s"]}
tr = {"preset": train["model_preset"], "parameters": train["parameters"], "steps": train["steps"],
      "batch_size": train["config"]["batch_size"], "lr": train["config"]["lr"], "wall_time_s": train["wall_time_s"],
      "steps_per_s": train["steps"] / train["wall_time_s"], "final_ema_loss": train["final_ema_loss"]}
crps_s, crps_f = runs["sigma"]["crps"][0], runs["follmer"]["crps"][0]
summary = {"scale": scale, "res": res, "lag": lag,
           "data": {"train_pairs": prep["outputs"][0]["n_pairs"], "test_pairs": prep["outputs"][1]["n_pairs"],
                    "prepare_wall_time_s": prep.get("wall_time_s")},
           "train": tr, "runs": runs,
           "comparison": {"equal_nfe": runs["sigma"]["nfe_per_lead"] == runs["follmer"]["nfe_per_lead"],
                          "crps_lead1_sigma": crps_s, "crps_lead1_follmer": crps_f,
                          "follmer_below_sigma": crps_f < crps_s,
                          "paper": "CRPS 0.232 (g_F) vs 0.237 (σ) at lag 1 (arXiv 2602.10989)"}}
with open(f"{work}/summary.json", "w") as fh:
    json.dump(summary, fh, indent=1)
print(f"data: {summary['data']['train_pairs']} training pairs / {summary['data']['test_pairs']} held-out at {res}², lag {lag}; "
      f"training: {tr['preset']} U-Net, {tr['parameters']} parameters, {tr['steps']} steps of batch {tr['batch_size']} "
      f"in {tr['wall_time_s']:.0f} s ({tr['steps_per_s']:.2f} steps/s)")
print(f"{'g':<8} {'lead':>4} {'NFE':>4} {'CRPS':>8} {'RMSE':>8} {'spread':>8} {'SSR':>13} {'enstr.spec':>10} "
      f"{'en.spec':>8} {'KL enstr':>8} {'KL energy':>9}")
for name, r in runs.items():
    for i, lead in enumerate(r["lead"]):
        ssr = f"{r['spread_skill'][i]:.3f}±{r['spread_skill_se'][i]:.3f}"
        print(f"{name:<8} {lead:>4} {r['nfe_per_lead']:>4} {r['crps'][i]:>8.4f} {r['rmse'][i]:>8.4f} {r['spread'][i]:>8.4f} "
              f"{ssr:>13} {r['enstrophy_spectrum_error'][i]:>10.3f} {r['energy_spectrum_error'][i]:>8.3f} "
              f"{r['kl_enstrophy'][i]:>8.3f} {r['kl_energy'][i]:>9.3f}")
c = summary["comparison"]
print(f"lead 1 at equal NFE: CRPS g_F {c['crps_lead1_follmer']:.4f} vs σ {c['crps_lead1_sigma']:.4f} "
      f"({'g_F lower, the ordering of the paper' if c['follmer_below_sigma'] else 'σ lower'})")
PY
echo "files in $WORK (summary.json: the table as JSON; forecast_*.h5 and report_*.h5 per run)" >&2
