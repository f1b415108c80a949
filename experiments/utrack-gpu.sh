#!/usr/bin/env bash
# utrack on a GPU: the models of the synthetic boards at larger budgets, the MOT17 models of
# experiments/utrack-mot17.yaml and experiments/outrack-mot17.yaml, the CrowdHuman models of
# experiments/utrack-crowdhuman.yaml (and outrack's CrowdHuman pre-training), and the detector
# tier's timing.
#
#   bash experiments/utrack-gpu.sh sprites   the 12 crop-tier models (experiments/utrack-sprites.yaml)
#                                            and the outrack models, side by side, UTRACK_ITERATIONS
#                                            (crop tier) and OUTRACK_ITERATIONS (detector) each
#   bash experiments/utrack-gpu.sh mot17     the 12 crop-tier models on MOT17's first halves
#                                            (data/mot17, SDP), into checkpoints/utrack/mot17/
#   bash experiments/utrack-gpu.sh crowdhuman
#                                            the 8 crop-tier models on CrowdHuman's stills
#                                            (data/crowdhuman) into checkpoints/utrack/crowdhuman/,
#                                            then outrack's pre-training (DLA-34, 60 epochs, the
#                                            paper's negatives 0.2) into
#                                            checkpoints/outrack/crowdhuman/OccE
#   bash experiments/utrack-gpu.sh outrack-mot17
#                                            outrack (DLA-34, 1088 x 608) on MOT17's first halves,
#                                            30 epochs, into checkpoints/outrack/mot17/OccE; its
#                                            OccE heads at tau 0.3/0.5/0.9 (30 epochs each); and,
#                                            when the CrowdHuman pre-training is there, from it
#                                            (OccE-pretrained)
#   bash experiments/utrack-gpu.sh bench [OUT]
#                                            tests/benchmarks/test_bench_utrack.py on the device
#
# Environment: UTRACK_DEVICE (cuda), UTRACK_ITERATIONS (30000), OUTRACK_ITERATIONS (60000 on
# sprites; on MOT17 and CrowdHuman the code's epochs, trackers.utrack.config DETECTOR_ITERATIONS),
# UTRACK_WORKERS (8: processes decoding and augmenting the frames of the MOT17 and CrowdHuman
# stages), UTRACK_RUNS ($TRACKBENCH_RUNS, default ~/.cache/trackbench/runs). The
# hyper-parameters are trackers.utrack.config's per dataset and tier (MOT17: the code's Adam 1e-4,
# 64x64 crops; outrack: DLA-34 at 1088 x 608, batch 8, x0.1 after 20 of 30 epochs; CrowdHuman:
# the code's UTrack run, Adam 3e-4, batch 24, id_weight 10, x0.1 after 50 of 60 epochs).
set -euo pipefail

stage=${1:?usage: bash experiments/utrack-gpu.sh sprites|mot17|crowdhuman|outrack-mot17|bench [OUT]}
device=${UTRACK_DEVICE:-cuda}
runs=${UTRACK_RUNS:-${TRACKBENCH_RUNS:-$HOME/.cache/trackbench/runs}}
models=(UTrack supervised cycas inter inter+intra T=1 T=2 T=3 T=4 T=5 placeholder-none
  placeholder-zero)
common=(--device "$device" --resume --checkpoint-every 1000 --log-every 100 --validate-every 1000)
workers=(--workers "${UTRACK_WORKERS:-8}")
# outrack's training length and x0.1 step on DATASET (the code's epochs at its batch)
schedule() {
    python -c "from trackers.utrack.config import DETECTOR_ITERATIONS as i, training_config as t
print(i['$1'], t('$1', model='detector').lr_step)"
}

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
crowdhuman)
    for model in crowdhuman-UTrack crowdhuman-supervised crowdhuman-cycas negatives-0.1 \
        negatives-0.3 negatives-0.4 negatives-0.5 negatives-0.6; do
        trackbench train "utrack:$model" --dataset crowdhuman --root data/crowdhuman \
            --out "checkpoints/utrack/crowdhuman/$model" \
            --iterations "${UTRACK_ITERATIONS:-30000}" "${common[@]}" "${workers[@]}"
    done
    read -r iterations _ < <(schedule crowdhuman)
    trackbench train outrack --dataset crowdhuman --root data/crowdhuman --config negatives=0.2 \
        --out checkpoints/outrack/crowdhuman/OccE --iterations "$iterations" "${common[@]}" \
        "${workers[@]}"
    ;;
outrack-mot17)
    read -r iterations step < <(schedule mot17)
    mot17=(--dataset mot17 --root data/mot17 --param 'detectors=[SDP]')
    out=checkpoints/outrack/mot17
    trackbench train outrack "${mot17[@]}" --out "$out/OccE" --iterations "$iterations" \
        "${common[@]}" "${workers[@]}"
    # The OccE heads alone at another tau, as the code's --train_part occlusion run: 30 more
    # epochs from the OccE model, x0.1 after 20 of them.
    for tau in 0.3 0.5 0.9; do
        trackbench train "outrack:tau-$tau" "${mot17[@]}" --out "$out/tau-$tau" \
            --init-from "$out/OccE/last" --iterations $((2 * iterations)) \
            --hparam lr_step=$((iterations + step)) --hparam train_part=occlusion \
            "${common[@]}" "${workers[@]}"
    done
    pretrained=checkpoints/outrack/crowdhuman/OccE/last
    if [ -e "$pretrained.pt" ]; then
        trackbench train outrack:OccE-pretrained "${mot17[@]}" --out "$out/OccE-pretrained" \
            --hparam "pretrained_weights=$pretrained" --iterations "$iterations" \
            "${common[@]}" "${workers[@]}"
    else
        echo "utrack-gpu.sh: no $pretrained (run the crowdhuman stage first): OccE-pretrained not trained" >&2
    fi
    ;;
bench)
    out=${2:-runs/utrack-bench}
    mkdir -p "$out"
    python -m pytest tests/benchmarks/test_bench_utrack.py --benchmark-enable \
        --benchmark-json "$out/timing.json" -q
    ;;
*)
    echo "utrack-gpu.sh: unknown stage '$stage' (sprites, mot17, crowdhuman, outrack-mot17 or bench)" >&2
    exit 2
    ;;
esac
