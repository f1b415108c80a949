"""Dataset adapters: a card (datasets/<name>.yaml) plus a root path give splits of sequences.

Adapters register by id with ``harness.registry.register_adapter``; a card names its adapter.
Every module of this package is imported here, so an adapter module registers by existing.
This is ``harness.datasets``; the top-level ``datasets`` import is always Hugging Face's.
"""

import importlib
import pkgutil

from harness.datasets.base import DatasetAdapter, card_path, load_card, load_dataset

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["DatasetAdapter", "card_path", "load_card", "load_dataset"]
