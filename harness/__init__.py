"""trackbench: a benchmark and evaluation harness for object trackers."""

__version__ = "0.1.0"
