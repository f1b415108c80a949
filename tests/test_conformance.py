"""Conformance of every registered multi-object method and ablation to the tracker contract.

Each case builds the method from its registry config (``smoke: true`` where the method has that
key: a tiny model), tracks a short video of its dataset (oracle detections for methods that take
them) and checks: the output is valid (``check_result``), the step loop and the batched ``track``
give the same tracks, the same seed gives the same output, and a learnable method's checkpoint
round-trips (saved, loaded through the ``checkpoint`` config key, same tracks). A new family gets
these tests by registering.

An untrained tiny TBA reports no track on this video (no slot's confidence passes 0.5), so for TBA
these cases check the contract only; tests/test_tba_model.py compares its step and batched slot
outputs themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable, Sequence
from harness.datasets import load_dataset
from harness.detectors import OracleNoise, oracle_detections
from harness.protocol import Learnable, check_result
from harness.registry import DEFAULT_ABLATION, methods
from harness.timing import timed_track

FRAMES = 24
NOISE = OracleNoise(miss_rate=0.1, jitter=0.05, fp_rate=0.3)
CASES = [
    pytest.param(name, ablation, id=f"{name}:{ablation}")
    for name, spec in methods().items()
    if spec.kind == "multi-object"
    for ablation in (DEFAULT_ABLATION, *spec.ablations)
]


@pytest.fixture(scope="module")
def videos(tmp_path_factory, mnist_dir):
    """A ``FRAMES``-frame evaluation video per dataset, loaded once."""
    root, loaded = tmp_path_factory.mktemp("conformance"), {}

    def video(dataset: str) -> Sequence:
        if dataset not in loaded:
            params = {"mnist_dir": str(mnist_dir)} if dataset == "mnist-mot" else {}
            adapter = load_dataset(dataset, root / dataset, eval_frames=FRAMES, **params)
            (loaded[dataset],) = adapter.sequences("eval")
        return loaded[dataset]

    return video


def build(name: str, ablation: str, seed: int = 0, **overrides):
    spec = methods()[name]
    config = spec.config_for(ablation)
    tiny = {key: value for key, value in (("smoke", True), ("seed", seed)) if key in config}
    return spec.factory(**{**config, **tiny, **overrides})


def inputs_of(name: str, videos) -> tuple[Sequence, BoxTable | None]:
    spec = methods()[name]
    sequence = videos(spec.config.get("dataset", "sprites-mot"))
    detections = oracle_detections(sequence, NOISE, 0) if "detections" in spec.inputs else None
    return sequence, detections


def tracks(tracker, sequence: Sequence, detections: BoxTable | None) -> BoxTable:
    """The tracks of the runner's path (``timed_track``: the step loop, or ``track`` offline)."""
    result, _ = timed_track(tracker, sequence, detections, warmup_frames=0)
    return result


def assert_same_tracks(a: BoxTable, b: BoxTable, atol: float = 0.0) -> None:
    np.testing.assert_array_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.id, b.id)
    np.testing.assert_allclose(a.box, b.box, rtol=0, atol=atol)


@pytest.mark.parametrize("name, ablation", CASES)
def test_output_is_valid_and_repeats_with_the_seed(name, ablation, videos):
    sequence, detections = inputs_of(name, videos)
    first = tracks(build(name, ablation), sequence, detections)
    check_result(first, sequence.num_frames)
    assert_same_tracks(tracks(build(name, ablation), sequence, detections), first)


@pytest.mark.parametrize("name, ablation", CASES)
def test_step_loop_equals_the_batched_path(name, ablation, videos):
    sequence, detections = inputs_of(name, videos)
    tracker = build(name, ablation)
    if not getattr(tracker, "online", True):
        pytest.skip(f"{name} is offline: its only path is track()")
    stepped = tracks(tracker, sequence, detections)
    (batched,) = build(name, ablation).track([sequence], [detections])
    assert_same_tracks(batched, stepped, atol=1e-3)  # batched float reductions may differ


@pytest.mark.parametrize("name, ablation", CASES)
def test_a_checkpoint_round_trips(name, ablation, videos, tmp_path):
    tracker = build(name, ablation)
    if not isinstance(tracker, Learnable):
        pytest.skip(f"{name} has no learned weights")
    sequence, detections = inputs_of(name, videos)
    expected = tracks(tracker, sequence, detections)
    tracker.save(tmp_path / "last")
    loaded = build(name, ablation, checkpoint=str(tmp_path / "last"))
    assert loaded.provenance()["checkpoint"] == str(tmp_path / "last")
    assert_same_tracks(tracks(loaded, sequence, detections), expected)
