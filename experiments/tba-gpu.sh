#!/usr/bin/env bash
# TBA on a GPU: speed measurements, Table 1 training and the Table 1 board (issue 4's GPU recipe).
#
#   bash experiments/tba-gpu.sh bench [OUT]   inference at batch 1 and 64, eager vs torch.compile
#                                             modes (same outputs checked), training throughput
#   bash experiments/tba-gpu.sh train         the six Table 1 configurations, TBA_MINUTES of
#                                             wall clock each per call; a rerun resumes them
#   bash experiments/tba-gpu.sh table [OUT]   metrics into each checkpoint's card, then the
#                                             Table 1 board (ours beside the paper) in OUT
#
# Environment: TBA_DEVICE (cuda), TBA_MINUTES (60), TBA_ITERATIONS (401900: the released Sprites
# checkpoint's count), TBA_CONFIGS (all six), TBA_COMPILE (unset: eager; else a compile mode that
# the bench stage showed gives eager's outputs faster), TBA_FRAMES (1000 frames per benchmark).
# Checkpoints go to checkpoints/tba/sprites-mot/<configuration>/ where experiments/tba-table1.yaml
# reads them. Every command is resumable, so a machine lent in short slices (minutes per command)
# runs the recipe as repeated `train` calls followed by one `table`.
set -euo pipefail

stage=${1:?usage: bash experiments/tba-gpu.sh bench|train|table [OUT]}
out=${2:-runs/tba-gpu}
device=${TBA_DEVICE:-cuda}
configs=${TBA_CONFIGS:-TBA TBAc TBAc-noOcc TBAc-noAtt TBAc-noMem TBAc-noRep}
mkdir -p "$out"

case $stage in
bench)
    export TRACKBENCH_BENCH_DEVICE=$device TRACKBENCH_BENCH_FRAMES=${TBA_FRAMES:-1000}
    export TRACKBENCH_BENCH_BATCH=64
    python -m pytest tests/benchmarks/test_bench_tba.py \
        --benchmark-enable --benchmark-json "$out/inference.json" -q
    TRACKBENCH_BENCH_COMPILE=1 python -m pytest tests/benchmarks/test_bench_tba_variants.py \
        --benchmark-enable --benchmark-json "$out/variants.json" -q
    TRACKBENCH_BENCH_COMPILE=1 TRACKBENCH_BENCH_FULL=1 python -m pytest \
        tests/benchmarks/test_bench_tba_train.py --benchmark-enable \
        --benchmark-json "$out/training.json" -q
    ;;
train)
    for config in $configs; do
        trackbench train "tba:$config" --device "$device" --resume \
            --iterations "${TBA_ITERATIONS:-401900}" --max-minutes "${TBA_MINUTES:-60}" \
            ${TBA_COMPILE:+--compile "$TBA_COMPILE"} --out "checkpoints/tba/sprites-mot/$config"
    done
    ;;
table)
    for config in $configs; do  # configurations not trained yet fail their board cells instead
        checkpoint=checkpoints/tba/sprites-mot/$config/last
        [ -f "$checkpoint.pt" ] || continue
        trackbench card tba "$checkpoint" --evaluate --device "$device"
    done
    trackbench reproduce tba-t1 --device "$device" --out "$out/table1" || [ $? -eq 1 ]  # 1: failed cells, listed on the board
    ;;
*)
    echo "tba-gpu.sh: unknown stage '$stage' (bench, train or table)" >&2
    exit 2
    ;;
esac
