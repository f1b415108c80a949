"""The multi-object path gives the numbers it gave before task kinds existed.

tests/fixtures/golden/multi_object_metrics.csv holds the COMBINED metrics of ``EXPERIMENT`` as
the runner computed them before the tracking moved into ``harness.tasks`` (commit fe13f9f), with
TrackEval's metric classes: SORT and the IOU tracker with ablations on clean and noisy oracle
detections, the ground-truth double and a tiny untrained TBA, two seeds, on a 150-frame
Sprites-MOT video. The counts are equal; the ratios to 1e-12, as our evaluation engine sums
in another order than TrackEval's classes.
"""

from __future__ import annotations

import pandas as pd
from paths import FIXTURES

from harness.experiment import load_experiment
from harness.runner import run_experiment
from harness.store import COMBINED, Store

GOLDEN = FIXTURES / "golden" / "multi_object_metrics.csv"
EXPERIMENT = """
name: golden-mot
datasets:
  - name: sprites-mot
    split: eval
    root: data
    params: {eval_frames: 150}
    detections:
      clean: {}
      noisy: {miss_rate: 0.2, jitter: 0.05, fp_rate: 0.5}
methods:
  [sort, "sort:no-min-hits", iou, "iou:offline", ground-truth, {method: tba, config: {smoke: true}}]
seeds: [0, 1]
timing: {warmup_frames: 2}
"""


def test_multi_object_metrics_equal_the_recorded_ones(tmp_path):
    path = tmp_path / "golden.yaml"
    path.write_text(EXPERIMENT)
    store = Store(tmp_path / "results.sqlite")
    summary = run_experiment(load_experiment(path), store)
    assert summary.done == 20 and not summary.failed
    ours = store.metrics_frame().query(f"sequence == {COMBINED!r}")
    assert set(ours["axes"]) == {""}
    ours = ours.drop(columns=["experiment", "sequence", "axes"]).reset_index(drop=True)
    golden = pd.read_csv(GOLDEN, keep_default_na=False)
    pd.testing.assert_frame_equal(ours, golden, check_dtype=False, rtol=0, atol=1e-12)
