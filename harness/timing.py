"""Timing of a tracker's own work (DESIGN.md "Timing"): not data loading, not metrics.

Inputs are materialised (images decoded, detections split per frame) before the clock runs, in
chunks of ``chunk_frames`` so that a long image sequence does not have to fit in memory at once.
Warm-up frames are tracked (their boxes are in the result) but left out of the statistics. On a
GPU every frame is bracketed by CUDA events after a ``torch.cuda.synchronize()``; on the CPU by
``time.perf_counter``. Throughput is frames/s, which is the Hz that MOTChallenge reports.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np
import torch

from harness.data import BoxTable, Sequence, SingleObjectSample, frame_inputs, outputs_to_table
from harness.protocol import (
    MultiObjectTracker,
    SingleObjectTracker,
    sample_images,
    sequence_info,
)
from harness.provenance import device_name


@dataclass(frozen=True)
class TimingRecord:
    """One timing measurement. Latencies are None when only a whole-sequence time exists
    (offline trackers, batched ``track``)."""

    frames: int  # frames measured (warm-up excluded)
    warmup_frames: int
    total_seconds: float  # tracker time over the measured frames
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    fps: float  # measured frames / total_seconds (= Hz)
    peak_memory_bytes: int
    memory_source: str  # "cuda allocator" or "process RSS" (the process's peak, not the tracker's)
    batch_size: int
    dtype: str
    device_name: str
    torch_version: str
    cuda_version: str | None
    threads: int  # torch intra-op threads of the timing process
    jobs: int = 1  # worker processes that ran side by side (``trackbench run --jobs``)
    batched_fps: float | None = (
        None  # one batched ``track`` over a cell's samples (``batched_fps``)
    )


class _CpuClock:
    """Wall-clock time stamps: ``now`` is ``time.perf_counter`` itself, so a stamp costs one C
    call per frame."""

    now = staticmethod(time.perf_counter)

    def gaps(self, stamps: list[float]) -> np.ndarray:
        """Seconds between consecutive stamps."""
        return np.diff(np.array(stamps))


class _CudaClock:
    """Time stamps as CUDA events on the device's stream, read after one final synchronize."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def now(self) -> torch.cuda.Event:
        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(self.device))
        return event

    def gaps(self, stamps: list[torch.cuda.Event]) -> np.ndarray:
        torch.cuda.synchronize(self.device)
        return np.array([a.elapsed_time(b) / 1000.0 for a, b in zip(stamps, stamps[1:])])


def _latencies(clock: _CpuClock | _CudaClock, stamps: list, runs: list[int]) -> np.ndarray:
    """Seconds per call from stamps taken before the first call of each run of consecutive calls
    and after every call (``runs``: calls per run); the gaps between runs are dropped."""
    between = np.cumsum(np.asarray(runs) + 1)[:-1] - 1
    return np.delete(clock.gaps(stamps), between)


def _peak_rss_bytes() -> int:
    """The process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class _Environment:
    """Device-specific clock, synchronisation and memory readings."""

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)

    def clock(self) -> _CpuClock | _CudaClock:
        return _CudaClock(self.device) if self.cuda else _CpuClock()

    def synchronize(self) -> None:
        if self.cuda:
            torch.cuda.synchronize(self.device)

    def record(
        self,
        tracker,
        frames: int,
        warmup: int,
        seconds: float,
        latencies: np.ndarray | None,
        batch_size: int,
    ) -> TimingRecord:
        if self.cuda:
            peak, source = int(torch.cuda.max_memory_allocated(self.device)), "cuda allocator"
        else:
            peak, source = _peak_rss_bytes(), "process RSS"
        p50, p95 = (None, None) if latencies is None else np.percentile(latencies * 1e3, [50, 95])
        return TimingRecord(
            frames=frames,
            warmup_frames=warmup,
            total_seconds=float(seconds),
            latency_p50_ms=None if p50 is None else float(p50),
            latency_p95_ms=None if p95 is None else float(p95),
            fps=frames / seconds if seconds > 0 else float("inf"),
            peak_memory_bytes=peak,
            memory_source=source,
            batch_size=batch_size,
            dtype=str(getattr(tracker, "dtype", "unspecified")),
            device_name=device_name(self.device),
            torch_version=torch.__version__,
            cuda_version=torch.version.cuda,
            threads=torch.get_num_threads(),
        )


def timed_track(
    tracker: MultiObjectTracker,
    sequence: Sequence,
    detections: BoxTable | None = None,
    warmup_frames: int = 10,
    device: str = "cpu",
    chunk_frames: int = 1000,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[BoxTable, TimingRecord]:
    """Track ``sequence`` frame by frame and time every ``step``.

    The first ``warmup_frames`` frames (at most all frames but one) are excluded from the
    statistics. An offline tracker (``online = False``) is timed as one ``track`` call, which
    includes its own input handling and has no per-frame latencies. ``on_frame(frames done)`` is
    called after each timed ``step``, outside the clock (progress display).
    """
    env = _Environment(device)
    if not getattr(tracker, "online", True):
        results, record = _time_whole(tracker, [sequence], [detections], env)
        return results[0], record
    warmup = min(warmup_frames, max(sequence.num_frames - 1, 0))
    stamps: list[float | torch.cuda.Event]
    clock, outputs, stamps = env.clock(), [], []
    stamp, now = stamps.append, clock.now
    tracker.reset(sequence_info(sequence))
    inputs = frame_inputs(sequence, tracker.inputs, detections)
    while chunk := list(islice(inputs, chunk_frames)):
        for frame in chunk:
            if frame.number == warmup + 1:
                env.synchronize()
            stamp(now())
            outputs.append(tracker.step(frame))
            stamp(now())
            if on_frame is not None:
                on_frame(frame.number)
    latencies = _latencies(clock, stamps, [1] * len(outputs))[warmup:]
    record = env.record(tracker, len(latencies), warmup, latencies.sum(), latencies, batch_size=1)
    return outputs_to_table(outputs), record


def timed_follow(
    tracker: SingleObjectTracker,
    samples: list[SingleObjectSample],
    warmup_frames: int = 10,
    device: str = "cpu",
    on_frame: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, TimingRecord]:
    """Follow each sample with ``init`` then ``update`` and time every call (one frame each).

    A sample's images are read before its first call is timed. The first ``warmup_frames`` calls
    of all samples together (at most all calls but one) are left out of the statistics (on a GPU
    the events time the device's work, so no synchronisation separates them); each call is timed
    from the stamp before it to the stamp after it, one stamp per call. Returns the boxes of all
    samples stacked in order, (Σ T, 4), each sample's first row being its given box, and one
    record for all samples. An offline tracker (``online = False``) is timed as one ``track``
    call. ``on_frame(frames done)`` is called after each sample, outside the clock.
    """
    env = _Environment(device)
    if not getattr(tracker, "online", True):
        stacked, seconds = _whole_follow(tracker, samples, env)
        return stacked, env.record(tracker, len(stacked), 0, seconds, None, batch_size=len(samples))
    total = sum(len(sample.frames) for sample in samples)
    warmup = min(warmup_frames, max(total - 1, 0))
    boxes: list[np.ndarray]
    stamps: list[float | torch.cuda.Event]
    clock, boxes, stamps, done = env.clock(), [], [], 0
    stamp, now, update, keep = stamps.append, clock.now, tracker.update, boxes.append
    for sample in samples:
        images = sample_images(sample)
        keep(sample.boxes[0])
        stamp(now())
        tracker.init(images[0], sample.boxes[0])
        stamp(now())
        for image in images[1:]:
            keep(update(image))
            stamp(now())
        done += len(images)
        if on_frame is not None:
            on_frame(done)
    lengths = [len(sample.frames) for sample in samples]
    latencies = _latencies(clock, stamps, lengths)[warmup:]
    record = env.record(tracker, len(latencies), warmup, latencies.sum(), latencies, batch_size=1)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4), record


def timed_embed(
    tracker: Any,
    sequence: Sequence,
    frames: list[int],
    boxes: list[np.ndarray],
    warmup_frames: int = 10,
    device: str = "cpu",
    chunk_frames: int = 1000,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[list[Any], TimingRecord]:
    """Call ``tracker.embed(image, boxes[i])`` on the image of frame ``frames[i]`` of
    ``sequence``, in order, and time every call (the reid task's work, ``harness.tasks.reid``).

    Images are read before the clock runs, ``chunk_frames`` at a time; the first
    ``warmup_frames`` calls (at most all but one) are left out of the statistics.
    ``on_frame(frame number)`` is called after each call, outside the clock. Returns what each
    call returned, unchecked, and the record."""
    env = _Environment(device)
    warmup = min(warmup_frames, max(len(frames) - 1, 0))
    stamps: list[float | torch.cuda.Event]
    features: list[Any]
    clock, features, stamps = env.clock(), [], []
    stamp, now, embed = stamps.append, clock.now, tracker.embed
    calls = iter(zip(frames, boxes))
    while chunk := list(islice(calls, chunk_frames)):
        images = [sequence.frame(number) for number, _ in chunk]
        for (number, frame_boxes), image in zip(chunk, images):
            if len(features) == warmup:
                env.synchronize()
            stamp(now())
            features.append(embed(image, frame_boxes))
            stamp(now())
            if on_frame is not None:
                on_frame(number)
    latencies = _latencies(clock, stamps, [1] * len(features))[warmup:]
    record = env.record(tracker, len(latencies), warmup, latencies.sum(), latencies, batch_size=1)
    return features, record


def timed_batched_follow(
    tracker: SingleObjectTracker, samples: list[SingleObjectSample], device: str = "cpu"
) -> tuple[np.ndarray, float]:
    """The boxes of one ``track`` call over all ``samples`` (a tracker's batched path), stacked
    as ``timed_follow`` stacks them, and its frames/s (no warm-up: throughput over the whole
    call, reading the samples' images included)."""
    boxes, seconds = _whole_follow(tracker, samples, _Environment(device))
    return boxes, len(boxes) / seconds


def _whole_follow(
    tracker: SingleObjectTracker, samples: list[SingleObjectSample], env: _Environment
) -> tuple[np.ndarray, float]:
    """One timed ``track`` call: the stacked boxes, each sample's shape checked, and seconds."""
    env.synchronize()
    started = time.perf_counter()
    results = tracker.track(samples)
    env.synchronize()
    seconds = time.perf_counter() - started
    for sample, result in zip(samples, results, strict=True):
        if np.shape(result) != (len(sample.frames), 4):
            raise ValueError(
                f"sample {sample.name}: tracker returned boxes of shape {np.shape(result)},"
                f" expected ({len(sample.frames)}, 4)"
            )
    return np.concatenate(results).astype(np.float64), seconds


def time_batched(
    tracker: MultiObjectTracker,
    sequences: list[Sequence],
    detections: list[BoxTable | None] | None = None,
    device: str = "cpu",
) -> tuple[list[BoxTable], TimingRecord]:
    """Time one batched ``track`` call over ``sequences``: throughput only, no warm-up."""
    return _time_whole(tracker, sequences, detections, _Environment(device))


def _time_whole(tracker, sequences, detections, env: _Environment):
    env.synchronize()
    started = time.perf_counter()
    results = tracker.track(sequences, detections)
    env.synchronize()
    seconds = time.perf_counter() - started
    frames = sum(s.num_frames for s in sequences)
    return results, env.record(tracker, frames, 0, seconds, None, batch_size=len(sequences))
