"""Dataset adapters: a card (datasets/<name>.yaml) plus a root path give splits of sequences.

A card names its adapter by id; the ids are the ``trackbench.datasets`` entry points
(pyproject.toml), each naming its ``DatasetAdapter`` class, so an adapter module is imported only
when a card needs it, and another package's adapters plug in the same way.
This is ``harness.datasets``; the top-level ``datasets`` import is always Hugging Face's.
"""

from harness.datasets.base import DatasetAdapter, card_path, load_card, load_dataset

__all__ = ["DatasetAdapter", "card_path", "load_card", "load_dataset"]
