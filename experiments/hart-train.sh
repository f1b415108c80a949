#!/usr/bin/env bash
# Trains the hart-mnist board's models (HART, App Att, Spatial Att, RATM) on generated
# MNIST-Multi-Same sequences, round-robin in equal slices of iterations, so that stopping at any
# round leaves the models named with the same budget. Every call resumes where the last one
# stopped; a file STOP in the runs folder ends a call before its next round. The training state (full-precision weights, optimiser, stream and curriculum, the
# best-validated checkpoint) stays outside the repository, in
# $TRACKBENCH_RUNS/hart/mnist-multi-same/<Name> (default ~/.cache/trackbench/runs), validated on
# 2,000 frames of the val split after every round; experiments/hart-publish.sh publishes each
# model's best-validated checkpoint in half precision. One core per call, e.g.
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 0 experiments/hart-train.sh 32 250 HART RATM &
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 1 experiments/hart-train.sh 32 250 App-Att Spatial-Att &
# The hyper-parameters are the paper's KTH ones (§5.1: lr 3.33e-5) with the released code's
# optimiser and IoU-gated curriculum (trackers.hart.train).
set -euo pipefail
rounds=${1:?number of rounds}
step=${2:?iterations per model and round}
shift 2
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(HART App-Att Spatial-Att RATM)
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/hart/mnist-multi-same
export OMP_NUM_THREADS=1
declare -A methods=([HART]=hart [App-Att]=hart:app-att [Spatial-Att]=hart:spatial-att [RATM]=ratm)
for round in $(seq 1 "$rounds"); do
  [ -e "$runs/STOP" ] && { echo "$runs/STOP: stopped before round $round"; break; }
  for name in "${names[@]}"; do
    out=$runs/$name
    mkdir -p "$out"
    done_=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["iterations"])' \
      "$out/last.json" 2>/dev/null || echo 0)
    [ "$done_" -lt $((round * step)) ] || continue  # this round's slice is done already
    trackbench train "${methods[$name]}" --out "$out" --resume \
      --iterations $((round * step)) --checkpoint-every 50 --log-every 25 \
      --validate-every "$step" --validation-frames 2000 > "$out.log.json" 2>&1 \
      || { cat "$out.log.json" >&2; exit 1; }
    echo "$(date -u +%H:%M:%S) $name $((round * step))"
  done
done
