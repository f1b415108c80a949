#!/usr/bin/env bash
# Gan et al.'s eight models (four networks x MNIST-Single-Same and MNIST-Multi-Same) trained at
# once on one GPU, one process each, GAN_WORKERS processes making each one's batches:
#   TRACKBENCH_MNIST=/path/to/mnist bash experiments/gan-gpu.sh
# Each call trains for GAN_MINUTES (8) of wall clock towards GAN_ITERATIONS (12500) iterations per
# model, so that repeated calls bring every model to the same budget; a rerun resumes. A run
# starts from the model's published checkpoint (checkpoints/gan/<set>/<Model>/last) with a fresh
# optimiser, as the cards then say (`initialised_from`), or from scratch when there is none. Every
# GAN_VALIDATE (500) iterations it is validated and its best checkpoint kept; then
#   GAN_RUNS=$TRACKBENCH_RUNS/gan-gpu TRACKBENCH_MNIST=... experiments/gan-publish.sh
# publishes them. The runs are in $TRACKBENCH_RUNS/gan-gpu (default ~/.cache/trackbench/runs).
# The last lines give each model's iterations and iterations/s (its card's last segment).
set -euo pipefail
: "${TRACKBENCH_MNIST:?set TRACKBENCH_MNIST to the MNIST IDX folder}"
export TRACKBENCH_MNIST
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/gan-gpu
pids=()
for set in mnist-single-same mnist-multi-same; do
  for model in ConvTracker RecTracker-ID RecTracker-Att-1 RecTracker-Att-3; do
    out=$runs/$set/$model
    published=checkpoints/gan/$set/$model/last
    start=()
    [ -f "$published.json" ] && start=(--init-from "$published")
    mkdir -p "$out"
    OMP_NUM_THREADS=1 trackbench train "${model,,}" --dataset "$set" --device "${GAN_DEVICE:-cuda}" \
      --out "$out" --resume "${start[@]}" --iterations "${GAN_ITERATIONS:-12500}" \
      --max-minutes "${GAN_MINUTES:-8}" --workers "${GAN_WORKERS:-2}" \
      --checkpoint-every 100 --log-every 50 --validate-every "${GAN_VALIDATE:-500}" \
      --validation-frames 2000 > "$out.log.json" 2>&1 &
    pids+=($!)
  done
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for log in "$runs"/*/*.log.json; do
  python - "$log" "${log%.log.json}/last.json" <<'PY'
import json, sys
card = json.load(open(sys.argv[2]))
segment = card["hardware"][-1]
print(f"{sys.argv[1]}: {card['iterations']} iterations, {segment['iterations_per_s']:.2f} it/s"
      f" on {segment['name']}")
PY
done
exit $status
