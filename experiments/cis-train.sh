#!/usr/bin/env bash
# Trains a cis model on the occluding Sprites-MOT (6 objects) as the released code trains
# (favyen/uns20 train.py): Visual-Spatial and row-softmax in two runs, the visual phase and then
# the spatial phase from the visual run's best-validated checkpoint (a fresh Adam); joint and
# Occlusion in one. Resumable: run it again after a stop. The training state
# stays outside the repository, in $TRACKBENCH_RUNS/cis/sprites-mot/<model> (default
# ~/.cache/trackbench/runs); publish with
#   trackbench publish <runs>/<model> checkpoints/cis/sprites-mot/<model>/last --best --dtype float16
# One core per model, from a checkout that does not change under it, e.g.
#   taskset -c 0 experiments/cis-train.sh Visual-Spatial 60000 60000 &
set -euo pipefail
model=${1:?model: Visual-Spatial, joint, Occlusion or row-softmax}
first=${2:?iterations of the (first) run}
second=${3:-$first}
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/cis/sprites-mot
export OMP_NUM_THREADS=1
common=(--dataset sprites-mot --param objects=6 --checkpoint-every 1000 --log-every 100
  --validate-every 2000 --resume)
case $model in
  joint | Occlusion)
    trackbench train "cis:$model" "${common[@]}" --out "$runs/$model" --iterations "$first"
    exit ;;
  Visual-Spatial) visual=$runs/visual ;;
  *) visual=$runs/$model-visual ;;
esac
trackbench train "cis:$model" "${common[@]}" --hparam phase=visual --out "$visual" \
  --iterations "$first"
best=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["iterations"])' \
  "$visual/best.json")
trackbench train "cis:$model" "${common[@]}" --hparam phase=spatial --init-from "$visual/best" \
  --out "$runs/$model" --iterations $((best + second))
