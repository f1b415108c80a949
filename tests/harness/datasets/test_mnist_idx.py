"""The MNIST IDX loader: real files (``full_mnist``), stand-in digits, both compressions, bad
files, the missing-folder hint."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
from mnist_helpers import idx_bytes, stroke_digits, write_digit_folder

from harness.datasets import mnist_idx
from harness.datasets.mnist_idx import FILE_NAMES, load_mnist, read_idx
from harness.errors import ConfigError, FormatError


@pytest.mark.full_mnist
def test_real_folder_gives_70000_digits_train_then_test(mnist_dir):
    digits = load_mnist(mnist_dir)
    assert digits.images.shape == (70000, 28, 28) and digits.images.dtype == np.uint8
    assert digits.labels.shape == (70000,)
    # Well-known first labels: train starts with 5, 0, 4; test starts with 7, 2, 1.
    assert digits.labels[:3].tolist() == [5, 0, 4]
    assert digits.labels[60000:60003].tolist() == [7, 2, 1]
    assert np.bincount(digits.labels).tolist()[1] == 6742 + 1135  # ones in train + test
    assert digits.images.max() == 255 and digits.images[0].sum() > 0


def test_a_smaller_folder_is_its_train_part_then_its_test_part(tmp_path):
    digits = load_mnist(write_digit_folder(tmp_path, counts=(30, 20)))
    train, test = stroke_digits(30, 0), stroke_digits(20, 1)
    assert digits.images.shape == (50, 28, 28) and not digits.full
    assert np.array_equal(digits.images, np.concatenate([train[0], test[0]]))
    assert np.array_equal(digits.labels, np.concatenate([train[1], test[1]]))


def test_uncompressed_files_read_the_same(mnist_dir, tmp_path):
    for name in FILE_NAMES:
        with gzip.open(mnist_dir / f"{name}.gz") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    plain, packed = load_mnist(tmp_path), load_mnist(mnist_dir)
    assert np.array_equal(plain.images, packed.images)
    assert plain.fingerprint == packed.fingerprint


def test_environment_variable_names_the_folder(mnist_dir, monkeypatch):
    expected = load_mnist(mnist_dir).images
    monkeypatch.setenv(mnist_idx.ENV_VAR, str(mnist_dir))
    assert np.array_equal(load_mnist().images, expected)


def test_read_idx_round_trip_gz_and_plain(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    assert np.array_equal(read_idx(tmp_path / "a"), array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x01\x00\x08\x01" + b"\x00" * 8, "bad magic"),
        (idx_bytes(np.zeros(3), type_code=0x0D), "element type 0x0d"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated"),
        (idx_bytes(np.zeros((2, 2)))[:-1], "size mismatch"),
    ],
)
def test_bad_idx_files_raise_format_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_corrupt_gzip_is_a_format_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(FormatError, match="cannot read"):
        read_idx(path)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        ((60001, 28, 28), (60001,), "expected up to 60000 digits of 28x28"),
        ((5, 28, 27), (5,), "expected up to 60000 digits of 28x28"),
        ((5, 28, 28), (4,), "expected 5 labels"),
    ],
)
def test_wrong_digit_count_is_a_format_error(tmp_path, images, labels, message):
    for name in FILE_NAMES:
        (tmp_path / name).write_bytes(idx_bytes(np.zeros(images if "images" in name else labels)))
    with pytest.raises(FormatError, match=message) as err:
        load_mnist(tmp_path)
    assert "train-" in str(err.value)


def test_missing_file_says_which(tmp_path, mnist_dir):
    for name in FILE_NAMES[:3]:
        shutil.copy(mnist_dir / f"{name}.gz", tmp_path)
    with pytest.raises(ConfigError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_no_folder_and_offline_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.delenv(mnist_idx.ENV_VAR, raising=False)
    monkeypatch.setattr(mnist_idx, "_hub_reachable", lambda: False)
    with pytest.raises(ConfigError) as err:
        load_mnist()
    message = str(err.value)
    for hint in ("TRACKBENCH_MNIST", "--mnist PATH", "train-images-idx3-ubyte.gz", "t10k-labels"):
        assert hint in message
    with pytest.raises(ConfigError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
