#!/usr/bin/env bash
# Trains Gan et al.'s neural trackers on one training set, round-robin in equal slices of
# iterations (experiments/round-robin.sh: resumable, a file STOP in the runs folder ends a call
# before its next round, a new machine starts from the published weights). The training state
# (full-precision weights, optimiser, stream, best-validated checkpoint) stays outside the
# repository, in $TRACKBENCH_RUNS/gan-train/<set>/<Model> (default ~/.cache/trackbench/runs);
# experiments/gan-publish.sh publishes each model's best-validated checkpoint under
# checkpoints/gan/<set>/. One core per training set: OMP_NUM_THREADS=1, e.g.
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 0 experiments/gan-train.sh mnist-single-same 50 250 &
# The models default to the four of Tables 1-4; name others after the step, e.g.
#   ... experiments/gan-train.sh mnist-multi-same 50 250 RecTracker-ID RecTracker-Att-1
# PUBLISHED= (empty) starts models with no training state from scratch.
set -euo pipefail
dataset=${1:?training set: mnist-single-same or mnist-multi-same}
rounds=${2:?number of rounds}
step=${3:?iterations per model and round}
shift 3
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(ConvTracker RecTracker-ID RecTracker-Att-1 RecTracker-Att-3)
source "$(dirname "$0")/round-robin.sh"
train_round_robin "${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/gan-train/$dataset" \
  "${PUBLISHED-checkpoints/gan/$dataset}" "$rounds" "$step" \
  $(for name in "${names[@]}"; do echo "$name=${name,,}"; done) \
  -- --dataset "$dataset" --checkpoint-every 50 --log-every 10 --validation-frames 2000
