"""MOT16/17/20 and custom MOTChallenge folders: layout, splits (incl. the half split), copy checks
with file:line problems, and evaluation parity with TrackEval's own file-based pipeline.

Fixtures (tests/fixtures/mot/, written for these tests): MOT17/ (train: MOT17-02 with 10 frames and
MOT17-04 with 9, each as -DPM/-FRCNN/-SDP sharing frames and gt with distractor classes, zero-marked
rows and low visibility; test: MOT17-01), MOT20/ (train: MOT20-01; test: MOT20-04), custom/, and
tracker results in trackers/<BENCH>/ours/data/. Frame image f has red = 20 * f, blue = 255 - 20 * f.
The fixtures hold a few official sequences only, so the tests name them with the ``sequences``
param (by default a copy must hold every official sequence).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import trackeval
from paths import FIXTURES as TEST_FIXTURES

from harness.cli import main
from harness.data import BoxTable
from harness.datasets import load_card, load_dataset
from harness.datasets.motchallenge import read_seqinfo
from harness.errors import ConfigError, FormatError
from harness.metrics import evaluate_files
from harness.metrics.crosscheck import trackeval_reference
from harness.motchallenge import read_mot

FIXTURES = TEST_FIXTURES / "mot"
MOT17 = FIXTURES / "MOT17"
MOT20 = FIXTURES / "MOT20"
CUSTOM = FIXTURES / "custom"
VARIANTS = ("DPM", "FRCNN", "SDP")
MOT17_SEQUENCES = ["MOT17-01", "MOT17-02", "MOT17-04"]
MOT20_SEQUENCES = ["MOT20-01", "MOT20-04"]
FIXTURE_SEQUENCES = {"mot17": MOT17_SEQUENCES, "mot20": MOT20_SEQUENCES}


def fixture_dataset(name: str, root: Path, **params):
    """The adapter over a copy of the fixture: its sequences selected by the sequences param."""
    return load_dataset(name, root, sequences=FIXTURE_SEQUENCES[name], **params)


def mot17(root: Path = MOT17, **params):
    return fixture_dataset("mot17", root, **params)


def red_of(image: np.ndarray) -> float:
    return float(image[..., 0].mean())


@pytest.fixture
def broken_copy(tmp_path) -> Path:
    """A MOT17 copy with one problem of each kind."""
    root = tmp_path / "MOT17"
    shutil.copytree(MOT17, root)
    train = root / "train"
    ini = train / "MOT17-02-DPM" / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("seqLength=10", "seqLength=ten"))
    (train / "MOT17-02-FRCNN" / "img1" / "000004.jpg").unlink()
    shutil.copy(
        train / "MOT17-02-FRCNN" / "img1" / "000001.jpg",
        train / "MOT17-02-FRCNN" / "img1" / "000011.jpg",
    )
    gt = train / "MOT17-02-SDP" / "gt" / "gt.txt"
    lines = gt.read_text().splitlines(keepends=True)
    lines[7] = lines[7].replace(",2,8,16,", ",x,8,16,", 1)
    gt.write_text("".join(lines))
    gt = train / "MOT17-04-DPM" / "gt" / "gt.txt"
    lines = gt.read_text().splitlines(keepends=True)
    lines[3] = lines[3][: lines[3].rindex(",", 0, lines[3].rindex(","))] + ",14,1\n"
    gt.write_text("".join(lines) + "\n12,1,5,5,10,20,1,1,1\n13,1,5,5,10,20,1,1,1\n")
    (train / "MOT17-04-FRCNN" / "det" / "det.txt").unlink()
    shutil.rmtree(train / "MOT17-04-SDP")
    (train / "notes").mkdir()
    ini = root / "test" / "MOT17-01-SDP" / "seqinfo.ini"
    ini.write_text(ini.read_text().replace("imExt=.jpg\n", ""))
    return root


# --- seqinfo.ini -----------------------------------------------------------------------------


def test_read_seqinfo_reads_every_key():
    info = read_seqinfo(MOT17 / "train" / "MOT17-02-SDP" / "seqinfo.ini")
    assert (info.name, info.im_dir, info.fps, info.length) == ("MOT17-02-SDP", "img1", 30.0, 10)
    assert (info.width, info.height, info.im_ext) == (64, 48, ".jpg")
    assert info.lines["seqLength"] == 5


GOOD_INI = (
    "[Sequence]\nname=S\nimDir=img1\nframeRate=30\nseqLength=10\nimWidth=64\nimHeight=48\n"
    "imExt=.jpg\n"
)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            GOOD_INI.replace("seqLength=10", "seqLength=10.5"),
            ":5: seqLength is not an integer: '10.5'",
        ),
        (
            GOOD_INI.replace("frameRate=30", "frameRate=fast"),
            ":4: frameRate is not a number: 'fast'",
        ),
        (GOOD_INI.replace("imWidth=64", "imWidth=0"), ":6: imWidth must be > 0, found '0'"),
        (GOOD_INI.replace("imExt=.jpg", "imExt=jpg"), ":8: imExt must start with '.', found 'jpg'"),
        (GOOD_INI.replace("imHeight=48\n", ""), ": [Sequence] lacks imHeight"),
        (GOOD_INI + "seqLength=11\n", ":9: seqLength given twice (first on line 5)"),
        (GOOD_INI.replace("[Sequence]\n", ""), ":1: key before any [Sequence] section"),
        (
            GOOD_INI.replace("imDir=img1", "imDir img1"),
            ":3: expected 'key=value' or a [section], found 'imDir img1'",
        ),
        ("", ": no [Sequence] section"),
    ],
)
def test_read_seqinfo_names_file_line_and_problem(tmp_path, text, problem):
    path = tmp_path / "seqinfo.ini"
    path.write_text(text)
    with pytest.raises(FormatError) as info:
        read_seqinfo(path)
    assert str(info.value) == f"{path}{problem}"


def test_read_seqinfo_is_case_insensitive_like_configparser(tmp_path):
    path = tmp_path / "seqinfo.ini"
    path.write_text(GOOD_INI.replace("seqLength", "seqlength").replace("=", " = "))
    assert read_seqinfo(path).length == 10


# --- MOT17 splits ----------------------------------------------------------------------------


def test_mot17_train_has_every_detector_variant_sharing_frames_and_gt():
    sequences = mot17().sequences("train")
    assert [s.name for s in sequences] == [f"MOT17-{n}-{d}" for n in ("02", "04") for d in VARIANTS]
    assert [s.num_frames for s in sequences] == [10] * 3 + [9] * 3
    assert [s.meta["detector"] for s in sequences] == list(VARIANTS) * 2
    first = sequences[0]
    assert (first.width, first.height, first.fps, first.meta["has_gt"]) == (64, 48, 30.0, True)
    assert first.gt.equals(read_mot(MOT17 / "train" / "MOT17-02-DPM" / "gt" / "gt.txt", "gt"))
    assert all(s.gt.equals(first.gt) for s in sequences[1:3])
    assert not first.detections.equals(sequences[2].detections)
    assert set(np.unique(first.gt.cls)) == {1, 2, 3, 7, 8, 12}
    image = first.frame(7)
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    assert abs(red_of(image) - 140) <= 3 and abs(image[..., 2].mean() - 115) <= 3  # RGB, not BGR


def test_mot17_detectors_param_selects_variants():
    sequences = mot17(detectors=["SDP"]).sequences("train")
    assert [s.name for s in sequences] == ["MOT17-02-SDP", "MOT17-04-SDP"]
    with pytest.raises(ConfigError, match="mot17 detectors must be a non-empty list of DPM"):
        mot17(detectors=["YOLO"])


def test_frames_load_lazily(monkeypatch):
    import harness.datasets.motchallenge as module

    read = []
    imread = module.cv2.imread
    monkeypatch.setattr(
        module.cv2, "imread", lambda path, flag: read.append(path) or imread(path, flag)
    )
    sequence = mot17().sequences("train")[0]
    assert read == []
    sequence.frame(4)
    assert [Path(p).name for p in read] == ["000004.jpg"]


def test_test_split_has_no_gt_and_refuses_evaluation():
    dataset = mot17()
    sequences = dataset.sequences("test")
    assert [s.name for s in sequences] == [f"MOT17-01-{d}" for d in VARIANTS]
    assert all(len(s.gt) == 0 and s.meta["has_gt"] is False for s in sequences)
    assert all(len(s.detections) > 0 for s in sequences)
    with pytest.raises(ConfigError, match="split 'test' of mot17 has no ground truth"):
        dataset.evaluate("test", {s.name: BoxTable.empty() for s in sequences})


@pytest.mark.parametrize(("index", "length", "half"), [(0, 10, 5), (3, 9, 4)])
def test_half_split_frames_and_renumbering(index, length, half):
    dataset = mot17()
    full = dataset.sequences("train")[index]
    first = dataset.sequences("train-half")[index]
    second = dataset.sequences("val-half")[index]
    assert (first.num_frames, second.num_frames) == (half, length - half)
    assert (first.meta["frame_offset"], second.meta["frame_offset"]) == (0, half)
    assert first.meta["split"] == "train-half" and second.meta["split"] == "val-half"
    assert first.gt.equals(full.gt.select(full.gt.frame <= half))
    shifted = second.gt.select(np.arange(len(second.gt)))
    object.__setattr__(shifted, "frame", second.gt.frame + half)
    assert shifted.equals(full.gt.select(full.gt.frame > half))
    assert second.detections.frame.min() >= 1 and second.detections.frame.max() <= length - half
    assert len(first.detections) + len(second.detections) == len(full.detections)
    assert abs(red_of(first.frame(half)) - 20 * half) <= 3
    assert abs(red_of(second.frame(1)) - 20 * (half + 1)) <= 3
    assert abs(red_of(second.frame(length - half)) - 20 * length) <= 3
    with pytest.raises(IndexError):
        second.frame(length - half + 1)


# --- checks of a copy ------------------------------------------------------------------------


def test_good_copies_check_clean():
    assert mot17().check() == []
    assert fixture_dataset("mot20", MOT20).check() == []
    assert load_dataset("custom-mot", CUSTOM).check() == []


def test_check_lists_every_problem_of_a_broken_copy(broken_copy):
    train, test = broken_copy / "train", broken_copy / "test"
    problems = [str(p) for p in mot17(broken_copy).check()]
    assert problems == [
        f"{train / 'notes'}: not a MOT17 sequence folder (<SEQ>-DPM, -FRCNN or -SDP)",
        f"{train / 'MOT17-04-SDP'}: missing folder: MOT17 has MOT17-04 with each of DPM, FRCNN, "
        "SDP detections",
        f"{train / 'MOT17-02-DPM' / 'seqinfo.ini'}:5: seqLength is not an integer: 'ten'",
        f"{train / 'MOT17-02-FRCNN' / 'img1'}: 1 of 10 frames (seqLength) missing: 000004.jpg",
        f"{train / 'MOT17-02-FRCNN' / 'img1'}: 1 file(s) not among frames 000001..000010.jpg: "
        "000011.jpg",
        f"{train / 'MOT17-02-SDP' / 'gt' / 'gt.txt'}:8: column 4 is not a number: 'x'",
        f"{train / 'MOT17-04-DPM' / 'gt' / 'gt.txt'}:37: frame 12 is outside 1..9 (seqLength) "
        "(1 more row(s) like this)",
        f"{train / 'MOT17-04-DPM' / 'gt' / 'gt.txt'}:4: class 14 is not a MOTChallenge class 1..13",
        f"{train / 'MOT17-04-FRCNN' / 'det' / 'det.txt'}: file not found",
        f"{test / 'MOT17-01-SDP' / 'seqinfo.ini'}: [Sequence] lacks imExt",
    ]


def test_sequences_of_a_broken_copy_raise_the_first_problem(broken_copy):
    with pytest.raises(FormatError) as info:
        mot17(broken_copy).sequences("train")
    assert str(info.value).startswith(
        f"{broken_copy / 'train' / 'notes'}: not a MOT17 sequence folder"
    )
    assert (
        f"(and 8 more problem(s): `trackbench datasets check mot17 {broken_copy} "
        """--param 'sequences=["MOT17-01","MOT17-02","MOT17-04"]'` lists them)"""
    ) in str(info.value)
    # the test split is intact but for one sequence
    with pytest.raises(FormatError, match="lacks imExt"):
        mot17(broken_copy).sequences("test")


def test_check_reports_missing_split_folders_and_short_gt(tmp_path):
    root = tmp_path / "MOT20"
    shutil.copytree(MOT20, root)
    shutil.rmtree(root / "test")
    gt = root / "train" / "MOT20-01" / "gt" / "gt.txt"
    gt.write_text("\n\n1,1,4,4,8,16,1\n")
    problems = [str(p) for p in fixture_dataset("mot20", root).check()]
    assert problems == [
        f"{gt}:3: class -1 is not a MOTChallenge class 1..13 (gt needs 9 columns: "
        "frame,id,left,top,width,height,consider,class,visibility)",
        f"{root / 'test'}: missing split folder",
    ]
    assert [str(p) for p in fixture_dataset("mot20", tmp_path / "nowhere").check()] == [
        f"{tmp_path / 'nowhere'}: dataset root folder not found"
    ]


def test_cli_check_exit_codes(capsys, broken_copy):
    selected = "sequences=[MOT17-01,MOT17-02,MOT17-04]"
    with pytest.raises(SystemExit) as info:
        main(["datasets", "check", "mot17", str(MOT17), "--param", selected])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"mot17 at {MOT17}: complete\n"
    with pytest.raises(SystemExit) as info:
        main(["datasets", "check", "mot17", str(broken_copy), "--param", selected])
    captured = capsys.readouterr()
    assert info.value.code == 1
    assert len(captured.out.strip().splitlines()) == 10
    assert "seqinfo.ini:5: seqLength is not an integer" in captured.out
    assert "10 problem(s)" in captured.err


# --- which sequences a copy must hold (the sequences param) ----------------------------------


def missing(root: Path, split: str, folders: list[str], source: str) -> list[str]:
    return [f"{root / split / folder}: missing sequence ({source})" for folder in folders]


def test_check_lists_every_missing_official_sequence():
    """By default a copy must hold every official sequence: the fixtures lack most of them."""
    variants = "{DPM,FRCNN,SDP}"
    assert [str(p) for p in load_dataset("mot17", MOT17).check()] == missing(
        MOT17,
        "train",
        [f"MOT17-{n}-{variants}" for n in ("05", "09", "10", "11", "13")],
        "official MOT17 train sequence",
    ) + missing(
        MOT17,
        "test",
        [f"MOT17-{n}-{variants}" for n in ("03", "06", "07", "08", "12", "14")],
        "official MOT17 test sequence",
    )
    assert [str(p) for p in load_dataset("mot20", MOT20).check()] == missing(
        MOT20, "train", ["MOT20-02", "MOT20-03", "MOT20-05"], "official MOT20 train sequence"
    ) + missing(MOT20, "test", ["MOT20-06", "MOT20-07", "MOT20-08"], "official MOT20 test sequence")


def test_a_copy_missing_a_whole_sequence(tmp_path):
    root = tmp_path / "MOT17"
    shutil.copytree(MOT17, root)
    for variant in VARIANTS:
        shutil.rmtree(root / "train" / f"MOT17-04-{variant}")
    listed = "selected by the sequences param"
    all_variants = missing(root, "train", ["MOT17-04-{DPM,FRCNN,SDP}"], listed)
    assert [str(p) for p in mot17(root).check()] == all_variants
    assert [str(p) for p in mot17(root, detectors=["SDP"]).check()] == missing(
        root, "train", ["MOT17-04-SDP"], listed
    )
    for split in ("train", "val-half"):
        with pytest.raises(FormatError) as info:
            mot17(root).sequences(split)
        assert str(info.value) == all_variants[0]
    assert [s.name for s in mot17(root).sequences("test")] == [f"MOT17-01-{d}" for d in VARIANTS]
    official = [str(p) for p in load_dataset("mot17", root).check()]
    assert (
        missing(root, "train", ["MOT17-04-{DPM,FRCNN,SDP}"], "official MOT17 train sequence")[0]
        in official
    )


def test_sequences_param_forms():
    official = load_dataset("mot17", MOT17).selection
    assert official == load_card("mot17")["layout"]["official_sequences"]
    # a list of official names: each in its split; a split naming none is neither checked nor
    # loadable
    train_only = load_dataset("mot17", MOT17, sequences=["MOT17-04", "MOT17-02", "MOT17-04"])
    assert train_only.selection == {"train": ["MOT17-02", "MOT17-04"]}
    assert train_only.check() == []
    assert len(train_only.sequences("train-half")) == 6
    with pytest.raises(
        ConfigError, match=r"split 'test' of mot17: the sequences param selects none of the test/"
    ):
        train_only.sequences("test")
    one = load_dataset("mot17", MOT17, sequences="MOT17-02", detectors="SDP")
    assert [s.name for s in one.sequences("train")] == ["MOT17-02-SDP"]
    # a mapping: any names per split folder
    renamed = load_dataset("mot20", MOT20, sequences={"train": ["MOT20-01"], "test": ["MOT20-09"]})
    assert [s.name for s in renamed.sequences("train")] == ["MOT20-01"]
    assert [str(p) for p in renamed.check()] == missing(
        MOT20, "test", ["MOT20-09"], "selected by the sequences param"
    )
    # custom folders have no official list and no sequences param
    assert load_dataset("custom-mot", CUSTOM).selection == {}
    with pytest.raises(ConfigError, match="'custom-mot' has no parameter 'sequences'"):
        load_dataset("custom-mot", CUSTOM, sequences=["lab"])


@pytest.mark.parametrize(
    ("sequences", "message"),
    [
        (["MOT17-2"], "mot17 sequences: 'MOT17-2' is not an official MOT17 sequence (known: "),
        (["MOT17-02-SDP"], "did you mean 'MOT17-02'? (for other names give a mapping {train: "),
        ({"tarin": ["MOT17-02"]}, "no split folder 'tarin' (known: test, train); did you mean"),
        ([2, 4], "mot17 sequences must be a list of sequence names (or a mapping"),
        ({"train": "MOT17-02", "test": [""]}, "must be a list of sequence names"),
        ([], "mot17 sequences selects no sequence"),
        ({"train": []}, "mot17 sequences selects no sequence"),
    ],
)
def test_bad_sequences_param(sequences, message):
    with pytest.raises(ConfigError) as info:
        load_dataset("mot17", MOT17, sequences=sequences)
    assert message in str(info.value)


def test_cli_params_reach_the_adapter(tmp_path, capsys):
    root = tmp_path / "MOT17"
    shutil.copytree(MOT17, root)
    for variant in ("DPM", "FRCNN"):
        shutil.rmtree(root / "train" / f"MOT17-02-{variant}")
    check = ["datasets", "check", "mot17", str(root), "--param", "sequences=[MOT17-02]"]
    with pytest.raises(SystemExit) as info:
        main([*check, "--param", "detectors=[SDP]"])
    assert (info.value.code, capsys.readouterr().out) == (0, f"mot17 at {root}: complete\n")
    with pytest.raises(SystemExit) as info:
        main(check)
    assert info.value.code == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{root / 'train' / f'MOT17-02-{d}'}: missing folder: MOT17 has MOT17-02 with each of "
        "DPM, FRCNN, SDP detections"
        for d in ("DPM", "FRCNN")
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["sequences"], "bad --param 'sequences': expected KEY=VALUE, e.g. detectors=[SDP]"),
        (["=[SDP]"], "bad --param '=[SDP]': expected KEY=VALUE"),
        (
            ["sequences=[MOT17-02"],
            "bad --param 'sequences=[MOT17-02': VALUE is not YAML (expected ',' or ']', but got "
            "'<stream end>')",
        ),
        (["detectors=[SDP]", "detectors=[DPM]"], "--param detectors given twice"),
        (
            ["sequence=[MOT17-02]"],
            "dataset 'mot17' has no parameter 'sequence' (known: detectors, sample_length,"
            " sequences); did you mean 'sequences'?",
        ),
        (["sequences=[MOT17-2]"], "mot17 sequences: 'MOT17-2' is not an official MOT17 sequence"),
        (["detectors=YOLO"], "mot17 detectors must be a non-empty list of DPM, FRCNN, SDP"),
    ],
)
def test_cli_bad_params_fail_in_one_line(capsys, params, message):
    options = [arg for param in params for arg in ("--param", param)]
    with pytest.raises(SystemExit) as info:
        main(["datasets", "check", "mot17", str(MOT17), *options])
    captured = capsys.readouterr()
    assert info.value.code == 2 and captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"trackbench: error: {message}")


# --- evaluation parity with TrackEval's file-based pipeline -----------------------------------


def trackeval_on_folder(gt_folder: Path, trackers: Path, benchmark: str, out: Path) -> dict:
    """TrackEval's Evaluator + MotChallenge2DBox straight on a benchmark split folder."""
    sequences = sorted(p.name for p in gt_folder.iterdir() if p.is_dir())
    seqmap = out / "seqmap.txt"
    seqmap.write_text("name\n" + "".join(f"{s}\n" for s in sequences))
    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(gt_folder),
            "TRACKERS_FOLDER": str(trackers),
            "OUTPUT_FOLDER": str(out),
            "BENCHMARK": benchmark,
            "SPLIT_TO_EVAL": "train",
            "SKIP_SPLIT_FOL": True,
            "SEQMAP_FILE": str(seqmap),
            "TRACKERS_TO_EVAL": ["ours"],
            "PRINT_CONFIG": False,
        }
    )
    return trackeval_reference(dataset)["pedestrian"]


def assert_same(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    for metric, value in theirs.items():
        assert ours[metric] == pytest.approx(value, abs=1e-9, rel=0), metric


@pytest.mark.parametrize(
    ("name", "root", "bench"), [("mot17", MOT17, "MOT17"), ("mot20", MOT20, "MOT20")]
)
def test_evaluation_matches_trackeval_on_the_folder(tmp_path, name, root, bench):
    trackers = FIXTURES / "trackers" / bench
    results = trackers / "ours" / "data"
    reference = trackeval_on_folder(root / "train", trackers, bench, tmp_path)
    by_files = evaluate_files(root / "train", results, name)
    by_adapter = fixture_dataset(name, root).evaluate("train", results)
    for ours in (by_files, by_adapter):
        assert ours["sequences"].keys() == reference["sequences"].keys()
        for sequence, metrics in reference["sequences"].items():
            assert_same(ours["sequences"][sequence], metrics)
        assert_same(ours["combined"], reference["combined"])
    combined = reference["combined"]
    assert 0 < combined["MOTA"] < 1 and combined["FP"] > 0 and combined["FN"] > 0


def test_cli_evaluate_folder_matches_adapter(capsys):
    results = FIXTURES / "trackers" / "MOT17" / "ours" / "data"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "evaluate",
                "--gt",
                str(MOT17 / "train"),
                "--pred",
                str(results),
                "--protocol",
                "mot17",
                "--json",
            ]
        )
    captured = capsys.readouterr()
    assert info.value.code == 0, captured.err
    expected = mot17().evaluate("train", results)
    assert json.loads(captured.out) == json.loads(json.dumps(expected))


def test_protocol_matters_on_the_fixture():
    """Distractor, zero-marked and class rows change the numbers (the fixture has them)."""
    results = FIXTURES / "trackers" / "MOT17" / "ours" / "data"
    mot17 = evaluate_files(MOT17 / "train", results, "mot17")["combined"]
    plain = evaluate_files(MOT17 / "train", results, "plain")["combined"]
    assert mot17["FP"] < plain["FP"] and mot17["Dets"] < plain["Dets"]


# --- MOT16, MOT20, custom --------------------------------------------------------------------


def test_mot16_and_mot20_are_suffix_less(tmp_path):
    root = tmp_path / "MOT16"
    shutil.copytree(MOT20, root)
    mot16 = load_dataset("mot16", root, sequences={"train": ["MOT20-01"], "test": ["MOT20-04"]})
    assert mot16.protocol == "mot16" and mot16.check() == []
    official = [str(p) for p in load_dataset("mot16", root).check()]
    assert len(official) == 14  # the MOT20 folders are not MOT16 sequences
    assert (
        official[0]
        == f"{root / 'train' / 'MOT16-02'}: missing sequence (official MOT16 train sequence)"
    )
    assert [s.name for s in mot16.sequences("train")] == ["MOT20-01"]
    mot20 = fixture_dataset("mot20", MOT20)
    (sequence,) = mot20.sequences("train")
    assert (sequence.num_frames, sequence.fps, "detector" in sequence.meta) == (6, 25.0, False)
    assert [s.name for s in mot20.sequences("test")] == ["MOT20-04"]
    assert [s.num_frames for s in mot20.sequences("val-half")] == [3]


def test_custom_folders_both_layouts():
    dataset = load_dataset("custom-mot", CUSTOM)
    assert dataset.protocol == "plain"
    lab, walk = dataset.sequences("all")
    assert (lab.name, lab.num_frames, lab.fps, lab.detections) == ("lab", 5, 10.0, None)
    assert (walk.name, walk.num_frames, walk.width, walk.height, walk.fps) == (
        "walk",
        3,
        40,
        48,
        30.0,
    )
    assert walk.gt.equals(read_mot(CUSTOM / "walk.txt", "gt"))
    # frames are 1.png, 2.png, 10.png in natural order
    assert [round(red_of(walk.frame(k)) / 20) for k in (1, 2, 3)] == [1, 2, 3]
    assert load_dataset("custom-mot", CUSTOM, fps=12.5).sequences("all")[1].fps == 12.5
    assert load_dataset("custom-mot", CUSTOM, protocol="mot17").protocol == "mot17"
    with pytest.raises(ConfigError, match="unknown evaluation protocol 'mot99'"):
        load_dataset("custom-mot", CUSTOM, protocol="mot99")


def test_custom_folder_problems(tmp_path):
    root = tmp_path / "custom"
    shutil.copytree(CUSTOM, root)
    (root / "orphan").mkdir()
    (root / "alone.txt").write_text("1,1,2,2,8,8\n")
    (root / "lab.txt").write_text("1,1,2,2,8,8\n")
    (root / "walk.txt").write_text("1,1,2,2,8,8\n4,1,2,2,8,8\n")
    problems = [str(p) for p in load_dataset("custom-mot", root).check()]
    assert problems == [
        f"{root / 'lab.txt'}: ambiguous: lab/seqinfo.ini also makes lab/ a MOTChallenge folder",
        f"{root / 'orphan'}: not a sequence: no orphan/seqinfo.ini and no orphan.txt beside it",
        f"{root / 'alone'}: missing image folder of {root / 'alone.txt'}",
        f"{root / 'walk.txt'}:2: frame 4 is outside 1..3 (seqLength)",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [str(p) for p in load_dataset("custom-mot", empty).check()] == [
        f"{empty}: no sequences: expected <seq>/seqinfo.ini or <seq>.txt"
    ]
