"""Reports: aggregation over seeds, formatting, column order, escaping, files and paper deltas."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt

from harness.errors import ConfigError, FormatError
from harness.metrics.catalogue import CATALOGUE, COLUMN_SETS
from harness.papers import load_paper_file, paper_table
from harness.results.board import write_report
from harness.results.layouts import format_cell, resolve_columns
from harness.results.paper_comparison import claim_lines, compare_with_paper
from harness.results.plots import speed_accuracy_figure
from harness.results.render import board_rows, latex_escape, markdown_escape
from harness.results.sections import board_provenance
from harness.results.summary import cell_timings, summarize

EVIL = "<script>alert(1)</script>"
KEYS = {"experiment": "e1", "dataset": "sprites-mot", "split": "eval", "detections": "clean"}
KEY_COLUMNS = ["experiment", "dataset", "split", "detections", "method", "ablation", "seed"]


def results(cells: dict[tuple[str, str], dict[str, list[float]]], **keys) -> pd.DataFrame:
    """A metrics frame: {(method, ablation): {metric: [value per seed]}}, plus a per-sequence row
    per value (which reports must ignore)."""
    rows = []
    for (method, ablation), metrics in cells.items():
        for metric, values in metrics.items():
            for seed, value in enumerate(values):
                base = {
                    **KEYS,
                    **keys,
                    "method": method,
                    "ablation": ablation,
                    "seed": seed,
                    "metric": metric,
                }
                rows.append({**base, "sequence": "COMBINED", "value": value})
                rows.append({**base, "sequence": "seq-01", "value": -1.0})
    return pd.DataFrame(rows)


HAND = results(
    {
        ("tba", "default"): {
            "MOTA": [0.990, 0.994, 0.992],
            "FP": [50, 70, 60],
            "IDSW": [30, 31, 30],
        },
        ("tba", "TBAc-noMem"): {"MOTA": [0.25], "FP": [7]},
    }
)


def test_summary_is_mean_and_sample_std_over_seeds_of_combined_rows():
    summary = summarize(HAND).set_index(["method", "ablation"])
    full = summary.loc[("tba", "default")]
    assert full["n_seeds"] == 3
    assert full["MOTA_mean"] == pytest.approx(0.992)
    assert full["MOTA_std"] == pytest.approx(np.std([0.990, 0.994, 0.992], ddof=1))
    assert full["FP_mean"] == 60 and full["FP_std"] == pytest.approx(10.0)
    assert full["IDSW_mean"] == pytest.approx(91 / 3)
    one = summary.loc[("tba", "TBAc-noMem")]
    assert one["n_seeds"] == 1 and one["MOTA_mean"] == 0.25 and math.isnan(one["MOTA_std"])
    assert math.isnan(one["IDSW_mean"])


def test_format_cell_percent_counts_and_seeds():
    assert format_cell(CATALOGUE["MOTA"], 0.992, 0.002, 3) == "99.2 ± 0.2"
    assert format_cell(CATALOGUE["MOTA"], 0.25, math.nan, 1) == "25.0"
    assert format_cell(CATALOGUE["MOTA"], 0.25, 0.01, 1) == "25.0"  # one seed: no ± at all
    assert format_cell(CATALOGUE["FP"], 60.0, 10.0, 3) == "60 ± 10.0"
    assert format_cell(CATALOGUE["IDSW"], 91 / 3, 0.577, 3) == "30.3 ± 0.6"
    assert format_cell(CATALOGUE["FN"], 22096.0, math.nan, 1) == "22,096"
    assert format_cell(CATALOGUE["FAF"], 0.0123, math.nan, 1) == "0.01"
    assert format_cell(CATALOGUE["IDF1"], math.nan, math.nan, 2) == "—"


def test_named_column_sets_and_validation():
    assert resolve_columns("tba") == [
        "IDF1",
        "IDP",
        "IDR",
        "MOTA",
        "MOTP",
        "FAF",
        "MT",
        "ML",
        "FP",
        "FN",
        "IDSW",
        "Frag",
    ]
    assert resolve_columns() == list(COLUMN_SETS["mot"])
    assert resolve_columns(["HOTA", "MOTA"]) == ["HOTA", "MOTA"]
    with pytest.raises(ConfigError, match="did you mean 'tba'"):
        resolve_columns("tbaa")
    with pytest.raises(ConfigError, match="'MOTX'"):
        resolve_columns(["MOTA", "MOTX"])


def markdown_rows(text: str) -> list[list[str]]:
    """Cells of every Markdown table line, split on unescaped pipes."""
    return [
        [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def test_markdown_column_order_arrows_and_cells(tmp_path):
    write_report(HAND, tmp_path, "T1", columns="tba")
    table = markdown_rows((tmp_path / "leaderboard.md").read_text(encoding="utf-8"))
    assert table[0] == [
        "Dataset",
        "Split",
        "Detections",
        "Method",
        "Ablation",
        "n",
        "IDF1 ↑",
        "IDP ↑",
        "IDR ↑",
        "MOTA ↑",
        "MOTP ↑",
        "FAF ↓",
        "MT ↑",
        "ML ↓",
        "FP ↓",
        "FN ↓",
        "IDS ↓",
        "Frag ↓",
    ]
    full, single = table[2], table[3]
    assert full[:6] == ["sprites-mot", "eval", "clean", "tba", "default", "3"]
    assert full[9] == "**99.2 ± 0.2**" and full[14] == "60 ± 10.0" and full[16] == "30.3 ± 0.6"
    assert full[6] == "—"  # IDF1 not in the results
    assert single[5] == "1" and single[9] == "25.0" and single[14] == "**7**"  # best: bold


def rendered_markdown(text: str) -> str:
    """Markdown as a CommonMark renderer with tables and raw HTML (as GitHub's) makes it."""
    return MarkdownIt("commonmark").enable("table").render(text)


def test_markdown_escapes_pipes_and_markup(tmp_path):
    frame = results({(EVIL, "a|b"): {"MOTA": [0.5]}, ("_x_", "[a](b)"): {"MOTA": [0.4]}})
    write_report(frame, tmp_path, "x|y")
    text = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "a\\|b" in text and "\\<script>alert(1)\\</script>" in text
    assert not re.search(r"(?<!\\)<[a-z/]", text)  # every "<" of a tag escaped
    rows = markdown_rows(text)
    assert len({len(row) for row in rows}) == 1  # the pipe in a name adds no column
    page = rendered_markdown(text)
    assert "<script" not in page and "<em>" not in page and "<a " not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "[a](b)" in page
    assert markdown_escape("a_b*c") == "a_b\\*c"  # an underscore inside a word is no emphasis


def test_markdown_has_no_entities_or_stray_backslashes(tmp_path):
    """Text reads as written: ">", "<", "&", "_" inside words and `code` need no escape."""
    caption = "confidence y_c > 0.5; FP > FN implies IDP < IDR; R&D (He_CVPR_2019_paper.pdf)"
    assert markdown_escape(caption) == caption
    failed = "ConfigError: TBA checkpoint not found (make one with `trackbench train`)"
    assert markdown_escape(failed) == failed
    assert markdown_escape(r"C:\runs \*x") == r"C:\runs \\\*x"
    cells = results({("tba", "TBA"): {"MOTA": [0.2]}})
    failures = (
        cells[KEY_COLUMNS]
        .drop_duplicates()
        .assign(status="failed", error=failed, rerun=None, submission=None)
    )
    write_report(cells, tmp_path, "tba-t1", papers=["tba-t1"], failures=failures)
    text = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert not re.search(r"&(gt|lt|amp);", text) and "\\" not in text
    assert "y_c > 0.5" in text and "`trackbench train`" in text
    page = rendered_markdown(text)
    assert "y_c &gt; 0.5" in page and "<code>trackbench train</code>" in page


def test_html_is_static_self_contained_and_escaped(tmp_path):
    frame = results(
        {(EVIL, "default"): {"MOTA": [0.5, 0.6]}}, detections='"><img src=x onerror=alert(1)>'
    )
    write_report(frame, tmp_path, EVIL)
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, heading, table cell
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<style>" in page and "<link" not in page
    assert re.findall(r'(?:src|href)="(?!data:image/png;base64,)', page) == []
    assert "55.0 ± 7.1" in page


def test_csv_round_trip_is_raw_numbers(tmp_path):
    write_report(HAND, tmp_path, "T")
    back = pd.read_csv(tmp_path / "leaderboard.csv", keep_default_na=False, na_values=[""])
    back["axes"] = back["axes"].astype(object).fillna("")  # no axes: empty, read back as NaN
    expected = summarize(HAND)
    assert list(back.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back.loc[0, "MOTA_mean"] == pytest.approx(0.992)


def test_latex_escapes_specials(tmp_path):
    assert latex_escape("a_b 50% R&D #1 {x} ±") == r"a\_b 50\% R\&D \#1 \{x\} $\pm$"
    frame = results({("my_tracker", "default"): {"MOTA": [0.5, 0.7]}})
    write_report(frame, tmp_path, "Board & co")
    tex = (tmp_path / "leaderboard.tex").read_text(encoding="utf-8")
    assert r"my\_tracker" in tex and r"Board \& co" in tex and r"60.0 $\pm$ 14.1" in tex
    assert r"MOTA $\uparrow$" in tex and r"FP $\downarrow$" in tex
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1


def test_plots_are_png_files(tmp_path):
    noisy = results({("tba", "default"): {"MOTA": [0.8, 0.9]}}, detections="noisy")
    mathtext = results({("a$b^{$", "default"): {"MOTA": [0.5]}})  # "$" is text, not mathtext
    frame = pd.concat([HAND, noisy, mathtext])
    timings = frame[["experiment", "dataset", "split", "detections", "method", "ablation", "seed"]]
    timings = timings.drop_duplicates().assign(
        sequence="s1",
        frames=240,
        total_seconds=2.0,
        latency_p50_ms=8.0,
        latency_p95_ms=9.0,
        peak_memory_bytes=10**6,
        device_name="cpu",
    )
    written = write_report(frame, tmp_path, "T", timings=timings)
    for name in ("leaderboard.png", "speed_accuracy.png"):
        data = (tmp_path / name).read_bytes()
        assert tmp_path / name in written and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    header = markdown_rows((tmp_path / "leaderboard.md").read_text(encoding="utf-8"))[0]
    assert header[-2:] == ["fps ↑", "p50 ms ↓"]
    summary = summarize(frame, timings)
    assert summary["fps_mean"].tolist() == [120.0] * 4
    assert summary["latency_p50_ms_mean"].tolist() == [8.0] * 4  # one sequence: kept


def test_cell_timings_combine_sequences_honestly():
    """fps = Σ frames / Σ seconds (not the records' own fps), peak memory = max, latency
    percentiles only for one-sequence cells, device names distinct and joined."""
    record = {
        **KEYS,
        "method": "m",
        "ablation": "default",
        "frames": 290,
        "total_seconds": 0.5,
        "latency_p50_ms": 1.5,
        "latency_p95_ms": 2.5,
        "fps": 580.0,
        "peak_memory_bytes": 10**9,
        "device_name": "cpu (x86_64)",
    }
    rows = [
        {**record, "seed": 0, "sequence": "a"},
        {
            **record,
            "seed": 0,
            "sequence": "b",
            "frames": 110,
            "total_seconds": 0.1,
            "peak_memory_bytes": 2 * 10**9,
            "device_name": "cuda:0 (H100)",
        },
        {**record, "seed": 1, "sequence": "a"},
        {**record, "seed": 1, "sequence": "b", "device_name": "cpu (x86_64)"},
        {**record, "seed": 2, "sequence": "a"},
    ]
    cells = cell_timings(pd.DataFrame(rows)).set_index("seed")
    assert cells.index.tolist() == [0, 1, 2]
    assert cells.loc[0, "fps"] == pytest.approx(400 / 0.6)
    assert cells.loc[1, "fps"] == pytest.approx(580.0)
    assert cells.loc[0, "peak_memory_bytes"] == 2 * 10**9
    two = cells.loc[[0, 1], ["latency_p50_ms", "latency_p95_ms"]].to_numpy(dtype=float)
    assert np.isnan(two).all()  # several sequences: no combined percentile
    assert cells.loc[2, "latency_p50_ms"] == 1.5 and cells.loc[2, "latency_p95_ms"] == 2.5
    assert cells.loc[0, "device_name"] == "cpu (x86_64); cuda:0 (H100)"
    assert cells.loc[1, "device_name"] == "cpu (x86_64)"


def test_store_timings_combine_sequences_then_seeds():
    """Per-sequence records as ``Store.timings_frame`` gives them, combined per cell then
    summarised over seeds."""
    rows = [
        {
            **KEYS,
            "method": "tba",
            "ablation": "default",
            "seed": seed,
            "sequence": sequence,
            "frames": frames,
            "total_seconds": seconds * (seed + 1),
            "latency_p50_ms": p50,
            "latency_p95_ms": None,
            "peak_memory_bytes": memory,
            "device_name": "cpu",
        }
        for seed in (0, 1)
        for sequence, frames, seconds, p50, memory in (
            ("s1", 100, 1.0, 5.0, 10),
            ("s2", 300, 2.0, 7.0, 30),
        )
    ]
    summary = summarize(HAND, pd.DataFrame(rows)).set_index(["method", "ablation"])
    full = summary.loc[("tba", "default")]
    fps = [400 / 3, 400 / 6]
    assert full["fps_mean"] == pytest.approx(np.mean(fps))
    assert full["fps_std"] == pytest.approx(np.std(fps, ddof=1))
    assert math.isnan(full["latency_p50_ms_mean"]) and math.isnan(full["latency_p95_ms_mean"])
    assert full["peak_memory_bytes_mean"] == 30 and full["device_name"] == "cpu"
    assert math.isnan(summary.loc[("tba", "TBAc-noMem"), "fps_mean"])


def test_bad_results_are_format_errors():
    with pytest.raises(FormatError, match="duplicate"):
        summarize(pd.concat([HAND, HAND.assign(experiment="e2")]))
    with pytest.raises(FormatError, match="lacks columns"):
        summarize(HAND.drop(columns="seed"))


PAPER = """\
paper: "A. Author. Title. 2020."
source: "Proceedings PDF"
tables:
  - id: toy
    table: "Table 9"
    page: 4
    caption: "toy"
    dataset: sprites-mot
    split: eval
    protocol: "p"
    columns:
      - {name: MOTA, metric: MOTA, direction: up, unit: percent}
      - {name: FP, metric: FP, direction: down, unit: count}
      - {name: IDS, metric: IDSW, direction: down, unit: count}
    rows:
      - {name: Full, method: tba, values: [99.5, 80, null]}
      - {name: NoMem, method: "tba:TBAc-noMem", values: [0, 0, 0]}
      - {name: Other, method: "tba:TBAc", values: [90.0, 1, 2]}
"""


@pytest.fixture
def toy_table(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(PAPER, encoding="utf-8")
    return load_paper_file(path)[0]


def test_paper_delta_is_ours_minus_paper_in_paper_units(toy_table):
    tidy = compare_with_paper(summarize(HAND), toy_table).set_index(["paper_row", "column"])
    assert tidy.loc[("Full", "MOTA"), "ours_mean"] == pytest.approx(99.2)
    assert tidy.loc[("Full", "MOTA"), "delta"] == pytest.approx(99.2 - 99.5)
    assert tidy.loc[("Full", "FP"), "delta"] == pytest.approx(60 - 80)
    assert math.isnan(tidy.loc[("Full", "IDS"), "delta"])  # the paper prints a dash
    assert tidy.loc[("NoMem", "MOTA"), "delta"] == pytest.approx(25.0)
    assert math.isnan(tidy.loc[("Other", "MOTA"), "ours_mean"])  # no run of tba:TBAc
    assert tidy.loc[("Other", "MOTA"), "paper"] == 90.0


def test_board_rows_put_the_paper_beside_ours(toy_table):
    rows = board_rows(HAND, papers=[toy_table])
    json.dumps(rows, allow_nan=False)  # JSON-ready: no NaN, plain numbers
    full, no_mem = ({**row.pop("metrics"), **row} for row in rows)
    assert full["n"] == 3 and full["method"] == "tba" and full["ablation"] == "default"
    assert full["MOTA"] == {
        "mean": pytest.approx(0.992),
        "std": pytest.approx(0.002),
        "spread": "seeds",
        "n": 3,
        "paper": {"toy": {"value": 99.5, "delta": pytest.approx(-0.3), "unit": "percent"}},
    }
    assert full["IDSW"]["paper"] == {"toy": {"value": None, "delta": None, "unit": "count"}}
    assert no_mem["MOTA"]["std"] is None and no_mem["FP"]["paper"]["toy"]["delta"] == 7
    assert "IDSW" not in no_mem  # no value of ours


def test_paper_comparison_in_report(tmp_path, toy_table):
    written = write_report(HAND, tmp_path / "out", "T", papers=[toy_table])
    assert tmp_path / "out" / "paper_toy.csv" in written
    rows = markdown_rows((tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8"))
    full = next(row for row in rows if row[0] == "Full")
    assert full[1:4] == ["tba", "clean", "3"]
    assert full[4:] == ["99.2 ± 0.2 / 99.5 (-0.3)", "60 ± 10.0 / 80 (-20)", "30.3 ± 0.6 / –"]
    other = next(row for row in rows if row[0] == "Other")
    assert other[4] == "— / 90.0"
    page = (tmp_path / "out" / "leaderboard.html").read_text(encoding="utf-8")
    assert "99.2 ± 0.2 / 99.5 (-0.3)" in page


def test_paper_by_id_and_unit_mismatch(tmp_path, toy_table):
    write_report(HAND, tmp_path, "T", papers=["tba-t1"])
    assert (tmp_path / "paper_tba-t1.csv").stat().st_size > 0
    wrong = PAPER.replace(
        "{name: FP, metric: FP, direction: down, unit: count}",
        "{name: FP, metric: FP, direction: down, unit: percent}",
    )
    (tmp_path / "wrong.yaml").write_text(wrong, encoding="utf-8")
    with pytest.raises(ConfigError, match="unit 'percent' but FP is a count"):
        compare_with_paper(summarize(HAND), load_paper_file(tmp_path / "wrong.yaml")[0])


def timings_for(frame: pd.DataFrame, fps: dict[str, float]) -> pd.DataFrame:
    """One timed sequence per cell of ``frame``, at ``fps[method]`` frames per second."""
    cells = frame[KEY_COLUMNS].drop_duplicates()
    return cells.assign(
        sequence="s1",
        frames=240,
        total_seconds=[240 / fps[m] for m in cells["method"]],
        latency_p50_ms=8.0,
        latency_p95_ms=9.0,
        peak_memory_bytes=10**6,
        device_name="cpu",
    )


def test_speed_axis_ticks_read_as_plain_numbers_without_the_test_double(tmp_path):
    frame = results(
        {
            ("sort", "default"): {"MOTA": [0.6, 0.7]},
            ("iou", "default"): {"MOTA": [0.5, 0.55]},
            ("a$b^{$", "default"): {"MOTA": [0.4]},  # "$" in a name is text, not mathtext
            ("ground-truth", "default"): {"MOTA": [1.0]},
        }
    )
    fps = {"sort": 35.0, "iou": 4000.0, "a$b^{$": 300.0, "ground-truth": 3e6}
    summary = summarize(frame, timings_for(frame, fps))
    figure = speed_accuracy_figure(summary, "MOTA")
    figure.canvas.draw()
    ax = figure.axes[0]
    low, high = ax.get_xlim()
    shown = [
        label.get_text()
        for minor in (False, True)
        for label, tick in zip(ax.get_xticklabels(minor=minor), ax.get_xticks(minor=minor))
        if low <= tick <= high and label.get_text()
    ]
    assert {"100", "1,000"} <= set(shown)
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d+)?", text) for text in shown), shown
    assert high < 1e5  # the test double's 3 million fps is not on the axis
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "ground-truth" not in legend and "a$b^{$" in legend
    plt.close(figure)

    only_double = results({("ground-truth", "default"): {"MOTA": [1.0]}})
    written = write_report(only_double, tmp_path, "T", timings=timings_for(only_double, fps))
    assert tmp_path / "speed_accuracy.png" not in written


def html_cells(page: str, table: int = 0) -> list[list[tuple[str, str]]]:
    """(class, text) of every body cell of the ``table``-th table of a board page."""
    body = page.split("<tbody>")[table + 1].split("</tbody>")[0]
    return [
        re.findall(r'<td(?: class="([^"]*)")?>(.*?)</td>', row)
        for row in body.split("</tr>")
        if "<td" in row
    ]


def test_best_value_per_column_is_marked_by_direction_per_condition(tmp_path):
    frame = pd.concat(
        [
            results(
                {
                    ("a", "default"): {"MOTA": [0.9], "FP": [30], "PT": [4]},
                    ("b", "default"): {"MOTA": [0.8], "FP": [20], "PT": [5]},
                    ("ground-truth", "default"): {"MOTA": [1.0], "FP": [0], "PT": [9]},
                }
            ),
            results(
                {("a", "default"): {"MOTA": [0.1]}, ("b", "default"): {"MOTA": [0.3]}},
                detections="heavy",
            ),
        ]
    )
    write_report(frame, tmp_path, "T", columns=["MOTA", "FP", "PT"])
    rows = html_cells((tmp_path / "leaderboard.html").read_text(encoding="utf-8"))
    best = [[text for classes, text in row if "best" in classes.split()] for row in rows]
    # clean: a has the best MOTA (↑), b the best FP (↓); PT has no direction; the test double and
    # the heavy rows' values never compete with the clean rows
    assert best == [["90.0"], ["20"], [], [], ["30.0"]]
    markdown = markdown_rows((tmp_path / "leaderboard.md").read_text(encoding="utf-8"))
    assert markdown[2][6:] == ["**90.0**", "30", "4"] and markdown[4][6:] == ["100.0", "0", "9"]
    tex = (tmp_path / "leaderboard.tex").read_text(encoding="utf-8")
    assert r"\textbf{90.0}" in tex and r"\textbf{20}" in tex and r"\textbf{100.0}" not in tex


def test_html_table_scrolls_with_pinned_label_columns(tmp_path, toy_table):
    write_report(HAND, tmp_path, "T", columns="tba", papers=[toy_table])
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    assert page.count('<div class="scroll">') == page.count("<table") == 2
    assert ".scroll { overflow-x: auto" in page and "position: sticky" in page
    # the paper's table first, then the leaderboard's
    header = re.findall(r"<th([^>]*)>", page.split("<thead>")[2].split("</thead>")[0])
    assert header[:5] == [' class="label"'] * 4 + [' class="label edge"']
    assert header[5] == ' class="num"'
    offsets = re.findall(r"#table-2 tr > :nth-child\((\d)\) \{ left: calc\(([\d.]+)ch", page)
    assert [int(n) for n, _ in offsets] == [1, 2, 3, 4, 5]
    lefts = [float(left) for _, left in offsets]
    assert lefts[0] == 0 and lefts == sorted(lefts)


def test_paper_deltas_are_marked_better_or_worse_by_direction(tmp_path, toy_table):
    write_report(HAND, tmp_path, "T", papers=[toy_table])
    rows = html_cells((tmp_path / "leaderboard.html").read_text(encoding="utf-8"), table=0)
    marks = {row[0][1]: [classes.split()[-1] for classes, _ in row[4:]] for row in rows}
    # MOTA ↑ 99.2 vs 99.5 is worse, FP ↓ 60 vs 80 better; NoMem: MOTA 25 vs 0 better, FP 7 vs 0
    # worse, IDS without ours: no delta, no mark
    assert marks["Full"] == ["worse", "better", "num"]
    assert marks["NoMem"] == ["better", "worse", "num"]
    assert marks["Other"] == ["num", "num", "num"]
    assert ".better {" in page_css(tmp_path) and ".worse {" in page_css(tmp_path)
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "class=" not in markdown and "<span" not in markdown  # Markdown: the delta as text


def page_css(folder) -> str:
    return (folder / "leaderboard.html").read_text(encoding="utf-8").split("</style>")[0]


def test_counts_read_alike_in_ours_the_paper_and_the_delta(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(PAPER.replace("[99.5, 80, null]", "[99.5, 1862, 4101]"), encoding="utf-8")
    table = load_paper_file(path)[0]
    big = results({("tba", "default"): {"MOTA": [0.99], "FP": [16170], "IDSW": [30]}})
    write_report(big, tmp_path / "out", "T", papers=[table])
    rows = markdown_rows((tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8"))
    full = next(row for row in rows if row[0] == "Full")
    assert full[5:] == ["16,170 / 1,862 (+14,308)", "30 / 4,101 (-4,071)"]


def test_plus_minus_only_when_more_than_one_seed_in_every_format(tmp_path, toy_table):
    write_report(HAND, tmp_path, "T", columns=["MOTA", "FP"], papers=[toy_table])
    markdown = markdown_rows((tmp_path / "leaderboard.md").read_text(encoding="utf-8"))
    rows = {row[4] if len(row) > 4 and row[1] == "eval" else row[0]: row for row in markdown}
    assert rows["default"][6:] == ["**99.2 ± 0.2**", "60 ± 10.0"]
    assert rows["TBAc-noMem"][6:] == ["25.0", "**7**"]
    assert all("±" not in cell for cell in rows["NoMem"]) and "±" in rows["Full"][4]
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    single = [text for _, text in html_cells(page, 1)[1]] + [t for _, t in html_cells(page)[1]]
    assert single[-3:] == ["25.0 / 0 (+25.0)", "7 / 0 (+7)", "— / 0"]
    assert all("±" not in text for text in single)
    tex_rows = [
        line for line in (tmp_path / "leaderboard.tex").read_text().splitlines() if "&" in line
    ]
    no_mem = [line for line in tex_rows if "TBAc-noMem" in line or line.startswith("NoMem")]
    assert len(no_mem) == 2 and all(r"\pm" not in line for line in no_mem)
    csv = pd.read_csv(tmp_path / "leaderboard.csv").set_index("ablation")
    assert math.isnan(csv.loc["TBAc-noMem", "MOTA_std"]) and csv.loc["default", "MOTA_std"] > 0
    paper = pd.read_csv(tmp_path / "paper_toy.csv").set_index(["paper_row", "column"])
    assert math.isnan(paper.loc[("NoMem", "MOTA"), "ours_std"])


RUNS = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "experiment": ["e1", "e1", "e1"],
        "description": ["A toy\n  experiment. ", "A toy\n  experiment. ", None],
        "started": ["2025-03-01T10:00:00.000+00:00", "2025-03-02T08:00:00.000+00:00", "x"],
        "finished": ["2025-03-01T10:05:00.000+00:00", "2025-03-02T08:30:00.000+00:00", None],
        "git_commit": ["abc123", "abc123-dirty", "other"],
        "versions": [
            '{"torch": "2.13.0", "numpy": "2.4.6", "motmetrics": null}',
            '{"torch": "2.14.0", "numpy": "2.4.6", "motmetrics": null}',
            "{}",
        ],
        "device": ["cpu (x86_64)", "cpu (x86_64)", "cuda:0 (H100)"],
        "host": ["h", "h", "h"],
    }
)


def test_board_provenance_from_the_runs_behind_the_done_cells():
    cells = HAND[KEY_COLUMNS].drop_duplicates().assign(status="done", run=[1, 2, 2, 2])
    cells = pd.concat([cells, cells.iloc[:1].assign(status="failed", run=3)])  # run 3: no result
    timings = timings_for(HAND, {"tba": 100.0}).assign(threads=4.0, jobs=2)
    timings.loc[0, "device_name"] = "AMD EPYC 7B13"
    facts = dict(board_provenance(RUNS, cells, timings))
    assert facts == {
        "Experiment": "e1",
        "Description": "A toy experiment.",
        "Runs": "2 runs, 2025-03-01 10:00 to 2025-03-02 08:30 UTC",
        "Git commit": "abc123; abc123-dirty",
        "Packages": "torch 2.13.0 / 2.14.0, numpy 2.4.6",
        "Device": "cpu (x86_64)",
        "CPU/GPU": "AMD EPYC 7B13; cpu",
        "Threads": "4",
        "Jobs": "2",
    }


def test_board_provenance_of_an_older_database_says_what_is_not_recorded(tmp_path):
    cells = HAND[KEY_COLUMNS].drop_duplicates().assign(status="done", run=1)
    timings = timings_for(HAND, {"tba": 100.0})  # no threads, no jobs
    facts = board_provenance(RUNS.drop(columns="description"), cells, timings)
    assert dict(facts)["Description"] == dict(facts)["Threads"] == "not recorded"
    assert dict(facts)["Runs"] == "1 run, 2025-03-01 10:00 to 2025-03-01 10:05 UTC"
    write_report(HAND, tmp_path, "T", timings=timings, provenance=facts)
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    footer = markdown.split("## Provenance\n\n")[1].splitlines()
    assert footer[0] == "- Experiment: e1" and "- Git commit: abc123" in footer
    assert "- Jobs: not recorded" in footer
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    assert "<footer>" in page and "<dt>Git commit</dt><dd>abc123</dd>" in page
    assert page.index("<footer>") > page.rindex("<img")
    assert "% Git commit: abc123" in (tmp_path / "leaderboard.tex").read_text(encoding="utf-8")


GAN_PAPER = """\
paper: "A. Author. Title. 2015."
source: "arXiv PDF"
tables:
  - id: lengths
    table: "Table 1"
    page: 9
    caption: "toy"
    split: test
    protocol: "p"
    columns:
      - {name: "20", metric: IoU, direction: up, unit: fraction, axes: {length: 20}}
      - {name: "40", metric: IoU, direction: up, unit: fraction, axes: {length: 40}}
    rows:
      - name: "Rec, Single"
        method: rectracker-id
        dataset: mnist-single-same
        values: ["0.61 ± 0.11", "0.61 ± 0.11"]
      - name: "Rec, Multi"
        method: "rectracker-id:multi"
        dataset: mnist-multi-same
        values: ["0.36 ± 0.20", "0.31 ± 0.19"]
"""


def sequence_ious(cells: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    """Single-object results of one seed: {(dataset, ablation, axes): [IoU per sequence]}, with
    the COMBINED row the mean, as the single-object task stores them."""
    rows = []
    for (dataset, ablation, axes), ious in cells.items():
        base = {
            **KEYS,
            "dataset": dataset,
            "split": "test",
            "detections": "none",
            "axes": axes,
            "method": "rectracker-id",
            "ablation": ablation,
            "seed": 0,
            "metric": "IoU",
        }
        rows += [{**base, "sequence": f"s{i}", "value": v} for i, v in enumerate(ious)]
        rows.append({**base, "sequence": "COMBINED", "value": float(np.mean(ious))})
    return pd.DataFrame(rows)


def test_a_paper_table_by_axis_value_and_dataset_in_fractions(tmp_path):
    path = tmp_path / "gan.yaml"
    path.write_text(GAN_PAPER, encoding="utf-8")
    table = load_paper_file(path)[0]
    frame = sequence_ious(
        {
            ("mnist-single-same", "default", "length=20"): [0.5, 0.7],
            ("mnist-single-same", "default", "length=40"): [0.4, 0.6],
            ("mnist-multi-same", "multi", "length=40"): [0.2, 0.2],
            ("mnist-single-same", "multi", "length=20"): [0.9, 0.9],  # no row of the table
        }
    )
    tidy = compare_with_paper(summarize(frame), table).set_index(["paper_row", "column"])
    assert tidy.loc[("Rec, Single", "20"), "ours_mean"] == pytest.approx(0.6)
    assert tidy.loc[("Rec, Single", "20"), "ours_std"] == pytest.approx(0.1)  # ddof 0
    assert tidy.loc[("Rec, Single", "40"), "delta"] == pytest.approx(0.5 - 0.61)
    assert math.isnan(tidy.loc[("Rec, Multi", "20"), "ours_mean"])  # length 20 not run
    assert tidy.loc[("Rec, Multi", "40"), "delta"] == pytest.approx(0.2 - 0.31)
    write_report(frame, tmp_path / "out", "T", papers=[table])
    rows = markdown_rows((tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8"))
    single = next(row for row in rows if row[0] == "Rec, Single")
    assert single[4:] == [
        "0.60 ± 0.10 / 0.61 ± 0.11 (-0.01)",
        "0.50 ± 0.10 / 0.61 ± 0.11 (-0.11)",
    ]
    multi = next(row for row in rows if row[0] == "Rec, Multi")
    assert multi[4:] == ["— / 0.36 ± 0.20", "0.20 ± 0.00 / 0.31 ± 0.19 (-0.11)"]
    json_rows = board_rows(frame, papers=[table])
    by_key = {(r["dataset"], r["ablation"], r["axes"]): r["metrics"]["IoU"] for r in json_rows}
    paper = by_key[("mnist-single-same", "default", "length=40")]["paper"]["lengths"]
    assert paper == {"value": 0.61, "delta": pytest.approx(-0.11), "unit": "fraction"}
    assert "paper" not in by_key[("mnist-single-same", "multi", "length=20")]


def test_batched_fps_is_a_column_only_where_a_cell_has_one(tmp_path):
    timings = timings_for(HAND, {"tba": 100.0})
    write_report(HAND, tmp_path / "plain", "T", timings=timings)
    header = markdown_rows((tmp_path / "plain" / "leaderboard.md").read_text(encoding="utf-8"))[0]
    assert "fps ↑" in header and "batched fps ↑" not in header
    batched = timings.assign(batched_fps=[2400.0, 2600.0, 2500.0, None])
    summary = summarize(HAND, batched).set_index("ablation")
    assert summary.loc["default", "batched_fps_mean"] == pytest.approx(2500.0)
    assert summary.loc["default", "batched_fps_std"] == pytest.approx(100.0)
    assert math.isnan(summary.loc["TBAc-noMem", "batched_fps_mean"])
    write_report(HAND, tmp_path / "batched", "T", timings=batched)
    board = (tmp_path / "batched" / "leaderboard.md").read_text(encoding="utf-8")
    header = markdown_rows(board)[0]
    assert header.index("fps ↑") < header.index("batched fps ↑") < header.index("p50 ms ↓")


def test_paper_claims_are_checked_on_ours_and_on_the_paper(tmp_path):
    claims = """\
    claims:
      - {text: "Rec above Conv", methods: [rectracker-id, convtracker], relation: above}
      - text: "Rec near Conv, spread"
        methods: [rectracker-id, convtracker]
        relation: within
        within: 0.05
        stat: std
        columns: ["20"]
"""
    conv = """\
      - name: "Conv, Single"
        method: convtracker
        dataset: mnist-single-same
        values: ["0.65 ± 0.12", "0.35 ± 0.11"]
"""
    text = GAN_PAPER.replace("    rows:\n", claims + "    rows:\n" + conv)
    path = tmp_path / "claims.yaml"
    path.write_text(text, encoding="utf-8")
    table = load_paper_file(path)[0]
    frame = sequence_ious(
        {
            ("mnist-single-same", "default", "length=20"): [0.5, 0.7],  # 0.60 ± 0.10
            ("mnist-single-same", "default", "length=40"): [0.3, 0.3],  # 0.30 ± 0
        }
    )
    conv_frame = sequence_ious({("mnist-single-same", "default", "length=20"): [0.4, 0.4]})
    frame = pd.concat([frame, conv_frame.assign(method="convtracker")])
    lines = claim_lines(table, compare_with_paper(summarize(frame), table))
    assert lines == [
        "lengths: Rec above Conv. ours: holds (1 of 1 cells hold; 1 not run); paper: does not"
        " hold (1 of 2 cells hold; not at mnist-single-same 20).",
        "lengths: Rec near Conv, spread. ours: does not hold (0 of 1 cells hold; not at"
        " mnist-single-same 20); paper: holds (1 of 1 cells hold).",
    ]
    write_report(frame, tmp_path / "out", "T", papers=[table])
    board = (tmp_path / "out" / "leaderboard.md").read_text(encoding="utf-8")
    assert "## Paper claims" in board and "- lengths: Rec above Conv. ours: holds (" in board


def test_claims_at_a_detection_variant_and_beyond_the_seed_spread():
    """cis-sprites's claims judge the noisy detections' cells, and above means above by more
    than the two seed spreads together."""
    table = paper_table("cis-sprites")
    refs = {row.method + ":" + row.ablation: row.ref for row in table.rows}

    def record(method, detections, mean, std):
        return {
            "ref": refs[method],
            "dataset": "sprites-mot",
            "column": "IDF1",
            "detections": detections,
            "ours_mean": mean,
            "ours_std": std,
            "paper": math.nan,
            "paper_std": None,
        }

    tidy = pd.DataFrame(
        [
            record("cis:Visual-Spatial", "clean", 10.0, 1.0),  # the first level: ignored
            record("cis:Visual-Spatial", "noisy", 80.0, 2.0),
            record("cis:Spatial-Only", "clean", 90.0, 1.0),
            record("cis:Spatial-Only", "noisy", 75.0, 2.0),  # 80 - 75 > 2 + 2: holds
            record("cis:Visual-Only", "noisy", 77.0, 2.0),  # 80 - 77 < 2 + 2: does not
        ]
    )
    table = dataclasses.replace(table, claims=table.claims[:2])
    lines = claim_lines(table, tidy)
    assert lines[0].startswith(
        "cis-sprites: Visual-Spatial IDF1 above Spatial-Only beyond the seed spread (noisy"
        " detections). ours: holds (1 of 1 cells hold)"
    )
    assert "ours: does not hold (0 of 1 cells hold; not at sprites-mot IDF1)" in lines[1]
    assert lines[0].endswith("paper: not printed.")
