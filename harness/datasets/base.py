"""Cards, the adapter base class, and checking a copy of a dataset on disk.

A card (``datasets/<name>.yaml``) says what a dataset is, where it comes from, its licence, the
layout it expects, its splits and evaluation protocol, and which files are checksummed
(``checksums``: relative path -> sha256 of a known-good copy). Its ``params`` are the defaults an
experiment or ``--param`` may override; ``param_rules`` say what a param's value may be
(``check_param``), so that a bad value is refused before anything is generated or loaded.
"""

from __future__ import annotations

import copy
import functools
import numbers
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from harness.data import Sequence, SingleObjectSample
from harness.errors import ConfigError, TrackbenchError, did_you_mean
from harness.metrics.single import IOU_KINDS
from harness.provenance import file_sha256
from harness.registry import adapter

CARDS_DIR = Path(
    os.environ.get("TRACKBENCH_CARDS", Path(__file__).resolve().parents[2] / "datasets")
)
REQUIRED_CARD_KEYS = ("name", "adapter", "description", "source", "license", "splits", "protocol")
TASKS = ("multi-object", "single-object", "reid")
"""Task kinds: what a split is evaluated as (a card's ``task``, or a split's own); ``reid`` scores
a method's embeddings of the ground-truth boxes (``harness.tasks.reid``)."""
PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "integer": (numbers.Integral,),
    "number": (numbers.Real,),
    "boolean": (bool,),
    "text": (str,),
    "list": (list, tuple),
}
"""The ``type`` of a card's param rule and the Python values it takes (booleans only for
``boolean``)."""
RULE_KEYS = ("type", "min", "max", "nullable")


class DatasetAdapter:
    """Turns a card and a root folder into named splits of sequences.

    ``root`` is where the data lives (real datasets) or the cache folder (synthetic ones).
    ``params`` override the card's ``params`` (only keys the card declares).
    """

    generated = False
    """Whether the adapter generates its data (from nothing, or from the inputs its card's
    ``layout`` names) rather than reading a dataset one obtains."""

    frames_param: str | None = None
    """The card param that sets how many frames a generated set's evaluated sequences hold
    (``trackbench card --evaluate --frames``); None: the data fixes them."""

    generator_version: int | None = None
    """The version of the code that generates a synthetic set's content (its cache version, bumped
    when the content changes): part of each cell's identity. None: the data is read from disk."""

    def __init__(self, card: dict[str, Any], root: str | Path | None = None, **params: Any):
        known = card.get("params") or {}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigError(
                f"dataset {card['name']!r} has no parameter {unknown[0]!r}"
                + did_you_mean(unknown[0], list(known))
            )
        for name, value in params.items():
            check_param(card, name, value)
        self.card = {**card, "params": {**known, **params}} if params else card
        self.root = None if root is None else Path(root)

    @property
    def params(self) -> dict[str, Any]:
        return self.card.get("params", {})

    @property
    def protocol(self) -> str:
        """The evaluation protocol of this dataset: the card's ``protocol.preprocessing``."""
        return self.card["protocol"].get("preprocessing", "plain")

    @property
    def evaluation_split(self) -> str:
        """The split a trained checkpoint is scored on: the card's ``evaluation_split``, else
        ``test``."""
        return self.card.get("evaluation_split", "test")

    def splits(self) -> list[str]:
        return list(self.card["splits"])

    def task(self, split: str) -> str:
        """The task kind of ``split`` (``split_task`` of the card)."""
        return split_task(self.card, split)

    def sequences(self, split: str) -> list[Sequence]:
        raise NotImplementedError

    def cache_bytes(self, split: str) -> int:
        """Bytes the cache of ``split`` takes (0: the adapter caches nothing)."""
        return 0

    def cached(self, split: str) -> bool:
        """Whether ``split`` is in the cache already (or needs none)."""
        return True

    def samples(self, split: str) -> list[SingleObjectSample]:
        """Single-object samples of a multi-object split by the card's ``samples`` rule: each
        ground-truth object (considered rows, of the rule's ``classes`` if given) from its first
        box until it first leaves (a gap in its frames), at least ``min_length`` frames; with the
        ``sample_length`` param set, exactly that many frames (shorter runs are dropped).
        Adapters of single-object splits override this with their protocol's samples."""
        rule = {"min_length": 2, "classes": None, **(self.card.get("samples") or {})}
        length = self.params.get("sample_length")
        shortest = max(rule["min_length"], length or 0)
        samples = []
        for sequence in self.sequences(split):
            gt = sequence.gt.select(sequence.gt.conf != 0)
            if rule["classes"] is not None:
                gt = gt.select(np.isin(gt.cls, rule["classes"]))
            gt = gt.sorted()
            for object_id in np.unique(gt.id):
                rows = np.flatnonzero(gt.id == object_id)
                frames = gt.frame[rows]
                gaps = np.flatnonzero(np.diff(frames) != 1)
                end = len(frames) if len(gaps) == 0 else gaps[0] + 1
                if end < shortest:
                    continue
                end = length or end
                samples.append(
                    SingleObjectSample(sequence, int(object_id), frames[:end], gt.box[rows[:end]])
                )
        return samples

    def check(self) -> list[Problem]:
        """Everything wrong with the copy at ``root``: the card's checksums, then the adapter's own
        layout and file checks (``check_files``). An empty list means the copy is complete."""
        if self.root is None or not self.root.is_dir():
            return [Problem(self.root or Path("."), None, "dataset root folder not found")]
        problems = []
        for relative, expected in (self.card.get("checksums") or {}).items():
            path = self.root / relative
            if not path.is_file():
                problems.append(Problem(path, None, "missing file (checksummed by the card)"))
            elif (actual := file_sha256(path)) != expected:
                problems.append(
                    Problem(path, None, f"checksum mismatch: sha256 {actual}, card {expected}")
                )
        return problems + list(self.check_files())

    def check_files(self) -> Iterable[Problem]:
        """The adapter's layout and per-file checks; real-data adapters override this."""
        return []

    def check_split(self, split: str) -> None:
        if split not in self.card["splits"]:
            raise ConfigError(
                f"dataset {self.card['name']!r} has no split {split!r}"
                + did_you_mean(split, list(self.card["splits"]))
            )


def card_names() -> list[str]:
    return sorted(p.stem.replace("_", "-") for p in CARDS_DIR.glob("*.yaml"))


def card_path(name: str) -> Path:
    """The card file of dataset ``name`` (``sprites-mot`` -> datasets/sprites_mot.yaml)."""
    path = CARDS_DIR / f"{name.replace('-', '_')}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown dataset {name!r}" + did_you_mean(name, card_names()))
    return path


def load_card(name: str) -> dict[str, Any]:
    """Read and check the card of dataset ``name`` (a copy of the one read once per version of
    its file)."""
    path = card_path(name)
    return copy.deepcopy(_read_card(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _read_card(path: Path, mtime_ns: int) -> dict[str, Any]:
    """The checked card at ``path`` as it was at ``mtime_ns``."""
    try:
        card = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ConfigError(
            f"invalid YAML: {exc}", path, None if line is None else line + 1
        ) from None
    if not isinstance(card, dict):
        raise ConfigError("a card must be a mapping", path)
    missing = [k for k in REQUIRED_CARD_KEYS if k not in card]
    if missing:
        raise ConfigError(f"card lacks keys {missing}", path)
    _check_param_rules(card, path)
    return card


def check_param(card: dict[str, Any], name: str, value: Any) -> None:
    """Raise a ConfigError unless ``value`` is what the card's ``param_rules`` allow for param
    ``name``: a value of its ``type`` (``PARAM_TYPES``), numbers at least ``min`` and at most
    ``max``, or null where ``nullable: true``. A param without a rule takes any value."""
    rule = (card.get("param_rules") or {}).get(name)
    if rule is None or (value is None and rule.get("nullable")):
        return
    kind = rule["type"]
    fits = isinstance(value, PARAM_TYPES[kind]) and (kind == "boolean" or type(value) is not bool)
    if fits and kind in ("integer", "number"):
        fits = rule.get("min", value) <= value <= rule.get("max", value)  # False for NaN
    if not fits:
        raise ConfigError(
            f"dataset {card['name']!r} parameter {name!r} must be {_rule_text(rule)}, got {value!r}"
        )


def _rule_text(rule: dict[str, Any]) -> str:
    """A param rule in words, e.g. "an integer >= 1 or null"."""
    text = {
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "text": "text",
        "list": "a list",
    }[rule["type"]]
    if "min" in rule and "max" in rule:
        text += f" from {rule['min']} to {rule['max']}"
    elif "min" in rule or "max" in rule:
        text += f" >= {rule['min']}" if "min" in rule else f" <= {rule['max']}"
    return text + (" or null" if rule.get("nullable") else "")


def _check_param_rules(card: dict[str, Any], path: Path) -> None:
    """A card's ``param_rules`` name its params, read as rules, and pass its defaults."""
    params = card.get("params") or {}
    for name, rule in (card.get("param_rules") or {}).items():
        if name not in params:
            raise ConfigError(f"param_rules name {name!r}, which is not in params", path)
        if (
            not isinstance(rule, dict)
            or rule.get("type") not in PARAM_TYPES
            or not set(rule) <= set(RULE_KEYS)
        ):
            raise ConfigError(
                f"param_rules.{name} must map {list(RULE_KEYS)} (type one of"
                f" {list(PARAM_TYPES)}), got {rule!r}",
                path,
            )
        try:
            check_param(card, name, params[name])
        except ConfigError as exc:
            raise ConfigError(f"the default of {exc.message}", path) from None


def iou_kind(card: dict[str, Any]) -> str:
    """What a single-object split of ``card`` scores: ``box`` IoU (the default) or the IoU of
    their pixel ``mask`` (the card's ``protocol.iou``)."""
    kind = card["protocol"].get("iou", IOU_KINDS[0])
    if kind not in IOU_KINDS:
        raise ConfigError(
            f"protocol.iou must be one of {list(IOU_KINDS)}, got {kind!r}", card_path(card["name"])
        )
    return kind


def split_task(card: dict[str, Any], split: str) -> str:
    """The task kind of a card's ``split``: the split's ``task``, else the card's, else
    multi-object."""
    entry = card["splits"].get(split) or {}
    return entry.get("task") or card.get("task") or TASKS[0]


def load_dataset(name: str, root: str | Path | None = None, **params: Any) -> DatasetAdapter:
    """The adapter for dataset ``name`` over ``root``, with card ``params`` overridden."""
    card = load_card(name)
    return adapter(card["adapter"])(card, root, **params)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset copy, printed as ``path[:line]: message``."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return str(TrackbenchError(self.message, self.path, self.line))

    @classmethod
    def from_error(cls, error: TrackbenchError) -> Problem:
        return cls(Path(error.path or "."), error.line, error.message)


def collect_problems(check: Callable[[], Any], problems: list[Problem]) -> Any:
    """Run ``check``; a TrackbenchError it raises is appended to ``problems`` (returns None)."""
    try:
        return check()
    except TrackbenchError as error:
        problems.append(Problem.from_error(error))
        return None
