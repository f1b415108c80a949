"""harness.checkpoints: file names, atomic writes, weights-only loads, sha256, cards (old ones
too) and the provenance built from a card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from paths import ROOT

from harness.checkpoints import (
    Checkpoint,
    atomic_write,
    card_summary,
    checkpoint_files,
    load_checkpoint,
    load_tensors,
    publish_checkpoint,
    read_card,
    save_checkpoint,
    untrained_provenance,
    update_card,
    write_card,
)
from harness.cli import main
from harness.errors import ConfigError, FormatError
from harness.provenance import file_sha256

PUBLISHED = ROOT / "checkpoints" / "tba" / "sprites-mot" / "TBA" / "last"
STATE = {"layer.weight": torch.arange(6.0).reshape(2, 3), "layer.bias": torch.tensor([0.5, -1.0])}
CARD = {
    "method": "toy",
    "variant": "GRU",
    "config": {"dataset": "random-walk", "batch": 4, "hidden": 8},
    "seed": 3,
    "iterations": 40,
    "curve": [{"iteration": 20, "total": 2.0}, {"iteration": 40, "total": 1.0}],
    "hardware": [
        {"from_iteration": 0, "to_iteration": 20, "device": "cpu", "iterations_per_s": 5.0},
        {"from_iteration": 20, "to_iteration": 40, "device": "cuda", "iterations_per_s": 50.0},
    ],
}


class Touch:
    """Unpickling it would create ``path``: the code a weights-only load must never run."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


def test_checkpoint_files_accept_either_suffix(tmp_path):
    expected = (tmp_path / "last.pt", tmp_path / "last.json")
    for given in ("last", "last.pt", "last.json"):
        assert checkpoint_files(tmp_path / given) == expected
    assert checkpoint_files("runs/v1.2") == (Path("runs/v1.2.pt"), Path("runs/v1.2.json"))


def test_save_then_load_round_trips_with_the_sha256_of_the_file(tmp_path):
    path = tmp_path / "nested" / "last"
    save_checkpoint(path, STATE, CARD)
    state, checkpoint = load_checkpoint(path)
    assert state.keys() == STATE.keys() and all(torch.equal(state[k], STATE[k]) for k in STATE)
    weights = tmp_path / "nested" / "last.pt"
    assert checkpoint.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert checkpoint.sha256 == file_sha256(weights)
    assert checkpoint.path == str(path)
    assert checkpoint.card == {
        "code_version": checkpoint.card["code_version"],
        "torch_version": torch.__version__,
        **CARD,
    }
    assert read_card(tmp_path / "nested" / "last.json") == checkpoint.card


def test_a_card_keeps_its_own_versions(tmp_path):
    save_checkpoint(
        tmp_path / "old", STATE, {**CARD, "code_version": "0.1", "torch_version": "2.0"}
    )
    card = read_card(tmp_path / "old")
    assert (card["code_version"], card["torch_version"]) == ("0.1", "2.0")


def test_a_failing_write_leaves_no_file_and_the_old_one_intact(tmp_path):
    def fail_halfway(f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    target = tmp_path / "curve.json"
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail_halfway)
    assert list(tmp_path.iterdir()) == []
    atomic_write(target, lambda f: f.write(b"[1]"))
    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail_halfway)
    assert list(tmp_path.iterdir()) == [target] and target.read_bytes() == b"[1]"


def test_weights_only_loading_refuses_a_pickled_object(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "payload": Touch(marker)}, path)
    with pytest.raises(FormatError, match="refused by weights-only loading") as error:
        load_tensors(path)
    assert not marker.exists()
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)
    assert "(it holds getattr)" in str(error.value)  # what Touch pickles to
    write_card(tmp_path / "evil", CARD)
    with pytest.raises(FormatError):
        load_checkpoint(tmp_path / "evil")
    assert not marker.exists()


def test_missing_or_malformed_cards_and_weights_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="checkpoint not found") as error:
        read_card(tmp_path / "none")
    assert error.value.path == str(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text('{\n  "method": "toy",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(FormatError, match="not a JSON card") as error:
        read_card(tmp_path / "bad")
    assert error.value.line == 3
    write_card(tmp_path / "card-only", CARD)
    with pytest.raises(ConfigError, match="weights not found"):
        load_checkpoint(tmp_path / "card-only")


def test_update_card_sets_fields_and_keeps_the_rest(tmp_path):
    save_checkpoint(tmp_path / "last", STATE, CARD)
    before = (tmp_path / "last.pt").read_bytes()
    card = update_card(tmp_path / "last", metrics={"MOTA": 0.5})
    assert card == read_card(tmp_path / "last") and card["metrics"] == {"MOTA": 0.5}
    assert card["curve"] == CARD["curve"] and (tmp_path / "last.pt").read_bytes() == before


def test_provenance_from_a_card():
    provenance = Checkpoint("ckpt/last", CARD, "ab" * 32).provenance()
    assert provenance == {
        "checkpoint": "ckpt/last",
        "trained": True,
        "sha256": "ab" * 32,
        "variant": "GRU",
        "dataset": "random-walk",
        "iterations": 40,
        "seed": 3,
        "batch": 4,
        "trained_on": "cpu, cuda",
        "hardware": CARD["hardware"],
    }
    bare = Checkpoint("b", {"variant": "GRU", "config": {}}, "cd" * 32).provenance()
    assert bare == {"checkpoint": "b", "trained": True, "sha256": "cd" * 32, "variant": "GRU"}
    assert untrained_provenance("GRU", "random-walk") == {
        "checkpoint": None,
        "trained": False,
        "variant": "GRU",
        "dataset": "random-walk",
    }


def test_card_summary_reads_old_and_new_cards():
    summary = card_summary({**CARD, "metrics": {"MOTA": 0.5}})
    assert summary == {
        "variant": "GRU",
        "dataset": "random-walk",
        "iterations": 40,
        "seed": 3,
        "hardware": CARD["hardware"],
        "last_curve_point": {"iteration": 40, "total": 1.0},
        "last_validation": None,
        "metrics": {"MOTA": 0.5},
    }
    old = {"variant": "TBA", "config": {"dataset": "sprites-mot"}, "speed": {"device": "cpu"}}
    assert card_summary(old)["last_curve_point"] is None and card_summary(old)["hardware"] is None


def test_the_published_tba_card_reads_through_the_kit():
    state, checkpoint = load_checkpoint(PUBLISHED)
    card = json.loads(PUBLISHED.with_suffix(".json").read_text(encoding="utf-8"))
    assert checkpoint.card == card and all(isinstance(v, torch.Tensor) for v in state.values())
    provenance = checkpoint.provenance()
    assert provenance["iterations"] == card["iterations"] == card_summary(card)["iterations"]
    assert provenance["batch"] == card["config"]["batch"] and provenance["variant"] == "TBA"


def test_a_half_precision_copy_loads_back_into_a_float_model(tmp_path):
    state = {**STATE, "steps": torch.tensor([7])}  # an integer buffer keeps its dtype
    save_checkpoint(tmp_path / "trained", state, CARD)
    card = publish_checkpoint(tmp_path / "trained", tmp_path / "published", "float16")
    assert card["stored_dtype"] == "float16" and card["iterations"] == 40
    assert card["published_from"]["sha256"] == file_sha256(tmp_path / "trained.pt")
    weights, checkpoint = load_checkpoint(tmp_path / "published")
    assert checkpoint.card == card
    assert weights["layer.weight"].dtype == torch.float16 and weights["steps"].dtype == torch.int64
    layer = torch.nn.Linear(3, 2)
    layer.load_state_dict({"weight": weights["layer.weight"], "bias": weights["layer.bias"]})
    for name, value in {"layer.weight": layer.weight, "layer.bias": layer.bias}.items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value.detach(), STATE[name], atol=1e-3, rtol=1e-3)
    with pytest.raises(ConfigError, match="dtype must be one of"):
        publish_checkpoint(tmp_path / "trained", tmp_path / "other", "float8")


def test_trackbench_publish_prints_the_stored_dtype_and_size(tmp_path, capsys):
    save_checkpoint(tmp_path / "trained", STATE, CARD)
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "publish",
                str(tmp_path / "trained"),
                str(tmp_path / "out" / "last"),
                "--dtype",
                "float16",
            ]
        )
    assert exit_.value.code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["stored_dtype"] == "float16"
    assert printed["bytes"] == (tmp_path / "out" / "last.pt").stat().st_size
    with pytest.raises(SystemExit) as exit_:
        main(["publish", str(tmp_path / "missing"), str(tmp_path / "other")])
    assert exit_.value.code == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_network_configs_refuse_unknown_fields_and_round_trip_through_a_card():
    import dataclasses

    from harness.checkpoints import NetworkConfig

    @dataclasses.dataclass(frozen=True)
    class Net(NetworkConfig):
        width: int = 4
        kernels: tuple[tuple[int, int], ...] = ((3, 3), (5, 5))

    net = Net().replace(width=8)
    assert net == Net(8) and Net().width == 4
    with pytest.raises(ConfigError, match=r"Net has no fields \['depth'\]"):
        Net().replace(depth=2)
    card = json.loads(json.dumps(net.to_card()))
    assert card == {"width": 8, "kernels": [[3, 3], [5, 5]]} and Net.from_card(card) == net
