#!/usr/bin/env bash
# Trains the CPU tier of utrack (crop embedder, Tables 1-4) on the occluding Sprites-MOT
# (6 objects), one model after another, each for ITERATIONS (resumable: run it again after a
# stop; a file STOP in the runs folder ends it before its next model). The training state stays
# outside the repository, in $TRACKBENCH_RUNS/utrack/sprites-mot/<model> (default
# ~/.cache/trackbench/runs); publish with
#   trackbench publish <runs>/<model> checkpoints/utrack/sprites-mot/<model>/last --dtype float16
# (the released code keeps its last epoch). One core, from a checkout that does not change under
# it, e.g.   taskset -c 1 experiments/utrack-train.sh 3000 UTrack cycas supervised &
# UTRACK_SEED=N (default 0) trains with another seed into <model>/seed<N> (seed 0: <model>).
set -euo pipefail
iterations=${1:?iterations per model}
shift
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(UTrack cycas supervised inter inter+intra placeholder-none
  placeholder-zero T=1 T=2 T=3 T=4 T=5)
runs=${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/utrack/sprites-mot
seed=${UTRACK_SEED:-0}
export OMP_NUM_THREADS=1
for model in "${models[@]}"; do
  [ -e "$runs/STOP" ] && { echo "$runs/STOP: stopped before $model"; exit 0; }
  out=$runs/$model
  [ "$seed" = 0 ] || out=$runs/$model/seed$seed
  mkdir -p "$out"
  trackbench train "utrack:$model" --dataset sprites-mot --param objects=6 --out "$out" \
    --seed "$seed" --resume --iterations "$iterations" --checkpoint-every 250 --log-every 50 \
    --validate-every 500 > "$out.log.json" 2>&1 || { cat "$out.log.json" >&2; exit 1; }
  echo "$(date -u +%H:%M:%S) $model seed $seed $iterations"
done
