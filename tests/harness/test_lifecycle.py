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


@pytest.mark.parametrize(
    ("hparam", "problem"),
    [
        ("batch=abc", "--hparam batch: expected an integer >= 0 (the default is 64), got 'abc'"),
        ("batch=-4", "--hparam batch: expected an integer >= 0 (the default is 64), got -4"),
        ("batch=8.5", "--hparam batch: expected an integer >= 0 (the default is 64), got 8.5"),
        ("lr=fast", "--hparam lr: expected a number >= 0 (the default is 0.0005), got 'fast'"),
        (
            "betas=[0.9]",
            "--hparam betas: expected a list of 2: a number >= 0, a number >= 0 (the default is"
            " (0.9, 0.99)), got [0.9]",
        ),
    ],
)
def test_a_bad_hparam_value_is_one_line_naming_it_and_its_type(
    trackbench, tmp_path, hparam, problem
):
    out = tmp_path / "run"
    code, _, stderr = trackbench("train", "tba", "--out", out, "--hparam", hparam)
    assert code == 2 and stderr == f"trackbench: error: {problem}\n"
    assert not out.exists()  # refused before the run starts


def test_hparams_of_their_default_s_kind_are_taken():
    spec, _ = lifecycle.learnable("rectracker-id")
    overrides = {"batch": 8, "lr": 1, "optimizer": "torch"}
    settings = spec.recipe_class.settings(spec.config_for(), overrides)
    assert (settings["batch"], settings["optimizer"]) == (8, "torch")
    assert settings["lr"] == 1.0 and isinstance(settings["lr"], float)
    assert settings["length"] == 20  # the defaults stay
