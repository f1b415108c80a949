"""Fingerprints of what determines a cell's result besides its config (``Cell.identity``): the
tracker's code, the files its path config names (checkpoints) and the dataset's card and
generator.

- Code: a method's family is the ``trackbench.trackers`` entry point sharing the longest dotted
  prefix with its factory's module (``trackers.tba`` for ``trackers.tba.tracker``); the
  distribution and version are that entry point's. The source hash covers the ``.py`` files of
  the factory module's top-level package (or the module file), sorted by their path from the
  package's parent, except the packages of the other families registered there: a built-in
  family hashes ``trackers/<family>/`` with the code the families share (``trackers/common/``,
  ``trackers/__init__.py``), not its siblings. A tracker no entry point names (one registered by
  a callable) has no distribution.
- Paths: the sha256 of the file a path names, of every file under a folder, or of a checkpoint's
  weights (``<path>.pt``, ``harness.checkpoints``); None when there is nothing there.
- Dataset: the sha256 of the card's content (canonical JSON) and its adapter's
  ``generator_version`` (a synthetic set's cache version; None for data read from disk).

A file is hashed (a card read) once per process unless it changes (its size, modification time
or inode), so a sweep of thousands of cells hashes each source and checkpoint file once.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from harness.datasets.base import card_path, load_card
from harness.provenance import file_sha256
from harness.registry import PLUGIN_GROUP, adapter


def code_fingerprint(reference: str) -> dict[str, Any]:
    """The distribution, version and source sha256 of the code behind factory ``reference``
    (``module:attribute``)."""
    distribution, roots, others = _code_layout(reference.partition(":")[0])
    files = [(path, root.parent) for root in roots for path in _files(root, ".py", others)]
    return {**distribution, "source": _files_digest(files) if roots else None}


def path_digest(value: str) -> str | None:
    """The sha256 of what path ``value`` names: a file, the files under a folder (with their
    relative paths), or a checkpoint's weights file; None when nothing is there."""
    path = Path(value).expanduser()
    if path.is_file():
        return _file_digest(path)
    if path.is_dir():
        return _files_digest((file, path) for file in _files(path))
    from harness.checkpoints import checkpoint_files  # torch: only for a checkpoint's stem

    weights = checkpoint_files(path)[0]
    return _file_digest(weights) if weights.is_file() else None


def dataset_fingerprint(name: str) -> dict[str, Any]:
    """The sha256 of dataset ``name``'s card content and its adapter's generator version."""
    return _dataset_fingerprint(name, _signature(card_path(name)))


@functools.cache
def _dataset_fingerprint(name: str, signature: tuple[str, int, int, int]) -> dict[str, Any]:
    card = load_card(name)
    content = json.dumps(card, sort_keys=True, default=str).encode()
    return {
        "card": hashlib.sha256(content).hexdigest(),
        "generator": getattr(adapter(card["adapter"]), "generator_version", None),
    }


@functools.cache
def _code_layout(module: str) -> tuple[dict[str, str | None], tuple[Path, ...], frozenset[Path]]:
    """(distribution and version, the top-level package's folders or module file, the other
    families' packages or files in it) of ``module``."""
    top = module.partition(".")[0]
    roots = _locations(top)
    families = [e for e in entry_points(group=PLUGIN_GROUP) if e.module.partition(".")[0] == top]
    shared = {e.module: _shared_prefix(e.module, module) for e in families}
    longest = max(shared.values(), default=0)
    own = [e for e in families if shared[e.module] == longest]
    others = frozenset(path for e in families if e not in own for path in _locations(e.module))
    dist = own[0].dist if own else None
    distribution = {
        "distribution": None if dist is None else dist.name,
        "version": None if dist is None else dist.version,
    }
    return distribution, roots, others


def _shared_prefix(a: str, b: str) -> int:
    """How many leading dotted components module names ``a`` and ``b`` share."""
    count = 0
    for x, y in zip(a.split("."), b.split("."), strict=False):
        if x != y:
            break
        count += 1
    return count


def _locations(module: str) -> tuple[Path, ...]:
    """The folders of package ``module``, or its file; none when it has no source on disk."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):  # not importable, or __main__: nothing to hash
        return ()
    if spec is None:
        return ()
    if spec.submodule_search_locations:
        return tuple(Path(folder) for folder in spec.submodule_search_locations)
    return (Path(spec.origin),) if spec.origin and Path(spec.origin).is_file() else ()


def _files(root: Path, suffix: str = "", skip: frozenset[Path] = frozenset()) -> list[Path]:
    """``root`` itself when it is a file, else the files under it whose names end with
    ``suffix``, but those in or under ``skip``."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if Path(folder, name) not in skip]
        paths = (Path(folder, name) for name in names if name.endswith(suffix))
        found.extend(path for path in paths if path not in skip)
    return found


def _files_digest(files: Iterable[tuple[Path, Path]]) -> str:
    """The sha256 over (path relative to its base, sha256 of its bytes) of each (file, base),
    in the order of the relative paths."""
    named = sorted((file.relative_to(base).as_posix(), file) for file, base in files)
    digest = hashlib.sha256()
    for name, file in named:
        digest.update(f"{name}\0{_file_digest(file)}\n".encode())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    return _cached_sha256(_signature(path))


@functools.cache
def _cached_sha256(signature: tuple[str, int, int, int]) -> str:
    return file_sha256(signature[0])


def _signature(path: Path) -> tuple[str, int, int, int]:
    """A file's path, size, modification time and inode: what tells a changed (or replaced)
    file from what was cached of it."""
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino
