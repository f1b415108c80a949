"""The tracker of tests/plugin_family.py; the registry imports it on first use only."""

from harness.data import FrameInput, TrackOutput
from harness.protocol import MultiObjectTracker


class PluginTracker(MultiObjectTracker):
    """Reports nothing; takes detections and names a checkpoint path."""

    inputs = frozenset({"detections"})
    path_config = frozenset({"checkpoint"})

    def __init__(self, checkpoint: str | None) -> None:
        self.checkpoint = checkpoint

    def reset(self, info: dict) -> None:
        pass

    def step(self, frame: FrameInput) -> TrackOutput:
        return TrackOutput.empty()
