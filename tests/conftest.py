"""Shared fixtures: paths to the real test data that lives outside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST IDX folder (../shared/data/mnist from the project root)."""
    if not MNIST_DIR.is_dir():
        pytest.fail(f"MNIST IDX files not found at {MNIST_DIR}")
    return MNIST_DIR


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
