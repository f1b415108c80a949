#!/usr/bin/env bash
# Trains the hart-mnist board's models (HART, App Att, Spatial Att, RATM) on generated
# MNIST-Multi-Same sequences, round-robin in equal slices of iterations, so that stopping at any
# round leaves the models named with the same budget. Every call resumes where the last one
# stopped (runs/hart/mnist-multi-same/<Name>: full-precision weights and training state, kept
# locally; each round's checkpoint is also kept under <Name>/rounds/<iterations>, validated on
# 2,000 frames of the val split); experiments/hart-publish.sh publishes, of each model, the round
# with the best validation IoU, in half precision. One core per
# call, e.g. two calls side by side, each with two of the models:
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 0 experiments/hart-train.sh 8 250 HART RATM &
#   TRACKBENCH_MNIST=/path/to/mnist taskset -c 1 experiments/hart-train.sh 8 250 App-Att Spatial-Att &
# The hyper-parameters are the paper's KTH ones (§5.1, trackers.hart.train) except lr 1e-4
# (paper: 3.33e-5; it learnt faster in a 300-iteration CPU trial) and epochs of 10,000 frames
# (length 5 for 2,600 iterations, then 6 for 2,167, ...), which the paper does not give.
set -euo pipefail
rounds=${1:?number of rounds}
step=${2:?iterations per model and round}
shift 2
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(HART App-Att Spatial-Att RATM)
export OMP_NUM_THREADS=1
declare -A methods=([HART]=hart [App-Att]=hart:app-att [Spatial-Att]=hart:spatial-att [RATM]=ratm)
for round in $(seq 1 "$rounds"); do
  for name in "${names[@]}"; do
    out=runs/hart/mnist-multi-same/$name
    mkdir -p "$out"
    trackbench train "${methods[$name]}" --out "$out" --resume \
      --iterations $((round * step)) --checkpoint-every 50 --log-every 25 \
      --validate-every "$step" --validation-frames 2000 --hparam lr=1e-4 \
      --hparam epoch_frames=10000 > "$out.log.json" 2>&1 \
      || { cat "$out.log.json" >&2; exit 1; }
    mkdir -p "$out/rounds/$((round * step))"
    cp "$out/last.pt" "$out/last.json" "$out/rounds/$((round * step))/"
    echo "$(date -u +%H:%M:%S) $name $((round * step))"
  done
done
