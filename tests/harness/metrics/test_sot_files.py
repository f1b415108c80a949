"""Single-object results files: OTB, GOT-10k and LaSOT scores equal got10k 0.1.3's to 1e-12 (its
``ExperimentOTB`` and ``ExperimentGOT10k`` on layouts written here; LaSOT, whose experiment the
PyPI release lacks, against got10k's array functions), the got10k rules in
``harness.metrics.single``, layout detection and the one-line errors on bad files."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from got10k.datasets import OTB
from got10k.experiments import ExperimentGOT10k, ExperimentOTB
from got10k.utils.metrics import center_error, rect_iou
from sot_layout import (
    HEIGHT,
    WIDTH,
    predict,
    walk,
    write_boxes,
    write_got10k_sequence,
    write_lasot_sequence,
    write_otb_sequence,
)

from harness.errors import ConfigError, FormatError
from harness.metrics.single import (
    bounded_boxes,
    center_errors,
    normalized_center_errors,
    precision_curve,
    success_curve,
)
from harness.metrics.sot_files import (
    ALL,
    GOT10K,
    LASOT,
    ShortResultsWarning,
    detect_protocol,
    evaluate_single_object,
    sequence_curves,
    single_object_protocol,
)
from harness.metrics.sot_files import (
    OTB as OTB_PROTOCOL,
)

TOLERANCE = 1e-12


@pytest.fixture
def otb(tmp_path, monkeypatch):
    """An OTB tb50 folder (got10k checks every sequence folder is there) with five annotated
    targets: Skating2's two, Human4's second (its first file empty), one tab-separated file and
    one with a zero-area and a NaN gt box; two trackers' results under got10k's OTBtb50."""
    rng = np.random.default_rng(7)
    data, results = tmp_path / "OTB", tmp_path / "results"
    for name in OTB._OTB__tb50_seqs:
        (data / name).mkdir(parents=True)
    biker = walk(rng, 25, decimals=2)
    biker[5] = [30, 40, 0, 0]
    biker[9] = np.nan
    targets = {
        "Basketball": [walk(rng, 40)],
        "Biker": [biker],
        "Skating2": [walk(rng, 30), walk(rng, 30)],
        "Human4": [None, walk(rng, 20)],
    }
    for name, boxes in targets.items():
        write_otb_sequence(data, name, boxes, "\t" if name == "Biker" else ",")
    gts = {
        "Basketball": targets["Basketball"][0],
        "Biker": biker,
        "Human4": targets["Human4"][1],
        "Skating2.1": targets["Skating2"][0],
        "Skating2.2": targets["Skating2"][1],
    }
    for tracker in ("SiamFC", "KCF"):
        for name, gt in gts.items():
            write_boxes(results / "OTBtb50" / tracker / f"{name}.txt", predict(rng, gt))
    monkeypatch.setattr(ExperimentOTB, "plot_curves", lambda self, names: None)
    return SimpleNamespace(data=data, results=results, names=list(gts), tmp=tmp_path)


def test_otb_equals_got10k_experiment_otb(otb):
    experiment = ExperimentOTB(
        str(otb.data), "tb50", result_dir=str(otb.results), report_dir=str(otb.tmp / "reports")
    )
    theirs = experiment.report(["SiamFC", "KCF"])
    ours = evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL)

    assert list(ours["trackers"]) == ["KCF", "SiamFC"]
    for tracker, report in theirs.items():
        mine = ours["trackers"][tracker]
        assert list(mine["sequences"]) == experiment.dataset.seq_names == sorted(otb.names)
        pairs = [(report["overall"], mine["combined"])]
        pairs += [(report["seq_wise"][seq], mine["sequences"][seq]) for seq in otb.names]
        for got, scores in pairs:
            assert scores["AUC"] == pytest.approx(got["success_score"], abs=TOLERANCE)
            assert scores["Precision20"] == pytest.approx(got["precision_score"], abs=TOLERANCE)
            assert scores["SR0.5"] == pytest.approx(got["success_rate"], abs=TOLERANCE)
        for curve in ("success", "precision"):
            got = report["overall"][f"{curve}_curve"]
            np.testing.assert_allclose(mine["curves"][curve], got, rtol=0, atol=TOLERANCE)
    assert 0.2 < ours["trackers"]["KCF"]["combined"]["AUC"] < 0.8


@pytest.fixture
def got10k(tmp_path, monkeypatch):
    """A GOT-10k val folder of three sequences (covers with zeros, a gt box past the left edge,
    one past the right, a zero-area one) and results: ``clean`` (no NaN box), ``lost`` (NaN
    rows), ``lost0`` (the same with 0,0,0,0 for NaN), ``three`` (three repetitions) and ``one``
    (``three``'s first alone), each with got10k's time file."""
    rng = np.random.default_rng(11)
    val = tmp_path / "GOT-10k" / "val"
    names = [f"GOT-10k_Val_{i:06d}" for i in (3, 1, 2)]
    for number, name in enumerate(names):
        gt = walk(rng, 30, decimals=4)
        gt[3, 0], gt[7, 0], gt[9, 2] = -7.25, WIDTH - 20.5, 0.0
        cover = rng.integers(0, 9, len(gt))
        cover[[0, 4, 5, 6]] = [8, 0, 0, 0]
        size = (WIDTH, HEIGHT) if number else (WIDTH + 40, HEIGHT - 40)
        write_got10k_sequence(val, name, gt, cover, size)
    (val / "list.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    results = tmp_path / "results" / "GOT-10k"
    for name in names:
        gt = np.loadtxt(val / name / "groundtruth.txt", delimiter=",")
        lost = predict(rng, gt, edge=True)
        clean = np.where(np.isnan(lost), gt, lost)
        runs = {"clean": [clean], "lost": [lost], "lost0": [np.nan_to_num(lost)]}
        runs["three"] = [predict(rng, gt, edge=True, lost=False) for _ in range(3)]
        runs["one"] = runs["three"][:1]
        for tracker, boxes in runs.items():
            for k, run in enumerate(boxes, 1):
                write_boxes(results / tracker / name / f"{name}_{k:03d}.txt", run)
            times = rng.uniform(0.01, 0.02, (len(gt), len(boxes)))
            np.savetxt(results / tracker / name / f"{name}_time.txt", times, delimiter=",")
    monkeypatch.setattr(ExperimentGOT10k, "plot_curves", lambda self, files, names: None)
    experiment = ExperimentGOT10k(
        str(val.parent), "val", result_dir=str(results.parent), report_dir=str(tmp_path / "rep")
    )
    theirs = experiment.report(["clean", "lost", "lost0", "three", "one"])
    return SimpleNamespace(val=val, results=results, names=names, theirs=theirs)


def _assert_got10k_scores(mine: dict, theirs: dict, names: list[str]) -> None:
    """Our AO / SR0.5 / SR0.75 / curve against a got10k report's, per sequence and combined."""
    overall = theirs["overall"]
    assert mine["combined"]["AO"] == pytest.approx(overall["ao"], abs=TOLERANCE)
    assert mine["combined"]["SR0.5"] == pytest.approx(overall["sr"], abs=TOLERANCE)
    assert mine["combined"]["SR0.75"] == pytest.approx(overall["succ_curve"][75], abs=TOLERANCE)
    np.testing.assert_allclose(mine["curves"]["success"], overall["succ_curve"], atol=TOLERANCE)
    for seq in names:
        assert mine["sequences"][seq]["AO"] == pytest.approx(
            theirs["seq_wise"][seq]["ao"], abs=TOLERANCE
        )
        assert mine["sequences"][seq]["SR0.5"] == pytest.approx(
            theirs["seq_wise"][seq]["sr"], abs=TOLERANCE
        )


def test_got10k_equals_got10k_experiment_got10k(got10k):
    ours = evaluate_single_object(got10k.val, got10k.results, GOT10K)
    pooled = evaluate_single_object(got10k.val, got10k.results, GOT10K, repetitions=ALL)

    assert list(ours["trackers"]["clean"]["sequences"]) == got10k.names  # list.txt's order
    _assert_got10k_scores(ours["trackers"]["clean"], got10k.theirs["clean"], got10k.names)
    _assert_got10k_scores(ours["trackers"]["three"], got10k.theirs["one"], got10k.names)
    _assert_got10k_scores(pooled["trackers"]["three"], got10k.theirs["three"], got10k.names)
    # a NaN box: got10k's AO turns NaN, its SR and curve count a failure; ours scores IoU 0
    assert np.isnan(got10k.theirs["lost"]["overall"]["ao"])
    lost, lost0 = ours["trackers"]["lost"], got10k.theirs["lost0"]
    _assert_got10k_scores(lost, lost0, got10k.names)
    assert lost["combined"]["SR0.5"] == got10k.theirs["lost"]["overall"]["sr"]
    assert ours["trackers"]["three"]["combined"] != pooled["trackers"]["three"]["combined"]


def test_lasot_equals_got10k_array_functions(tmp_path):
    """got10k's LaSOT experiment scores the frames with a gt box as ExperimentOTB scores all:
    got10k 0.1.3's ``rect_iou``, ``center_error`` and ``ExperimentOTB._calc_curves`` there."""
    rng = np.random.default_rng(3)
    gts = {f"cat-{n}": walk(rng, 35, decimals=1) for n in (1, 2)}
    gts["dog-3"] = walk(rng, 20)
    gts["cat-2"][[0, 12, 13]] = np.nan  # absent: not scored (frame 0 too)
    for name, gt in gts.items():
        write_lasot_sequence(tmp_path / "LaSOT", name, gt)
        write_boxes(tmp_path / "results" / "ours" / f"{name}.txt", predict(rng, gt))
    result = evaluate_single_object(tmp_path / "LaSOT", tmp_path / "results", LASOT)
    mine = result["trackers"]["ours"]
    bins = SimpleNamespace(nbins_iou=21, nbins_ce=51)
    curves = []
    for name, gt in gts.items():
        boxes = np.loadtxt(tmp_path / "results" / "ours" / f"{name}.txt", delimiter=",")
        boxes[0] = gt[0]
        valid = ~np.isnan(gt).any(axis=1)
        ious, errors = rect_iou(boxes[valid], gt[valid]), center_error(boxes[valid], gt[valid])
        curves.append(ExperimentOTB._calc_curves(bins, ious, errors))
        scores = mine["sequences"][name]
        assert scores["AUC"] == pytest.approx(np.mean(curves[-1][0]), abs=TOLERANCE)
        assert scores["Precision20"] == pytest.approx(curves[-1][1][20], abs=TOLERANCE)
    success, precision = (np.mean([c[i] for c in curves], axis=0) for i in (0, 1))
    np.testing.assert_allclose(mine["curves"]["success"], success, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(mine["curves"]["precision"], precision, rtol=0, atol=TOLERANCE)
    assert mine["combined"]["AUC"] == pytest.approx(np.mean(success), abs=TOLERANCE)
    assert mine["combined"]["SR0.5"] == pytest.approx(success[10], abs=TOLERANCE)
    assert list(mine["combined"]) == ["AUC", "Precision20", "NormPrecision", "SR0.5"]


def test_lasot_normalized_precision_by_hand():
    """Centres x + (w-1)/2; offsets divided by the gt size, at least 1 px; thresholds 0..0.5."""
    gt = np.array([[0, 0, 10, 20], [0, 0, 10, 20], [0, 0, 0.5, 0.5], [0, 0, 10, 20], [np.nan] * 4])
    pred = np.array(
        [
            [50, 50, 10, 10],  # frame 0: replaced by the gt box, error 0
            [5, 0, 10, 20],  # offset 5 / width 10 = 0.5: passes the last threshold only
            [0.155, 0, 0.5, 0.5],  # 0.155 / 1: passes 0.16 ... 0.5 (35 thresholds)
            [np.nan] * 4,  # lost: fails all
            [0, 0, 1, 1],  # no gt box: not scored
        ]
    )
    curve = sequence_curves(gt, pred, LASOT)["normalized_precision"]
    assert curve.sum() * 4 == pytest.approx(51 + 1 + 35 + 0)
    assert curve[-1] == 3 / 4 and curve[15] == 1 / 4 and curve[16] == 2 / 4


def test_got10k_rules_in_single():
    boxes = np.array([[-10, 5, 30, 20], [310, 230, 30, 30], [400, -3, 5, 5], [np.nan] * 4])
    np.testing.assert_array_equal(
        bounded_boxes(boxes, 320, 240),
        [[0, 5, 30, 20], [310, 230, 10, 10], [320, 0, 0, 5], [np.nan] * 4],
    )
    gt, pred = np.array([[0, 0, 10, 10], [1, 2, 3, 4]]), np.array([[0, 0, 20, 20], [np.nan] * 4])
    pixel = center_errors(gt, pred, pixel_centres=True)
    assert pixel[0] == pytest.approx(np.hypot(5, 5)) and pixel[1] == np.inf
    np.testing.assert_allclose(pixel, center_errors(gt, pred))
    normalized = normalized_center_errors(gt, pred, pixel_centres=True)
    assert normalized[0] == pytest.approx(np.hypot(0.5, 0.5)) and normalized[1] == np.inf
    errors = np.array([0.0, 20.0, 20.5, np.inf, np.nan])  # NaN: not annotated, skipped
    curve = precision_curve(errors)
    assert len(curve) == 51 and curve[20] == 2 / 4 and curve[21] == 3 / 4 and curve[0] == 1 / 4
    ious = np.array([0.0, 0.5, 0.505, 1.0])
    assert success_curve(ious, np.linspace(0, 1, 101))[50] == 2 / 4  # IoU > 0.5, strictly


def test_layouts_are_detected(otb, got10k, tmp_path):
    write_lasot_sequence(tmp_path / "LaSOT", "cat-1", walk(np.random.default_rng(0), 5))
    (tmp_path / "MOT" / "seq").mkdir(parents=True)
    (tmp_path / "MOT" / "seq" / "gt.txt").write_text("1,1,10,10,5,5,1,1,1\n", encoding="utf-8")
    assert detect_protocol(otb.data) == OTB_PROTOCOL
    assert detect_protocol(got10k.val) == GOT10K
    assert detect_protocol(tmp_path / "LaSOT") == LASOT
    assert detect_protocol(tmp_path / "LaSOT" / "cat") == LASOT  # <class-n>/ folders
    assert detect_protocol(tmp_path / "MOT") is None
    assert detect_protocol(tmp_path / "MOT" / "seq" / "gt.txt") is None
    assert single_object_protocol(None, None, tmp_path / "MOT") is None
    assert single_object_protocol(None, "mot17", otb.data) is None
    assert single_object_protocol("multi-object", None, otb.data) is None
    assert single_object_protocol(None, "lasot", otb.data) == LASOT
    assert single_object_protocol("single-object", None, got10k.val) == GOT10K
    with pytest.raises(FormatError, match="no single-object layout found"):
        single_object_protocol("single-object", None, tmp_path / "MOT")
    with pytest.raises(ConfigError, match="'mot17' is not a single-object protocol"):
        single_object_protocol("single-object", "mot17", otb.data)


def _otb_results(otb) -> Path:
    return otb.results / "OTBtb50" / "KCF"


def _rewrite(path: Path, line: int, text: str | None) -> None:
    """Line ``line`` (1-based) of ``path`` replaced by ``text`` (None: deleted), or appended
    when the file is shorter."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if text is None:
        del lines[line - 1]
    elif line > len(lines):
        lines.append(text)
    else:
        lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


RESULTS_ERRORS = {
    "three numbers": (2, "1,2,3", "expected 4 numbers (x, y, w, h), found 3"),
    "negative size": (3, "10,12,-3,4", "negative width or height: [-3.0, 4.0]"),
    "not a number": (4, "10,1O,3,4", "not a number: '1O'"),
    "infinite": (4, "10,10,inf,4", "not a finite number: '10,10,inf,4'"),
    "longer": (41, "1,2,3,4", "more rows than the 40 frames of {gt}"),
    "shorter": (40, None, "results for 39 frames, {gt} has 40"),
}


@pytest.mark.parametrize("line, text, problem", RESULTS_ERRORS.values(), ids=RESULTS_ERRORS)
def test_bad_results_are_one_line_errors(otb, line, text, problem):
    path = _otb_results(otb) / "Basketball.txt"
    _rewrite(path, line, text)
    gt = otb.data / "Basketball" / "groundtruth_rect.txt"
    with pytest.raises(FormatError) as error:
        evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL)
    where = min(line, 39) if text is None else line
    assert str(error.value) == f"{path}:{where}: {problem.format(gt=gt)}"


def test_missing_and_empty_results_files(otb):
    path = _otb_results(otb) / "Human4.txt"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(FormatError, match=f"^{path}: empty results file$"):
        evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL)
    path.unlink()
    with pytest.raises(FormatError, match=f"^{path}: results file not found$"):
        evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL)
    only = evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL, tracker="SiamFC")
    assert list(only["trackers"]) == ["SiamFC"]


def test_a_sequence_list_picks_sequences_and_names_bad_lines(otb):
    listing = otb.tmp / "sequences.txt"
    listing.write_text("Skating2.2\n\nBiker\n", encoding="utf-8")
    picked = evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL, listing)
    assert list(picked["trackers"]["KCF"]["sequences"]) == ["Skating2.2", "Biker"]
    listing.write_text("Biker\nJogging.1\n", encoding="utf-8")
    with pytest.raises(FormatError, match=f"^{listing}:2: sequence Jogging.1: no ground truth"):
        evaluate_single_object(otb.data, otb.results / "OTBtb50", OTB_PROTOCOL, listing)


def test_bad_got10k_ground_truth(got10k):
    seq = got10k.val / got10k.names[1]
    shutil.copy(seq / "meta_info.ini", seq.parent / "meta.bak")
    (seq / "meta_info.ini").write_text("[METAINFO]\nresolution: 320x240\n", encoding="utf-8")
    with pytest.raises(
        FormatError, match=r"meta_info.ini:2: resolution is not '\(width, height\)'"
    ):
        evaluate_single_object(got10k.val, got10k.results, GOT10K)
    shutil.copy(seq.parent / "meta.bak", seq / "meta_info.ini")
    _rewrite(seq / "cover.label", 31, "3")
    with pytest.raises(FormatError, match=r"cover.label:31: 31 frames, the ground truth has 30"):
        evaluate_single_object(got10k.val, got10k.results, GOT10K)
    _rewrite(seq / "cover.label", 31, None)
    cover = np.loadtxt(seq / "cover.label")
    frame = int(np.flatnonzero(cover[1:] > 0)[0]) + 1
    _rewrite(seq / "groundtruth.txt", frame + 1, "nan,nan,nan,nan")
    with pytest.raises(FormatError, match=f"groundtruth.txt:{frame + 1}: NaN box in a frame"):
        evaluate_single_object(got10k.val, got10k.results, GOT10K)
    with pytest.raises(ConfigError, match="repetitions 'all'"):
        evaluate_single_object(got10k.val, got10k.results, OTB_PROTOCOL, repetitions=ALL)


def test_short_lasot_results_are_scored_on_the_frames_both_have(tmp_path):
    rng = np.random.default_rng(5)
    gt = walk(rng, 30)
    write_lasot_sequence(tmp_path / "LaSOT", "cat-1", gt)
    pred = predict(rng, gt)
    write_boxes(tmp_path / "results" / "cat-1.txt", pred[:24])
    with pytest.warns(ShortResultsWarning, match="results for 24 frames, .* has 30"):
        result = evaluate_single_object(tmp_path / "LaSOT", tmp_path / "results", LASOT)
    expected = sequence_curves(gt[:24], pred[:24], LASOT)
    np.testing.assert_array_equal(
        result["trackers"]["results"]["curves"]["success"], expected["success"]
    )
