#!/usr/bin/env bash
# Publishes the Gan et al. models trained by experiments/gan-train.sh: a half-precision copy of
# each runs/gan-train/<set>/<Model>/last (weights and card, without the training state) as
# checkpoints/gan/<set>/<Model>/last, the files experiments/gan-2015.yaml reads.
set -euo pipefail
for set in mnist-single-same mnist-multi-same; do
  for model in ConvTracker RecTracker-ID RecTracker-Att-1 RecTracker-Att-3; do
    trackbench publish "runs/gan-train/$set/$model/last" "checkpoints/gan/$set/$model/last" \
      --dtype float16
  done
done
