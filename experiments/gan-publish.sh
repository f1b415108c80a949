#!/usr/bin/env bash
# Publishes the Gan et al. models trained by experiments/gan-train.sh: a half-precision copy of each
# run's best-validated checkpoint ($TRACKBENCH_RUNS/gan-train/<set>/<Model>/best, weights and card;
# the card's `selected` says which iteration and how far the run went) as
# checkpoints/gan/<set>/<Model>/last, the files experiments/gan-2015.yaml reads, scored on the
# test split at length 20 (the card's `metrics`).
#   TRACKBENCH_MNIST=/path/to/mnist experiments/gan-publish.sh [SET ...]
# GAN_RUNS names another runs folder (experiments/gan-gpu.sh's: $TRACKBENCH_RUNS/gan-gpu);
# GAN_PUBLISHED=campaign publishes under checkpoints/gan/<set>/campaign/ instead: a run in
# progress, which the next machine resumes (experiments/round-robin.sh), not yet the board's.
set -euo pipefail
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(mnist-single-same mnist-multi-same)
runs=${GAN_RUNS:-${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/gan-train}
for set in "${sets[@]}"; do
  for run in "$runs/$set"/*/; do
    model=$(basename "$run")
    target=checkpoints/gan/$set/${GAN_PUBLISHED:+$GAN_PUBLISHED/}$model/last
    trackbench publish "$run" "$target" --best --dtype float16
    trackbench card "${model,,}" "$target" --evaluate > /dev/null
  done
done
