"""MOTChallenge text I/O: round trips on real files and every validation error path."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data import BoxTable
from harness.errors import FormatError
from harness.motchallenge import _plain_numbers, parse_mot, read_mot, write_mot

ROW = "1,1,10,20,30,40,1,-1,-1,-1"


@pytest.mark.parametrize("seq", ["TUD-Campus", "TUD-Stadtmitte"])
def test_reads_real_files(motmetrics_data, seq):
    gt = read_mot(motmetrics_data / seq / "gt.txt", "gt")
    pred = read_mot(motmetrics_data / seq / "test.txt", "result")
    lines = (motmetrics_data / seq / "gt.txt").read_text().strip().splitlines()
    assert len(gt) == len(lines)
    first = [float(v) for v in lines[0].split(",")]
    assert gt.frame[0] == first[0] and gt.id[0] == first[1]
    assert gt.box[0].tolist() == first[2:6]
    assert len(pred) > 0 and (pred.box[:, 2:] > 0).all()


def test_round_trip_is_exact(tmp_path, motmetrics_data):
    pred = read_mot(motmetrics_data / "TUD-Campus" / "test.txt", "result")
    write_mot(tmp_path / "out.txt", pred)
    again = read_mot(tmp_path / "out.txt", "result")
    assert again.equals(pred.sorted())


def test_gt_columns_kept(tmp_path):
    gt = BoxTable.build(
        frame=[1, 1, 2],
        id=[1, 2, 1],
        box=[[1, 2, 3, 4], [5, 6, 7, 8], [1.5, 2, 3, 4]],
        conf=[1, 0, 1],
        cls_=[1, 7, 1],
        visibility=[1.0, 0.25, 0.5],
    )
    write_mot(tmp_path / "gt.txt", gt, kind="gt")
    again = read_mot(tmp_path / "gt.txt", "gt")
    assert again.equals(gt)


def test_whitespace_separated_and_blank_lines():
    table = parse_mot("1 1 1 2 3 4 1 -1 -1 -1\n\n2 1 1 2 3 4 1 -1 -1 -1\n", "result")
    assert table.frame.tolist() == [1, 2]


def test_detections_allow_id_minus_one():
    table = parse_mot("1,-1,10,20,30,40,0.9,-1,-1,-1\n1,-1,12,20,30,40,0.8,-1,-1,-1\n", "det")
    assert table.id.tolist() == [-1, -1]
    assert table.conf.tolist() == [0.9, 0.8]


def test_empty_results_are_valid_but_empty_gt_is_not():
    assert len(parse_mot("", "result")) == 0
    with pytest.raises(FormatError, match="empty ground-truth file"):
        parse_mot("\n\n", "gt", "gt.txt")


@pytest.mark.parametrize(
    "bad_line, problem",
    [
        ("2,1,10,20,30,40,1,-1,-1", "expected 10 columns, found 9"),
        ("2,1,10,20,30,40,1,-1,-1,-1,7", "expected 10 columns, found 11"),
        ("2,1,nan,20,30,40,1,-1,-1,-1", "column 3 is NaN"),
        ("2,1,inf,20,30,40,1,-1,-1,-1", "non-finite number"),
        ("2,1,ten,20,30,40,1,-1,-1,-1", "column 3 is not a number: 'ten'"),
        ("2,1,10,20,0,40,1,-1,-1,-1", "box width must be > 0"),
        ("2,1,10,20,30,-4,1,-1,-1,-1", "box height must be > 0"),
        ("0,1,10,20,30,40,1,-1,-1,-1", "frame number must be >= 1"),
        ("2.5,1,10,20,30,40,1,-1,-1,-1", "frame number is not an integer"),
        ("2,1.5,10,20,30,40,1,-1,-1,-1", "id is not an integer"),
        ("1,1,11,21,30,40,1,-1,-1,-1", "id 1 appears twice in frame 1"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, bad_line, problem):
    path = tmp_path / "pred.txt"
    path.write_text(f"{ROW}\n{ROW.replace('1,1,', '1,2,', 1)}\n{bad_line}\n")
    with pytest.raises(FormatError) as info:
        read_mot(path, "result")
    assert str(info.value).startswith(f"{path}:3: {problem}")


def test_too_few_columns():
    with pytest.raises(FormatError, match=r"f.txt:1: expected 6 to 10 columns, found 5"):
        parse_mot("1,1,2,3,4\n", "result", "f.txt")


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="file not found"):
        read_mot(tmp_path / "nope.txt", "gt")


def test_split_by_frame_covers_every_row():
    table = BoxTable.build(frame=[3, 1, 3, 2], box=np.ones((4, 4)), id=[1, 2, 3, 4])
    parts = table.split_by_frame(4)
    assert [len(p) for p in parts] == [1, 1, 2, 0]
    assert sorted(parts[2].id.tolist()) == [1, 3]


def test_leading_blank_lines_keep_line_numbers():
    table = parse_mot("\n  \n1,1,10,20,30,40,1,-1,-1,-1\n", "result")
    assert table.frame.tolist() == [1]
    with pytest.raises(FormatError, match=r"^f.txt:4: box width must be > 0"):
        parse_mot("\n\n1,1,10,20,30,40\n1,2,10,20,0,40\n", "result", "f.txt")
    spaced = parse_mot("   \n1 1 10 20 30 40\n", "result")
    assert spaced.box.tolist() == [[10.0, 20.0, 30.0, 40.0]]


def test_seq_length_and_classes_name_the_first_offending_line():
    text = "\n1,1,10,20,30,40,1,1,1\n\n3,1,10,20,30,40,1,14,1\n"
    classes = np.arange(1, 14)
    with pytest.raises(FormatError, match=r"^f.txt:4: frame 3 beyond seqLength 2 \(seqinfo.ini\)$"):
        parse_mot(text, "gt", "f.txt", seq_length=2)
    with pytest.raises(FormatError, match=r"^f.txt:4: class 14 is not a MOTChallenge class"):
        parse_mot(text, "gt", "f.txt", classes=classes)
    with pytest.raises(FormatError, match=r"^f.txt:2: no class column: 7 columns"):
        parse_mot("\n1,1,10,20,30,40,1\n2,1,10,20,30,40,1\n", "gt", "f.txt", classes=classes)
    assert len(parse_mot(text, "gt", seq_length=3, classes=np.arange(1, 15))) == 2
    assert len(parse_mot("1,1,10,20,30,40,1\n", "result", classes=classes)) == 1  # gt only


def test_plain_comma_files_are_read_by_arrow_exactly_and_the_rest_by_pandas():
    """Arrow's CSV reader takes files of numbers only; its values are float()'s to the bit
    (long decimals included); anything else goes to the pandas path."""
    rng = np.random.default_rng(0)
    fields = [f"{x:.17g}" for x in rng.random(2000) * 1000] + ["-0.5", "12", "1e-3", "0.1"]
    text = "".join(f"{v},{v},{v},{v},{v},{v}\n" for v in fields)
    columns = _plain_numbers(text)
    assert columns is not None and len(columns) == 6
    assert np.array_equal(columns[3], [float(v) for v in fields])
    for irregular in ("1,2,3\n\n4,5,6\n", "1,2,x\n", "1,2,nan\n", "1,2,3\n4,5\n", "1,2,\n3,4,\n"):
        assert _plain_numbers(irregular) is None, irregular
    parsed = parse_mot("1,1,10,20,30,40,1,-1,-1,-1\n\n2,1,11,21,31,41,1,-1,-1,-1\n", "result")
    assert parsed.frame.tolist() == [1, 2]  # the blank line, read by the pandas path
