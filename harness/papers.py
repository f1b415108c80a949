"""Paper tables as data: ``leaderboards/papers/*.yaml``, loaded and validated.

A file holds one paper (``paper``, ``source``) and its ``tables``. Each table names the dataset and
split it reports on, the protocol, its columns in the paper's order (printed name, our metric
name, direction ``up``/``down``, unit ``percent``/``fraction``/``count``/``rate``, and optionally
the experiment ``axes`` values the column reports, e.g. ``{length: 40}``) and its rows: the
printed row name, the trackbench method it corresponds to (``method`` or ``method:ablation``;
omitted for a method trackbench does not run, which is then shown from the paper only), the
row's own ``dataset`` where a table's rows report on several, and the values exactly as printed
(percentages as 0..100 numbers, fractions as 0..1, a printed dash as null, abbreviated counts
such as ``"28K"`` and a mean with its spread such as ``"0.61 ± 0.11"`` as strings). A table may
list the paper's ``claims``, orderings its text draws from the table, which a board checks on
ours and on the paper's cells (``PaperClaim``). What the paper evaluated on, where it says so:
``sequences``, the test sequences each of its cells scores, and ``mean_over``, the experiment
axes whose values its numbers average (``{fold: 25}``: KTH's 25 leave-one-out folds); a board
averages ours over the same axis and flags a comparison whose sequences or values differ
(``harness.results.paper_comparison.protocol_flags``). Every problem is a ConfigError naming
file and line.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from harness.errors import ConfigError, did_you_mean
from harness.experiment import axes_label
from harness.metrics.catalogue import COUNT_UNIT, FRACTION, VALUE
from harness.registry import DEFAULT_ABLATION, method_label

PAPERS_DIR = Path(
    os.environ.get(
        "TRACKBENCH_PAPERS", Path(__file__).resolve().parents[1] / "leaderboards" / "papers"
    )
)
DIRECTIONS = ("up", "down")
UNITS = ("percent", "fraction", "count", "rate")
RELATIONS = ("above", "within")
STATS = ("mean", "std")
#: A paper unit -> the catalogue unit of the metrics it can print (percent: a fraction x 100).
CATALOGUE_UNITS = {"percent": FRACTION, "fraction": FRACTION, "count": COUNT_UNIT, "rate": VALUE}
#: A paper unit -> the factor from our stored values to the paper's numbers.
PAPER_SCALES = {"percent": 100.0, "fraction": 1.0, "count": 1.0, "rate": 1.0}
_ABBREVIATED = re.compile(r"^(\d+(?:\.\d+)?)([KM])$")
_WITH_SPREAD = re.compile(r"^(-?\d+(?:\.\d+)?)\s*±\s*(\d+(?:\.\d+)?)$")
_SCALE = {"K": 1e3, "M": 1e6}


@dataclass(frozen=True)
class PaperColumn:
    name: str  # as printed, e.g. "IDS"
    metric: str  # ours, e.g. "IDSW"
    direction: str  # "up" (higher is better) or "down"
    unit: str  # "percent" (0..100), "fraction" (0..1), "count" or "rate"
    axes: str = ""  # the experiment axis values it reports (``axes_label``), e.g. "length=40"
    decimals: int = 0  # the most decimals a printed value of the column has


@dataclass(frozen=True)
class PaperRow:
    name: str  # as printed, e.g. "TBAc-noMem"
    method: str | None  # trackbench method name; None for a method trackbench does not run
    ablation: str | None  # trackbench ablation name (None with method)
    values: tuple[float, ...]  # NaN where the paper prints a dash
    printed: tuple[str, ...]  # the cells as printed
    dataset: str  # the dataset it reports on (the table's unless the row names its own)
    spreads: tuple[float, ...]  # the printed "± x" of each cell, NaN where none

    @property
    def ref(self) -> str | None:
        if self.method is None:
            return None
        return method_label(self.method, self.ablation or DEFAULT_ABLATION)


@dataclass(frozen=True)
class PaperClaim:
    """An ordering the paper states: in every cell of ``datasets`` x ``columns`` (default: every
    dataset where both methods have a row, every column), the ``stat`` (mean or the printed
    spread) of ``methods[0]``'s row is ``above`` ``methods[1]``'s, or ``within`` ``within`` of it;
    ``beyond_spread``: above by more than the two rows' spreads together (ours: the seed std;
    the paper's: its printed ±, none where it prints none). A method is a trackbench method
    name, which takes its rows whatever their ablation, or ``method:ablation`` (``hart:default``),
    which takes that ablation's rows only. ``detections``: the detection variant of our rows it
    judges (default: each row's first)."""

    text: str
    methods: tuple[str, str]
    relation: str
    within: float | None = None
    stat: str = "mean"
    datasets: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    detections: str | None = None
    beyond_spread: bool = False


def claimed_rows(name: str, rows: Iterable[PaperRow]) -> list[PaperRow]:
    """The rows a claim's method ``name`` takes (``PaperClaim``)."""
    method, _, ablation = name.partition(":")
    return [r for r in rows if r.method == method and (not ablation or r.ablation == ablation)]


@dataclass(frozen=True)
class PaperTable:
    id: str
    paper: str
    table: str
    page: int | None
    source: str
    caption: str
    dataset: str | None  # the rows' dataset unless a row names its own
    split: str
    protocol: str
    columns: tuple[PaperColumn, ...]
    rows: tuple[PaperRow, ...]
    path: str
    line: int
    experiment: str | None = None  # the experiment file that reproduces it, relative to ``path``
    claims: tuple[PaperClaim, ...] = ()
    sequences: int | None = None  # the test sequences each cell of the paper scores
    mean_over: dict[str, int] = dataclasses.field(default_factory=dict)
    """Axis name -> how many of its values the paper's numbers average, e.g. {"fold": 25}."""

    def experiment_path(self) -> Path:
        """The experiment file that reproduces this table (``trackbench reproduce``)."""
        if self.experiment is None:
            raise ConfigError(
                f"paper table {self.id!r} has no experiment: trackbench does not run its methods"
                f" (tables with one: {', '.join(_reproducible())})"
            )
        path = Path(self.path).parent / self.experiment
        if not path.is_file():
            raise ConfigError(f"experiment {self.experiment} not found", self.path, self.line)
        return path

    @property
    def datasets(self) -> list[str]:
        """The datasets its rows report on, in order of first appearance."""
        return list(dict.fromkeys(row.dataset for row in self.rows))

    @property
    def title(self) -> str:
        page = "" if self.page is None else f", p. {self.page}"
        return f"{self.table}{page}: {self.paper}"

    def frame(self) -> pd.DataFrame:
        """Rows x columns of the values (printed names; NaN for a printed dash)."""
        return pd.DataFrame(
            [row.values for row in self.rows],
            index=pd.Index([row.name for row in self.rows], name="row"),
            columns=[column.name for column in self.columns],
        )


class _Located:
    """Mixin for YAML containers that remember their 1-based line."""

    line: int


class _LocatedDict(dict, _Located):
    pass


class _LocatedList(list, _Located):
    pass


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings and sequences carry the line they start on."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _LocatedDict:
    data = _LocatedDict(loader.construct_mapping(node, deep=True))
    data.line = node.start_mark.line + 1
    return data


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _LocatedList:
    data = _LocatedList(loader.construct_sequence(node, deep=True))
    data.line = node.start_mark.line + 1
    return data


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


def split_method_ref(ref: str) -> tuple[str, str]:
    """``"tba:TBAc-noMem"`` -> ``("tba", "TBAc-noMem")``; ``"tba"`` -> ``("tba", "default")``."""
    method, _, ablation = ref.partition(":")
    return method, ablation or DEFAULT_ABLATION


def load_paper_file(path: str | Path) -> list[PaperTable]:
    """Read and validate one paper file."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"invalid YAML: {exc}", path, None if mark is None else mark.line + 1
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read paper file: {exc.strerror}", path) from None
    doc = _require(doc, dict, "a paper file", path, 1)
    paper = _text(doc, "paper", path)
    source = _text(doc, "source", path)
    tables = _require(doc.get("tables"), list, "'tables'", path, doc.line)
    if not tables:
        raise ConfigError("'tables' is empty", path, doc.line)
    return [_parse_table(table, paper, source, path, tables.line) for table in tables]


def paper_tables(directory: str | Path | None = None) -> dict[str, PaperTable]:
    """Every table of every paper file in ``directory`` (default ``leaderboards/papers``), by id."""
    found: dict[str, PaperTable] = {}
    for path in sorted(Path(directory or PAPERS_DIR).glob("*.yaml")):
        for table in load_paper_file(path):
            if table.id in found:
                raise ConfigError(
                    f"table id {table.id!r} already defined in {found[table.id].path}",
                    path,
                    table.line,
                )
            found[table.id] = table
    return found


def _reproducible() -> list[str]:
    return [t.id for t in paper_tables().values() if t.experiment is not None]


def tables_for(results: pd.DataFrame) -> list[PaperTable]:
    """The paper tables about ``results`` (a long frame with dataset, split, method, ablation and
    optionally axes): a printed cell of theirs and a cell of ours on the same dataset, split,
    method:ablation and experiment-axis values (those of a table's ``mean_over`` axes left out);
    a table that prints no number (its claims checked on a dataset the paper did not use) when
    ours has the first method of one of its claims and, where ``results`` has metrics, one of
    the table's columns' metrics (so a tracking board shows no re-ID table of the same models)."""
    axes = results["axes"] if "axes" in results else pd.Series("", index=results.index)
    keys = (results["dataset"], results["split"], results["method"], results["ablation"], axes)
    ran = set(zip(*keys))
    measured = set(results["metric"]) if "metric" in results else None
    found = []
    for table in paper_tables().values():
        mine = {(*key, without_axes(label, table.mean_over)) for *key, label in ran}
        printed = [row for row in table.rows if not all(math.isnan(v) for v in row.values)]
        if not printed and measured is not None:
            if not {column.metric for column in table.columns} & measured:
                continue
        claimed = {claim.methods[0] for claim in table.claims}
        rows = printed or [
            row for row in table.rows if {row.method, f"{row.method}:{row.ablation}"} & claimed
        ]
        if any(
            (row.dataset, table.split, row.method, row.ablation, column.axes) in mine
            for row in rows
            for column in table.columns
        ):
            found.append(table)
    return found


def without_axes(label: str, names: Iterable[str]) -> str:
    """An ``axes_label`` without the values of axes ``names``: ("fold=3, length=20", ["fold"])
    -> "length=20"."""
    dropped = set(names)
    return ", ".join(p for p in label.split(", ") if p and p.split("=", 1)[0] not in dropped)


def paper_table(table_id: str, directory: str | Path | None = None) -> PaperTable:
    """The table ``table_id`` (e.g. ``"tba-t1"``)."""
    tables = paper_tables(directory)
    if table_id not in tables:
        raise ConfigError(
            f"unknown paper table {table_id!r}" + did_you_mean(table_id, list(tables))
        )
    return tables[table_id]


def _parse_table(raw: Any, paper: str, source: str, path: Path, list_line: int) -> PaperTable:
    table = _require(raw, dict, "a table", path, list_line)
    line = table.line
    page = table.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int)):
        raise ConfigError(f"'page' must be an integer or null, got {page!r}", path, line)
    columns = tuple(
        _parse_column(c, path, line)
        for c in _require(table.get("columns"), list, "'columns'", path, line)
    )
    names = [column.name for column in columns]
    if not columns or len(set(names)) != len(names):
        raise ConfigError(
            f"'columns' must be non-empty with distinct names, got {names}", path, line
        )
    dataset = table.get("dataset")
    if dataset is not None:
        dataset = _text(table, "dataset", path)
    rows_raw = _require(table.get("rows"), list, "'rows'", path, line)
    rows = tuple(_parse_row(r, len(columns), dataset, path, line) for r in rows_raw)
    if not rows or len({row.name for row in rows}) != len(rows):
        raise ConfigError("'rows' must be non-empty with distinct names", path, rows_raw.line)
    refs = [(row.dataset, row.ref) for row in rows if row.ref is not None]
    if len(set(refs)) != len(refs):
        raise ConfigError(
            f"two rows map to the same method on the same dataset: {refs}", path, rows_raw.line
        )
    columns = tuple(
        dataclasses.replace(column, decimals=max(_decimals(row.printed[i]) for row in rows))
        for i, column in enumerate(columns)
    )
    claims_raw = _require(table.get("claims", []), list, "'claims'", path, line)
    claims = tuple(_parse_claim(c, rows, columns, path, line) for c in claims_raw)
    sequences = table.get("sequences")
    if sequences is not None and not _is_count(sequences):
        raise ConfigError(
            f"'sequences' must be a positive integer or null, got {sequences!r}", path, line
        )
    mean_over = _require(table.get("mean_over", {}), dict, "'mean_over'", path, line)
    for axis, count in mean_over.items():
        if not _is_count(count):
            raise ConfigError(
                f"'mean_over': axis {axis!r} needs the number of values the paper averages"
                f" (a positive integer), got {count!r}",
                path,
                mean_over.line,
            )
        if any(without_axes(column.axes, [axis]) != column.axes for column in columns):
            raise ConfigError(
                f"'mean_over': axis {axis!r} is also a column's axis (a column reports one value"
                " of an axis; mean_over averages over all of them)",
                path,
                mean_over.line,
            )
    return PaperTable(
        id=_text(table, "id", path),
        paper=paper,
        table=_text(table, "table", path),
        page=page,
        source=str(table.get("source", source)),
        caption=_text(table, "caption", path),
        dataset=dataset,
        split=_text(table, "split", path),
        protocol=_text(table, "protocol", path).strip(),
        columns=columns,
        rows=rows,
        path=str(path),
        line=line,
        experiment=None if table.get("experiment") is None else _text(table, "experiment", path),
        claims=claims,
        sequences=sequences,
        mean_over={str(axis): count for axis, count in mean_over.items()},
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _parse_claim(
    raw: Any, rows: tuple[PaperRow, ...], columns: tuple[PaperColumn, ...], path: Path, line: int
) -> PaperClaim:
    claim = _require(raw, dict, "a claim", path, line)
    text = _text(claim, "text", path)
    unknown = sorted(set(claim) - {f.name for f in dataclasses.fields(PaperClaim)})
    if unknown:
        raise ConfigError(f"claim {text!r}: unknown keys {unknown}", path, claim.line)
    methods = _require(claim.get("methods"), list, f"claim {text!r}: 'methods'", path, claim.line)
    relation, stat = claim.get("relation"), claim.get("stat", "mean")
    within = claim.get("within")
    detections, beyond_spread = claim.get("detections"), claim.get("beyond_spread", False)
    problems = [
        (detections is not None and not isinstance(detections, str), "'detections' is a name"),
        (not isinstance(beyond_spread, bool), "'beyond_spread' is true or false"),
        (beyond_spread and relation != "above", "'beyond_spread' goes with 'above'"),
        (len(methods) != 2, "'methods' must name two methods"),
        (relation not in RELATIONS, f"'relation' must be one of {list(RELATIONS)}"),
        (stat not in STATS, f"'stat' must be one of {list(STATS)}"),
        ((relation == "within") != isinstance(within, (int, float)), "'within' goes with it"),
    ]
    for bad, problem in problems:
        if bad:
            raise ConfigError(f"claim {text!r}: {problem}", path, claim.line)
    named: dict[str, tuple[Any, set[str | None]]] = {
        "methods": (methods, {n for r in rows for n in (r.method, f"{r.method}:{r.ablation}")}),
        "datasets": (claim.get("datasets", []), {row.dataset for row in rows}),
        "columns": (claim.get("columns", []), {column.name for column in columns}),
    }
    for key, (values, known) in named.items():
        for value in values:
            if value not in known:
                raise ConfigError(
                    f"claim {text!r}: {key} has {value!r}, which no row or column of the table"
                    " has" + did_you_mean(str(value), sorted(map(str, known))),
                    path,
                    claim.line,
                )
    for method in methods:
        datasets = [row.dataset for row in claimed_rows(method, rows)]
        if len(set(datasets)) != len(datasets):
            raise ConfigError(
                f"claim {text!r}: method {method!r} has two rows on one dataset (ablations); a"
                " claim compares one row per method and dataset (name one: method:ablation)",
                path,
                claim.line,
            )
    return PaperClaim(
        text=text,
        methods=(methods[0], methods[1]),
        relation=relation,
        within=None if within is None else float(within),
        stat=stat,
        datasets=tuple(named["datasets"][0]),
        columns=tuple(str(c) for c in named["columns"][0]),
        detections=detections,
        beyond_spread=beyond_spread,
    )


def _parse_column(raw: Any, path: Path, table_line: int) -> PaperColumn:
    column = _require(raw, dict, "a column", path, table_line)
    axes = _require(column.get("axes", {}), dict, "'axes'", path, column.line)
    name, metric, direction, unit = (
        _text(column, key, path) for key in ("name", "metric", "direction", "unit")
    )
    parsed = PaperColumn(name, metric, direction, unit, axes=axes_label(axes))
    if parsed.direction not in DIRECTIONS:
        raise ConfigError(
            f"column {parsed.name!r}: direction must be one of {DIRECTIONS}", path, column.line
        )
    if parsed.unit not in UNITS:
        raise ConfigError(f"column {parsed.name!r}: unit must be one of {UNITS}", path, column.line)
    return parsed


def _parse_row(raw: Any, width: int, dataset: str | None, path: Path, table_line: int) -> PaperRow:
    """A row; ``dataset``: the table's, for a row that names none."""
    row = _require(raw, dict, "a row", path, table_line)
    name = _text(row, "name", path)
    if row.get("dataset") is not None:
        dataset = _text(row, "dataset", path)
    elif dataset is None:
        raise ConfigError(f"row {name!r} names no dataset and the table has none", path, row.line)
    method = ablation = None
    if row.get("method") is not None:  # rows of methods trackbench does not run have none
        ref = _text(row, "method", path)
        method, ablation = split_method_ref(ref)
        if not method or ":" in ablation:
            raise ConfigError(
                f"row {name!r}: method must be 'name' or 'name:ablation', got {ref!r}",
                path,
                row.line,
            )
    cells = _require(row.get("values"), list, f"row {name!r}: 'values'", path, row.line)
    if len(cells) != width:
        raise ConfigError(
            f"row {name!r} has {len(cells)} values for {width} columns", path, row.line
        )
    values = tuple(_cell_value(cell, name, path, row.line) for cell in cells)
    printed = tuple("–" if cell is None else str(cell) for cell in cells)
    spreads = tuple(
        float(match.group(2)) if (match := _WITH_SPREAD.match(text)) else math.nan
        for text in printed
    )
    return PaperRow(
        name=name,
        method=method,
        ablation=ablation,
        values=values,
        printed=printed,
        dataset=dataset,
        spreads=spreads,
    )


def _cell_value(cell: Any, row: str, path: Path, line: int) -> float:
    """A printed cell as a number: null -> NaN, ``"28K"`` -> 28000.0, ``"0.61 ± 0.11"`` -> 0.61
    (the spread stays in the printed text)."""
    if cell is None:
        return math.nan
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return float(cell)
    text = cell if isinstance(cell, str) else ""
    if match := _ABBREVIATED.match(text):
        return float(match.group(1)) * _SCALE[match.group(2)]
    if match := _WITH_SPREAD.match(text):
        return float(match.group(1))
    raise ConfigError(
        f"row {row!r}: value {cell!r} is not a number, null, like '28K' or like '0.61 ± 0.11'",
        path,
        line,
    )


def _decimals(printed: str) -> int:
    """The decimals of a printed cell's (first) number: "0.61 ± 0.11" -> 2, "28K" -> 0."""
    number = re.match(r"-?\d+(?:\.(\d+))?", printed)
    return len(number.group(1) or "") if number else 0


def _require(value: Any, kind: type, what: str, path: Path, line: int | None) -> Any:
    if not isinstance(value, kind):
        expected = "a mapping" if kind is dict else "a list"
        raise ConfigError(f"{what} must be {expected}, got {type(value).__name__}", path, line)
    return value


def _text(mapping: _LocatedDict, key: str, path: Path) -> str:
    value = mapping.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"missing or empty text field {key!r}", path, mapping.line)
    return value
