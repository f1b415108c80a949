"""TBA config, model, output protocol, tracker wrapper, registry, checkpoints (CPU, tiny sizes)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from paths import ROOT

from harness.checkpoints import read_card
from harness.data import frame_inputs, outputs_to_table
from harness.datasets import load_dataset
from harness.errors import ConfigError
from harness.experiment import expand, load_experiment
from harness.protocol import sequence_info
from harness.registry import parse_method
from harness.runner import run_experiment
from harness.store import Store
from trackers.tba import ABLATIONS
from trackers.tba.config import TBAConfig
from trackers.tba.model import TBA
from trackers.tba.output import slots_to_table
from trackers.tba.tracker import SlotIds, TBATracker

FRAMES = 30


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    return load_dataset("sprites-mot", root, eval_frames=FRAMES).sequences("eval")[0]


def test_dataset_configs_hold_the_released_values():
    sprites = TBAConfig.for_dataset("sprites-mot")
    mnist = TBAConfig.for_dataset("mnist-mot")
    duke = TBAConfig.for_dataset("dukemtmc")
    assert (sprites.num_trackers, sprites.layers, sprites.patch) == (4, 3, (21, 21))
    assert sprites.memory_shape == (8, 8, 20) and sprites.state_dim == 80
    assert sprites.head_hidden == (80, 377) and sprites.zeta_r == (1.0, 0.2)
    assert (mnist.channels, mnist.layers, mnist.patch, mnist.zeta_s) == (1, 1, (28, 28), 0.0)
    assert mnist.memory_shape == (8, 8, 50) and mnist.state_dim == 200 and mnist.mnist
    assert (duke.num_trackers, duke.patch, duke.frame_size) == (12, (23, 9), (108, 192))
    assert duke.memory_shape == (9, 16, 200) and duke.state_dim == 800
    assert (duke.tightness, duke.batch, duke.synthetic) == (0.1, 24, False)
    assert (sprites.lr, sprites.betas, sprites.weight_decay) == (5e-4, (0.9, 0.99), 1e-6)
    assert (sprites.clip_grad_norm, sprites.reset_prob, sprites.length) == (5.0, 0.01, 20)


def test_config_errors_and_json_round_trip():
    with pytest.raises(ConfigError, match="did you mean 'mnist-mot'"):
        TBAConfig.for_dataset("mnist-mott")
    with pytest.raises(ConfigError, match="no fields"):
        TBAConfig().replace(trackers=3)
    config = TBAConfig.for_dataset("dukemtmc").smoke()
    assert TBAConfig.from_card(json.loads(json.dumps(config.to_card()))) == config


def test_attention_off_collapses_memory_to_one_slot():
    config = TBAConfig(attention=False)
    assert (config.num_slots, config.slot_dim, config.state_dim) == (1, 8 * 8 * 20, 80)
    model = TBA(config.smoke())
    assert model.trackers.rnn.input_size == 8 * 8 * 8


@pytest.mark.parametrize("ablation", list(ABLATIONS))
def test_registry_ablations_build_the_named_variant(ablation):
    spec, name = parse_method(f"tba:{ablation}")
    config = spec.config_for(name)
    json.dumps(config)  # the runner hashes method configs
    tracker = spec.build(name, smoke=True)
    assert tracker.config.variant == ablation
    assert tracker.inputs == frozenset({"image"})


def test_dataset_is_a_config_key():
    spec, name = parse_method("tba:TBAc-noMem")
    tracker = spec.build(name, dataset="mnist-mot", smoke=True)
    assert (tracker.config.channels, tracker.config.layers) == (1, 1)
    assert not tracker.config.memory_write and not tracker.config.act
    mnist_spec, _ = parse_method("tba-mnist:TBA")
    assert mnist_spec.config["dataset"] == "mnist-mot"


def test_same_seed_same_weights_and_other_seed_differs():
    a, b, c = (TBATracker(smoke=True, seed=s) for s in (3, 3, 4))
    sa, sb, sc = (t.model.state_dict() for t in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_chunk_forward_equals_frame_by_frame_with_carried_state():
    torch.manual_seed(0)
    model = TBA(TBAConfig(act=True).smoke())
    frames = torch.rand(2, 4, 3, 128, 128)
    reconstruction, outputs, state = model(frames, model.initial_state(2))
    assert reconstruction.shape == frames.shape
    assert outputs.conf.shape == (2, 4, 3) and outputs.appearance.shape == (2, 4, 3, 3, 21, 21)
    step_state = model.initial_state(2)
    for t in range(4):
        recon_t, out_t, step_state = model(frames[:, t : t + 1], step_state)
        torch.testing.assert_close(recon_t[:, 0], reconstruction[:, t])
        torch.testing.assert_close(out_t.pose[:, 0], outputs.pose[:, t])
    torch.testing.assert_close(step_state.h, state.h)
    losses = model.loss(reconstruction, frames, outputs)
    assert set(losses) >= {"reconstruction", "tightness", "entropy", "total"}
    assert torch.isfinite(losses["total"])


def test_tba_slots_new_id_each_rise_past_threshold():
    conf = np.array(
        [  # frames x slots
            [0.9, 0.1],
            [0.8, 0.5],  # 0.5 is not > 0.5
            [0.2, 0.7],  # slot 0 off, slot 1 born
            [0.6, 0.9],  # slot 0 reborn with a new id
        ]
    )
    slots = np.zeros((4, 2, 5))
    slots[..., :4] = [1, 2, 3, 4]
    slots[..., 0] += np.arange(4)[:, None]
    slots[..., 4] = conf
    result = slots_to_table(slots)
    assert result.frame.tolist() == [1, 2, 3, 4, 4]
    assert result.id.tolist() == [1, 1, 2, 3, 2]
    np.testing.assert_allclose(result.box[:, 0], [1, 2, 3, 4, 4])
    np.testing.assert_allclose(result.conf, [0.9, 0.8, 0.7, 0.6, 0.9])
    assert len(slots_to_table(np.zeros((3, 2, 5)))) == 0
    with pytest.raises(ValueError, match=r"\(T, I, 5\)"):
        slots_to_table(np.zeros((3, 5)))


def flickering(tracker: TBATracker, sequence) -> TBATracker:
    """Rewire y_e to the most frame-dependent hidden unit so that confidences cross 0.5 often
    (an untrained model's y_e hardly moves): exercises id births and deaths."""
    images = np.stack([sequence.frame(n) for n in range(1, sequence.num_frames + 1)])
    last = tracker.model.trackers.heads.mlp[-1]
    captured = []
    hook = last.register_forward_hook(lambda module, args, out: captured.append(args[0]))
    frames = torch.from_numpy(images).movedim(-1, -3).float()[None] / 255
    with torch.no_grad():
        tracker.model(frames, tracker.model.initial_state(1), render=False)
        hook.remove()
        # (T*I, hidden) after the first frames, where the recurrent state ramps up from zero
        hidden = torch.cat([c.reshape(-1, c.shape[-1]) for c in captured[5:]])
        unit = int(hidden.std(0).argmax())
        last.weight[0] = 0
        last.weight[0, unit] = 0.8 / hidden[:, unit].std()
        last.bias[0] = -last.weight[0, unit] * hidden[:, unit].median()
    return tracker


def test_slot_ids_frame_by_frame_equal_slots_to_table():
    rng = np.random.default_rng(0)
    slots = rng.random((60, 4, 5)) * [100, 100, 20, 20, 1]
    slots[rng.random((60, 4)) < 0.1, 4] = 0.5  # exactly at the threshold: not reported
    ids = SlotIds(4)
    stepped = outputs_to_table([ids.update(frame) for frame in slots])
    assert stepped.equals(slots_to_table(slots))
    assert len(np.unique(stepped.id)) > 20


@pytest.mark.parametrize("act", [True, False])
def test_step_ids_follow_the_tba_protocol_and_batched_track_matches(sequence, act):
    tracker = flickering(TBATracker(act=act, smoke=True, seed=1), sequence)
    tracker.reset(sequence_info(sequence))
    stepped = outputs_to_table([tracker.step(f) for f in frame_inputs(sequence, tracker.inputs)])
    assert len(np.unique(stepped.id)) >= 3

    # the same slots through slots_to_table on the whole video give the same ids
    tracker.reset(sequence_info(sequence))
    slots = []
    for frame in frame_inputs(sequence, tracker.inputs):
        images = torch.from_numpy(frame.image[None, None]).movedim(-1, -3).float() / 255
        chunk, tracker.state = tracker._slots(images, tracker.state, None)
        slots.append(chunk[0, 0])
    assert slots_to_table(np.stack(slots)).equals(stepped)

    # batched, with a shorter sequence padded: same tracks (float32 batch-size rounding aside)
    short = dataclasses.replace(sequence, name="short", num_frames=FRAMES - 7)
    tracker.chunk_frames = 8
    batched = tracker.track([short, sequence])
    for result, length in zip(batched, [FRAMES - 7, FRAMES]):
        expected = stepped.select(stepped.frame <= length)
        assert np.array_equal(result.frame, expected.frame)
        assert np.array_equal(result.id, expected.id)
        np.testing.assert_allclose(result.box, expected.box, atol=1e-3)
        np.testing.assert_allclose(result.conf, expected.conf, atol=1e-4)  # steep rewired y_e


def test_test_time_noise_never_reaches_the_tracks(sequence):
    """The Gumbel noise enters only the sampled layers and shapes (eq. 3), which feed the renderer
    and never the state, confidence or pose: stochastic tracks equal deterministic ones, so a
    released-protocol board's seeds repeat one evaluation."""

    def run(**mode):
        tracker = flickering(TBATracker(smoke=True, seed=5, **mode), sequence)
        return tracker.track([sequence])[0]

    deterministic = run()
    assert len(deterministic) > 0
    assert run(stochastic=True).equals(deterministic)


def test_wrong_frame_size_is_a_config_error(sequence):
    tracker = TBATracker(dataset="dukemtmc", smoke=True)
    with pytest.raises(ConfigError, match="108x192"):
        tracker.reset(sequence_info(sequence))


def test_checkpoint_round_trip(tmp_path, sequence):
    tracker = flickering(TBATracker(act=False, smoke=True, seed=2), sequence)
    tracker.save(tmp_path / "ckpt", iterations=7, curve=[{"iteration": 7, "total": 1.0}])
    assert (tmp_path / "ckpt.pt").is_file() and (tmp_path / "ckpt.json").is_file()
    card = read_card(tmp_path / "ckpt.pt")
    assert card["variant"] == "TBAc" and card["iterations"] == 7 and "code_version" in card
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())

    loaded = TBATracker(act=False, smoke=True, seed=99, checkpoint=str(tmp_path / "ckpt"))
    assert loaded.track([sequence])[0].equals(tracker.track([sequence])[0])
    model, _ = TBATracker.load_model(tmp_path / "ckpt")
    assert model.config == tracker.config
    with pytest.raises(ConfigError, match="holds another network.*act False vs True"):
        TBATracker(act=True, smoke=True, checkpoint=str(tmp_path / "ckpt"))
    with pytest.raises(ConfigError, match="not found"):
        TBATracker(checkpoint=str(tmp_path / "missing"))


def test_save_writes_config_card(tmp_path):
    model = TBA(TBAConfig.for_dataset("mnist-mot").smoke())
    TBATracker.from_model(model, {}).save(tmp_path / "m", seed=3)
    card = json.loads((tmp_path / "m.json").read_text())
    assert card["config"]["dataset"] == "mnist-mot" and card["seed"] == 3


def test_untrained_tba_completes_a_runner_cell(tmp_path):
    path = tmp_path / "tba.yaml"
    path.write_text(
        f"""\
name: tba-smoke
datasets:
  - name: sprites-mot
    split: eval
    root: {tmp_path / "cache"}
    params: {{eval_frames: 40}}
methods: ["tba:TBA"]
timing: {{warmup_frames: 5}}
""",
        encoding="utf-8",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        assert (summary.done, summary.failed) == (1, [])
        metrics = store.metrics_frame("tba-smoke")
    assert len(metrics) >= 1


def test_experiment_files_load_with_the_checkpoints_they_name():
    table1 = load_experiment(ROOT / "experiments" / "tba-table1.yaml")
    assert [cell.ablation for cell in expand(table1)] == ["TBA", "TBAc", "TBAc-noAtt", "TBAc-noMem"]
    mnist = ROOT / "experiments" / "tba-mnist.yaml"
    assert len(expand(load_experiment(mnist, check_methods=False))) == 3
    with pytest.raises(ConfigError, match="TBA checkpoint not found"):
        load_experiment(mnist)  # no MNIST-MOT model is published
