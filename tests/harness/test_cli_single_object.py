"""``trackbench evaluate`` of single-object results: the layout picks the protocol, the table and
JSON, the plots, warnings and one-line errors; multi-object layouts keep their evaluation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure
from sot_layout import (
    predict,
    walk,
    write_boxes,
    write_got10k_sequence,
    write_lasot_sequence,
    write_otb_sequence,
)

from harness.metrics.sot_files import evaluate_single_object

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def otb(tmp_path):
    """Two OTB sequences (Jogging's two targets) and two trackers' results."""
    rng = np.random.default_rng(2)
    data, results = tmp_path / "OTB100", tmp_path / "results" / "OTB2015"
    gts = {"Jogging.1": walk(rng, 20), "Jogging.2": walk(rng, 20), "Car4": walk(rng, 30)}
    write_otb_sequence(data, "Jogging", [gts["Jogging.1"], gts["Jogging.2"]])
    write_otb_sequence(data, "Car4", [gts["Car4"]], separator=" ")
    for tracker in ("SiamFC", "ECO"):
        for name, gt in gts.items():
            write_boxes(results / tracker / f"{name}.txt", predict(rng, gt))
    return data, results


def test_an_otb_layout_is_evaluated_as_otb(trackbench, otb):
    data, results = otb
    code, out, err = trackbench("evaluate", "--gt", data, "--pred", results, "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result == json.loads(json.dumps(evaluate_single_object(data, results, "otb")))
    assert list(result["trackers"]) == ["ECO", "SiamFC"]
    assert list(result["trackers"]["ECO"]["sequences"]) == ["Car4", "Jogging.1", "Jogging.2"]
    assert list(result["trackers"]["ECO"]["combined"]) == ["AUC", "Precision20", "SR0.5"]

    code, out, _ = trackbench("evaluate", "--gt", data, "--pred", results / "ECO")
    assert code == 0 and "protocol otb, tracker ECO; ratios in %" in out and "SiamFC" not in out
    rows = {line.split()[1]: line.split()[3::2] for line in out.splitlines() if "│" in line}
    auc = result["trackers"]["ECO"]["combined"]["AUC"]
    assert list(rows) == ["Car4", "Jogging.1", "Jogging.2", "COMBINED"]
    assert rows["COMBINED"][0] == f"{100 * auc:.1f}"


def test_plots_have_a_curve_per_tracker(trackbench, otb, tmp_path, monkeypatch):
    data, results = otb
    legends = []
    save = Figure.savefig

    def saving(figure, *args, **kwargs):
        legends.append([text.get_text() for text in figure.axes[0].get_legend().get_texts()])
        save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", saving)
    code, out, err = trackbench(
        "evaluate", "--gt", data, "--pred", results, "--plots", tmp_path / "plots", "--json"
    )
    assert code == 0
    for name in ("success.png", "precision.png"):
        assert f"trackbench: wrote {tmp_path / 'plots' / name}" in err
        assert (tmp_path / "plots" / name).read_bytes().startswith(PNG)
    combined = {name: values["combined"] for name, values in json.loads(out)["trackers"].items()}
    for legend, score in zip(legends, ("AUC", "Precision20"), strict=True):
        ranked = sorted(combined, key=lambda name: -combined[name][score])
        assert legend == [f"{name}: [{combined[name][score]:.3f}]" for name in ranked]


def test_got10k_and_lasot_layouts_and_their_options(trackbench, tmp_path):
    rng = np.random.default_rng(4)
    gt = walk(rng, 12, decimals=2)
    cover = np.full(len(gt), 5)
    write_got10k_sequence(tmp_path / "val", "GOT-10k_Val_000001", gt, cover)
    runs = tmp_path / "GOT-10k" / "tracker" / "GOT-10k_Val_000001"
    for k in (1, 2):
        write_boxes(runs / f"GOT-10k_Val_000001_{k:03d}.txt", predict(rng, gt))
    for repetitions in ("first", "all"):
        args = ("--gt", tmp_path / "val", "--pred", tmp_path / "GOT-10k", "--json")
        code, out, _ = trackbench("evaluate", *args, "--repetitions", repetitions)
        combined = json.loads(out)["trackers"]["tracker"]["combined"]
        assert code == 0 and list(combined) == ["AO", "SR0.5", "SR0.75"]
        frames = {"first": 11, "all": 22}[repetitions]  # frame 0 is not scored
        assert (combined["SR0.5"] * frames).is_integer()

    write_lasot_sequence(tmp_path / "LaSOT", "cat-1", gt)
    write_boxes(tmp_path / "lasot" / "cat-1.txt", predict(rng, gt)[:10])
    args = ("--gt", tmp_path / "LaSOT", "--pred", tmp_path / "lasot")
    code, out, err = trackbench("evaluate", *args, "--task", "single-object")
    assert code == 0 and "NormPrecision" in out and "protocol lasot" in out
    assert err.startswith(f"trackbench: warning: {tmp_path / 'lasot' / 'cat-1.txt'}: results ")


def test_errors_are_one_line_with_exit_code_2(trackbench, otb, tmp_path):
    data, results = otb
    bad = results / "ECO" / "Car4.txt"
    bad.write_text("1,2,3,4\n1,2,3\n", encoding="utf-8")
    code, _, err = trackbench("evaluate", "--gt", data, "--pred", results)
    assert code == 2
    assert err == f"trackbench: error: {bad}:2: expected 4 numbers (x, y, w, h), found 3\n"

    mot = tmp_path / "mot"
    (mot / "seq").mkdir(parents=True)
    (mot / "seq" / "gt.txt").write_text("1,1,10,10,5,5,1,1,1\n", encoding="utf-8")
    (tmp_path / "mot-results").mkdir()
    (tmp_path / "mot-results" / "seq.txt").write_text("1,1,10,10,5,5,1,-1,-1,-1\n")
    code, out, _ = trackbench("evaluate", "--gt", mot, "--pred", tmp_path / "mot-results", "--json")
    assert code == 0 and json.loads(out)["combined"]["MOTA"] == 1.0  # multi-object, as before
    code, _, err = trackbench(
        "evaluate", "--gt", mot, "--pred", tmp_path, "--sequences", tmp_path / "list.txt"
    )
    assert code == 2 and "--sequences, --repetitions and --plots are single-object" in err
    code, _, err = trackbench(
        "evaluate", "--gt", mot, "--pred", tmp_path, "--task", "single-object"
    )
    assert code == 2 and err.startswith(f"trackbench: error: {mot}: no single-object layout")
    code, _, err = trackbench("evaluate", "--gt", data, "--pred", results, "--split", "train")
    assert code == 2 and "--benchmark, --split and --seqmap are multi-object options" in err
