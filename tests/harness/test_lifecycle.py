"""The lifecycle every learnable method shares (``harness.lifecycle``, ``trackbench train`` and
``card``): the registered recipe's hyper-parameters, and methods that are not learnable."""

from __future__ import annotations

import json

import pytest

from harness import lifecycle
from harness.errors import ConfigError


def test_hparams_prints_the_recipe_s_hyper_parameters_for_the_method_config(trackbench):
    code, stdout, _ = trackbench("train", "rectracker-id", "--hparams")
    assert code == 0
    assert json.loads(stdout) == {  # the released code's RMSprop of RecTracker-ID, batch 32
        "batch": 32,
        "length": 20,
        "lr": 5e-4,
        "rho": 0.9,
        "eps": 1e-6,
        "optimizer": "root-eps",
    }
    code, stdout, _ = trackbench("train", "hart", "--config", "setup=kitti", "--hparams")
    assert code == 0 and json.loads(stdout)["lr"] == 3.33e-6  # §5.2's KITTI rate
    assert lifecycle.hyperparameters("tba:TBAc-noMem")["batch"] == 64


def test_a_method_without_a_recipe_is_refused_in_one_line(trackbench, tmp_path):
    code, _, stderr = trackbench("train", "sort", "--out", tmp_path)
    assert code == 2 and stderr.strip() == (
        "trackbench: error: method 'sort' is not learnable (it registers no recipe)"
    )
    code, _, stderr = trackbench("card", "kcf", tmp_path / "last")
    assert code == 2 and "not learnable" in stderr
    with pytest.raises(ConfigError, match="not learnable"):
        lifecycle.hyperparameters("constant-box")


def test_train_needs_an_out_folder(trackbench):
    code, _, stderr = trackbench("train", "rectracker-id", "--iterations", 1)
    assert code == 2 and "--out is required" in stderr
