#!/usr/bin/env bash
# Trains the detector tier of utrack (outrack: the joint detector and embedder with OccE's heads,
# UTrack's re-ID loss; Tables 5-6) on the occluding Sprites-MOT (6 objects): the OccE model at
# tau 0.7 for ITERATIONS (the x0.1 step at two thirds, as the code's 20 of 30 epochs), then its
# OccE heads alone fine-tuned at tau 0.3, 0.5 and 0.9 for FINETUNE more iterations each
# (`--train_part occlusion`, from the tau-0.7 model's last weights). Resumable; a file STOP in the
# runs folder ends it before its next model. The training state stays outside the repository,
# in $TRACKBENCH_RUNS/outrack/sprites-mot/<model>; publish with
#   trackbench publish <runs>/<model>/last checkpoints/outrack/sprites-mot/<model>/last --dtype float16
# One core (OUTRACK_DEVICE: cpu; cuda on a GPU), from a checkout that does not change under it,
# e.g.   taskset -c 0 experiments/outrack-train.sh 6000 1000 &
set -euo pipefail
iterations=${1:?iterations of the OccE model}
finetune=${2:?iterations of each fine-tuning}
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/outrack/sprites-mot
export OMP_NUM_THREADS=1
common=(--dataset sprites-mot --param objects=6 --device "${OUTRACK_DEVICE:-cpu}" --resume
  --checkpoint-every 250 --log-every 50 --validate-every 500)
mkdir -p "$runs/OccE"
trackbench train outrack --out "$runs/OccE" --iterations "$iterations" \
  --hparam lr_step=$((iterations * 2 / 3)) "${common[@]}" > "$runs/OccE.log.json"
echo "$(date -u +%H:%M:%S) OccE $iterations"
for tau in 0.3 0.5 0.9; do
  [ -e "$runs/STOP" ] && { echo "$runs/STOP: stopped before tau $tau"; exit 0; }
  mkdir -p "$runs/tau-$tau"
  trackbench train "outrack:tau-$tau" --out "$runs/tau-$tau" --init-from "$runs/OccE/last" \
    --iterations $((iterations + finetune)) --hparam lr_step=$((iterations * 2 / 3)) \
    --hparam train_part=occlusion "${common[@]}" > "$runs/tau-$tau.log.json"
  echo "$(date -u +%H:%M:%S) tau-$tau $((iterations + finetune))"
done
