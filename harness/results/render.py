"""Renderers: a board as Markdown, static HTML (self-contained, escaped: a method name is never
markup) and LaTeX, and as JSON-ready rows (``trackbench report --format json``); the escapes and
number words they share with the regression gate."""

from __future__ import annotations

import base64
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.papers import PaperTable
from harness.registry import method_label
from harness.results.layouts import Cell, Layout
from harness.results.paper_comparison import summary_and_papers
from harness.results.summary import KEY, spread_of


@dataclass(frozen=True)
class Section:
    """A heading and its lines (a bulleted list)."""

    heading: str
    lines: list[str]


@dataclass(frozen=True)
class Board:
    """What a renderer draws: title, tables and sections in reading order, notes, plots and the
    provenance footer."""

    title: str
    blocks: list[Layout | Section]
    notes: list[str]
    plots: list[Path]
    provenance: list[tuple[str, str]]

    @property
    def layouts(self) -> list[Layout]:
        return [block for block in self.blocks if isinstance(block, Layout)]


PROVENANCE_HEADING = "Provenance"

# Only what Markdown would read as markup: a table's pipe, emphasis (an underscore only at a word
# boundary), a backslash that would escape what follows, a tag / comment / autolink, a link or
# image, an entity reference. Plain "<", ">", "&" and inline `code` stay as written.
_MARKDOWN_MARKUP = re.compile(
    r"[|*]|\\(?=[!-/:-@\[-`{-~])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])"
    r"|<(?=[A-Za-z/!?])|\](?=[(\[])|&(?=#?[0-9A-Za-z]+;)"
)
_LATEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "Δ": r"$\Delta$",
    "−": r"$-$",
    "—": "--",
    "–": "--",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\n": " ",
}


def markdown_escape(text: str) -> str:
    """Text safe in a Markdown table cell, on one line: a backslash before each character that
    Markdown would read as markup there (a tag included), every other character as written."""
    return _MARKDOWN_MARKUP.sub(lambda match: "\\" + match.group(), str(text).replace("\n", " "))


def latex_escape(text: str) -> str:
    """Text safe in LaTeX (special characters escaped, arrows and ± as math)."""
    return "".join(_LATEX_ESCAPES.get(c, c) for c in str(text))


def counted(number: int, noun: str) -> str:
    """``number`` and ``noun``, plural unless one: "1 row", "2 rows"."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def json_value(value: Any) -> Any:
    """A numpy number as a Python one, NaN as None (JSON has no NaN)."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and math.isnan(value) else value


def render_markdown(board: Board) -> str:
    """``leaderboard.md``."""

    def cell(item: Cell) -> str:
        text = markdown_escape(item.text)
        return f"**{text}**" if item.mark == "best" else text

    lines = [f"# {markdown_escape(board.title)}", ""]
    for block in board.blocks:
        lines += [f"## {markdown_escape(block.heading)}", ""]
        if isinstance(block, Section):
            lines += [f"- {markdown_escape(line)}" for line in block.lines] + [""]
            continue
        lines += [markdown_escape(block.caption), ""]
        lines += [line for flag in block.flags for line in (f"> **{markdown_escape(flag)}**", "")]
        lines.append("| " + " | ".join(markdown_escape(h) for h in block.header) + " |")
        lines.append("|" + "|".join("---:" if num else "---" for num in block.numeric) + "|")
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in block.rows]
        lines.append("")
    lines += [f"- {markdown_escape(note)}" for note in board.notes] + [""]
    lines += [f"![{p.stem}]({p.name})" for p in board.plots]
    if board.provenance:
        lines += ["", f"## {PROVENANCE_HEADING}", ""]
        lines += [f"- {markdown_escape(f'{label}: {text}')}" for label, text in board.provenance]
    return "\n".join(lines) + "\n"


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; margin: 1em 0; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.6em; white-space: nowrap;
         background: #fff; }
th { background: #f3f3f3; }
.label { position: sticky; z-index: 1; box-sizing: border-box; overflow: hidden;
         text-overflow: ellipsis; }
.label.edge { border-right: 1px solid #bbb; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.best { font-weight: bold; }
td.better { background: #e3f4e8; color: #105c2b; }
td.worse { background: #fbe5e3; color: #8c1d13; }
p.flag { font-weight: bold; color: #8c1d13; max-width: 60em; }
summary h2 { display: inline; }
summary { cursor: pointer; margin: 1em 0; }
caption { caption-side: top; text-align: left; padding: 0.4em 0; max-width: 60em;
          white-space: normal; }
img { max-width: 100%; }
footer { margin-top: 2em; border-top: 1px solid #ccc; font-size: 0.85em; color: #444; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
footer dt { font-weight: bold; }
footer dd { margin: 0; }
"""
_LABEL_CH_PER_CHAR = 1.1  # proportional type: a label's letters run up to ~10 % wider than "0"
_CELL_PADDING = "1.2em"  # left + right padding of a cell (th, td above)


_CSP = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
)


def _pinned_css(table_id: str, layout: Layout) -> str:
    """CSS pinning a table's label columns while the rest scrolls: each as wide as its longest
    text, each one's left offset the widths of those before it."""
    rules, offset = [], 0.0
    for column in range(layout.labels):
        texts = [layout.header[column], *(row[column].text for row in layout.rows)]
        chars = _LABEL_CH_PER_CHAR * max(len(text) for text in texts)
        width = f"calc({chars:.1f}ch + {_CELL_PADDING})"
        rules.append(
            f"#{table_id} tr > :nth-child({column + 1}) {{ left: calc({offset:.1f}ch + "
            f"{column} * {_CELL_PADDING}); width: {width}; min-width: {width}; "
            f"max-width: {width}; }}"
        )
        offset += chars
    return "\n".join(rules) + "\n"


def _html_classes(layout: Layout, column: int, mark: str = "") -> str:
    """The class attribute of a cell: pinned label, numeric, and its mark."""
    classes = ["label"] if column < layout.labels else []
    classes += ["edge"] if column == layout.labels - 1 else []
    classes += ["num"] if layout.numeric[column] else []
    classes += [mark] if mark else []
    return f' class="{" ".join(classes)}"' if classes else ""


def _html_table(table_id: str, layout: Layout) -> list[str]:
    """A layout's heading, flags and table; a ``collapsed`` one inside a closed ``<details>``
    whose summary is the heading."""
    esc = html.escape
    heading = f"<h2>{esc(layout.heading)}</h2>"
    parts = [f"<details><summary>{heading}</summary>" if layout.collapsed else heading]
    parts += [f'<p class="flag">{esc(flag)}</p>' for flag in layout.flags]
    parts += [
        '<div class="scroll">',
        f'<table id="{table_id}">',
        f"<caption>{esc(layout.caption)}</caption>",
    ]
    header = (f"<th{_html_classes(layout, j)}>{esc(h)}</th>" for j, h in enumerate(layout.header))
    parts += ["<thead><tr>" + "".join(header) + "</tr></thead>", "<tbody>"]
    for row in layout.rows:
        cells = (
            f"<td{_html_classes(layout, j, c.mark)}>{esc(c.text)}</td>" for j, c in enumerate(row)
        )
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts += ["</tbody>", "</table>", "</div>"]
    return parts + (["</details>"] if layout.collapsed else [])


def render_html(board: Board) -> str:
    """``leaderboard.html``: one static page, plots inline, no scripts allowed."""
    esc = html.escape
    ids = [f"table-{i}" for i in range(1, len(board.layouts) + 1)]
    pinned = "".join(_pinned_css(i, layout) for i, layout in zip(ids, board.layouts))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        _CSP,
        f"<title>{esc(board.title)}</title>",
        f"<style>{_CSS}{pinned}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(board.title)}</h1>",
    ]
    table_ids = iter(ids)
    for block in board.blocks:
        if isinstance(block, Section):
            parts += [f"<h2>{esc(block.heading)}</h2>", "<ul>"]
            parts += [f"<li>{esc(line)}</li>" for line in block.lines] + ["</ul>"]
        else:
            parts += _html_table(next(table_ids), block)
    parts += ["<ul>"] + [f"<li>{esc(note)}</li>" for note in board.notes] + ["</ul>"]
    for plot in board.plots:
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img alt="{esc(plot.stem)}" src="data:image/png;base64,{data}"></figure>'
        )
    if board.provenance:
        parts += ["<footer>", f"<h2>{PROVENANCE_HEADING}</h2>", "<dl>"]
        parts += [f"<dt>{esc(label)}</dt><dd>{esc(text)}</dd>" for label, text in board.provenance]
        parts += ["</dl>", "</footer>"]
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def render_latex(board: Board) -> str:
    """``leaderboard.tex``: a booktabs table per layout."""

    def cell(item: Cell) -> str:
        text = latex_escape(item.text)
        return rf"\textbf{{{text}}}" if item.mark == "best" else text

    lines = [
        f"% {latex_escape(board.title)}: generated by trackbench; needs \\usepackage{{booktabs}}"
    ]
    for block in board.blocks:
        if isinstance(block, Section):
            lines += [rf"\paragraph{{{latex_escape(block.heading)}}}", r"\begin{itemize}"]
            lines += [rf"\item {latex_escape(line)}" for line in block.lines]
            lines += [r"\end{itemize}", ""]
            continue
        spec = "".join("r" if num else "l" for num in block.numeric)
        caption = " ".join(
            [latex_escape(block.caption)]
            + [rf"\textbf{{{latex_escape(flag)}}}" for flag in block.flags]
        )
        lines += [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{caption}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in block.header) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(cell(c) for c in row) + r" \\" for row in block.rows]
        lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    lines += [f"% {latex_escape(note)}" for note in board.notes]
    lines += [f"% {latex_escape(f'{label}: {text}')}" for label, text in board.provenance]
    return "\n".join(lines) + "\n"


RENDERERS = {".md": render_markdown, ".html": render_html, ".tex": render_latex}
"""The renderers by the suffix of the file they write."""


def board_rows(
    frame: pd.DataFrame,
    timings: pd.DataFrame | None = None,
    papers: Sequence[PaperTable | str] | None = None,
) -> list[dict[str, Any]]:
    """The board as JSON-ready rows (``trackbench report --format json``): per report row the
    key columns, ``n`` (seeds) and ``metrics``: per metric with a value, in stored units,
    ``{"mean", "std", "spread", "n"}`` (``summarize``'s spread rule), plus ``"paper"``: {table id:
    {"value", "delta", "unit"}} in the paper's units where a paper table has the metric for the
    row. NaN is None."""
    summary, comparisons = summary_and_papers(frame, timings, papers)
    paper_cells: dict[tuple, dict[str, dict[str, Any]]] = {}
    for table, tidy in comparisons:
        for cell in tidy[tidy["n_seeds"] > 0].to_dict("records"):
            keys = ("dataset", "split", "axes", "detections", "ref", "metric")
            where = tuple(cell[k] for k in keys)
            paper_cells.setdefault(where, {})[table.id] = {
                "value": json_value(cell["paper"]),
                "delta": json_value(cell["delta"]),
                "unit": cell["unit"],
            }
    names = [column[: -len("_mean")] for column in summary.columns if column.endswith("_mean")]
    spreads = {name: spread_of(summary, name) for name in names}
    rows = []
    for index, record in summary.iterrows():
        metrics = {}
        for name in names:
            if not np.isfinite(record[f"{name}_mean"]):
                continue
            metrics[name] = {
                "mean": json_value(record[f"{name}_mean"]),
                "std": json_value(record[f"{name}_std"]),
                "spread": spreads[name].loc[index, "spread"],
                "n": int(spreads[name].loc[index, "n"]),
            }
            ref = method_label(record["method"], record["ablation"])
            where = (
                record["dataset"],
                record["split"],
                record["axes"],
                record["detections"],
                ref,
                name,
            )
            if where in paper_cells:
                metrics[name]["paper"] = paper_cells[where]
        key = {k: record[k] for k in KEY}
        rows.append({**key, "n": int(record["n_seeds"]), "metrics": metrics})
    return rows
