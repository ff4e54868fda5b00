#!/usr/bin/env bash
# The exact laboratory in one minute: design a schedule for a Matérn field, then compare it with the
# linear schedule without sampling (and with sampling, to confirm), and do the same for a mixture.
# Usage: bash recipes/exact_laboratory.sh [N] [workdir]     (N: grid points per side, default 64)
set -euo pipefail
N=${1:-64}
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"

echo "== Matérn s=3 field on ${N}x${N}, white noise: design a schedule" >&2
sictl design-schedule --matern "$N" --lipschitz -o "$WORK/matern.h5" --export csv

echo "== exact spectral error of the generated samples, rk4-38, 9 and 19 steps" >&2
sictl gaussian-check --matern "$N" --schedules "linear,$WORK/matern.h5" --solvers rk4-38 --steps 9,19 \
    -o "$WORK/report.h5"

echo "== the same by Monte Carlo (500 fields), to confirm the exact numbers" >&2
sictl gaussian-check --matern "$N" --schedules "linear,$WORK/matern.h5" --solvers rk4-38 --steps 19 \
    --monte-carlo 500 --seed 1

echo "== two-mode mixture M=100, p=0.3: few-step mode collapse and its cure" >&2
sictl design-schedule --gmm 100,0.3 -o "$WORK/gmm.h5" --quiet
sictl gaussian-check --gmm 100,0.3 --schedules "linear,$WORK/gmm.h5" --solvers rk4-38 --steps 2,4,10 \
    --t-min 1e-3 --t-max 0.999

echo "files in $WORK" >&2
