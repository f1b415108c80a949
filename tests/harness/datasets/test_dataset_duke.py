"""DukeMTMC adapter: camera sync arithmetic, TBA sampling/resizing, submissions, broken copies."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from paths import FIXTURES as TEST_FIXTURES
from typer.testing import CliRunner

from harness.cli import app
from harness.datasets import load_dataset
from harness.datasets.duke import (
    START_TIMES,
    background_images,
    global_to_local,
    local_to_global,
    read_submission,
    read_train_data,
    submission_rows,
    write_submission,
)
from harness.errors import FormatError

FIXTURES = TEST_FIXTURES / "duke"
SMALL = {
    "frame_size": [16, 32],
    "tba_size": [8, 16],
    "intervals": {"trainval": [49700, 49712], "test-easy": [263504, 263510]},
}
# BGR colour written into every frame of camera c (blue = c * 20, green 0, red 200)
RED = 200


def write_copy(root: Path, rows: np.ndarray | None = None) -> Path:
    """A tiny DukeMTMC copy: trainval.mat from the fixture rows, 16x32 JPG frames per camera."""
    (root / "ground_truth").mkdir(parents=True)
    if rows is None:
        rows = np.loadtxt(FIXTURES / "trainval_rows.csv", delimiter=",")
    scipy.io.savemat(root / "ground_truth" / "trainval.mat", {"trainData": rows})
    for camera in range(1, 9):
        folder = root / "frames" / f"camera{camera}"
        folder.mkdir(parents=True)
        image = np.zeros((16, 32, 3), np.uint8)
        image[..., 0], image[..., 2] = camera * 20, RED
        for first, last in SMALL["intervals"].values():
            for local in global_to_local(camera, np.arange(first, last + 1)):
                cv2.imwrite(str(folder / f"{local:06d}.jpg"), image)
    return root


@pytest.fixture
def duke_root(tmp_path):
    return write_copy(tmp_path / "duke")


def dataset(root, **params):
    return load_dataset("dukemtmc", root, **{**SMALL, **params})


@pytest.mark.parametrize("camera", range(1, 9))
@pytest.mark.parametrize("global_frame", [49700, 227540, 263504, 356648])
def test_global_local_frames_at_interval_edges(camera, global_frame):
    local = global_to_local(camera, global_frame)
    assert local == global_frame - START_TIMES[camera - 1] + 1
    assert local >= 1 and local_to_global(camera, local) == global_frame


def test_real_intervals_per_camera():
    duke = load_dataset("dukemtmc", "/nonexistent")
    assert duke.interval("trainval", 5) == (49700, 227540)
    assert duke.interval("trainval", 8) == (2935, 180775)
    assert duke.interval("test-easy", 1) == (257962, 351106)


def test_sequences_at_60fps_keep_only_the_interval(duke_root):
    sequences = dataset(duke_root, tba=False).sequences("trainval")
    assert [s.name for s in sequences] == [f"camera{c}-trainval" for c in range(1, 9)]
    cam1 = sequences[0]
    assert (cam1.num_frames, cam1.fps, cam1.meta["local_offset"]) == (13, 60.0, 44157)
    # rows at local 44157 and 44171 (outside) are dropped; frames renumbered from 1
    np.testing.assert_array_equal(cam1.gt.frame, [1, 4, 10, 10, 13])
    np.testing.assert_array_equal(cam1.gt.id, [7, 7, 7, 8, 7])
    np.testing.assert_array_equal(cam1.gt.box[0], [2.5, 1.0, 4.0, 8.0])
    image = cam1.frame(13)
    assert image.shape == (16, 32, 3) and image.dtype == np.uint8
    assert abs(int(image[0, 0, 0]) - RED) <= 3 and abs(int(image[0, 0, 2]) - 20) <= 3  # RGB
    test = dataset(duke_root, tba=False).sequences("test-easy")
    assert all(len(s.gt) == 0 and s.num_frames == 7 for s in test)


def test_tba_sequences_sample_local_frames_1_mod_6_and_resize(duke_root):
    cam1, *_, cam5, _, _, cam8 = dataset(duke_root).sequences("trainval")
    assert (cam1.num_frames, cam1.fps, cam1.height, cam1.width) == (2, 10.0, 8, 16)
    for sequence, local_samples in [(cam1, [44161, 44167]), (cam5, [49705, 49711])]:
        local = sequence.meta["frame_map"] + sequence.meta["local_offset"]
        np.testing.assert_array_equal(local, local_samples)
        assert ((local - 1) % 6 == 0).all()
    np.testing.assert_array_equal(
        cam8.meta["frame_map"] + cam8.meta["local_offset"], [2935, 2941, 2947]
    )
    np.testing.assert_array_equal(cam1.gt.frame, [1, 2, 2])
    np.testing.assert_array_equal(cam1.gt.box[0], [2.75, 0.75, 2.0, 4.0])
    assert cam1.frame(1).shape == (8, 16, 3)


def test_submission_rows_map_back_to_local_60fps_full_size(duke_root):
    cam1 = dataset(duke_root).sequences("trainval")[0]
    rows = submission_rows(cam1.gt, cam1)
    track7 = rows.select(rows.id == 7)
    # first sample: 1 line; the next sample: 6 lines (44162..44167), interpolated
    np.testing.assert_array_equal(track7.frame, np.arange(44161, 44168))
    np.testing.assert_array_equal(track7.box[0], [5.5, 1.5, 4.0, 8.0])
    np.testing.assert_array_equal(track7.box[-1], [11.5, 2.5, 4.5, 9.0])
    start, end = np.array([5.5, 1.5, 4.0, 8.0]), np.array([11.5, 2.5, 4.5, 9.0])
    for i, box in zip(range(5, -1, -1), track7.box[1:], strict=True):
        np.testing.assert_allclose(box, end - i * (end - start) / 6, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rows.select(rows.id == 8).frame, [44167])


def test_write_then_read_submission(tmp_path, duke_root):
    sequences = dataset(duke_root).sequences("trainval")
    tables = {s.meta["camera"]: submission_rows(s.gt, s) for s in sequences}
    path = tmp_path / "duke.txt"
    write_submission(path, tables)
    lines = path.read_text().splitlines()
    assert lines[0] == "1,7,44161,5.500,1.500,4.000,8.000"
    cams = [int(line.split(",")[0]) for line in lines]
    assert cams == sorted(cams)
    back = read_submission(path)
    # cameras 2, 3, 4, 6 have boxes only on unsampled frames: no rows
    assert sorted(back) == [1, 5, 7, 8]
    np.testing.assert_array_equal(back[8].frame, tables[8].frame)
    np.testing.assert_allclose(back[1].box, tables[1].box, rtol=0, atol=5e-4)


def test_read_submission_fixture():
    tables = read_submission(FIXTURES / "submission.txt")
    assert sorted(tables) == [1, 5, 8]
    np.testing.assert_array_equal(tables[1].frame, [44161, 44162])
    np.testing.assert_array_equal(tables[5].box, [[16, 4, 6, 12]])


@pytest.mark.parametrize(
    "line, message",
    [
        ("1,1,44161,1,2,3", "expected 7 columns"),
        ("1,1,44161.5,1,2,3,4", "integers"),
        ("9,1,44161,1,2,3,4", "cam outside 1..8"),
        ("1,1,44161,1,2,0,4", "w and h must be > 0"),
        ("1,1,x,1,2,3,4", "non-numeric"),
        ("1,1,0,1,2,3,4", "frame < 1"),
    ],
)
def test_read_submission_errors_name_the_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text("1,1,44161,1,2,3,4\n" + line + "\n")
    with pytest.raises(FormatError, match=message) as error:
        read_submission(path)
    assert error.value.line == 2 and str(error.value).startswith(f"{path}:2: ")


def test_good_copy_checks_clean(duke_root):
    assert dataset(duke_root).check() == []


def test_check_reports_every_problem_of_a_broken_copy(tmp_path):
    rows = np.loadtxt(FIXTURES / "trainval_rows.csv", delimiter=",")
    rows[1, 2] = 44158.5  # non-integer frame
    rows[3, 0] = 9  # camera outside 1..8
    rows[4, 5] = 0  # width 0
    root = write_copy(tmp_path / "duke", rows)
    (root / "frames" / "camera2" / "046100.jpg").unlink()
    (root / "frames" / "camera2" / "046101.jpg").unlink()
    (root / "frames" / "camera2" / "046104.jpg").unlink()
    for path in (root / "frames" / "camera4").iterdir():
        path.unlink()
    (root / "frames" / "camera4").rmdir()
    cv2.imwrite(str(root / "frames" / "camera6" / "027299.jpg"), np.zeros((9, 9, 3), np.uint8))
    problems = [str(p) for p in dataset(root).check()]
    mat = root / "ground_truth" / "trainval.mat"
    assert problems == [
        f"{mat}:2: row 2 of trainData: camera, ID and frame must be integers",
        f"{mat}:4: row 4 of trainData: camera outside 1..8",
        f"{mat}:5: row 5 of trainData: width and height must be > 0",
        f"{root / 'frames' / 'camera2'}: 3 of 13 frames of split trainval missing: "
        "local frames 46100-46101, 46104",
        f"{root / 'frames' / 'camera4'}: missing camera frame folder",
        f"{root / 'frames' / 'camera6' / '027299.jpg'}: frame is 9x9, the card's frame_size "
        "is 16x32",
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        ({"trainData": np.ones((2, 10))}, "numeric n x 11 matrix, got float64 2x10"),
        ({"other": np.ones((2, 11))}, "no variable 'trainData'"),
    ],
)
def test_malformed_mat_files(tmp_path, content, message):
    path = tmp_path / "trainval.mat"
    scipy.io.savemat(path, content)
    with pytest.raises(FormatError, match=message):
        read_train_data(path)


def test_v73_and_garbage_mat_files_get_clear_messages(tmp_path):
    path = tmp_path / "trainval.mat"
    path.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + bytes(200))
    with pytest.raises(FormatError, match="v7.3 \\(HDF5\\).*-v7"):
        read_train_data(path)
    path.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(FormatError, match="unreadable MAT-file"):
        read_train_data(path)
    with pytest.raises(FormatError, match="missing file"):
        read_train_data(tmp_path / "absent.mat")


def test_sequences_of_a_broken_copy_raise_format_errors(tmp_path, duke_root):
    rows = np.loadtxt(FIXTURES / "trainval_rows.csv", delimiter=",")
    rows[6, 6] = -1
    broken = write_copy(tmp_path / "broken", rows)
    with pytest.raises(FormatError, match="row 7 of trainData") as error:
        dataset(broken).sequences("trainval")
    assert error.value.line == 7
    (duke_root / "frames" / "camera3" / "022460.jpg").unlink()
    cam3 = dataset(duke_root, tba=False).sequences("trainval")[2]
    with pytest.raises(FormatError, match="missing or unreadable frame"):
        cam3.frame(4)


def test_cli_check_lists_missing_files(tmp_path):
    result = CliRunner().invoke(app, ["datasets", "check", "dukemtmc", str(tmp_path)])
    assert result.exit_code == 1
    assert "trainval.mat: missing file" in result.output
    assert result.output.count("missing camera frame folder") == 8


class NoGroundTruth:
    """Fails on any use: proves a function never touches the ground truth."""

    def __getattr__(self, name):
        raise AssertionError(f"ground truth read ({name})")

    def __len__(self):
        raise AssertionError("ground truth read (len)")


def test_background_images_read_frames_only(duke_root):
    cam1 = dataset(duke_root, tba=False).sequences("trainval")[0]
    cam1.gt = NoGroundTruth()
    backgrounds = list(background_images(cam1))
    assert len(backgrounds) == 13 and backgrounds[0].shape == (16, 32, 3)
    # constant frames: the background is the frame itself
    np.testing.assert_array_equal(backgrounds[-1], cam1.frame(13))
    again = list(background_images(cam1))
    assert all(np.array_equal(a, b) for a, b in zip(backgrounds, again, strict=True))
