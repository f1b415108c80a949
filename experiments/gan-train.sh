#!/usr/bin/env bash
# Trains Gan et al.'s four neural trackers on one training set, round-robin in equal slices of
# iterations, so that stopping at any round leaves the four models with the same budget. Every
# call resumes where the last one stopped (runs/gan-train/<set>/<Model>: full-precision weights and
# training state, kept locally); experiments/gan-publish.sh stores the published half-precision
# copies under checkpoints/gan/. One core per training set: OMP_NUM_THREADS=1, e.g.
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 0 experiments/gan-train.sh mnist-single-same 5 250 &
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 1 experiments/gan-train.sh mnist-multi-same 5 250 &
set -euo pipefail
dataset=${1:?training set: mnist-single-same or mnist-multi-same}
rounds=${2:?number of rounds}
step=${3:?iterations per model and round}
export OMP_NUM_THREADS=1
declare -A methods=(
  [ConvTracker]=convtracker [RecTracker-ID]=rectracker-id
  [RecTracker-Att-1]=rectracker-att-1 [RecTracker-Att-3]=rectracker-att-3
)
for round in $(seq 1 "$rounds"); do
  for model in ConvTracker RecTracker-ID RecTracker-Att-1 RecTracker-Att-3; do
    out=runs/gan-train/$dataset/$model
    trackbench train "${methods[$model]}" --dataset "$dataset" --out "$out" --resume \
      --iterations $((round * step)) --checkpoint-every 50 --log-every 10 \
      --validate-every "$step" --validation-frames 2000 > "$out.log.json" 2>&1 \
      || { cat "$out.log.json" >&2; exit 1; }
    echo "$(date -u +%H:%M:%S) $dataset $model $((round * step))"
  done
done
