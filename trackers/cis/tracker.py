"""Cross-input consistency as a harness multi-object tracker (favyen/uns20 infer.py).

Every ``skip``-th frame, each track is scored against the frame's detections and "no match":
the visual branch's logits averaged over the track's crops 1, 2, 4, 8, 16 steps back, the spatial
branch's from its recurrent state and last box (zero once unmatched), both averaged over the
ensemble; each branch's matrix is eq. 1's, the scores their minimum, and a candidate that either
branch scores below 0 is ruled out (infer.py:196-271). The greedy assignment (infer.py:262-287)
matches; an unmatched track lives ``max_age`` more steps, an unmatched detection starts a track;
a processed frame without detections ends every track (infer.py:155-157). Offline (the default),
tracks with fewer than ``min_length`` detections are dropped and gaps interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from harness.checkpoints import CheckpointedTracker
from harness.data import BoxTable, FrameInput, Sequence, TrackOutput
from harness.protocol import MultiObjectTracker
from trackers.cis.config import CISConfig, Inference, inference_config, network_config
from trackers.cis.matching import (
    NEGATIVE_SCORE,
    greedy_assignment,
    hungarian_assignment,
    match_matrix,
)
from trackers.cis.model import CIS, spatial_features, with_null
from trackers.common.crops import appearance_crops
from trackers.common.tracks import drop_short_tracks, interpolate_gaps

LABEL = "cis checkpoint"
BRANCHES = {"visual-spatial": ("visual", "spatial"), "spatial": ("spatial",), "visual": ("visual",)}
"""The branches whose matrices give the scores, by the ``scores`` setting (infer.py's modes)."""
ASSIGN = {"greedy": greedy_assignment, "hungarian": hungarian_assignment}
MIN_SIDE = 4.0
"""Detections with a side below this many pixels after clipping to the image are not tracked
(infer.py:73-75, scripts/filter_small.py)."""


def model_card(config: CISConfig) -> dict[str, Any]:
    """The head of every cis card: method, variant and the network configuration."""
    return {"method": "cis", "variant": config.variant, "config": config.to_card()}


def usable_detections(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """``boxes`` (n, 4) ltwh clipped to the image and the mask (n,) of those whose sides are
    both at least ``MIN_SIDE``; the boxes returned are the kept ones."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    low = np.clip(boxes[:, :2], 1, [width + 1, height + 1])
    high = np.clip(boxes[:, :2] + boxes[:, 2:], 1, [width + 1, height + 1])
    clipped = np.concatenate([low, high - low], axis=1)
    keep = (clipped[:, 2:] >= MIN_SIDE).all(axis=1)
    return clipped[keep], keep


@dataclass
class Track:
    """A live track: its id, recurrent state per member (E, hidden), the spatial (and, for the
    occlusion model, combined) features of its last matched detection (zeros once unmatched),
    the image features of its matched crops per member (newest last), and its unmatched steps."""

    id: int
    state: Tensor
    previous: Tensor
    history: list[Tensor] = field(default_factory=list)
    age: int = 0


class CISTracker(CheckpointedTracker, MultiObjectTracker):
    """Cross-input consistency (Bastani et al., NeurIPS 2021) with the registry's config keys:
    ``dataset`` picks the network and inference defaults (``trackers.cis.config``); ``hiding``,
    ``training`` and ``normalisation`` say which trained model (the checkpoint's card must agree);
    ``scores`` which branches track (``visual-spatial``, ``spatial``, ``visual``); ``assignment``
    ``greedy`` (the code) or ``hungarian`` (the paper's text); ``skip`` None is the dataset's;
    ``online`` skips the offline post-processing. ``checkpoint`` None runs an
    untrained model initialised from ``seed`` (smoke tests only)."""

    inputs = frozenset({"image", "detections"})
    path_config = frozenset({"checkpoint"})
    checkpoint_label = LABEL

    def __init__(
        self,
        dataset: str = "mot17",
        hiding: str = "visual-spatial",
        training: str = "two-phase",
        normalisation: str = "min",
        scores: str = "visual-spatial",
        assignment: str = "greedy",
        skip: int | None = None,
        online: bool = False,
        smoke: bool = False,
        checkpoint: str | None = None,
        seed: int = 0,
        device: str = "cpu",
    ):
        wanted = network_config(
            dataset, smoke, hiding=hiding, training=training, normalisation=normalisation
        )
        self.device = torch.device(device)
        self.start_model(wanted, CIS, checkpoint, seed)
        self._settings(dataset, scores, assignment, skip, online)

    def _settings(
        self, dataset: str, scores: str, assignment: str, skip: int | None, online: bool
    ) -> None:
        overrides: dict[str, Any] = {"scores": scores, "assignment": assignment, "online": online}
        if skip is not None:
            overrides["skip"] = skip
        self.inference: Inference = inference_config(dataset, **overrides)
        self.online = self.inference.online
        self.reset({})

    @classmethod
    def from_model(cls, model: CIS, card: dict[str, Any], **settings: Any) -> CISTracker:
        tracker = cls.__new__(cls)
        tracker.device, tracker.model, tracker.checkpoint = (
            next(model.parameters()).device,
            model,
            None,
        )
        tracker._settings(
            card["config"]["dataset"],
            settings.get("scores", "visual-spatial"),
            settings.get("assignment", "greedy"),
            settings.get("skip"),
            settings.get("online", False),
        )
        return tracker

    @property
    def config(self) -> CISConfig:
        return self.model.config

    # -- checkpoints (harness.protocol.Learnable, harness.checkpoints.CheckpointedTracker) -----

    @classmethod
    def build_network(cls, config: CISConfig) -> CIS:
        return CIS(config)

    @classmethod
    def network_of(cls, config: dict[str, Any]) -> CISConfig:
        return network_config(
            config["dataset"],
            config.get("smoke", False),
            hiding=config.get("hiding", "visual-spatial"),
            training=config.get("training", "two-phase"),
            normalisation=config.get("normalisation", "min"),
        )

    @classmethod
    def network_on_card(cls, card: dict[str, Any]) -> CISConfig:
        return CISConfig.from_card(card["config"])

    def model_card(self) -> dict[str, Any]:
        return model_card(self.config)

    def untrained_variant(self) -> tuple[str, str]:
        return self.config.variant, self.config.dataset

    # -- tracking ------------------------------------------------------------------------------

    def reset(self, info: dict[str, Any]) -> None:
        self.size = (int(info.get("width", 0)), int(info.get("height", 0)))
        self.tracks: list[Track] = []
        self.next_id = 1

    def step(self, frame: FrameInput) -> TrackOutput:
        if (frame.number - 1) % self.inference.skip:
            return TrackOutput.empty()
        assert frame.detections is not None and frame.image is not None
        height, width = frame.image.shape[:2]
        boxes, keep = usable_detections(frame.detections.boxes, width, height)
        scores = np.asarray(frame.detections.scores, np.float64)[keep]
        if not len(boxes):
            self.tracks = []
            return TrackOutput.empty()
        with torch.inference_mode():
            detections = self._features(frame.image, boxes, width, height)
            matches, states = self._match(detections) if self.tracks else ({}, None)
            ids = self._update(detections, matches, states)
        return TrackOutput(np.asarray(ids, np.int64), boxes, scores)

    def track(
        self, sequences: list[Sequence], detections: list[BoxTable | None] | None = None
    ) -> list[BoxTable]:
        """``step`` over every frame; offline, short tracks dropped and gaps interpolated."""
        results = super().track(sequences, detections)
        if self.inference.online:
            return results
        return [
            interpolate_gaps(drop_short_tracks(result, self.inference.min_length))
            for result in results
        ]

    def _features(self, image: np.ndarray, boxes: np.ndarray, width: int, height: int) -> dict:
        crops = torch.from_numpy(appearance_crops(image, boxes, self.config.crop)).to(self.device)
        spatial = torch.from_numpy(spatial_features(boxes, width, height)).to(self.device)
        image_features = torch.stack([member.cnn(crops) for member in self.model.members])
        return {"spatial": spatial, "image": image_features}  # image: (E, m, c)

    def _match(self, detections: dict) -> tuple[dict[int, int], Tensor]:
        """Track index -> detection index of this frame (``greedy_assignment``), and each
        track's next recurrent state for each column (E, n, m + 1, hidden)."""
        spatial, image = detections["spatial"], detections["image"]
        members = self.model.members
        states = torch.stack([t.state for t in self.tracks], dim=1)  # (E, n, hidden)
        previous = torch.stack([t.previous for t in self.tracks], dim=1)  # (E, n, f)
        branches: dict[str, list[Tensor]] = {"visual": [], "spatial": []}
        new_states = []
        for e, member in enumerate(members):
            if self.config.hiding == "occlusion":
                candidates = with_null(torch.cat([spatial, image[e]], dim=1))
                logits, next_states = member.combined(states[e], previous[e], candidates)
                branches["spatial"].append(member.with_no_match(logits))
            else:
                logits, next_states = member.spatial(states[e], previous[e], with_null(spatial))
                branches["spatial"].append(member.with_no_match(logits))
                branches["visual"].append(self._visual_logits(e, member, image[e]))
            new_states.append(next_states)
        norm = self.config.normalisation
        logits = {k: torch.stack(v).mean(dim=0) for k, v in branches.items() if v}
        matrices = {k: match_matrix(v, norm) for k, v in logits.items()}
        occlusion = self.config.hiding == "occlusion"
        used = ("spatial",) if occlusion else BRANCHES[self.inference.scores]
        scores = (
            matrices[used[0]] if len(used) == 1 else torch.minimum(*[matrices[k] for k in used])
        )
        vetoed = torch.zeros_like(scores, dtype=torch.bool)
        for branch in used:
            if branch == "visual" and len(used) == 1:
                continue  # the code's visual-only mode rules nothing out (infer.py:270-273)
            vetoed[:, :-1] |= logits[branch][:, :-1] < 0
        scores = scores.masked_fill(vetoed, NEGATIVE_SCORE)
        assign = (
            hungarian_assignment if self.inference.assignment == "hungarian" else greedy_assignment
        )
        return assign(scores.cpu().numpy()), torch.stack(new_states)

    def _visual_logits(self, e: int, member: Any, image: Tensor) -> Tensor:
        """(n, m + 1): each track's visual logits averaged over its crops ``history`` steps back;
        the last column the member's "no match" logit."""
        rows, owners = [], []
        for index, track in enumerate(self.tracks):
            for back in self.inference.history:
                if len(track.history) >= back:
                    rows.append(track.history[-back][e])
                    owners.append(index)
        logits = member.visual(torch.stack(rows), image)  # (k, m)
        owner = torch.tensor(owners, device=logits.device)
        sums = logits.new_zeros(len(self.tracks), logits.shape[1]).index_add_(0, owner, logits)
        counts = torch.bincount(owner, minlength=len(self.tracks)).clamp_min(1)
        mean = sums / counts[:, None]
        return member.with_no_match(torch.cat([mean, mean.new_zeros(len(mean), 1)], dim=1))

    def _update(
        self, detections: dict, matches: dict[int, int], states: Tensor | None
    ) -> list[int]:
        """Advance the tracks by ``matches`` to their ``states`` (``_match``); the id of each
        detection of the frame."""
        spatial, image = detections["spatial"], detections["image"]
        m = len(spatial)
        occlusion = self.config.hiding == "occlusion"
        features = (
            torch.cat([spatial[None].expand(len(image), -1, -1), image], dim=2)
            if occlusion
            else spatial[None].expand(len(image), -1, -1)
        )
        ids = [0] * m
        live = []
        for index, track in enumerate(self.tracks):
            column = matches.get(index, m)
            assert states is not None  # tracks were matched
            track.state = states[:, index, column]
            if column < m:
                track.previous, track.age = features[:, column], 0
                track.history = [*track.history, image[:, column]][-max(self.inference.history) :]
                ids[column] = track.id
            else:
                track.previous = torch.zeros_like(track.previous)
                track.age += 1
                if track.age > self.inference.max_age:
                    continue
            live.append(track)
        hidden = self.config.hidden
        for column in range(m):
            if ids[column]:
                continue
            live.append(
                Track(
                    id=self.next_id,
                    state=spatial.new_zeros(len(image), hidden),
                    previous=features[:, column],
                    history=[image[:, column]],
                )
            )
            ids[column] = self.next_id
            self.next_id += 1
        self.tracks = live
        return ids
