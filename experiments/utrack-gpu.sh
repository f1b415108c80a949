#!/usr/bin/env bash
# utrack on a GPU: the models of the synthetic boards at larger budgets, the MOT17 models of
# experiments/utrack-mot17.yaml, and the detector tier's timing.
#
#   bash experiments/utrack-gpu.sh sprites   the 12 crop-tier models (experiments/utrack-sprites.yaml)
#                                            and the outrack models, side by side, UTRACK_ITERATIONS
#                                            (crop tier) and OUTRACK_ITERATIONS (detector) each
#   bash experiments/utrack-gpu.sh mot17     the 12 crop-tier models on MOT17's first halves
#                                            (data/mot17, SDP), into checkpoints/utrack/mot17/
#   bash experiments/utrack-gpu.sh bench [OUT]
#                                            tests/benchmarks/test_bench_utrack.py on the device
#
# Environment: UTRACK_DEVICE (cuda), UTRACK_ITERATIONS (30000), OUTRACK_ITERATIONS (60000),
# UTRACK_RUNS ($TRACKBENCH_RUNS, default ~/.cache/trackbench/runs). The hyper-parameters are
# trackers.utrack.config's per dataset (MOT17: the code's Adam 1e-4, 64x64 crops).
set -euo pipefail

stage=${1:?usage: bash experiments/utrack-gpu.sh sprites|mot17|bench [OUT]}
device=${UTRACK_DEVICE:-cuda}
runs=${UTRACK_RUNS:-${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}}
models=(UTrack supervised cycas inter inter+intra T=1 T=2 T=3 T=4 T=5 placeholder-none
  placeholder-zero)
common=(--device "$device" --resume --checkpoint-every 1000 --log-every 100 --validate-every 1000)

case $stage in
sprites)
    iterations=${UTRACK_ITERATIONS:-30000}
    pids=()
    for model in "${models[@]}"; do
        out=$runs/utrack/sprites-mot/$model
        mkdir -p "$out"
        trackbench train "utrack:$model" --dataset sprites-mot --param objects=6 --out "$out" \
            --iterations "$iterations" --hparam lr_step=$((iterations * 2 / 3)) "${common[@]}" \
            >"$out.log.json" 2>&1 &
        pids+=($!)
    done
    TRACKBENCH_RUNS=$runs OUTRACK_DEVICE=$device bash "$(dirname "$0")/outrack-train.sh" \
        "${OUTRACK_ITERATIONS:-60000}" "$(( ${OUTRACK_ITERATIONS:-60000} / 6 ))" &
    pids+=($!)
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    exit $status
    ;;
mot17)
    for model in "${models[@]}"; do
        trackbench train "utrack:$model" --dataset mot17 --root data/mot17 --param 'detectors=[SDP]' \
            --out "checkpoints/utrack/mot17/$model" --iterations "${UTRACK_ITERATIONS:-30000}" \
            "${common[@]}"
    done
    ;;
bench)
    out=${2:-runs/utrack-bench}
    mkdir -p "$out"
    python -m pytest tests/benchmarks/test_bench_utrack.py --benchmark-enable \
        --benchmark-json "$out/timing.json" -q
    ;;
*)
    echo "utrack-gpu.sh: unknown stage '$stage' (sprites, mot17 or bench)" >&2
    exit 2
    ;;
esac
