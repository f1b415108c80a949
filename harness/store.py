"""The results store: one SQLite file (WAL mode) holding runs, cells, metrics and timings.

Tables:

- ``runs``: one row per ``trackbench run``: experiment, its description, start/finish time, git
  commit, package versions (JSON), device, host.
- ``cells``: one row per (experiment, config hash): the cell's key fields (``axes`` is the
  cell's axis values as text, e.g. ``length=40``, empty without axes), its task kind, its
  identity document (JSON), status (``STATUSES``), error text and traceback, times, the
  provenance of the model that produced a done cell (the tracker's ``provenance``, JSON or NULL),
  the frames it tracked, ``rerun``: why the cell's result replaced an earlier one (e.g.
  ``code changed``, ``forced by --rerun``; NULL when it did not), and ``submission``: the zip a
  ``submitted`` cell wrote (a test split's cell, tracked for the benchmark's server and not scored
  here: timings, no metrics).
- ``metrics``: (cell, sequence or ``COMBINED``, metric, value); a single-object cell's sequences
  are its samples.
- ``curves``: (cell, sequence or ``COMBINED``, curve, x and y as JSON lists): single-object IoU
  over time and success curves.
- ``timings``: (cell, sequence, one column per ``TimingRecord`` field; columns are added when a
  record brings a new field, so the table follows ``harness.timing`` without a migration).

A cell's metrics, timings and ``done`` status are written in one transaction, so a killed run never
leaves a cell marked done without its results. A stopped run (Ctrl-C, SIGTERM) marks the cells it
had not finished ``interrupted``. Resuming skips cells whose hash is ``done`` (or ``submitted``);
all others are computed again. A cell whose key (``KEY_COLUMNS``) is stored under another config
hash replaces that row (the runner says why). A database made by an older schema is brought up
to date when opened.

Concurrency: only the process that owns the ``Store`` writes (the runner's parent; pool workers
compute and send results back). ``busy_timeout`` still lets a second run or a reader share the file.
"""

from __future__ import annotations

import json
import numbers
import socket
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import TrackbenchError
from harness.provenance import git_commit, package_versions
from harness.results.summary import COMBINED, KEY

KEY_COLUMNS = ["experiment", *KEY, "seed"]
STATUSES = ("pending", "running", "done", "submitted", "failed", "interrupted")
FINISHED = ("done", "submitted")
"""Statuses of cells a resumed run skips."""

CELLS_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY,
    experiment TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    dataset TEXT NOT NULL,
    split TEXT NOT NULL,
    axes TEXT NOT NULL DEFAULT '',
    task TEXT NOT NULL DEFAULT 'multi-object',
    detections TEXT NOT NULL,
    method TEXT NOT NULL,
    ablation TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    run INTEGER REFERENCES runs(id),
    status TEXT NOT NULL CHECK (status IN ({statuses})),
    error TEXT,
    traceback TEXT,
    started TEXT,
    finished TEXT,
    provenance TEXT,
    frames INTEGER,
    rerun TEXT,
    submission TEXT,
    UNIQUE (experiment, config_hash)
);
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    experiment TEXT NOT NULL,
    description TEXT,
    started TEXT NOT NULL,
    finished TEXT,
    git_commit TEXT,
    versions TEXT NOT NULL,
    device TEXT NOT NULL,
    host TEXT NOT NULL
);
{cells}
CREATE TABLE IF NOT EXISTS metrics (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    sequence TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell, sequence, metric)
);
CREATE TABLE IF NOT EXISTS curves (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    sequence TEXT NOT NULL,
    curve TEXT NOT NULL,
    x TEXT NOT NULL,
    y TEXT NOT NULL,
    PRIMARY KEY (cell, sequence, curve)
);
CREATE TABLE IF NOT EXISTS timings (
    cell INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    sequence TEXT NOT NULL,
    PRIMARY KEY (cell, sequence)
);
"""


ADDED_COLUMNS = (
    ("cells", "provenance", "TEXT"),
    ("runs", "description", "TEXT"),
    ("cells", "axes", "TEXT NOT NULL DEFAULT ''"),
    ("cells", "task", "TEXT NOT NULL DEFAULT 'multi-object'"),
    ("cells", "frames", "INTEGER"),
    ("cells", "rerun", "TEXT"),
    ("cells", "submission", "TEXT"),
)
"""Columns added since the first schema: (table, column, definition)."""


def _cells_table(name: str = "cells") -> str:
    return CELLS_TABLE.format(name=name, statuses=", ".join(f"'{s}'" for s in STATUSES))


class Store:
    """A results database at ``path`` (created unless ``create`` is false)."""

    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise TrackbenchError("results database not found", self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(SCHEMA.format(cells=_cells_table()))
            self._upgrade()
        except sqlite3.DatabaseError as exc:
            raise TrackbenchError(f"not a results database: {exc}", self.path) from None

    def _upgrade(self) -> None:
        """Bring a database made by an older schema up to date: columns added since, and the
        cells table rebuilt when its status check predates a status (SQLite cannot alter it)."""
        for table, column, definition in ADDED_COLUMNS:

            def missing(table=table, column=column) -> bool:
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                return column not in columns

            if missing():
                with self.transaction() as db:
                    if missing():  # another process may have added it meanwhile
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

        def outdated() -> bool:
            (sql,) = self._db.execute(
                "SELECT sql FROM sqlite_master WHERE name = 'cells'"
            ).fetchone()
            return any(f"'{status}'" not in sql for status in STATUSES)

        if outdated():
            self._db.execute("PRAGMA foreign_keys = OFF")  # dropping cells must not cascade
            try:
                with self.transaction() as db:
                    if outdated():
                        db.execute(_cells_table("cells_upgraded"))
                        columns = ", ".join(
                            row[1] for row in db.execute("PRAGMA table_info(cells)")
                        )
                        db.execute(
                            f"INSERT INTO cells_upgraded ({columns}) SELECT {columns} FROM cells"
                        )
                        db.execute("DROP TABLE cells")
                        db.execute("ALTER TABLE cells_upgraded RENAME TO cells")
            finally:
                self._db.execute("PRAGMA foreign_keys = ON")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All statements inside commit together or not at all."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # runs ---------------------------------------------------------------------------------------

    def start_run(self, experiment: str, device: str, description: str = "") -> int:
        """Record a new run with its provenance; returns its id."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (experiment, description, started, git_commit, versions, device,"
                " host) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    experiment,
                    description,
                    utc_now(),
                    git_commit(),
                    json.dumps(package_versions()),
                    device,
                    socket.gethostname(),
                ),
            )
        assert cursor.lastrowid is not None  # set by the INSERT
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET finished = ? WHERE id = ?", (utc_now(), run_id))

    def runs(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM runs ORDER BY id", self._db)

    # cells --------------------------------------------------------------------------------------

    def done_identities(self, experiment: str) -> dict[tuple, tuple[str, dict[str, Any]]]:
        """The finished (``FINISHED``) cells of ``experiment`` by key (``key_of``): config hash
        and identity."""
        rows = self._db.execute(
            f"SELECT {_key_select()}, c.config_hash, c.config FROM cells c"
            f" WHERE c.experiment = ? AND c.status IN {FINISHED} ORDER BY c.id",
            (experiment,),
        )
        return {tuple(row[:-2]): (row[-2], json.loads(row[-1])) for row in rows}

    def add_pending(
        self, run_id: int, cells: Iterable[Any], reruns: dict[str, str] | None = None
    ) -> None:
        """Register ``cells`` (``harness.experiment.Cell``) as pending in run ``run_id``.

        A cell already stored is reset to pending (a done one is computed again). A row of the
        same key under another config hash is stale: it is deleted with its results.
        ``reruns``: why cells, by config hash, replace an earlier result (stored as ``rerun``;
        a cell without one keeps what it had).
        """
        cells, reruns = list(cells), reruns or {}
        stale = [(*key_of(c), c.config_hash) for c in cells]
        rows = [
            (
                c.experiment,
                c.config_hash,
                c.dataset,
                c.split,
                c.axes_label,
                c.task,
                c.detections,
                c.method,
                c.ablation,
                c.seed,
                json.dumps(c.identity(), sort_keys=True, default=str),
                run_id,
                reruns.get(c.config_hash),
            )
            for c in cells
        ]
        with self.transaction() as db:
            db.executemany(
                "DELETE FROM cells WHERE "
                + " AND ".join(f"{name} = ?" for name in KEY_COLUMNS)
                + " AND config_hash != ?",
                stale,
            )
            db.executemany(
                "INSERT INTO cells (experiment, config_hash, dataset, split, axes, task,"
                " detections, method, ablation, seed, config, run, rerun, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')"
                " ON CONFLICT (experiment, config_hash) DO UPDATE SET run = excluded.run,"
                " status = 'pending', error = NULL, traceback = NULL, started = NULL,"
                " finished = NULL, provenance = NULL, submission = NULL,"
                " rerun = COALESCE(excluded.rerun, rerun)",
                rows,
            )

    def mark_running(self, cell: Any) -> None:
        """Mark a cell handed to an executor (its ``started`` time comes with its result)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE cells SET status = 'running' WHERE experiment = ? AND config_hash = ?",
                (cell.experiment, cell.config_hash),
            )

    def mark_interrupted(self, run_id: int) -> int:
        """Mark the cells run ``run_id`` left unfinished ``interrupted``; returns how many."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE cells SET status = 'interrupted'"
                " WHERE run = ? AND status IN ('pending', 'running')",
                (run_id,),
            )
        return cursor.rowcount

    def record_done(
        self,
        cell: Any,
        evaluation: dict[str, Any],
        timings: dict[str, dict[str, Any]],
        started: str,
        provenance: dict[str, Any] | None = None,
        frames: int | None = None,
    ) -> None:
        """Store a finished cell in one transaction: metrics, timings, then status ``done``.

        ``evaluation`` is the task's dict (``sequences``, ``combined``, optional ``curves``);
        ``timings`` maps a sequence name to its timing record as a dict; ``started`` is when the
        cell's computation began (``utc_now()``); ``provenance`` is the tracker's (stored as
        JSON); ``frames`` is how many frames it tracked. Scalar metrics are kept.
        """
        metric_rows = [
            (sequence, name, float(value))
            for sequence, values in [
                *evaluation["sequences"].items(),
                (COMBINED, evaluation["combined"]),
            ]
            for name, value in values.items()
            if isinstance(value, numbers.Real)
        ]
        curve_rows = [
            (sequence, name, json.dumps(curve["x"]), json.dumps(curve["y"]))
            for sequence, named in evaluation.get("curves", {}).items()
            for name, curve in named.items()
        ]
        with self.transaction() as db:
            cell_id = self._record_tracked(cell, "done", timings, started, provenance, frames)
            db.executemany(
                "INSERT INTO metrics (cell, sequence, metric, value) VALUES (?, ?, ?, ?)",
                [(cell_id, *row) for row in metric_rows],
            )
            db.executemany(
                "INSERT INTO curves (cell, sequence, curve, x, y) VALUES (?, ?, ?, ?, ?)",
                [(cell_id, *row) for row in curve_rows],
            )

    def record_submitted(
        self,
        cell: Any,
        submission: str | Path,
        timings: dict[str, dict[str, Any]],
        started: str,
        provenance: dict[str, Any] | None = None,
        frames: int | None = None,
    ) -> None:
        """Store a test split's cell, tracked and not scored, in one transaction: its timings,
        status ``submitted`` and the path of the ``submission`` zip it wrote (arguments as
        ``record_done``'s)."""
        with self.transaction() as db:
            cell_id = self._record_tracked(cell, "submitted", timings, started, provenance, frames)
            db.execute("UPDATE cells SET submission = ? WHERE id = ?", (str(submission), cell_id))

    def _record_tracked(
        self,
        cell: Any,
        status: str,
        timings: dict[str, dict[str, Any]],
        started: str,
        provenance: dict[str, Any] | None,
        frames: int | None,
    ) -> int:
        """Inside a transaction: replace a tracked cell's results by its ``timings`` and set its
        ``status`` and run facts; returns its id."""
        cell_id = self._cell_id(cell)
        self._delete_results(cell_id)
        for sequence, record in timings.items():
            self._insert_timing(cell_id, sequence, record)
        self._db.execute(
            "UPDATE cells SET status = ?, error = NULL, traceback = NULL, started = ?,"
            " finished = ?, provenance = ?, frames = ? WHERE id = ?",
            (status, started, utc_now(), _json_or_null(provenance), frames, cell_id),
        )
        return cell_id

    def record_failed(self, cell: Any, error: str, traceback: str | None, started: str) -> None:
        """Mark a cell failed with its error and traceback; it keeps no results."""
        with self.transaction() as db:
            cell_id = self._cell_id(cell)
            self._delete_results(cell_id)
            db.execute(
                "UPDATE cells SET status = 'failed', error = ?, traceback = ?, started = ?,"
                " finished = ?, provenance = NULL WHERE id = ?",
                (error, traceback, started, utc_now(), cell_id),
            )

    def _delete_results(self, cell_id: int) -> None:
        for table in ("metrics", "curves", "timings"):
            self._db.execute(f"DELETE FROM {table} WHERE cell = ?", (cell_id,))

    def cells(self, experiment: str | None = None) -> pd.DataFrame:
        """Every stored cell with its task, status, error, times, frames tracked, run, ``rerun``
        (why its result replaced an earlier one; None when it did not) and ``submission`` (the
        zip of a submitted cell)."""
        where, params = _experiment_filter(experiment)
        return pd.read_sql_query(
            f"SELECT {_key_select()}, c.task, c.config_hash, c.status, c.error, c.traceback,"
            f" c.started, c.finished, c.frames, c.run, c.rerun, c.submission FROM cells c {where}"
            " ORDER BY c.id",
            self._db,
            params=params,
        )

    def experiments(self) -> list[str]:
        return [
            row[0] for row in self._db.execute("SELECT DISTINCT experiment FROM cells ORDER BY 1")
        ]

    def resolve_experiment(self, experiment: str | None) -> str:
        """``experiment`` if stored here, or the only stored one when None; else an error."""
        known = self.experiments()
        if experiment is None:
            if len(known) != 1:
                raise TrackbenchError(
                    f"the database holds experiments {known}; choose one with --experiment",
                    self.path,
                )
            return known[0]
        if experiment not in known:
            raise TrackbenchError(
                f"no experiment {experiment!r} (known: {', '.join(known)})", self.path
            )
        return experiment

    # results ------------------------------------------------------------------------------------

    def metrics_frame(
        self, experiment: str | None = None, config_hashes: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Long frame of done cells: key columns, sequence (or ``COMBINED``), metric, value."""
        where, params = _experiment_filter(experiment, config_hashes)
        frame = pd.read_sql_query(
            f"SELECT {_key_select()}, m.sequence, m.metric, m.value"
            f" FROM metrics m JOIN cells c ON m.cell = c.id {where} AND c.status = 'done'"
            " ORDER BY c.id, m.sequence, m.metric",
            self._db,
            params=params,
        )
        return frame.astype({"seed": "int64", "value": "float64"})

    def curves_frame(
        self, experiment: str | None = None, config_hashes: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """Long frame of done cells' curves: key columns, sequence, curve, x, y (one row per
        point)."""
        where, params = _experiment_filter(experiment, config_hashes)
        rows = self._db.execute(
            f"SELECT {_key_select()}, k.sequence, k.curve, k.x, k.y"
            f" FROM curves k JOIN cells c ON k.cell = c.id {where} AND c.status = 'done'"
            " ORDER BY c.id, k.sequence, k.curve",
            params,
        ).fetchall()
        columns = [*KEY_COLUMNS, "sequence", "curve", "x", "y"]
        points = [
            (*row[:-2], x, y)
            for row in rows
            for x, y in zip(json.loads(row[-2]), json.loads(row[-1]), strict=True)
        ]
        return pd.DataFrame(points, columns=columns).astype({"seed": "int64", "y": "float64"})

    def timings_frame(
        self, experiment: str | None = None, config_hashes: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """One row per (done cell, sequence): key columns, sequence and the timing record fields."""
        where, params = _experiment_filter(experiment, config_hashes)
        return pd.read_sql_query(
            f"SELECT {_key_select()}, t.* FROM timings t JOIN cells c ON t.cell = c.id"
            f" {where} AND c.status = 'done' ORDER BY c.id, t.sequence",
            self._db,
            params=params,
        ).drop(columns="cell")

    def provenance_frame(
        self, experiment: str | None = None, config_hashes: Iterable[str] | None = None
    ) -> pd.DataFrame:
        """One row per done cell: key columns and ``provenance`` (the tracker's dict, or None)."""
        where, params = _experiment_filter(experiment, config_hashes)
        frame = pd.read_sql_query(
            f"SELECT {_key_select()}, c.provenance FROM cells c {where} AND c.status = 'done'"
            " ORDER BY c.id",
            self._db,
            params=params,
        )
        frame["provenance"] = [
            json.loads(p) if isinstance(p, str) else None for p in frame["provenance"]
        ]
        return frame.astype({"seed": "int64"})

    def throughput(self, device: str) -> dict[tuple[str, str], float]:
        """Frames per second of whole done cells (tracking, scoring, loading: their start to
        finish) of runs on ``device`` (as ``runs.device`` names it), by method and ablation."""
        rows = self._db.execute(
            "SELECT c.method, c.ablation, c.started, c.finished, c.frames FROM cells c"
            " JOIN runs r ON c.run = r.id"
            " WHERE c.status = 'done' AND c.frames IS NOT NULL AND r.device = ?",
            (device,),
        ).fetchall()
        frames: dict[tuple[str, str], float] = {}
        seconds: dict[tuple[str, str], float] = {}
        for method, ablation, started, finished, count in rows:
            took = datetime.fromisoformat(finished) - datetime.fromisoformat(started)
            frames[method, ablation] = frames.get((method, ablation), 0) + count
            seconds[method, ablation] = seconds.get((method, ablation), 0) + took.total_seconds()
        return {key: frames[key] / seconds[key] for key in frames if seconds[key] > 0}

    def _cell_id(self, cell: Any) -> int:
        row = self._db.execute(
            "SELECT id FROM cells WHERE experiment = ? AND config_hash = ?",
            (cell.experiment, cell.config_hash),
        ).fetchone()
        if row is None:
            raise KeyError(f"cell {cell.config_hash[:12]} of {cell.experiment!r} was never added")
        return int(row[0])

    def _insert_timing(self, cell_id: int, sequence: str, record: dict[str, Any]) -> None:
        existing = {row[1] for row in self._db.execute("PRAGMA table_info(timings)")}
        for name in record:
            if name not in existing:
                if not name.isidentifier():
                    raise ValueError(f"timing field {name!r} is not an identifier")
                self._db.execute(f'ALTER TABLE timings ADD COLUMN "{name}"')
        names = ["cell", "sequence", *record]
        values = [cell_id, sequence, *(_sql_value(v) for v in record.values())]
        columns = ", ".join(f'"{n}"' for n in names)
        self._db.execute(
            f"INSERT INTO timings ({columns}) VALUES ({', '.join('?' * len(names))})", values
        )


def key_of(cell: Any) -> tuple:
    """A cell's key (``KEY_COLUMNS``), as ``done_identities`` names stored cells."""
    return tuple(cell.key[name] for name in KEY_COLUMNS)


def _key_select() -> str:
    return ", ".join(f"c.{name}" for name in KEY_COLUMNS)


def _experiment_filter(
    experiment: str | None, config_hashes: Iterable[str] | None = None
) -> tuple[str, list]:
    clauses, params = ["1 = 1"], []
    if experiment is not None:
        clauses.append("c.experiment = ?")
        params.append(experiment)
    if config_hashes is not None:
        hashes = list(config_hashes)
        clauses.append(f"c.config_hash IN ({', '.join('?' * len(hashes))})" if hashes else "0 = 1")
        params.extend(hashes)
    return "WHERE " + " AND ".join(clauses), params


def _json_or_null(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _sql_value(value: Any) -> Any:
    """A timing field as SQLite stores it (numpy scalars as Python numbers, the rest as JSON)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return json.dumps(value, default=str)


def utc_now() -> str:
    """The current UTC time as ISO 8601 text (how the store writes times)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
