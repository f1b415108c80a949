#!/usr/bin/env bash
# HART on a GPU: the four synthetic models of the hart-mnist board, and HART's timing.
#
#   bash experiments/hart-gpu.sh train   HART, App Att, Spatial Att and RATM side by side (one
#                                        process each, sharing the GPU) on generated
#                                        MNIST-Multi-Same sequences, HART_MINUTES of wall clock
#                                        each per call; a rerun resumes them
#   bash experiments/hart-gpu.sh bench [OUT]
#                                        frames/s of HART (KITTI and MNIST architectures) and
#                                        RecTracker-ID at 187x621 and 4x the pixels, batch 1 and
#                                        batched (tests/benchmarks/test_bench_hart.py)
#
# Environment: HART_DEVICE (cuda), HART_MINUTES (7), HART_ITERATIONS (400000: the paper's
# budget, so that the wall clock ends each call), HART_RUNS
# ($TRACKBENCH_RUNS/hart/mnist-multi-same, default ~/.cache/trackbench/runs/...: the runs
# experiments/hart-train.sh makes and experiments/hart-publish.sh reads), HART_VALIDATE (500: every
# N iterations, which keeps each run's best-validated checkpoint) and TRACKBENCH_MNIST (the MNIST
# IDX folder). The hyper-parameters are trackers.hart.train's (the paper's KTH lr, the code's
# optimiser and IoU-gated curriculum) except batch 32 (paper: 10; a GPU step costs about the same
# either way).
set -euo pipefail

stage=${1:?usage: bash experiments/hart-gpu.sh train|bench [OUT]}
device=${HART_DEVICE:-cuda}
runs=${HART_RUNS:-${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}/hart/mnist-multi-same}
: "${TRACKBENCH_MNIST:?set TRACKBENCH_MNIST to the MNIST IDX folder}"
export TRACKBENCH_MNIST

case $stage in
train)
    pids=()
    for method in hart hart:app-att hart:spatial-att ratm; do
        name=$(case $method in hart) echo HART ;; hart:app-att) echo App-Att ;;
               hart:spatial-att) echo Spatial-Att ;; ratm) echo RATM ;; esac)
        mkdir -p "$runs/$name"
        resume=$([ -f "$runs/$name/last.pt" ] && echo --resume || echo --no-resume)
        OMP_NUM_THREADS=${HART_THREADS:-3} trackbench train "$method" --device "$device" \
            "$resume" --iterations "${HART_ITERATIONS:-400000}" \
            --max-minutes "${HART_MINUTES:-7}" --out "$runs/$name" --validate-every "${HART_VALIDATE:-500}" \
            --checkpoint-every 500 --log-every 100 \
            --validation-frames 2000 --hparam batch=32 \
            >"$runs/$name/train.log" 2>&1 &
        pids+=($!)
    done
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || status=1; done
    tail -n 3 "$runs"/*/train.log
    exit $status
    ;;
bench)
    out=${2:-runs/hart-bench}
    mkdir -p "$out"
    TRACKBENCH_BENCH_DEVICE=$device TRACKBENCH_BENCH_FRAMES=${HART_FRAMES:-60} \
        TRACKBENCH_BENCH_BATCH=${HART_BATCH:-50} python -m pytest \
        tests/benchmarks/test_bench_hart.py --benchmark-enable \
        --benchmark-json "$out/timing.json" -q
    ;;
*)
    echo "hart-gpu.sh: unknown stage '$stage' (train or bench)" >&2
    exit 2
    ;;
esac
