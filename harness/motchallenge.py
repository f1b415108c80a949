"""MOTChallenge text files: ground truth, detections and results, read with validation.

Rows are ``frame, id, left, top, width, height, conf, x, y, z`` (results, detections, MOT15 gt) or
``frame, id, left, top, width, height, consider, class, visibility`` (MOT16/17/20 gt). Commas or
white space separate fields. Every problem is reported as ``file:line: problem``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from harness.data import BoxTable
from harness.errors import FormatError

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["gt", "det", "result"]
MIN_COLUMNS = 6
MAX_COLUMNS = 10


def read_mot(
    path: str | Path,
    kind: Kind = "result",
    *,
    seq_length: int | None = None,
    classes: np.ndarray | None = None,
) -> BoxTable:
    """Read a MOTChallenge file of ``kind`` into a BoxTable, validating every row.

    Ground truth keeps column 7 as the consider flag, 8 as class and 9 as visibility; detections
    and results keep column 7 as the score. An empty ground-truth file is an error; empty
    detections or results are valid (nothing detected or tracked). ``seq_length`` (seqinfo.ini's
    ``seqLength``) is the last valid frame; ``classes``, the class ids a gt row may have
    (MOT16/17/20), makes the class column required.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError("file not found", path)
    text = path.read_text(encoding="utf-8", errors="replace")
    return parse_mot(text, kind, path, seq_length=seq_length, classes=classes)


def parse_mot(
    text: str,
    kind: Kind,
    path: str | Path = "<text>",
    *,
    seq_length: int | None = None,
    classes: np.ndarray | None = None,
) -> BoxTable:
    """Parse MOTChallenge ``text`` (see ``read_mot``); ``path`` only names the source in error
    messages."""
    blank_lines = re.match(r"(?:[ \t\r\f\v]*\n)*", text)
    assert blank_lines is not None  # the pattern matches the empty string
    leading_blank = blank_lines.group()
    if not leading_blank:
        return _parse_rows(text, kind, path, seq_length, classes)
    skipped = leading_blank.count("\n")
    try:
        return _parse_rows(text[len(leading_blank) :], kind, path, seq_length, classes)
    except FormatError as exc:
        if exc.line is None:
            raise
        raise FormatError(exc.message, exc.path, exc.line + skipped) from None


def _parse_rows(
    text: str, kind: Kind, path: str | Path, seq_length: int | None, classes: np.ndarray | None
) -> BoxTable:
    """``parse_mot`` of a text whose first line is not blank (or that is blank throughout)."""
    if not text or text.isspace():
        if kind == "gt":
            raise FormatError("empty ground-truth file", path)
        return BoxTable.empty()
    first_line = re.search(r"\S[^\n]*", text)
    assert first_line is not None  # the text is not blank
    first = first_line.group()
    sep = "," if "," in first else r"\s+"
    plain = _plain_numbers(text) if sep == "," else None
    if plain is not None and MIN_COLUMNS <= len(plain) <= MAX_COLUMNS:
        return _table(plain, len(plain), kind, None, path, seq_length, classes)
    import pandas as pd  # here: plain comma files (the usual case) need no pandas

    try:
        df = pd.read_csv(
            io.BytesIO(text.encode("utf-8")),
            sep=sep,
            header=None,
            skip_blank_lines=False,
            engine="c",
            dtype=str if sep == r"\s+" else None,
            keep_default_na=False,
            na_values=[""],
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = (int(g) for g in match.groups())
            raise FormatError(f"expected {expected} columns, found {saw}", path, line) from None
        raise FormatError(f"unreadable: {exc}", path) from None
    ncols = df.shape[1]
    if sep == "," and ncols > MIN_COLUMNS and df.iloc[:, -1].isna().all():
        df = df.iloc[:, :-1]  # a trailing comma on every row
        ncols -= 1
    if not MIN_COLUMNS <= ncols <= MAX_COLUMNS:
        raise FormatError(
            f"expected {MIN_COLUMNS} to {MAX_COLUMNS} columns, found {ncols}", path, 1
        )

    columns, lines = _clean_numbers(df), None
    if columns is None:
        columns, lines = _coerce_numbers(df, text, path)
    return _table(columns, ncols, kind, lines, path, seq_length, classes)


def _plain_numbers(text: str) -> list[np.ndarray] | None:
    """The float columns of a comma-separated ``text`` whose every line holds the same number of
    fields and every field a number (read by Arrow's CSV reader, whose numbers are ``float()``'s
    exactly), else None: blank lines, text, NaN, missing fields and the like go to the pandas
    path, which reads them and names the line of any error."""
    import pyarrow as pa
    import pyarrow.csv as arrow_csv

    try:
        table = arrow_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=arrow_csv.ReadOptions(autogenerate_column_names=True, use_threads=False),
            parse_options=arrow_csv.ParseOptions(ignore_empty_lines=False),
        )
    except pa.ArrowInvalid:
        return None
    columns = []
    for column in table.columns:
        dtype = _ARROW_NUMBERS.get(str(column.type))
        if dtype is None or column.null_count:
            return None
        # From the chunks' value buffers: converting through pyarrow would import pandas.
        values = np.concatenate(
            [
                np.frombuffer(chunk.buffers()[1], dtype, len(chunk) + chunk.offset)[chunk.offset :]
                for chunk in column.chunks
            ]
        ).astype(np.float64)
        if np.isnan(values).any():
            return None
        columns.append(values)
    return columns


_ARROW_NUMBERS = {"int64": np.int64, "double": np.float64}  # the numeric types Arrow's CSV infers


def _table(
    columns: list[np.ndarray],
    ncols: int,
    kind: Kind,
    lines: np.ndarray | None,
    path: str | Path,
    seq_length: int | None,
    classes: np.ndarray | None,
) -> BoxTable:
    """The validated BoxTable of float ``columns`` (``lines``: the line of each row; None when
    row i is line i + 1)."""
    n = len(columns[0])
    if n == 0:
        if kind == "gt":
            raise FormatError("empty ground-truth file", path)
        return BoxTable.empty()
    _validate(columns, kind, lines, path)
    _check_limits(columns, lines, path, seq_length, classes if kind == "gt" else None)

    conf = np.array(columns[6]) if ncols > 6 else np.ones(n)
    cls = columns[7] if kind == "gt" and ncols > 7 else np.full(n, -1.0)
    vis = np.array(columns[8]) if kind == "gt" and ncols > 8 else np.full(n, -1.0)
    return BoxTable(
        frame=columns[0].astype(np.int64),
        id=columns[1].astype(np.int64),
        box=np.column_stack(columns[2:6]),
        conf=conf,
        cls=cls.astype(np.int64),
        visibility=vis,
    )


def _clean_numbers(df: pd.DataFrame) -> list[np.ndarray] | None:
    """The columns as floats when pandas already parsed every field as a number (the usual
    case: no blank line, missing field or text token anywhere), else None."""
    if not all(dtype.kind in "iuf" for dtype in df.dtypes):
        return None
    columns = [df.iloc[:, j].to_numpy(dtype=np.float64) for j in range(df.shape[1])]
    return None if any(np.isnan(column).any() for column in columns) else columns


def _coerce_numbers(df: pd.DataFrame, text: str, path) -> tuple[list[np.ndarray], np.ndarray]:
    """Float columns of the non-blank rows and their 1-based line numbers; the first field that
    is not a number is an error naming its line."""
    import pandas as pd

    ncols = df.shape[1]
    blank = df.isna().all(axis=1).to_numpy()
    if blank.any():  # only then is the per-line scan for blank lines needed
        blank = blank & _blank_lines(text, len(df))
    values = np.empty(df.shape, dtype=np.float64)
    for j in range(ncols):
        column = pd.to_numeric(df.iloc[:, j], errors="coerce").to_numpy(dtype=np.float64)
        raw = df.iloc[:, j]
        bad = np.isnan(column) & ~blank
        if bad.any():
            i = int(np.argmax(bad))
            token = raw.iloc[i]
            if isinstance(token, str) and token.strip().lower() in ("nan", "-nan", "+nan"):
                raise FormatError(f"column {j + 1} is NaN", path, i + 1)
            if token is None or (isinstance(token, float) and np.isnan(token)):
                raise FormatError(f"expected {ncols} columns, found {j}", path, i + 1)
            raise FormatError(f"column {j + 1} is not a number: {token!r}", path, i + 1)
        values[:, j] = column
    keep = ~blank
    return list(values[keep].T), np.flatnonzero(keep) + 1


def _blank_lines(text: str, nrows: int) -> np.ndarray:
    """Mask of rows that are blank lines in ``text`` (rows as pandas numbered them)."""
    lines = text.splitlines()
    mask = np.zeros(nrows, dtype=bool)
    for i, line in enumerate(lines[:nrows]):
        if not line.strip():
            mask[i] = True
    return mask


def _validate(columns: list[np.ndarray], kind: Kind, lines: np.ndarray | None, path) -> None:
    """Raise a FormatError naming the first bad row's line (row i is line ``lines[i]``, or
    i + 1 when ``lines`` is None)."""

    def fail(mask: np.ndarray, problem: str) -> None:
        if mask.any():
            raise FormatError(problem, path, _line(lines, int(np.argmax(mask))))

    finite = np.isfinite(columns[0])
    for column in columns[1:]:
        finite &= np.isfinite(column)
    fail(~finite, "non-finite number (inf)")
    frame, ids = columns[0], columns[1]
    fail(frame != np.floor(frame), "frame number is not an integer")
    fail(frame < 1, "frame number must be >= 1 (MOTChallenge frames are 1-based)")
    fail(ids != np.floor(ids), "id is not an integer")
    if kind != "det":
        fail(ids < 0, "id must be >= 0")
    fail(columns[4] <= 0, "box width must be > 0")
    fail(columns[5] <= 0, "box height must be > 0")
    if kind == "det":
        return
    key = frame.astype(np.int64) * (int(ids.max()) + 1) + ids.astype(np.int64)
    if (key[1:] > key[:-1]).all():  # rows sorted by (frame, id): no repeats, no sort needed
        return
    order = np.argsort(key, kind="stable")
    dup = np.zeros(len(key), dtype=bool)
    dup[order[1:]] = key[order[1:]] == key[order[:-1]]
    if dup.any():
        i = int(np.argmax(dup))
        fail(dup, f"id {int(ids[i])} appears twice in frame {int(frame[i])}")


def _check_limits(
    columns: list[np.ndarray],
    lines: np.ndarray | None,
    path,
    seq_length: int | None,
    classes: np.ndarray | None,
) -> None:
    """Raise a FormatError naming the first row whose frame is beyond ``seq_length`` or, with
    ``classes``, the first row when there is no class column, else the first with another class."""
    frame = columns[0]
    if seq_length is not None and (frame > seq_length).any():
        row = int(np.argmax(frame > seq_length))
        raise FormatError(
            f"frame {int(frame[row])} beyond seqLength {seq_length} (seqinfo.ini)",
            path,
            _line(lines, row),
        )
    if classes is None:
        return
    if len(columns) < 8:
        raise FormatError(
            f"no class column: {len(columns)} columns, MOTChallenge gt has 9 (frame, id, left, "
            "top, width, height, consider, class, visibility)",
            path,
            _line(lines, 0),
        )
    cls = np.trunc(columns[7])  # TrackEval reads the class with astype(int)
    unknown = ~np.isin(cls, classes)
    if unknown.any():
        row = int(np.argmax(unknown))
        raise FormatError(
            f"class {int(cls[row])} is not a MOTChallenge class "
            f"({int(classes.min())}..{int(classes.max())})",
            path,
            _line(lines, row),
        )


def _line(lines: np.ndarray | None, row: int) -> int:
    """The 1-based line of row ``row``: ``lines[row]``, or ``row + 1`` when no line is blank."""
    return row + 1 if lines is None else int(lines[row])


def write_mot(path: str | Path, table: BoxTable, kind: Kind = "result") -> None:
    """Write ``table`` as MOTChallenge text (10 columns; gt as frame,id,box,consider,class,vis)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = table.sorted()
    n = len(table)
    if kind == "gt":
        extra = [table.conf, table.cls, table.visibility]
    else:
        extra = [table.conf, -np.ones(n), -np.ones(n), -np.ones(n)]
    import pandas as pd  # here: reading needs no pandas

    frame = pd.Series(table.frame).astype(str)
    ident = pd.Series(table.id).astype(str)
    parts = [frame, ident] + [pd.Series(c).map(_fmt) for c in [*table.box.T, *extra]]
    body = parts[0].str.cat(parts[1:], sep=",")
    path.write_text("".join(line + "\n" for line in body), encoding="utf-8")


def _fmt(x: float) -> str:
    """Shortest exact text of a float (integers without a decimal point)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))
