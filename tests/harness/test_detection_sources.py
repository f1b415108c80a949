"""Detection sources: public or file detections, clipped and filtered; their errors and hashes."""

from __future__ import annotations

import numpy as np
import pytest
from mot_layout import still_object, write_sequence

from harness.data import BoxTable, Sequence
from harness.detection_sources import filter_detections, source_detections
from harness.errors import ConfigError, FormatError
from harness.experiment import changed_parts, expand, load_experiment
from harness.store import Store

SOURCES = """\
name: sources
datasets:
  - name: mot16
    split: test
    root: data
    params: {sequences: {test: [S-01]}}
    detections:
      clean: {miss_rate: 0.0}
      sdp60: {source: public, min_score: 0.6, min_side: 4}
      refined: {source: "file:dets", min_side: 5}
methods: ["sort:no-min-hits"]
"""


def write_experiment(tmp_path, text: str = SOURCES, det_file: str | None = None):
    """The experiment in ``tmp_path``, its one test sequence S-01 and ``dets/S-01.txt``."""
    if not (tmp_path / "data").exists():
        write_sequence(tmp_path / "data" / "test", "S-01", still_object(3, "10,12,8,16", 0.9))
    (tmp_path / "dets").mkdir(exist_ok=True)
    (tmp_path / "dets" / "S-01.txt").write_text(det_file or still_object(3, "10,12,8,16", 0.8))
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_boxes_are_clipped_to_the_image_then_kept_by_inclusive_bounds():
    boxes = {
        "clipped left, kept": ([-2, 1, 10, 10], 0.6),
        "side exactly 4, kept": ([10, 10, 4, 4], 0.9),
        "side 3.9, dropped": ([10, 10, 3.9, 8], 0.9),
        "score 0.59, dropped": ([10, 10, 8, 8], 0.59),
        "clipped to 3 px wide, dropped": ([62, 40, 10, 20], 0.9),
        "outside the image, always dropped": ([70, 10, 5, 5], 0.9),
    }
    table = BoxTable.build(
        frame=[1] * len(boxes),
        box=[box for box, _ in boxes.values()],
        conf=[score for _, score in boxes.values()],
    )
    kept = filter_detections(table, 64, 48, min_score=0.6, min_side=4)
    np.testing.assert_array_equal(kept.box, [[1, 1, 7, 10], [10, 10, 4, 4]])
    unbounded = filter_detections(table, 64, 48)  # 1-based pixels: the image ends at 65 x 49
    assert len(unbounded) == 5 and unbounded.box[4].tolist() == [62, 40, 3, 9]


def test_a_source_reads_public_or_file_detections(tmp_path):
    public = BoxTable.build(frame=[1, 2], box=[[1, 1, 8, 8], [1, 1, 4, 4]], conf=[0.5, 0.9])
    sequence = Sequence("S-01", 2, 64, 48, 30.0, BoxTable.empty(), detections=public)
    bounds = {"min_score": None, "min_side": 5.0}
    assert source_detections({"source": "public", **bounds}, sequence).frame.tolist() == [1]
    (tmp_path / "S-01.txt").write_text("2,-1,3,4,6,6,0.7\n1,-1,3,4,2,6,0.7\n")
    from_file = source_detections({"source": f"file:{tmp_path}", **bounds}, sequence)
    assert from_file.frame.tolist() == [2] and from_file.box.tolist() == [[3, 4, 6, 6]]
    (tmp_path / "S-01.txt").write_text("1,-1,3,4,6,6,0.7\n3,-1,3,4,6,6,0.7\n")
    with pytest.raises(FormatError, match=r"S-01.txt:2: frame 3 beyond seqLength 2"):
        source_detections({"source": f"file:{tmp_path}", **bounds}, sequence)
    sequence.name = "S-02"
    with pytest.raises(FormatError, match=r"S-02.txt: no detections file for sequence S-02"):
        source_detections({"source": f"file:{tmp_path}", **bounds}, sequence)


def test_sources_expand_beside_noise_levels_and_their_definition_is_the_identity(tmp_path):
    cells = {cell.detections: cell for cell in expand(load_experiment(write_experiment(tmp_path)))}
    clean, sdp60, refined = cells["clean"], cells["sdp60"], cells["refined"]
    assert clean.detection_source is None and "detection_source" not in clean.identity()
    assert sdp60.noise is None and sdp60.identity()["detection_source"] == {
        "source": "public",
        "min_score": 0.6,
        "min_side": 4.0,
    }
    assert refined.identity()["detection_source"]["source"] == "file:dets"  # as the file says

    stricter = expand(load_experiment(write_experiment(tmp_path, SOURCES.replace("0.6", "0.7"))))
    assert [c.detections for c in stricter if c.config_hash != cells[c.detections].config_hash] == [
        "sdp60"
    ]
    new_file = still_object(3, "10,12,8,16", 0.75)
    changed = {
        c.detections: c
        for c in expand(load_experiment(write_experiment(tmp_path, det_file=new_file)))
    }
    assert changed["refined"].config_hash != refined.config_hash
    assert changed_parts(refined.identity(), changed["refined"].identity()) == ["detections"]
    assert changed["sdp60"].config_hash == sdp60.config_hash


BAD_SOURCES = {
    "unknown source": ("source: public, min_score", "source: detr, min_score", 9, "'public' or"),
    "empty file path": ('source: "file:dets"', 'source: "file:"', 10, "'file:PATH'"),
    "misspelt bound": ("min_side: 5", "min_sides: 5", 10, "did you mean 'min_side'?"),
    "negative side": ("min_side: 5", "min_side: -5", 10, "greater than or equal to 0"),
    "not a mapping": ("{source: public, min_score: 0.6, min_side: 4}", "7", 9, "is a mapping"),
    "repeated source": (
        "min_score: 0.6, min_side: 4}",
        "min_score: 0.6, min_side: 4}\n      again: {source: public, min_side: 4, min_score: 0.6}",
        10,
        "detections 'again' repeat the source of 'sdp60'",
    ),
    "missing folder": ('"file:dets"', '"file:nowhere"', 10, "detections folder not found"),
}


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_bad_sources_are_one_line_errors_at_their_line(tmp_path, case):
    old, new, line, expected = BAD_SOURCES[case]
    path = write_experiment(tmp_path, SOURCES.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert (info.value.path, info.value.line) == (str(path), line)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_malformed_detection_line_stops_the_cli_with_its_file_and_line(trackbench, tmp_path):
    path = write_experiment(tmp_path, det_file="1,-1,10,12,8,16,0.8\n2,-1,10,12,eight,16,0.8\n")
    with pytest.raises(FormatError, match=r"S-01.txt:2: column 5 is not a number"):
        load_experiment(path)
    code, _, err = trackbench("run", path, "--out", tmp_path / "out")
    assert code == 2
    assert err.strip() == (
        f"trackbench: error: {tmp_path / 'dets' / 'S-01.txt'}:2: column 5 is not a number: 'eight'"
    )


def test_a_sequence_without_its_file_stops_the_run_before_any_cell(trackbench, tmp_path):
    path = write_experiment(tmp_path)
    (tmp_path / "dets" / "S-01.txt").rename(tmp_path / "dets" / "other.txt")
    code, _, err = trackbench("run", path, "--out", tmp_path / "out")
    assert code == 2
    missing = tmp_path / "dets" / "S-01.txt"
    assert f"trackbench: error: {missing}: no detections file for sequence S-01" in err
    with Store(tmp_path / "out" / "results.sqlite") as store:
        assert set(store.cells("sources")["status"]) == {"pending"}  # none computed


def test_relative_source_folders_follow_the_experiment_file(tmp_path):
    """A file source's folder is relative to the experiment file, wherever the command runs."""
    path = write_experiment(tmp_path)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "sources.yaml").write_text(
        path.read_text().replace("root: data", f"root: {tmp_path / 'data'}")
    )
    with pytest.raises(ConfigError, match="detections folder not found: .*elsewhere/dets"):
        load_experiment(moved / "sources.yaml")
