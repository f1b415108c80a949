"""TBA as a harness tracker: online over a video with the recurrent state carried frame to frame,
results by the TBA output protocol (``trackers.tba.output``, after the released code's
scripts/get_metric_txt.py).

Each frame gives per tracker slot [left, top, w, h, y_e] (boxes by ``pose_to_boxes``); a slot is
reported while y_e > 0.5 and gets a new id each time it rises past 0.5. ``step`` assigns ids
incrementally exactly as ``slots_to_table`` does on the whole video; the batched ``track`` runs
many sequences as one batch and uses ``slots_to_table`` itself (both are tested equal).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.checkpoints import (
    Checkpoint,
    CheckpointedTracker,
)
from harness.data import BoxTable, FrameInput, Sequence, TrackOutput
from harness.errors import ConfigError
from harness.protocol import MultiObjectTracker, sequence_info
from trackers.tba.config import TBAConfig, method_config
from trackers.tba.model import TBA, TBAState, compile_model, frames_to_tensor
from trackers.tba.output import THRESHOLD, slots_to_table
from trackers.tba.renderer import pose_to_boxes

LABEL = "TBA checkpoint"
"""How errors name a TBA checkpoint."""


def model_card(config: TBAConfig) -> dict[str, Any]:
    """The head of every TBA checkpoint card: method, variant and the whole configuration."""
    return {"method": "tba", "variant": config.variant, "config": config.to_card()}


class SlotIds:
    """``slots_to_table``'s id rule applied frame by frame: a slot reported (y_e > 0.5) gets a
    new id when it was not reported in the previous frame; ids count up in (frame, slot) order."""

    def __init__(self, num_slots: int):
        self.slot_ids = np.zeros(num_slots, np.int64)
        self.slot_on = np.zeros(num_slots, bool)
        self.next_id = 1

    def update(self, slots: np.ndarray) -> TrackOutput:
        """The tracks of one frame from its slots (I, 5) [left, top, w, h, y_e]."""
        on = slots[:, 4] > THRESHOLD
        rising = on & ~self.slot_on
        self.slot_ids[rising] = self.next_id + np.arange(rising.sum())
        self.next_id += int(rising.sum())
        self.slot_on = on
        return TrackOutput(self.slot_ids[on].copy(), slots[on, :4], slots[on, 4])


class TBATracker(CheckpointedTracker, MultiObjectTracker):
    """Tracking by Animation (He et al., CVPR 2019) with the registry's config keys.

    ``checkpoint`` None runs an untrained model initialised from ``seed`` (smoke tests only);
    otherwise its weights, whose card must describe the same model as the other keys.
    ``stochastic`` draws the Gumbel noise at inference as the released code did (seeded); it reaches
    only the sampled layers and shapes, so the tracks are the deterministic ones.
    ``compile`` runs the feature extractor and the per-frame tracker-array step under
    ``torch.compile`` with that mode (``harness.compiled.COMPILE_MODES``; None = eager).
    """

    inputs = frozenset({"image"})
    path_config = frozenset({"checkpoint"})
    checkpoint_label = LABEL
    dtype = "float32"

    def __init__(
        self,
        dataset: str = "sprites-mot",
        act: bool = True,
        reprioritize: bool = True,
        memory_write: bool = True,
        attention: bool = True,
        layers: int | None = None,
        smoke: bool = False,
        checkpoint: str | None = None,
        seed: int = 0,
        stochastic: bool = False,
        device: str = "cpu",
        chunk_frames: int = 20,
        compile: str | None = None,
    ):
        config = method_config(dataset, act, reprioritize, memory_write, attention, layers, smoke)
        self._settings(torch.device(device), seed, stochastic, chunk_frames, compile)
        self.start_model(config, TBA, checkpoint, seed)
        self.reset({})

    @classmethod
    def from_model(
        cls, model: TBA, card: dict[str, Any], stochastic: bool = False, seed: int = 0
    ) -> TBATracker:
        """The tracker runs ``model`` in whatever mode it is in (training's validation)."""
        tracker = cls.__new__(cls)
        tracker._settings(next(model.parameters()).device, seed, stochastic, 20, None)
        tracker.model = model
        tracker.reset({})
        return tracker

    def _settings(
        self,
        device: torch.device,
        seed: int,
        stochastic: bool,
        chunk_frames: int,
        compile: str | None,
    ) -> None:
        """Everything but the model; no checkpoint loaded yet."""
        self.device = device
        self.seed, self.stochastic, self.chunk_frames = seed, stochastic, chunk_frames
        self.compile_mode = compile
        self.checkpoint: Checkpoint | None = None

    @property
    def config(self) -> TBAConfig:
        return self.model.config

    # -- checkpoints (harness.protocol.Learnable, harness.checkpoints.CheckpointedTracker) -----

    @classmethod
    def build_network(cls, config: TBAConfig) -> TBA:
        return TBA(config)

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> TBAConfig:
        keys = ("dataset", "act", "reprioritize", "memory_write", "attention", "layers", "smoke")
        return method_config(*(config[key] for key in keys))

    @classmethod
    def network_on_card(cls, card: dict[str, Any]) -> TBAConfig:
        return TBAConfig.from_card(card["config"])

    @classmethod
    def network_difference(cls, held: TBAConfig, wanted: TBAConfig) -> dict[str, tuple[Any, Any]]:
        """Of the fields that make the network (``TBAConfig.model_fields``) only."""
        made = wanted.model_fields()
        return {k: v for k, v in super().network_difference(held, wanted).items() if k in made}

    def model_card(self) -> dict[str, Any]:
        return model_card(self.config)

    def untrained_variant(self) -> tuple[str, str]:
        return self.config.variant, self.config.dataset

    def prepare(self, model: TBA) -> TBA:
        """``model`` under ``torch.compile`` in the tracker's ``compile`` mode."""
        return compile_model(model, self.compile_mode)

    # -- online tracking -----------------------------------------------------------------------

    def reset(self, info: dict[str, Any]) -> None:
        if "width" in info:
            self._check_size(info)
        self.state = self.model.initial_state(1, self.device)
        self.generator = self._generator()
        self.ids = SlotIds(self.config.num_trackers)

    def step(self, frame: FrameInput) -> TrackOutput:
        frames = frames_to_tensor(frame.image[None, None], self.device)
        slots, self.state = self._slots(frames, self.state, self.generator)
        return self.ids.update(slots[0, 0])

    def track(
        self, sequences: list[Sequence], detections: list[BoxTable | None] | None = None
    ) -> list[BoxTable]:
        """All ``sequences`` as one batch, ``chunk_frames`` frames at a time; shorter sequences
        are padded with black frames after their end (rows are independent, so the padding
        changes nothing). Same tracks as ``step`` frame by frame."""
        for sequence in sequences:
            self._check_size(sequence_info(sequence))
        lengths = [sequence.num_frames for sequence in sequences]
        height, width = self.config.frame_size
        state = self.model.initial_state(len(sequences), self.device)
        generator = self._generator()
        slots = np.zeros((len(sequences), max(lengths, default=0), self.config.num_trackers, 5))
        for start in range(0, slots.shape[1], self.chunk_frames):
            stop = min(start + self.chunk_frames, slots.shape[1])
            images = np.zeros(
                (len(sequences), stop - start, height, width, self.config.channels), np.uint8
            )
            for b, sequence in enumerate(sequences):
                for number in range(start + 1, min(stop, sequence.num_frames) + 1):
                    images[b, number - 1 - start] = sequence.frame(number)
            chunk, state = self._slots(frames_to_tensor(images, self.device), state, generator)
            slots[:, start:stop] = chunk
        return [slots_to_table(slots[b, :n]) for b, n in enumerate(lengths)]

    def _slots(
        self, frames: torch.Tensor, state: TBAState, generator: torch.Generator | None
    ) -> tuple[np.ndarray, TBAState]:
        """Per-frame slot outputs (B, T, I, 5) [left, top, w, h, y_e] of a chunk, and the state."""
        with torch.inference_mode():
            _, outputs, state = self.model(
                frames, state, stochastic=self.stochastic, generator=generator, render=False
            )
            boxes = pose_to_boxes(outputs.pose, self.config)
            slots = torch.cat([boxes, outputs.conf.unsqueeze(-1)], dim=-1)
        return slots.double().cpu().numpy(), state

    def _generator(self) -> torch.Generator | None:
        """The Gumbel noise generator of a sequence (stochastic mode), seeded by ``seed``."""
        if not self.stochastic:
            return None
        return torch.Generator(self.device).manual_seed(self.seed)

    def _check_size(self, info: dict[str, Any]) -> None:
        height, width = self.config.frame_size
        if (info["height"], info["width"]) != (height, width):
            raise ConfigError(
                f"TBA ({self.config.dataset}) takes {height}x{width} frames; sequence "
                f"{info.get('name')!r} has {info['height']}x{info['width']}"
            )
