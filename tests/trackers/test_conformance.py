"""Conformance of every registered method and ablation to the tracker contract of its kind.

Each method declares its conformance data in the registry (``Conformance``: a dataset split, card
params, config overrides such as ``smoke: true`` for a tiny model, and optionally a small trained
checkpoint). Each case builds the method so, tracks the split's first sequence (oracle
detections for methods that take them) and checks: the output is valid (``check_result``), the
step loop and the batched ``track`` give the same tracks, the same seed gives the same output,
and a learnable method's checkpoint round-trips (saved, loaded through the ``checkpoint`` config
key, same tracks). Single-object methods get the same checks on the split's samples
(``init``/``update`` loop vs ``track``). A method with a trained conformance checkpoint (TBA's
published model: an untrained tiny TBA reports no track) is checked with it too, and must report
tracks there, so the comparisons are of real tracks. A new family gets these tests by registering.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.datasets import load_dataset
from harness.datasets.base import load_card
from harness.detectors import OracleNoise, oracle_detections
from harness.protocol import Learnable, check_boxes, check_result
from harness.registry import DEFAULT_ABLATION, Conformance, methods
from harness.timing import timed_follow, timed_track

NOISE = OracleNoise(miss_rate=0.1, jitter=0.05, fp_rate=0.3)


def cases(kind: str) -> list:
    """Every method and ablation of ``kind`` as (name, ablation, trained): untrained (the
    registry's tiny config), and the default ablation with its trained conformance checkpoint
    where it declares one."""
    untrained = [
        pytest.param(name, ablation, False, id=f"{name}:{ablation}")
        for name, spec in methods().items()
        if spec.kind == kind
        for ablation in (DEFAULT_ABLATION, *spec.ablations)
    ]
    trained = [
        pytest.param(name, DEFAULT_ABLATION, True, id=f"{name}:trained")
        for name, spec in methods().items()
        if spec.kind == kind and spec.conformance_checkpoint is not None
    ]
    return untrained + trained


CASES = cases("multi-object")
SINGLE_CASES = cases("single-object")


def conformance(name: str) -> Conformance:
    spec = methods()[name]
    if spec.conformance is None:
        pytest.skip(f"{name} declares no conformance data")
    return spec.conformance


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, mnist_dir):
    """The adapter of a method's conformance data (the stand-in digits where the dataset draws
    MNIST), made once per dataset and params."""
    root, made = tmp_path_factory.mktemp("conformance"), {}

    def adapter(data: Conformance):
        key = (data.dataset, json.dumps(data.params, sort_keys=True))
        if key not in made:
            params = dict(data.params)
            if "mnist_dir" in (load_card(data.dataset).get("params") or {}):
                params["mnist_dir"] = str(mnist_dir)
            made[key] = load_dataset(data.dataset, root / str(len(made)), **params)
        return made[key]

    return adapter


@pytest.fixture(scope="module")
def videos(adapters):
    """The first sequence of a method's conformance split."""
    return lambda name: adapters(conformance(name)).sequences(conformance(name).split)[0]


@pytest.fixture(scope="module")
def samples(adapters):
    """The single-object samples of a method's conformance split."""
    return lambda name: adapters(conformance(name)).samples(conformance(name).split)


def build(name: str, ablation: str, trained: bool, seed: int = 0, **overrides):
    """The tracker of the method's conformance config, or of its registry config with its
    trained conformance checkpoint."""
    spec = methods()[name]
    if trained:
        config = spec.config_for(ablation, checkpoint=spec.conformance_checkpoint)
    else:
        config = spec.config_for(ablation, **conformance(name).config)
    if "seed" in config:
        config["seed"] = seed
    return spec.factory(**{**config, **overrides})


def inputs_of(name: str, videos) -> tuple[Sequence, BoxTable | None]:
    sequence = videos(name)
    detections = None
    if "detections" in methods()[name].inputs:
        detections = oracle_detections(sequence, NOISE, 0)
    return sequence, detections


def tracks(tracker, sequence: Sequence, detections: BoxTable | None) -> BoxTable:
    """The tracks of the runner's path (``timed_track``: the step loop, or ``track`` offline)."""
    result, _ = timed_track(tracker, sequence, detections, warmup_frames=0)
    return result


def assert_same_tracks(a: BoxTable, b: BoxTable, atol: float = 0.0) -> None:
    np.testing.assert_array_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.id, b.id)
    np.testing.assert_allclose(a.box, b.box, rtol=0, atol=atol)


@pytest.mark.parametrize("name, ablation, trained", CASES)
def test_output_is_valid_and_repeats_with_the_seed(name, ablation, trained, videos):
    sequence, detections = inputs_of(name, videos)
    first = tracks(build(name, ablation, trained), sequence, detections)
    check_result(first, sequence.num_frames)
    if trained:
        assert len(first.frame) > 0, "the trained conformance checkpoint reports no track"
    assert_same_tracks(tracks(build(name, ablation, trained), sequence, detections), first)


@pytest.mark.parametrize("name, ablation, trained", CASES)
def test_step_loop_equals_the_batched_path(name, ablation, trained, videos):
    sequence, detections = inputs_of(name, videos)
    tracker = build(name, ablation, trained)
    if not getattr(tracker, "online", True):
        pytest.skip(f"{name} is offline: its only path is track()")
    stepped = tracks(tracker, sequence, detections)
    (batched,) = build(name, ablation, trained).track([sequence], [detections])
    assert_same_tracks(batched, stepped, atol=1e-3)  # batched float reductions may differ


@pytest.mark.parametrize("name, ablation, trained", CASES)
def test_a_checkpoint_round_trips(name, ablation, trained, videos, tmp_path):
    tracker = build(name, ablation, trained)
    if not isinstance(tracker, Learnable) or tracker.provenance() is None:
        pytest.skip(f"{name}:{ablation} has no learned weights")
    sequence, detections = inputs_of(name, videos)
    expected = tracks(tracker, sequence, detections)
    tracker.save(tmp_path / "last")
    loaded = build(name, ablation, trained, checkpoint=str(tmp_path / "last"))
    assert loaded.provenance()["checkpoint"] == str(tmp_path / "last")
    assert_same_tracks(tracks(loaded, sequence, detections), expected)


def follow(tracker, samples: list[SingleObjectSample]) -> np.ndarray:
    """The boxes of the runner's path (``timed_follow``), checked, as one (N, 4) array."""
    boxes, _ = timed_follow(tracker, samples, warmup_frames=0)
    lengths = [len(sample.frames) for sample in samples]
    owner = np.repeat(np.arange(len(samples)), lengths)
    step = np.concatenate([np.arange(length) for length in lengths])
    check_boxes(boxes, [sample.name for sample in samples], owner, step)
    return boxes


@pytest.mark.parametrize("name, ablation, trained", SINGLE_CASES)
def test_single_object_output_is_valid_and_repeats_with_the_seed(name, ablation, trained, samples):
    chosen = samples(name)
    assert chosen, "the conformance video gives no samples"
    first = follow(build(name, ablation, trained), chosen)
    starts = np.cumsum([0] + [len(sample.frames) for sample in chosen[:-1]])
    np.testing.assert_array_equal(first[starts], [s.boxes[0] for s in chosen])
    np.testing.assert_array_equal(follow(build(name, ablation, trained), chosen), first)


@pytest.mark.parametrize("name, ablation, trained", SINGLE_CASES)
def test_single_object_update_loop_equals_track(name, ablation, trained, samples):
    tracker, chosen = build(name, ablation, trained), samples(name)
    if not getattr(tracker, "online", True):
        pytest.skip(f"{name} is offline: its only path is track()")
    batched = np.concatenate(build(name, ablation, trained).track(chosen))
    np.testing.assert_allclose(batched, follow(tracker, chosen), rtol=0, atol=1e-3)


@pytest.mark.parametrize("name, ablation, trained", SINGLE_CASES)
def test_single_object_checkpoint_round_trips(name, ablation, trained, samples, tmp_path):
    tracker = build(name, ablation, trained)
    if not isinstance(tracker, Learnable) or tracker.provenance() is None:
        pytest.skip(f"{name}:{ablation} has no learned weights")
    chosen = samples(name)
    expected = follow(tracker, chosen)
    tracker.save(tmp_path / "last")
    loaded = build(name, ablation, trained, checkpoint=str(tmp_path / "last"))
    np.testing.assert_array_equal(follow(loaded, chosen), expected)
