#!/usr/bin/env bash
# Trains the hart-mnist board's models (HART, App Att, Spatial Att, RATM) on generated
# MNIST-Multi-Same sequences, round-robin in equal slices of iterations
# (experiments/round-robin.sh: resumable, a file STOP in the runs folder ends a call before its
# next round, a new machine starts from the published weights). The training state (full-precision
# weights, optimiser, stream and curriculum, the best-validated checkpoint) stays outside the
# repository, in $TRACKBENCH_RUNS/hart/mnist-multi-same/<Name> (default ~/.cache/trackbench/runs),
# validated on 2,000 frames of the val split after every round; experiments/hart-publish.sh
# publishes each model's best-validated checkpoint in half precision. One core per call, e.g.
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 0 experiments/hart-train.sh 32 250 HART RATM &
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 1 experiments/hart-train.sh 32 250 App-Att Spatial-Att &
# The hyper-parameters are the paper's KTH ones (§5.1: lr 3.33e-5) with the released code's
# optimiser and IoU-gated curriculum (trackers.hart.train). PUBLISHED= (empty) starts models
# with no training state from scratch.
set -euo pipefail
rounds=${1:?number of rounds}
step=${2:?iterations per model and round}
shift 2
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(HART App-Att Spatial-Att RATM)
declare -A methods=([HART]=hart [App-Att]=hart:app-att [Spatial-Att]=hart:spatial-att [RATM]=ratm)
source "$(dirname "$0")/round-robin.sh"
train_round_robin "${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/hart/mnist-multi-same" \
  "${PUBLISHED-checkpoints/hart/mnist-multi-same}" "$rounds" "$step" \
  $(for name in "${names[@]}"; do echo "$name=${methods[$name]}"; done) \
  -- --checkpoint-every 50 --log-every 25 --validation-frames 2000
