#!/usr/bin/env bash
# Publishes the hart-mnist models trained by experiments/hart-train.sh: a half-precision copy of
# each runs/hart/mnist-multi-same/<Name>/last (weights and card, without the training state) as
# checkpoints/hart/mnist-multi-same/<Name>/last, the files experiments/hart-mnist.yaml reads, with
# its test-set scores (500 sequences of 60 frames) in the card.
set -euo pipefail
for name in HART App-Att Spatial-Att RATM; do
  target=checkpoints/hart/mnist-multi-same/$name/last
  trackbench publish "runs/hart/mnist-multi-same/$name/last" "$target" --dtype float16
  trackbench card hart "$target" --evaluate --frames 60 > /dev/null
done
