"""Running a small experiment file in a test: ``write`` it, ``run`` it into a results store."""

from __future__ import annotations

from pathlib import Path

from harness.experiment import load_experiment
from harness.runner import run_experiment
from harness.store import Store


def write(folder: Path, text: str) -> Path:
    path = folder / "experiment.yaml"
    path.write_text(text)
    return path


def run(path: Path, tmp_path: Path) -> Store:
    store = Store(tmp_path / "results.sqlite")
    summary = run_experiment(load_experiment(path), store)
    assert not summary.failed, [f.error for f in summary.failed]
    return store
