"""Reports: aggregation over seeds, formatting, column order, escaping, files and paper deltas."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from harness.errors import ConfigError, FormatError
from harness.papers import load_paper_file
from harness.report import (
    COLUMN_SETS,
    METRICS,
    cell_timings,
    compare_with_paper,
    format_cell,
    latex_escape,
    markdown_escape,
    resolve_columns,
    summarize,
    write_report,
)

EVIL = "<script>alert(1)</script>"
KEYS = {"experiment": "e1", "dataset": "sprites-mot", "split": "eval", "detections": "clean"}


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
    assert format_cell(METRICS["MOTA"], 0.992, 0.002, 3) == "99.2 ± 0.2"
    assert format_cell(METRICS["MOTA"], 0.25, math.nan, 1) == "25.0"
    assert format_cell(METRICS["MOTA"], 0.25, 0.01, 1) == "25.0"  # one seed: no ± at all
    assert format_cell(METRICS["FP"], 60.0, 10.0, 3) == "60 ± 10.0"
    assert format_cell(METRICS["IDSW"], 91 / 3, 0.577, 3) == "30.3 ± 0.6"
    assert format_cell(METRICS["FN"], 22096.0, math.nan, 1) == "22,096"
    assert format_cell(METRICS["FAF"], 0.0123, math.nan, 1) == "0.01"
    assert format_cell(METRICS["IDF1"], math.nan, math.nan, 2) == "—"


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
    assert full[9] == "99.2 ± 0.2" and full[14] == "60 ± 10.0" and full[16] == "30.3 ± 0.6"
    assert full[6] == "—"  # IDF1 not in the results
    assert single[5] == "1" and single[9] == "25.0" and single[14] == "7"


def test_markdown_escapes_pipes_and_markup(tmp_path):
    frame = results({(EVIL, "a|b"): {"MOTA": [0.5]}})
    write_report(frame, tmp_path, "x|y")
    text = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    assert "a\\|b" in text and "<script>" not in text and "&lt;script&gt;" in text
    rows = markdown_rows(text)
    assert len({len(row) for row in rows}) == 1  # the pipe in a name adds no column
    assert markdown_escape("a_b*c") == "a\\_b\\*c"


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
source: "seeds/x.txt"
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
