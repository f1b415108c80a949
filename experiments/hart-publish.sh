#!/usr/bin/env bash
# Publishes the hart-mnist models trained by experiments/hart-train.sh: of each model, the
# checkpoint with the best validation IoU (early stopping on the val split: MNIST train digits, its
# own seed; the test split's digits are MNIST test digits), as a half-precision copy (weights and
# card, no training state) under checkpoints/hart/mnist-multi-same/<Name>/last, the files
# experiments/hart-mnist.yaml reads. The card records the choice (`selected`) and its test-set
# scores (500 sequences of 60 frames).
#   TRACKBENCH_MNIST=/path/to/mnist experiments/hart-publish.sh [NAME ...]   (default: all four)
# HART_PUBLISHED=campaign publishes under checkpoints/hart/mnist-multi-same/campaign/ instead: a
# run in progress, which the next machine resumes (experiments/round-robin.sh), not yet the
# board's.
set -euo pipefail
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(HART App-Att Spatial-Att RATM)
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/hart/mnist-multi-same
for name in "${names[@]}"; do
  target=checkpoints/hart/mnist-multi-same/${HART_PUBLISHED:+$HART_PUBLISHED/}$name/last
  trackbench publish "$runs/$name" "$target" --best --dtype float16
  # one sequence per forward, as experiments/hart-mnist.yaml runs them (a trained HART amplifies
  # the rounding differences of batched convolutions)
  trackbench card hart "$target" --evaluate --frames 60 --setting batch=1 > /dev/null
done
