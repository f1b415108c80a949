"""The training losses of one sub-model on one example (model.py:400-489 and §3-4 of the paper).

- ``visual_loss`` (phase 1, model.py:422-433, 472-478): the visual matrix frame 0 -> L, its
  candidates padded with the frame-0 detections themselves and crops from another video (the
  artificial detections), consistent with itself under the spatial mask;
- ``spatial_loss`` (phase 2, model.py:435-487): the recurrent spatial matrices 0 -> i + 1, tracks
  followed by mutual argmax, each against the frozen visual matrix 0 -> i + 1; the mask only at the
  last step;
- ``joint_loss``: the paper's single loss (§3.2, §4.1): the visual matrix 0 -> L against the
  recurrent spatial one, both trained;
- ``occlusion_loss``: our reading of §4.2 (no code was released): two inputs with different
  intermediate frames emptied, the recurrent combined matcher run 0 -> h and h -> L on each and
  the matrices multiplied, M(0, L) = M(0, h) M(h, L).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from trackers.cis.config import CISConfig
from trackers.cis.matching import (
    SELF_PAIR_LOGIT,
    consistency_loss,
    match_matrix,
    mutual_argmax,
)
from trackers.cis.model import Recurrent, SubModel, with_null


@dataclass(frozen=True)
class Example:
    """One training example: per used frame t, ``crops[t]`` (n_t, S, S, 3) uint8 and
    ``spatial[t]`` (n_t, 4); ``masks[L]`` the spatial mask C(0, L) (n_0, n_L + 1);
    ``negatives`` (k, S, S, 3) crops of another video; ``match_length`` the drawn L;
    ``occlusions``: per input of the occlusion scheme, (first, end, hand-off) of its emptied
    frames [first, end) and its hand-off frame."""

    crops: list[np.ndarray]
    spatial: list[np.ndarray]
    masks: dict[int, np.ndarray]
    negatives: np.ndarray
    match_length: int
    occlusions: tuple[tuple[int, int, int], ...] = ()

    @property
    def has_negatives(self) -> bool:
        """Whether the example carries artificial candidates."""
        return len(self.negatives) > 0


@dataclass
class Features:
    """An example's tensors for one sub-model: per frame image features and spatial features."""

    image: list[Tensor]
    spatial: list[Tensor]
    negatives: Tensor
    masks: dict[int, Tensor]

    @classmethod
    def of(cls, member: SubModel, example: Example, device: torch.device) -> Features:
        counts = [len(c) for c in example.crops]
        crops = np.concatenate([*example.crops, example.negatives])
        image = member.cnn(torch.from_numpy(crops).to(device))
        parts = list(torch.split(image, [*counts, len(example.negatives)]))
        return cls(
            image=parts[:-1],
            spatial=[torch.from_numpy(s).to(device) for s in example.spatial],
            negatives=parts[-1],
            masks={k: torch.from_numpy(m).to(device) for k, m in example.masks.items()},
        )

    def combined(self, frame: int) -> Tensor:
        return torch.cat([self.spatial[frame], self.image[frame]], dim=1)


def visual_matrix(
    member: SubModel, features: Features, last: int, normalisation: str, negatives: bool
) -> Tensor:
    """The visual matrix frame 0 -> ``last`` (n_0, n_last + 1); with ``negatives``, normalised
    among the artificial candidates too, which are then dropped (model.py:258-343)."""
    first, target = features.image[0], features.image[last]
    candidates = [target]
    dropped = 0
    if negatives:
        fakes = features.negatives[: len(target)]
        candidates = [first, fakes, target]
        dropped = len(first) + len(fakes)
    logits = member.visual(first, with_null(torch.cat(candidates)))
    logits = member.with_no_match(logits)
    if negatives:
        n = len(first)
        self_pairs = torch.eye(n, logits.shape[1], dtype=torch.bool, device=logits.device)
        logits = logits.masked_fill(self_pairs, SELF_PAIR_LOGIT)
    return match_matrix(logits, normalisation)[:, dropped:]


def recurrent_matrices(
    member: SubModel,
    matcher: Recurrent,
    frames: list[Tensor],
    hidden: int,
    normalisation: str,
) -> list[Tensor]:
    """M(0, t) for t = 1 .. len(frames) - 1 of the tracks started at ``frames[0]`` (n_0, f),
    following each track to its mutual-argmax detection (or "no match") frame by frame
    (model.py:446-470)."""
    previous = frames[0]
    state = previous.new_zeros(len(previous), hidden)
    matrices = []
    for detections in frames[1:]:
        candidates = with_null(detections)
        logits, states = matcher(state, previous, candidates)
        matrix = match_matrix(member.with_no_match(logits), normalisation)
        matrices.append(matrix)
        chosen = mutual_argmax(matrix.detach())
        previous = candidates[chosen]
        state = states[torch.arange(len(chosen), device=chosen.device), chosen]
    return matrices


def visual_loss(
    member: SubModel, features: Features, example: Example, config: CISConfig
) -> Tensor:
    length = example.match_length
    matrix = visual_matrix(member, features, length, config.normalisation, example.has_negatives)
    return consistency_loss(matrix, matrix, features.masks[length])


def spatial_loss(
    member: SubModel, features: Features, example: Example, config: CISConfig
) -> Tensor:
    last = len(features.spatial) - 1
    matrices = recurrent_matrices(
        member, member.spatial, features.spatial, config.hidden, config.normalisation
    )
    losses = []
    for step, matrix in enumerate(matrices, start=1):
        with torch.no_grad():
            target = visual_matrix(member, features, step, config.normalisation, negatives=False)
        mask = features.masks[last] if step == last else None
        losses.append(consistency_loss(matrix, target, mask))
    return torch.stack(losses).mean()


def joint_loss(member: SubModel, features: Features, example: Example, config: CISConfig) -> Tensor:
    length = example.match_length
    visual = visual_matrix(member, features, length, config.normalisation, example.has_negatives)
    spatial = recurrent_matrices(
        member, member.spatial, features.spatial[: length + 1], config.hidden, config.normalisation
    )[-1]
    return consistency_loss(visual, spatial, features.masks[length])


def occlusion_loss(
    member: SubModel, features: Features, example: Example, config: CISConfig
) -> Tensor:
    length = example.match_length
    matrices = [
        handed_off_matrix(member, features, length, hiding, config) for hiding in example.occlusions
    ]
    return consistency_loss(matrices[0], matrices[1], features.masks[length])


def handed_off_matrix(
    member: SubModel,
    features: Features,
    length: int,
    hiding: tuple[int, int, int],
    config: CISConfig,
) -> Tensor:
    """M(0, L) = M(0, h) M(h, L) on the combined features with frames [first, end) emptied; the
    "no match" of M(0, h) stays "no match" (§4.2, our reading)."""
    first, end, handoff = hiding
    frames = [
        features.combined(t)[:0] if first <= t < end else features.combined(t)
        for t in range(length + 1)
    ]
    before = recurrent_matrices(
        member, member.combined, frames[: handoff + 1], config.hidden, config.normalisation
    )[-1]
    after = recurrent_matrices(
        member, member.combined, frames[handoff:], config.hidden, config.normalisation
    )[-1]
    chained = before[:, :-1] @ after
    return torch.cat([chained[:, :-1], chained[:, -1:] + before[:, -1:]], dim=1)


LOSSES = {
    "visual": visual_loss,
    "spatial": spatial_loss,
    "joint": joint_loss,
    "occlusion": occlusion_loss,
}
"""The loss of each training kind: the phases of two-phase training, then the one-run kinds."""
