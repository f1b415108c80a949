"""A board's text sections. "Models" names the weights behind each row whose cells carry a
tracker's provenance (``Store.provenance_frame``): checkpoint, sha256, training iterations,
batch, seed, device. "Failed or unfinished cells" lists what produced no result, "Submissions"
the zips written for test splits (tracked, scored only by the benchmark's server). The provenance
footer (``board_provenance``) says which code, packages, hardware and runs produced the numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from harness.registry import method_label
from harness.results.render import counted
from harness.results.summary import KEY, keyed, row_label

NOT_RECORDED = "not recorded"


def model_lines(models: pd.DataFrame) -> list[str]:
    """One line per model and method: ``row_label: describe_model(...)``, or for rows that ran
    the same weights (a model over datasets and axis values) ``method (N rows: dataset/split,
    ...): ...``; a row whose cells ran different weights (several sha256) says it mixes models."""
    frame = keyed(models, ["seed", "provenance"], "models")
    frame = frame[[isinstance(p, dict) for p in frame["provenance"]]]
    served: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for key, cells in frame.groupby(KEY, sort=False):
        distinct = {json.dumps(p, sort_keys=True, default=str): p for p in cells["provenance"]}
        described = "; ".join(describe_model(p) for p in distinct.values())
        digests = sorted({p["sha256"] for p in distinct.values() if "sha256" in p})
        if len(digests) > 1:
            described = f"mixes {len(digests)} models: {described}"
        row = dict(zip(KEY, key))
        served.setdefault((row["method"], row["ablation"], described), []).append(row)
    lines = []
    for (method, ablation, described), rows in served.items():
        if len(rows) == 1:
            lines.append(f"{row_label(rows[0])}: {described}")
            continue
        places = ", ".join(dict.fromkeys(f"{r['dataset']}/{r['split']}" for r in rows))
        lines.append(f"{method_label(method, ablation)} ({len(rows)} rows: {places}): {described}")
    return lines


def failure_lines(cells: pd.DataFrame) -> list[str]:
    """One line per report row and error among the ``cells`` neither done nor submitted:
    ``row_label (seeds ...): error``, in the stored order; a cell a stopped run left (interrupted,
    or still pending or running) says so instead of an error."""
    failed = keyed(cells, ["seed", "status", "error"], "cells")
    failed = failed[~failed["status"].isin(["done", "submitted"])].copy()
    unfinished = failed["status"] != "failed"
    failed.loc[unfinished, "error"] = failed.loc[unfinished, "status"] + " (run again to resume)"
    failed["error"] = failed["error"].map(relative_paths)
    return _row_lines(failed, "error")


def submission_lines(cells: pd.DataFrame) -> list[str]:
    """One line per submitted cell among ``cells`` (``Store.cells``): ``row_label (seed k):
    zip path`` (below the working directory: relative to it)."""
    submitted = keyed(cells, ["seed", "status", "submission"], "cells")
    submitted = submitted[submitted["status"] == "submitted"].copy()
    submitted["submission"] = submitted["submission"].map(relative_paths)
    return _row_lines(submitted, "submission")


def rerun_lines(cells: pd.DataFrame) -> list[str]:
    """One line per report row and reason among the ``cells`` whose result replaced an earlier
    one (``rerun``: why, e.g. "code changed"): ``row_label (seeds ...): reason``."""
    rerun = keyed(cells, ["seed", "rerun"], "cells")
    return _row_lines(rerun[rerun["rerun"].notna()], "rerun")


def _row_lines(cells: pd.DataFrame, column: str) -> list[str]:
    """``row_label (seeds ...): value`` per report row and value of ``column``, in order."""
    lines = []
    for (*key, value), group in cells.groupby([*KEY, column], sort=False):
        seeds = ", ".join(str(seed) for seed in sorted(group["seed"]))
        label = "seed" if len(group) == 1 else "seeds"
        lines.append(f"{row_label(dict(zip(KEY, key)))} ({label} {seeds}): {value}")
    return lines


def relative_paths(text: str) -> str:
    """``text`` with the paths below the working directory made relative to it (a board made in
    a checkout names ``checkpoints/...``, not one machine's absolute path)."""
    return text.replace(os.path.join(Path.cwd(), ""), "")


def describe_model(provenance: dict[str, Any]) -> str:
    """A provenance dict as one phrase, e.g. "checkpoints/tba/sprites-mot/TBA/last, sha256
    1a2b3c4d, 1,800 iterations (batch 8, seed 0, trained on cpu for 2.5 h, weights stored as
    float16)"; the training time is the sum of the card's hardware segments."""
    if provenance.get("trained") is False:
        return "untrained (no checkpoint)"
    checkpoint = provenance.get("checkpoint")
    parts = [] if checkpoint is None else [relative_paths(str(checkpoint))]
    if "sha256" in provenance:
        parts.append(f"sha256 {provenance['sha256'][:8]}")
    if provenance.get("iterations") is not None:
        parts.append(f"{provenance['iterations']:,} iterations")
    details = [
        f"{label}{provenance[k]}"
        for k, label in (("batch", "batch "), ("seed", "seed "))
        if provenance.get(k) is not None
    ]
    trained = [] if provenance.get("trained_on") is None else [f"on {provenance['trained_on']}"]
    seconds = [segment.get("seconds") for segment in provenance.get("hardware") or []]
    if seconds and None not in seconds:
        hours = sum(seconds) / 3600
        trained.append(f"for {hours:.1f} h" if hours >= 1 else f"for {hours * 60:.0f} min")
    if trained:
        details.append(" ".join(["trained", *trained]))
    if provenance.get("stored_dtype") is not None:
        details.append(f"weights stored as {provenance['stored_dtype']}")
    text = ", ".join(parts) or "model"
    return f"{text} ({', '.join(details)})" if details else text


def board_provenance(
    runs: pd.DataFrame, cells: pd.DataFrame, timings: pd.DataFrame | None = None
) -> list[tuple[str, str]]:
    """The footer of a board as (label, text) pairs: the experiment and its description; the
    dates, git commits, package versions and device of the runs (``Store.runs``) that computed
    its done ``cells`` (``Store.cells``); the CPU/GPU names, torch threads and worker processes
    of its ``timings`` (``Store.timings_frame``). What an older database lacks is "not recorded"."""
    done = cells[cells["status"] == "done"]
    runs = runs[runs["id"].isin(done["run"])]
    timed = timings if timings is not None else pd.DataFrame()
    return [
        ("Experiment", _listed(done, "experiment")),
        ("Description", _listed(runs, "description")),
        ("Runs", _run_dates(runs)),
        ("Git commit", _listed(runs, "git_commit")),
        ("Packages", _listed_versions(runs)),
        ("Device", _listed(runs, "device")),
        ("CPU/GPU", _listed(timed, "device_name")),
        ("Threads", _listed(timed, "threads")),
        ("Jobs", _listed(timed, "jobs")),
    ]


def _listed(frame: pd.DataFrame, column: str) -> str:
    """The distinct values of a column in order of appearance, whitespace collapsed, joined with
    "; " (``NOT_RECORDED`` when there are none)."""
    values = frame[column].dropna() if column in frame.columns else []
    texts = [
        str(int(v)) if isinstance(v, float) and v.is_integer() else " ".join(str(v).split())
        for v in values
    ]
    return "; ".join(dict.fromkeys(t for t in texts if t)) or NOT_RECORDED


def _run_dates(runs: pd.DataFrame) -> str:
    """How many runs, from the first start to the last finish, in UTC."""
    if runs.empty:
        return NOT_RECORDED
    started = pd.to_datetime(runs["started"], utc=True, format="ISO8601").min()
    finished = pd.to_datetime(runs["finished"], utc=True, format="ISO8601").max()
    end = "unfinished" if pd.isna(finished) else f"{finished:%Y-%m-%d %H:%M}"
    return f"{counted(len(runs), 'run')}, {started:%Y-%m-%d %H:%M} to {end} UTC"


def _listed_versions(runs: pd.DataFrame) -> str:
    """Each package with its version over the runs' ``versions`` JSON ("torch 2.13.0, ..."); a
    version that differs between runs lists each, joined with " / "."""
    versions: dict[str, dict[str, None]] = {}
    for text in runs["versions"].dropna():
        for package, version in json.loads(text).items():
            if version is not None:
                versions.setdefault(package, {})[version] = None
    listed = [f"{package} {' / '.join(seen)}" for package, seen in versions.items()]
    return ", ".join(listed) or NOT_RECORDED
