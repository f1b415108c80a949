"""Timing records on the CPU (for real), the CUDA path with a fake torch.cuda, and on a GPU if any.

No assertion here depends on how fast anything runs: only structure, counts and orderings.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from harness import timing
from harness.data import BoxTable, FrameInput, Sequence, SingleObjectSample, TrackOutput
from harness.protocol import MultiObjectTracker
from harness.timing import TimingRecord, time_batched, timed_follow, timed_track
from trackers.baselines.ground_truth import GroundTruthTracker
from trackers.baselines.single import ConstantBoxTracker


class EchoTracker(MultiObjectTracker):
    """Reports one box per frame whose left edge is the frame's mean pixel value; logs its calls."""

    inputs = frozenset({"image"})

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def reset(self, info):
        self.log.append("reset")

    def step(self, frame: FrameInput) -> TrackOutput:
        self.log.append(f"step {frame.number}")
        box = np.array([[frame.image.mean(), 0.0, 4.0, 4.0]])
        return TrackOutput(np.array([1]), box, np.ones(1))


def image_sequence(num_frames: int, log: list[str]) -> Sequence:
    def load(number: int) -> np.ndarray:
        log.append(f"load {number}")
        return np.full((8, 8, 3), number, np.uint8)

    gt = BoxTable.build(
        frame=np.arange(1, num_frames + 1), box=np.ones((num_frames, 4)), id=np.ones(num_frames)
    )
    return Sequence("echo", num_frames, 8, 8, 25.0, gt=gt, load_frame=load)


def test_cpu_record_fields_and_counts():
    log: list[str] = []
    result, record = timed_track(EchoTracker(log), image_sequence(30, log), warmup_frames=10)
    assert isinstance(record, TimingRecord)
    assert result.frame.tolist() == list(range(1, 31))  # warm-up frames are tracked too
    assert result.box[:, 0].tolist() == list(range(1, 31))
    assert record.frames == 20 and record.warmup_frames == 10 and record.batch_size == 1
    assert 0 < record.latency_p50_ms <= record.latency_p95_ms
    assert record.total_seconds > 0 and record.fps == pytest.approx(20 / record.total_seconds)
    assert record.memory_source == "process RSS" and record.peak_memory_bytes > 1 << 20
    assert record.torch_version == torch.__version__ and record.device_name
    assert set(dataclasses.asdict(record)) == {f.name for f in dataclasses.fields(TimingRecord)}


def test_inputs_are_loaded_before_the_frames_are_timed():
    log: list[str] = []
    timed_track(EchoTracker(log), image_sequence(10, log), warmup_frames=2, chunk_frames=4)
    loads_then_steps = [f"load {n}" for n in (1, 2, 3, 4)] + [f"step {n}" for n in (1, 2, 3, 4)]
    assert log[0] == "reset" and log[1:9] == loads_then_steps
    assert log[9:13] == [f"load {n}" for n in (5, 6, 7, 8)]
    assert log.count("reset") == 1 and sum(e.startswith("step") for e in log) == 10


def test_warmup_is_clipped_on_short_sequences():
    _, record = timed_track(EchoTracker([]), image_sequence(5, []), warmup_frames=10)
    assert record.warmup_frames == 4 and record.frames == 1


def test_offline_tracker_is_timed_as_one_call():
    sequence = image_sequence(12, [])
    result, record = timed_track(GroundTruthTracker(), sequence)
    assert result.equals(GroundTruthTracker().track([sequence])[0])
    assert record.frames == 12 and record.warmup_frames == 0
    assert record.latency_p50_ms is None and record.latency_p95_ms is None


def test_time_batched_counts_all_sequences():
    sequences = [image_sequence(7, []), image_sequence(5, [])]
    results, record = time_batched(EchoTracker([]), sequences)
    assert [len(r) for r in results] == [7, 5]
    assert record.frames == 12 and record.batch_size == 2 and record.fps > 0


class FakeEvent:
    """Stands in for torch.cuda.Event: every begin/end pair spans 2 ms."""

    clock = 0.0

    def __init__(self, enable_timing: bool) -> None:
        assert enable_timing
        self.at = None

    def record(self, stream=None) -> None:
        FakeEvent.clock += 1.0
        self.at = FakeEvent.clock

    def elapsed_time(self, end: FakeEvent) -> float:
        return 2.0 * (end.at - self.at)


def test_cuda_path_with_fake_cuda(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 12345)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(timing, "_peak_rss_bytes", lambda: pytest.fail("RSS read on CUDA"))
    _, record = timed_track(EchoTracker([]), image_sequence(8, []), warmup_frames=3, device="cuda")
    assert record.latency_p50_ms == pytest.approx(2.0)
    assert record.latency_p95_ms == pytest.approx(2.0)
    assert record.frames == 5 and record.total_seconds == pytest.approx(0.010)
    assert record.peak_memory_bytes == 12345 and record.memory_source == "cuda allocator"
    assert record.device_name == "Fake GPU"
    assert calls[0] == "reset" and calls.count("sync") >= 2  # before measuring and before reading


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path_on_a_gpu():
    class MatmulTracker(EchoTracker):
        def step(self, frame):
            x = torch.ones(256, 256, device="cuda")
            (x @ x).sum().item()
            return super().step(frame)

    sequence = image_sequence(20, [])
    _, record = timed_track(MatmulTracker([]), sequence, warmup_frames=5, device="cuda")
    assert record.memory_source == "cuda allocator" and record.peak_memory_bytes >= 256 * 256 * 4
    assert record.frames == 15 and 0 < record.latency_p50_ms <= record.latency_p95_ms
    assert record.cuda_version == torch.version.cuda


def test_single_object_cuda_path_times_each_call_and_drops_the_reads_between_samples(monkeypatch):
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")

    def slow_read(number: int) -> np.ndarray:
        FakeEvent.clock += 100.0  # reading a frame takes long, outside the timed calls
        return np.zeros((4, 4, 3), dtype=np.uint8)

    video = Sequence("v", 9, 4, 4, 30.0, BoxTable.empty(), load_frame=slow_read)
    samples = [
        SingleObjectSample(video, 1, np.arange(1, 5), np.ones((4, 4))),
        SingleObjectSample(video, 2, np.arange(5, 8), np.ones((3, 4))),
    ]
    _, record = timed_follow(ConstantBoxTracker(), samples, warmup_frames=2, device="cuda")
    assert record.frames == 7 - 2
    assert record.latency_p95_ms == pytest.approx(2.0)  # every call, never a read
    assert record.total_seconds == pytest.approx(0.010)
