"""Conformance of every registered method and ablation to the tracker contract of its kind.

Each case builds the method from its registry config (``smoke: true`` where the method has that
key: a tiny model), tracks a short video of its dataset (oracle detections for methods that take
them) and checks: the output is valid (``check_result``), the step loop and the batched ``track``
give the same tracks, the same seed gives the same output, and a learnable method's checkpoint
round-trips (saved, loaded through the ``checkpoint`` config key, same tracks). Single-object
methods get the same checks on samples of their dataset (``init``/``update`` loop vs ``track``).
A new family gets these tests by registering.

An untrained tiny TBA reports no track on this video (no slot's confidence passes 0.5), so for TBA
these cases check the contract only; tests/test_tba_model.py compares its step and batched slot
outputs themselves.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.datasets import load_dataset
from harness.datasets.base import load_card
from harness.detectors import OracleNoise, oracle_detections
from harness.protocol import Learnable, check_boxes, check_result
from harness.registry import DEFAULT_ABLATION, methods
from harness.timing import timed_follow, timed_track

FRAMES = 24
NOISE = OracleNoise(miss_rate=0.1, jitter=0.05, fp_rate=0.3)
SAMPLE_LENGTH = 6


def cases(kind: str) -> list:
    return [
        pytest.param(name, ablation, id=f"{name}:{ablation}")
        for name, spec in methods().items()
        if spec.kind == kind
        for ablation in (DEFAULT_ABLATION, *spec.ablations)
    ]


CASES = cases("multi-object")
SINGLE_CASES = cases("single-object")


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, mnist_dir):
    """A ``FRAMES``-frame evaluation video's adapter per dataset, made once."""
    root, made = tmp_path_factory.mktemp("conformance"), {}

    def adapter(dataset: str):
        if dataset not in made:
            if load_card(dataset)["adapter"] == "gan-mnist":  # samples = test sequences
                params = {"sequences": 2, "length": SAMPLE_LENGTH, "mnist_dir": str(mnist_dir)}
            else:
                params = {"eval_frames": FRAMES, "sample_length": SAMPLE_LENGTH}
                if dataset == "mnist-mot":
                    params["mnist_dir"] = str(mnist_dir)
            made[dataset] = load_dataset(dataset, root / dataset, **params)
        return made[dataset]

    return adapter


@pytest.fixture(scope="module")
def videos(adapters):
    """The evaluation video of a dataset."""
    return lambda dataset: adapters(dataset).sequences("eval")[0]


@pytest.fixture(scope="module")
def samples(adapters):
    """Single-object samples of ``SAMPLE_LENGTH`` frames from a dataset's evaluation video."""

    def of(dataset: str) -> list[SingleObjectSample]:
        adapter = adapters(dataset)
        return adapter.samples("eval" if "eval" in adapter.card["splits"] else "test")

    return of


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


def follow(tracker, samples: list[SingleObjectSample]) -> np.ndarray:
    """The boxes of the runner's path (``timed_follow``), checked, as one (N, 4) array."""
    boxes, _ = timed_follow(tracker, samples, warmup_frames=0)
    owner = np.repeat(np.arange(len(samples)), SAMPLE_LENGTH)
    step = np.tile(np.arange(SAMPLE_LENGTH), len(samples))
    check_boxes(boxes, [sample.name for sample in samples], owner, step)
    return boxes


def samples_of(name: str, samples) -> list[SingleObjectSample]:
    return samples(methods()[name].config.get("dataset", "sprites-mot"))


@pytest.mark.parametrize("name, ablation", SINGLE_CASES)
def test_single_object_output_is_valid_and_repeats_with_the_seed(name, ablation, samples):
    chosen = samples_of(name, samples)
    assert chosen, "the conformance video gives no samples"
    first = follow(build(name, ablation), chosen)
    np.testing.assert_array_equal(first[::SAMPLE_LENGTH], [s.boxes[0] for s in chosen])
    np.testing.assert_array_equal(follow(build(name, ablation), chosen), first)


@pytest.mark.parametrize("name, ablation", SINGLE_CASES)
def test_single_object_update_loop_equals_track(name, ablation, samples):
    tracker, chosen = build(name, ablation), samples_of(name, samples)
    if not getattr(tracker, "online", True):
        pytest.skip(f"{name} is offline: its only path is track()")
    batched = np.concatenate(build(name, ablation).track(chosen))
    np.testing.assert_allclose(batched, follow(tracker, chosen), rtol=0, atol=1e-3)


@pytest.mark.parametrize("name, ablation", SINGLE_CASES)
def test_single_object_checkpoint_round_trips(name, ablation, samples, tmp_path):
    tracker = build(name, ablation)
    if not isinstance(tracker, Learnable):
        pytest.skip(f"{name} has no learned weights")
    chosen = samples_of(name, samples)
    expected = follow(tracker, chosen)
    tracker.save(tmp_path / "last")
    loaded = build(name, ablation, checkpoint=str(tmp_path / "last"))
    np.testing.assert_array_equal(follow(loaded, chosen), expected)
