#!/usr/bin/env bash
# Trains Gan et al.'s neural trackers on one training set, round-robin in equal slices of
# iterations, so that stopping at any round leaves the models of a table with the same budget.
# Every call resumes where the last one stopped; a file STOP in the runs folder ends a call
# before its next round (so the models keep equal budgets). The training state (full-precision weights,
# optimiser, stream, best-validated checkpoint) stays outside the repository, in
# $TRACKBENCH_RUNS/gan-train/<set>/<Model> (default ~/.cache/trackbench/runs);
# experiments/gan-publish.sh publishes each model's best-validated checkpoint under
# checkpoints/gan/. One core per training set: OMP_NUM_THREADS=1, e.g.
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 0 experiments/gan-train.sh mnist-single-same 50 250 &
# The models default to the four of Tables 1-4; name others after the step, e.g.
#   ... experiments/gan-train.sh mnist-multi-same 50 250 RecTracker-ID RecTracker-Att-1
set -euo pipefail
dataset=${1:?training set: mnist-single-same or mnist-multi-same}
rounds=${2:?number of rounds}
step=${3:?iterations per model and round}
shift 3
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(ConvTracker RecTracker-ID RecTracker-Att-1 RecTracker-Att-3)
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/gan-train/$dataset
export OMP_NUM_THREADS=1
for round in $(seq 1 "$rounds"); do
  [ -e "$runs/STOP" ] && { echo "$runs/STOP: stopped before round $round"; break; }
  for model in "${models[@]}"; do
    out=$runs/$model
    mkdir -p "$out"
    done_=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["iterations"])' \
      "$out/last.json" 2>/dev/null || echo 0)
    [ "$done_" -lt $((round * step)) ] || continue  # this round's slice is done already
    trackbench train "${model,,}" --dataset "$dataset" --out "$out" --resume \
      --iterations $((round * step)) --checkpoint-every 50 --log-every 10 \
      --validate-every "$step" --validation-frames 2000 > "$out.log.json" 2>&1 \
      || { cat "$out.log.json" >&2; exit 1; }
    echo "$(date -u +%H:%M:%S) $dataset $model $((round * step))"
  done
done
