"""Shared fixtures. MNIST digits come from the folder ``$TRACKBENCH_MNIST`` names, else from
stand-in digits written in MNIST's layout (``mnist_helpers``); tests marked ``full_mnist`` need the
real set and are skipped without it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mnist_helpers import write_digit_folder

from harness.datasets.mnist_idx import ENV_VAR, load_mnist


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """An MNIST IDX folder: ``$TRACKBENCH_MNIST`` when set, else 500 stand-in digits."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return write_digit_folder(tmp_path_factory.mktemp("digits"))


def pytest_collection_modifyitems(config, items) -> None:
    """Skip tests marked ``full_mnist`` unless ``$TRACKBENCH_MNIST`` names the full set."""
    folder = os.environ.get(ENV_VAR)
    if folder and load_mnist(folder).full:
        return
    skip = pytest.mark.skip(
        reason=f"needs the full MNIST set (70,000 digits): set {ENV_VAR} to its IDX folder"
    )
    for item in items:
        if "full_mnist" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def motmetrics_data() -> Path:
    """The TUD-Campus / TUD-Stadtmitte MOTChallenge files shipped inside the motmetrics wheel."""
    import motmetrics

    return Path(motmetrics.__file__).parent / "data"


@pytest.fixture
def trackbench(capsys, monkeypatch):
    """Run the ``trackbench`` command line in-process; returns (exit code, stdout, stderr)."""
    from harness.cli import main

    monkeypatch.setenv("COLUMNS", "250")  # rich tables unwrapped, so output is searchable

    def run(*args) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main([str(a) for a in args])
        captured = capsys.readouterr()
        return info.value.code, captured.out, captured.err

    return run
