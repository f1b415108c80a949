"""Provenance facts, one implementation each: the sha256 of a file, the name of a device (GPU
or CPU model), the installed versions of the packages that determine results (trackbench's
dependencies and every distribution providing trackbench plugins), and the git commit of the
checkout. Standard library only (torch is imported for a CUDA device alone)."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, distributions, version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

VERSIONED_PACKAGES = ("torch", "numpy", "trackeval", "motmetrics", "trackbench")
PLUGIN_GROUP_PREFIX = "trackbench."
"""The prefix of the entry-point groups of trackbench plugins (tracker families, dataset
adapters)."""


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks (names the exact weights a result came from)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows of it."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device | str) -> str:
    """The GPU's name for an available CUDA device, else the CPU's (``cpu_name``)."""
    if str(device).startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(torch.device(str(device)))
    return cpu_name()


def device_description(device: str) -> str:
    """``device`` with its name, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)"."""
    return f"{device} ({device_name(device)})"


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that determine results: ``VERSIONED_PACKAGES``, then
    each distribution with entry points in a trackbench plugin group, by name."""
    versions: dict[str, str | None] = {}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    plugins = {
        dist.name: dist.version
        for dist in distributions()
        if any(entry.group.startswith(PLUGIN_GROUP_PREFIX) for entry in dist.entry_points)
    }
    for name in sorted(plugins):
        versions.setdefault(name, plugins[name])
    return versions


def git_commit() -> str | None:
    """The commit of the trackbench checkout (``-dirty`` when tracked files changed), if any."""
    repo = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += "-dirty"
    return commit
