"""A stand-in third-party tracker family (tests/harness/test_registry.py): it registers by
reference."""

from harness.registry import register_method

register_method(
    "plugin",
    "plugin_tracker:PluginTracker",
    kind="multi-object",
    inputs={"detections"},
    config={"checkpoint": None},
    ablations={"trained": {"checkpoint": "weights.pt"}},
    paper="a third-party paper",
)
