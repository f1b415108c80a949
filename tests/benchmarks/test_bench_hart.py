"""Single-object tracker throughput against image size: HART's cost follows its glimpse, a
full-frame tracker's the pixels.

Frames/s of each tracker online (``init`` + ``update`` per frame, batch 1, ``timed_follow``) and
batched (the tracker's own ``track`` over ``TRACKBENCH_BENCH_BATCH`` samples at once,
``timed_batched_follow``) at two image sizes: 187×621 (KITTI-sized, the released HART code's
resize) and four times the pixels, 374×1242. The trackers:

- ``HART-kitti``: HART with the KITTI architecture (3-channel frames, 56×56 glimpse, AlexNet
  conv1-3 V1);
- ``HART-mnist``: HART with the mnist/KTH architecture (grey frames, 28×28 glimpse, small V1);
- ``RecTracker-ID`` (Gan et al. 2015), which convolves the whole frame. It takes square K×K grey
  frames, so it is built for K = 341 and K = 682 (``GanConfig.frame_size``), the square frames of
  (about) the same pixel counts: 341² ≈ 187·621 and 682² ≈ 374·1242.

Weights are untrained (seeded): throughput does not depend on them. Inputs are synthetic: random
uint8 frames held in memory (a pool of ``POOL`` per size, shared by the samples) and a 40×30 box
near the centre, shifted a little per sample. Online, the first ``ONLINE_SAMPLES`` (at most 4) are
followed one after another; their boxes must agree with the batched ones within the harness's
``AGREEMENT_PX``.

Settings from the environment (defaults keep the plain test run short): ``TRACKBENCH_BENCH_DEVICE``
(cpu), ``TRACKBENCH_BENCH_FRAMES`` (frames per sample, 6), ``TRACKBENCH_BENCH_BATCH`` (samples of
the batched ``track``, 2); ``OMP_NUM_THREADS`` fixes the CPU threads. Measure with (one line)

    python -m pytest tests/benchmarks/test_bench_hart.py
        --benchmark-enable --benchmark-json out.json

on a GPU with e.g. ``TRACKBENCH_BENCH_DEVICE=cuda TRACKBENCH_BENCH_FRAMES=60`` and
``TRACKBENCH_BENCH_BATCH=50`` set. Each benchmark's ``extra_info`` carries the tracker, mode,
image size, batch, device and frames/s (``fps``: the median over the measured rounds of the
harness's own timing; ``wall_fps``: frames over the median round's wall time, image reading and
the online loop's bookkeeping included). Without ``--benchmark-enable`` each case runs once as a
plain test.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from harness.data import BoxTable, Sequence, SingleObjectSample
from harness.protocol import SingleObjectTracker
from harness.provenance import device_name
from harness.tasks.single_object import AGREEMENT_PX
from harness.timing import timed_batched_follow, timed_follow
from trackers.gan.config import GanConfig
from trackers.gan.models import build_model
from trackers.gan.tracker import GanTracker
from trackers.hart.tracker import HartTracker

DEVICE = os.environ.get("TRACKBENCH_BENCH_DEVICE", "cpu")
FRAMES = int(os.environ.get("TRACKBENCH_BENCH_FRAMES", "6"))
BATCH = int(os.environ.get("TRACKBENCH_BENCH_BATCH", "2"))
ONLINE_SAMPLES = min(BATCH, 4)
WARMUP = 5  # online calls left out of the statistics (timed_follow's warm-up)
ROUNDS, WARMUP_ROUNDS = 3, 1
POOL = 8  # distinct random frames per image size
BOX_SIZE = (40, 30)  # width, height


@dataclass(frozen=True)
class Case:
    tracker: str
    height: int
    width: int
    channels: int
    scale: str  # pixels relative to 187×621

    @property
    def id(self) -> str:
        return f"{self.tracker}-{self.scale}-{self.height}x{self.width}"


CASES = [
    *(
        Case(f"HART-{setup}", height, width, channels, scale)
        for setup, channels in (("kitti", 3), ("mnist", 1))
        for height, width, scale in ((187, 621, "1x"), (374, 1242, "4x"))
    ),
    Case("RecTracker-ID", 341, 341, 1, "1x"),
    Case("RecTracker-ID", 682, 682, 1, "4x"),
]


@functools.cache
def build(case: Case) -> SingleObjectTracker:
    """The tracker of ``case`` (one per case for the module), on ``DEVICE``, whose ``track``
    runs all ``BATCH`` samples in one ``forward``."""
    if case.tracker.startswith("HART-"):
        setup = case.tracker.removeprefix("HART-")
        return HartTracker(setup=setup, variant="HART", seed=0, device=DEVICE, batch=BATCH)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(GanConfig(model=case.tracker, frame_size=case.height))
    card = {"config": {"dataset": "synthetic", "variant": "paper"}}
    return GanTracker.from_model(model.to(DEVICE).eval(), card, batch=BATCH)


def make_samples(case: Case, count: int) -> list[SingleObjectSample]:
    """``count`` samples of ``FRAMES`` random frames of the case's size, read from memory."""
    rng = np.random.default_rng(0)
    shape = (POOL, case.height, case.width, case.channels)
    pool = rng.integers(0, 256, shape, dtype=np.uint8)
    width, height = BOX_SIZE
    samples = []
    for index in range(count):
        sequence = Sequence(
            name=f"synthetic-{index}",
            num_frames=FRAMES,
            width=case.width,
            height=case.height,
            fps=10.0,
            gt=BoxTable.empty(),
            load_frame=lambda n, index=index: pool[(index + n) % POOL],
        )
        shift = index % 5 - 2
        box = [
            (case.width - width) / 2 + 1 + 3 * shift,
            (case.height - height) / 2 + 1 + 2 * shift,
            width,
            height,
        ]
        samples.append(
            SingleObjectSample(
                sequence=sequence,
                object_id=1,
                frames=np.arange(1, FRAMES + 1),
                boxes=np.tile(np.array(box, np.float64), (FRAMES, 1)),
            )
        )
    return samples


def check_boxes(boxes: np.ndarray, samples: list[SingleObjectSample]) -> None:
    """The stacked boxes of ``samples``: one finite box per frame, sides ≥ 1 px, each sample's
    first box the given one."""
    assert boxes.shape == (len(samples) * FRAMES, 4)
    assert np.isfinite(boxes).all() and (boxes[:, 2:] >= 1).all()
    np.testing.assert_array_equal(boxes[::FRAMES], [sample.boxes[0] for sample in samples])


def describe(benchmark, case: Case, mode: str, batch: int, frames: int, fps: list[float]):
    """What the JSON report carries about one benchmark."""
    stats = benchmark.stats
    benchmark.extra_info.update(
        tracker=case.tracker,
        mode=mode,
        image=f"{case.height}x{case.width}x{case.channels}",
        pixels=case.height * case.width,
        scale=case.scale,
        batch=batch,
        frames=frames,
        fps=float(np.median(fps)),
        fps_rounds=fps,
        wall_fps=None if stats is None else frames / stats.stats.median,
        device=DEVICE,
        device_name=device_name(DEVICE),
        threads=torch.get_num_threads(),
    )


@pytest.mark.benchmark(group="hart-online")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_online(benchmark, case):
    tracker, samples = build(case), make_samples(case, ONLINE_SAMPLES)
    records = []

    def follow() -> np.ndarray:
        boxes, record = timed_follow(tracker, samples, warmup_frames=WARMUP, device=DEVICE)
        records.append(record)
        return boxes

    boxes = benchmark.pedantic(follow, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
    measured = records[-ROUNDS:]
    total = ONLINE_SAMPLES * FRAMES
    describe(benchmark, case, "online", 1, total, [record.fps for record in measured])
    benchmark.extra_info.update(
        timed_frames=measured[-1].frames,
        p50_ms=float(np.median([record.latency_p50_ms for record in measured])),
    )
    check_boxes(boxes, samples)
    assert all(record.frames == total - min(WARMUP, total - 1) for record in records)
    assert all(record.fps > 0 and record.batch_size == 1 for record in records)


@pytest.mark.benchmark(group="hart-batched")
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_batched(benchmark, case):
    tracker, samples = build(case), make_samples(case, BATCH)
    rates = []

    def track() -> np.ndarray:
        boxes, fps = timed_batched_follow(tracker, samples, device=DEVICE)
        rates.append(fps)
        return boxes

    boxes = benchmark.pedantic(track, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS)
    describe(benchmark, case, "batched", BATCH, BATCH * FRAMES, rates[-ROUNDS:])
    check_boxes(boxes, samples)
    assert all(fps > 0 for fps in rates)
    # the batched path gives the online loop's boxes (untimed here)
    online, _ = timed_follow(tracker, samples[:ONLINE_SAMPLES], warmup_frames=0, device=DEVICE)
    gap = float(np.abs(boxes[: len(online)] - online).max())
    benchmark.extra_info["online_gap_px"] = gap
    assert gap <= AGREEMENT_PX, f"batched boxes differ from online ones by {gap:.4f} px"
