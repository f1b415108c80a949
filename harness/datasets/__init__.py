"""Dataset adapters: a card (datasets/<name>.yaml) plus a root path give splits of sequences.

Adapters register by id with ``harness.registry.register_adapter``; a card names its adapter.
This is ``harness.datasets``; the top-level ``datasets`` import is always Hugging Face's.
"""

from harness.datasets import synthetic  # noqa: F401  (registers the synthetic adapters)
from harness.datasets.base import DatasetAdapter, card_path, load_card, load_dataset

__all__ = ["DatasetAdapter", "card_path", "load_card", "load_dataset"]
