"""What a board leads with: paper tables and claims first, the leaderboard after (collapsed in
HTML); comparisons flagged where ours were not made on the paper's protocol; rows averaged over
an axis the paper averages over (KTH's folds); axis tables of any metric; the floor unranked on
speed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from experiment_helpers import write

from harness.errors import ConfigError
from harness.papers import load_paper_file
from harness.results.board import write_report
from harness.results.paper_comparison import compare_with_paper, protocol_flags
from harness.results.summary import mean_over_axes, summarize

KEY = {"experiment": "e", "split": "test", "detections": "none", "seed": 0}

LENGTHS = """\
paper: "A. Author. Title. 2015."
source: "arXiv PDF"
tables:
  - id: lengths
    table: "Table 1"
    page: 9
    caption: "toy"
    split: test
    sequences: 3
    protocol: "p"
    columns:
      - {name: "20", metric: IoU, direction: up, unit: fraction, axes: {length: 20}}
    claims:
      - {text: "Rec above Conv", methods: [rectracker-id, convtracker], relation: above}
    rows:
      - {name: "Rec", method: rectracker-id, dataset: mnist-single-same, values: ["0.61 ± 0.11"]}
      - {name: "Conv", method: convtracker, dataset: mnist-single-same, values: ["0.36 ± 0.12"]}
"""

FOLDS = """\
paper: "A. Author. Title. 2017."
source: "paper text"
tables:
  - id: folds
    table: "§5"
    page: null
    caption: "toy"
    dataset: kth
    split: test
    mean_over: {fold: 3}
    protocol: "p"
    columns:
      - {name: "Avg. IoU", metric: IoU, direction: up, unit: percent}
    rows:
      - {name: "RATM", method: ratm, values: [55.03]}
      - {name: "HART", method: hart, values: [77.11]}
"""


def ious(cells: dict[tuple[str, str, str], list[float]]) -> pd.DataFrame:
    """One-seed single-object results {(dataset, method, axes): IoU per sequence}, the COMBINED
    row their mean."""
    rows = []
    for (dataset, method, axes), values in cells.items():
        base = {**KEY, "dataset": dataset, "axes": axes, "method": method, "ablation": "default"}
        base["metric"] = "IoU"
        rows += [{**base, "sequence": f"s{i}", "value": v} for i, v in enumerate(values)]
        rows.append({**base, "sequence": "COMBINED", "value": float(np.mean(values))})
    return pd.DataFrame(rows)


def table_of(tmp_path, text: str):
    path = tmp_path / "paper.yaml"
    path.write_text(text, encoding="utf-8")
    return load_paper_file(path)[0]


def headings(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def gan_frame(sequences: int) -> pd.DataFrame:
    return ious(
        {
            ("mnist-single-same", "rectracker-id", "length=20"): [0.6] * sequences,
            ("mnist-single-same", "convtracker", "length=20"): [0.4] * sequences,
        }
    )


def test_paper_tables_and_claims_come_first_and_the_leaderboard_folds_away(tmp_path):
    table = table_of(tmp_path, LENGTHS)
    write_report(gan_frame(3), tmp_path / "board", "T", papers=[table])
    markdown = (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    assert headings(markdown) == ["Paper: lengths", "Paper claims", "Leaderboard", "IoU by length"]
    page = (tmp_path / "board" / "leaderboard.html").read_text(encoding="utf-8")
    folded = re.findall(r"<details>(.*?)</details>", page, re.S)
    assert len(folded) == 1 and "<summary><h2>Leaderboard</h2></summary>" in folded[0]
    assert 'id="table-2"' in folded[0] and 'id="table-1"' not in folded[0]  # the paper's open
    assert page.index("Paper claims") < page.index("<details>")

    write_report(gan_frame(3), tmp_path / "plain", "T")  # no paper: the leaderboard leads, open
    plain = (tmp_path / "plain" / "leaderboard.html").read_text(encoding="utf-8")
    assert "<details>" not in plain
    assert headings((tmp_path / "plain" / "leaderboard.md").read_text())[0] == "Leaderboard"


def test_a_comparison_on_fewer_sequences_than_the_paper_is_flagged_beside_it(tmp_path):
    table = table_of(tmp_path, LENGTHS)
    same = compare_with_paper(summarize(gan_frame(3)), table)
    assert protocol_flags(table, same) == []
    fewer = compare_with_paper(summarize(gan_frame(2)), table)
    [flag] = protocol_flags(table, fewer)
    assert flag.startswith(
        "Not the paper's protocol: the paper scores 3 sequences per cell, ours 2 (2 of 2 compared"
        " cells)"
    )
    write_report(gan_frame(2), tmp_path / "board", "T", papers=[table])
    markdown = (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    paper = markdown.split("## Paper: lengths")[1].split("## ")[0]
    assert f"> **{flag}**" in paper and paper.index(flag) < paper.index("| Paper row |")
    page = (tmp_path / "board" / "leaderboard.html").read_text(encoding="utf-8")
    assert f'<p class="flag">{flag.replace(chr(39), "&#x27;")}</p>' in page
    assert (
        r"\textbf{Not the paper's protocol" in (tmp_path / "board" / "leaderboard.tex").read_text()
    )
    csv = pd.read_csv(tmp_path / "board" / "leaderboard.csv")
    assert csv["n_sequences"].tolist() == [2, 2]


def folds_frame() -> pd.DataFrame:
    """RATM and HART on three KTH folds; the floor on two."""
    return ious(
        {
            ("kth", "ratm", "fold=1"): [0.5, 0.7],
            ("kth", "ratm", "fold=2"): [0.4],
            ("kth", "ratm", "fold=3"): [0.9, 0.9, 0.9],
            ("kth", "hart", "fold=1"): [0.8],
            ("kth", "hart", "fold=2"): [0.7],
            ("kth", "hart", "fold=3"): [0.6],
            ("kth", "constant-box", "fold=1"): [0.3],
            ("kth", "constant-box", "fold=2"): [0.1],
        }
    )


def test_rows_averaged_over_an_axis_the_paper_averages_over(tmp_path):
    means = mean_over_axes(summarize(folds_frame()), ["fold"]).set_index("method")
    ratm = means.loc["ratm"]
    assert ratm["axes"] == "" and ratm["n_values"] == 3 and ratm["n_sequences"] == 6
    assert ratm["IoU_mean"] == pytest.approx(np.mean([0.6, 0.4, 0.9]))  # a fold's IoU each
    assert ratm["IoU_std"] == pytest.approx(np.std([0.6, 0.4, 0.9], ddof=1))
    assert (ratm["IoU_n"], ratm["IoU_spread"]) == (3, "fold values")
    assert means.loc["constant-box", "n_values"] == 2

    table = table_of(tmp_path, FOLDS)
    tidy = compare_with_paper(summarize(folds_frame()), table).set_index("paper_row")
    assert tidy.loc["RATM", "ours_mean"] == pytest.approx(100 * np.mean([0.6, 0.4, 0.9]))
    assert tidy.loc["HART", "delta"] == pytest.approx(70.0 - 77.11)
    assert tidy.loc["HART", "ours_values"] == 3 and tidy.loc["HART", "spread"] == "fold values"
    assert protocol_flags(table, tidy.reset_index()) == []

    write_report(folds_frame(), tmp_path / "board", "kth", papers=[table])
    markdown = (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    assert headings(markdown)[:3] == ["Paper: folds", "Mean over fold", "Leaderboard"]
    rows = {
        line.split(" | ")[3]: line
        for line in markdown.split("## Mean over fold")[1].split("## ")[0].splitlines()
        if line.startswith("| kth")
    }
    assert rows["hart"].endswith("| hart | default | 3 | **70.0 ± 10.0** |")
    assert rows["constant-box"].endswith("| 2 | 20.0 ± 14.1 |")
    assert "| HART | hart | none | 1 | 70.0 ± 10.0 / 77.11 (-7.1) |" in markdown
    assert (
        "- ± of IoU in rows averaged over fold values: sample std over each row's fold values"
        " (ddof 1) of the rows' means, one per value." in markdown
    )


def test_fewer_folds_than_the_paper_averages_are_flagged(tmp_path):
    table = table_of(tmp_path, FOLDS.replace("{fold: 3}", "{fold: 25}"))
    tidy = compare_with_paper(summarize(folds_frame()), table)
    [flag] = protocol_flags(table, tidy)
    assert flag.startswith(
        "Not the paper's protocol: the paper averages 25 values of fold, ours 3 (2 of 2 compared"
    )


def test_axis_tables_of_a_chosen_metric_and_bad_names(tmp_path):
    frame = ious({("kth", m, f"fold={k}"): [0.2 * k] for m in ("ratm", "hart") for k in (1, 2)})
    centre = frame.assign(metric="CenterError", value=frame["value"] * 100)
    both = pd.concat([frame, centre])
    write_report(both, tmp_path / "board", "T", pivot_metric="CenterError")
    markdown = (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    assert "## CenterError by fold" in markdown and "## IoU by fold" not in markdown
    pivot = markdown.split("## CenterError by fold")[1].split("\n\n")[2].splitlines()
    assert pivot[0].endswith("| fold=1 | fold=2 |") and pivot[2].endswith("| 20.0 | 40.0 |")
    with pytest.raises(ConfigError, match="'MOTA' is not a metric of these results; they have:"):
        write_report(both, tmp_path / "x", "T", pivot_metric="MOTA")
    one_fold = ious({("kth", "ratm", ""): [0.5]})
    with pytest.raises(ConfigError, match="no experiment axes"):
        write_report(one_fold, tmp_path / "y", "T", pivot_metric="IoU")


SOT = """
name: sot
datasets:
  - name: sprites-mot
    split: eval
    root: {root}
    task: single-object
    params: {{eval_frames: 60}}
    axes: {{sample_length: [4, 8]}}
methods: [constant-box, ground-truth-box]
timing: {{warmup_frames: 2}}
"""


def test_report_pivot_metric_on_the_command_line(trackbench, tmp_path):
    experiment = write(tmp_path, SOT.format(root=tmp_path / "data"))
    code, _, err = trackbench("run", experiment, "--out", tmp_path / "run", "--no-report")
    assert code == 0, err
    db = tmp_path / "run" / "results.sqlite"
    code, _, err = trackbench(
        "report", "--db", db, "--out", tmp_path / "board", "--pivot-metric", "CenterError"
    )
    assert code == 0, err
    assert "## CenterError by sample_length" in (tmp_path / "board" / "leaderboard.md").read_text()
    code, _, err = trackbench(
        "report", "--db", db, "--out", tmp_path / "x", "--pivot-metric", "IOU"
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("trackbench: error: pivot metric 'IOU' is not a metric of these")
    assert "they have: IoU, AUC, Precision20, CenterError, TimeIoU, fps" in err


def test_the_floor_is_ranked_on_accuracy_but_not_on_speed(tmp_path):
    scores = {"ratm": (0.5, 100.0), "hart": (0.4, 50.0), "constant-box": (0.6, 1e6)}
    frame = ious({("kth", m, ""): [iou] for m, (iou, _) in scores.items()})
    cells = frame[["experiment", "dataset", "split", "detections", "method", "ablation", "seed"]]
    timings = cells.drop_duplicates().assign(
        sequence="s0",
        frames=100,
        total_seconds=lambda t: [100 / scores[m][1] for m in t["method"]],
        latency_p50_ms=1.0,
        latency_p95_ms=1.0,
        peak_memory_bytes=1,
        device_name="cpu",
    )
    write_report(frame, tmp_path, "T", columns=["IoU"], timings=timings)
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    rows = {
        line.split(" | ")[3]: line for line in markdown.splitlines() if line.startswith("| kth")
    }
    assert "| **60.0** | 1,000,000.0 |" in rows["constant-box"]  # best IoU, unranked fps
    assert "| 50.0 | **100.0** |" in rows["ratm"]
    assert "leave out test doubles and floors (constant-box)" in markdown
