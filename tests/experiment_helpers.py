"""Running a small experiment file in a test: ``write`` it, ``run`` it into a results store."""

from __future__ import annotations

from pathlib import Path

from harness.experiment import load_experiment
from harness.runner import run_experiment
from harness.store import Store

SMALL_SPRITES = """\
name: small
datasets:
  - name: sprites-mot
    split: eval
    root: {root}
    params: {{eval_frames: 40}}
    detections: {{clean: {{miss_rate: 0.0, jitter: 0.0, fp_rate: 0.0}}}}
methods: [{methods}]
seeds: [0]
timing: {{warmup_frames: 2}}
"""
"""A 40-frame Sprites-MOT video with clean oracle detections, one seed (format ``root`` and
``methods``)."""


def write(folder: Path, text: str) -> Path:
    path = folder / "experiment.yaml"
    path.write_text(text)
    return path


def run(path: Path, tmp_path: Path) -> Store:
    store = Store(tmp_path / "results.sqlite")
    summary = run_experiment(load_experiment(path), store)
    assert not summary.failed, [f.error for f in summary.failed]
    return store
