#!/usr/bin/env bash
# Publishes the hart-mnist models trained by experiments/hart-train.sh: of each model, the round
# whose validation IoU (runs/hart/mnist-multi-same/<Name>/validation.json) is the best (early
# stopping on the val split: MNIST train digits, its own seed; the test split's digits are MNIST
# test digits), as a half-precision copy (weights and card, no training state) under
# checkpoints/hart/mnist-multi-same/<Name>/last, the files experiments/hart-mnist.yaml reads. The
# card records the choice (`selected`) and its test-set scores (500 sequences of 60 frames).
#   TRACKBENCH_MNIST=/path/to/mnist experiments/hart-publish.sh [NAME ...]   (default: all four)
set -euo pipefail
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(HART App-Att Spatial-Att RATM)
for name in "${names[@]}"; do
  run=runs/hart/mnist-multi-same/$name
  target=checkpoints/hart/mnist-multi-same/$name/last
  best=$(python - "$run" <<'PY'
import json, pathlib, sys
run = pathlib.Path(sys.argv[1])
kept = {int(p.name) for p in (run / "rounds").iterdir()}
points = [p for p in json.loads((run / "validation.json").read_text()) if p["iteration"] in kept]
print(max(points, key=lambda p: p["IoU"])["iteration"])
PY
)
  trackbench publish "$run/rounds/$best/last" "$target" --dtype float16
  python - "$run" "$target" "$best" <<'PY'
import json, pathlib, sys
from harness.checkpoints import update_card
run, target, best = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
update_card(target, selected={
    "by": "best validation IoU of the kept rounds",
    "iteration": best,
    "trained": json.loads((run / "last.json").read_text())["iterations"],
    "kept_rounds": sorted(int(p.name) for p in (run / "rounds").iterdir()),
    "validation": json.loads((run / "validation.json").read_text()),
})
PY
  trackbench card hart "$target" --evaluate --frames 60 > /dev/null
done
