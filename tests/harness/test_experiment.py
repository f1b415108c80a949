"""Experiment files: validation errors with their line, name resolution, cell expansion, hashes."""

from __future__ import annotations

import textwrap

import pytest
from paths import FIXTURES, ROOT

from harness.errors import ConfigError
from harness.experiment import NO_DETECTIONS, PUBLIC_DETECTIONS, expand, load_experiment

VALID = """\
name: small
description: a test experiment
datasets:
  - name: sprites-mot
    split: eval
    params: {eval_frames: 300}
    detections:
      clean: {miss_rate: 0.0, jitter: 0.0, fp_rate: 0.0}
      noisy: {miss_rate: 0.1, jitter: 0.05, fp_rate: 0.5}
methods:
  - sort
  - sort:no-min-hits
  - iou
  - ground-truth
seeds: [0, 1]
timing: {warmup_frames: 5, device: cpu}
"""


def write(tmp_path, text: str, name: str = "exp.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_valid_experiment_loads(tmp_path):
    experiment = load_experiment(write(tmp_path, VALID))
    assert experiment.name == "small"
    assert experiment.datasets[0].detections["noisy"].fp_rate == 0.5
    assert experiment.seeds == [0, 1]
    assert experiment.timing.warmup_frames == 5
    assert experiment.protocol is None


def test_expansion_covers_every_combination_once(tmp_path):
    cells = expand(load_experiment(write(tmp_path, VALID)))
    # 3 detection-based refs x 2 noise levels x 2 seeds + ground truth (no detections) x 2 seeds
    assert len(cells) == 3 * 2 * 2 + 2
    keys = [tuple(c.key.values()) for c in cells]
    assert len(set(keys)) == len(keys)
    assert len({c.config_hash for c in cells}) == len(cells)
    gt = [c for c in cells if c.method == "ground-truth"]
    assert {c.detections for c in gt} == {NO_DETECTIONS} and all(c.noise is None for c in gt)
    noisy = next(c for c in cells if c.detections == "noisy" and c.method == "sort")
    assert noisy.noise == {"miss_rate": 0.1, "jitter": 0.05, "fp_rate": 0.5}
    ablated = next(c for c in cells if c.ablation == "no-min-hits")
    assert ablated.method_config["min_hits"] == 0
    assert all(c.protocol == "plain" for c in cells)  # the sprites-mot card's protocol
    # the file's order: methods as listed, then detection levels as listed, then seeds
    experiment = load_experiment(write(tmp_path, VALID))
    refs = [f"{c.method}:{c.ablation}" for c in cells]
    listed = [ref if ":" in ref else f"{ref}:default" for ref in experiment.methods]
    assert list(dict.fromkeys(refs)) == listed
    sort_cells = [(c.detections, c.seed) for c in cells if refs[cells.index(c)] == "sort:default"]
    levels = list(experiment.datasets[0].detections)
    assert sort_cells == [(level, seed) for level in levels for seed in experiment.seeds]


def test_hash_depends_on_the_result_determining_fields_only(tmp_path):
    base = {
        c.key["method"] + c.key["ablation"] + c.detections + str(c.seed): c.config_hash
        for c in expand(load_experiment(write(tmp_path, VALID)))
    }
    again = {
        c.key["method"] + c.key["ablation"] + c.detections + str(c.seed): c.config_hash
        for c in expand(
            load_experiment(write(tmp_path, VALID.replace("name: small", "name: other")))
        )
    }
    assert again == base  # the experiment name does not change a result
    changed = {
        c.key["method"] + c.key["ablation"] + c.detections + str(c.seed): c.config_hash
        for c in expand(
            load_experiment(write(tmp_path, VALID.replace("jitter: 0.05", "jitter: 0.06")))
        )
    }
    differs = {k for k in base if base[k] != changed[k]}
    assert differs == {k for k in base if "noisy" in k}
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in base.values())


def test_without_noise_levels_detection_methods_use_public_detections(tmp_path):
    text = VALID.replace(
        """    detections:
      clean: {miss_rate: 0.0, jitter: 0.0, fp_rate: 0.0}
      noisy: {miss_rate: 0.1, jitter: 0.05, fp_rate: 0.5}
""",
        "",
    )
    cells = expand(load_experiment(write(tmp_path, text)))
    assert {c.detections for c in cells if c.method == "sort"} == {PUBLIC_DETECTIONS}


BAD_CASES = {
    "yaml syntax": (
        "name: x\ndatasets:\n  - name: sprites-mot\n    split: [eval\nmethods: [sort]\n",
        5,
        "invalid YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 4)",
    ),
    "unknown top key": (
        VALID.replace("seeds: [0, 1]", "seed: [0, 1]"),
        15,
        "unknown key 'seed' (known: datasets, description, methods, name, protocol, seeds, timing);"
        " did you mean 'seeds'?",
    ),
    "unknown nested key": (VALID.replace("miss_rate: 0.1", "miss: 0.1"), 9, "unknown key 'miss'"),
    "unknown dataset": (
        VALID.replace("name: sprites-mot", "name: sprite-mot"),
        4,
        "did you mean 'sprites-mot'?",
    ),
    "unknown split": (VALID.replace("split: eval", "split: test"), 5, "no split 'test'"),
    "unknown param": (VALID.replace("eval_frames: 300", "frames: 300"), 6, "no parameter 'frames'"),
    "bad param value": (
        VALID.replace("eval_frames: 300", "eval_frames: -5"),
        6,
        "dataset 'sprites-mot' parameter 'eval_frames' must be an integer >= 1, got -5",
    ),
    "bad axis value": (
        VALID.replace(
            "params: {eval_frames: 300}", "axes:\n      sample_length:\n        - 4\n        - 1"
        ),
        9,
        "parameter 'sample_length' must be an integer >= 2 or null, got 1",
    ),
    "unknown tracker": (VALID.replace("  - iou\n", "  - iuo\n"), 13, "unknown tracker 'iuo'"),
    "unknown ablation": (
        VALID.replace("sort:no-min-hits", "sort:no-hits"),
        12,
        "unknown ablation 'no-hits'",
    ),
    "wrong type in list": (VALID.replace("seeds: [0, 1]", "seeds: [0, one]"), 15, "seeds[1]"),
    "wrong type of section": (
        VALID.replace("timing: {warmup_frames: 5, device: cpu}", "timing: fast"),
        16,
        "timing",
    ),
    "out of range": (
        VALID.replace("miss_rate: 0.1", "miss_rate: 1.5"),
        9,
        "less than or equal to 1",
    ),
    "unknown protocol": (VALID + "protocol: mot99\n", 17, "protocol"),
    "missing key": (
        VALID.replace("methods:\n  - sort\n  - sort:no-min-hits\n  - iou\n  - ground-truth\n", ""),
        1,
        "missing key 'methods'",
    ),
    "duplicate key": (VALID + "seeds: [3]\n", 17, "duplicate key 'seeds'"),
    "duplicate method": (VALID.replace("  - iou\n", "  - sort:default\n"), 13, "duplicate method"),
    "duplicate noise levels": (
        VALID.replace("miss_rate: 0.1, jitter: 0.05, fp_rate: 0.5", "fp_rate: 0.0"),
        9,
        "detections 'noisy' repeat the noise levels of 'clean'",
    ),
    "not a mapping": ("- just\n- a list\n", 1, "must be a mapping"),
    "empty method seeds": (
        VALID.replace("  - iou\n", "  - method: iou\n    seeds: []\n"),
        14,
        "methods[2].seeds: List should have at least 1 item",
    ),
    "method seeds not a list": (
        VALID.replace("  - iou\n", "  - method: iou\n    seeds: 3\n"),
        14,
        "methods[2].seeds: Input should be a valid list",
    ),
    "duplicate method seed": (
        VALID.replace("  - iou\n", "  - method: iou\n    seeds:\n      - 2\n      - 2\n"),
        16,
        "duplicate seed 2",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_errors_are_one_line_with_file_and_line(tmp_path, case):
    text, line, expected = BAD_CASES[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    error = info.value
    message = str(error)
    assert "\n" not in message
    assert expected in message
    assert error.path == str(path)
    assert error.line == line
    assert message.startswith(f"{path}:{error.line}: ")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError, match="experiment file not found"):
        load_experiment(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="empty experiment file"):
        load_experiment(write(tmp_path, "# only a comment\n"))


def test_the_dataset_adapter_chooses_the_protocol(tmp_path):
    """custom-mot's ``protocol`` param (not only the card) decides how its cells are scored."""
    path = write(
        tmp_path,
        f"""\
        name: custom
        datasets:
          - name: custom-mot
            split: all
            root: {FIXTURES / "mot" / "custom"}
            params: {{protocol: mot15}}
        methods: [ground-truth]
        """,
    )
    assert {c.protocol for c in expand(load_experiment(path))} == {"mot15"}


def test_kitti_protocols_are_refused_with_the_line(tmp_path):
    path = write(
        tmp_path,
        f"""\
        name: kitti
        datasets:
          - name: kitti-tracking
            split: training
            root: {FIXTURES / "kitti"}
        methods: [ground-truth]
        """,
    )
    with pytest.raises(ConfigError, match=r"exp.yaml:3: .*kitti protocol.*trackbench evaluate"):
        load_experiment(path)


def test_method_entries_override_config_and_change_the_hash(tmp_path):
    path = write(
        tmp_path,
        """\
        name: overrides
        datasets:
          - name: sprites-mot
            split: eval
            detections: {clean: {}}
        methods:
          - sort
          - method: sort:no-min-hits
            config: {iou_threshold: 0.5}
        """,
    )
    cells = {c.method_ref: c for c in expand(load_experiment(path))}
    assert cells["sort:default"].method_config["iou_threshold"] == 0.3
    overridden = cells["sort:no-min-hits"].method_config
    assert overridden["iou_threshold"] == 0.5 and overridden["min_hits"] == 0


def test_a_method_entry_runs_on_the_datasets_it_names(tmp_path):
    path = write(
        tmp_path,
        """\
        name: restricted
        datasets:
          - {name: sprites-mot, split: eval}
          - {name: mnist-mot, split: eval}
        methods:
          - ground-truth
          - {method: sort, datasets: [mnist-mot]}
        """,
    )
    cells = expand(load_experiment(path))
    ran = {(c.dataset, c.method_ref) for c in cells}
    assert ran == {
        ("sprites-mot", "ground-truth:default"),
        ("mnist-mot", "ground-truth:default"),
        ("mnist-mot", "sort:default"),
    }


@pytest.mark.parametrize(
    ("datasets", "problem"),
    [
        ("[mnist-mott]", r"exp.yaml:6: .*names dataset 'mnist-mott'.*mnist-mot"),
        ("[sprites-mot, sprites-mot]", r"exp.yaml:6: duplicate dataset 'sprites-mot'"),
    ],
)
def test_a_method_entrys_datasets_must_be_the_experiments(tmp_path, datasets, problem):
    path = write(
        tmp_path,
        f"""\
        name: restricted
        datasets:
          - {{name: sprites-mot, split: eval}}
          - {{name: mnist-mot, split: eval}}
        methods:
          - {{method: ground-truth, datasets: {datasets}}}
        """,
    )
    with pytest.raises(ConfigError, match=problem):
        load_experiment(path)


def test_unknown_override_key_names_its_line(tmp_path):
    path = write(
        tmp_path,
        """\
        name: overrides
        datasets:
          - name: sprites-mot
            split: eval
        methods:
          - method: sort
            config:
              iou_treshold: 0.5
        """,
    )
    with pytest.raises(
        ConfigError, match=r"exp.yaml:8: .*no config key 'iou_treshold'.*iou_threshold"
    ):
        load_experiment(path)


def test_method_entry_seeds_replace_the_experiments_for_that_method(tmp_path):
    text = VALID.replace("  - iou\n", "  - {method: iou, seeds: [7]}\n")
    cells = expand(load_experiment(write(tmp_path, text)))
    seeds = {(c.method_ref, c.detections): [] for c in cells}
    for c in cells:
        seeds[(c.method_ref, c.detections)].append(c.seed)
    assert seeds[("iou:default", "clean")] == [7] and seeds[("iou:default", "noisy")] == [7]
    assert seeds[("sort:default", "clean")] == [0, 1]
    assert len(cells) == 2 * 2 * 2 + 2 + 2  # two sort variants, iou, ground-truth (no dets)


def test_the_timing_device_is_the_device_of_methods_that_take_one(tmp_path):
    text = VALID.replace(
        "  - ground-truth\n",
        '  - ground-truth\n  - "tba:TBA"\n  - {method: "tba:TBAc", config: {device: "cuda:1"}}\n',
    )
    experiment = load_experiment(write(tmp_path, text))
    on_cpu = {(c.method, c.ablation, c.seed): c for c in expand(experiment)}
    assert on_cpu[("tba", "TBA", 0)].method_config["device"] == "cpu"

    moved = {(c.method, c.ablation, c.seed): c for c in expand(experiment.on_device("cuda"))}
    assert experiment.timing.device == "cpu"  # on_device returns a copy
    tba = moved[("tba", "TBA", 0)]
    assert tba.device == "cuda" and tba.method_config["device"] == "cuda"
    assert tba.config_hash != on_cpu[("tba", "TBA", 0)].config_hash
    assert moved[("tba", "TBAc", 0)].method_config["device"] == "cuda:1"  # the entry's own wins
    assert "device" not in moved[("sort", "default", 0)].method_config  # SORT has no device key


def test_online_samples_reach_the_cells_and_their_hash_only_when_set(tmp_path):
    plain = expand(load_experiment(write(tmp_path, VALID)))
    limited = expand(
        load_experiment(write(tmp_path, VALID.replace("device: cpu}", "online_samples: 20}")))
    )
    assert {c.online_samples for c in plain} == {None}
    assert {c.online_samples for c in limited} == {20}
    assert "online_samples" not in plain[0].identity()["timing"]
    assert plain[0].config_hash != limited[0].config_hash
    with pytest.raises(ConfigError, match=r"exp.yaml:\d+: .*online_samples"):
        load_experiment(write(tmp_path, VALID.replace("device: cpu}", "online_samples: 0}")))


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ("{length: -5}", "parameter 'length' must be an integer >= 2, got -5"),
        ("{sequences: 0}", "parameter 'sequences' must be an integer >= 1, got 0"),
        ("{sequences: many}", "parameter 'sequences' must be an integer >= 1, got 'many'"),
    ],
)
def test_a_generated_set_s_bad_param_value_is_refused_with_its_line(tmp_path, params, problem):
    text = """\
        name: bad-param
        datasets:
          - name: mnist-single-same
            split: test
            params: PARAMS
        methods: [constant-box]
        """
    path = write(tmp_path, text.replace("PARAMS", params))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert str(info.value) == f"{path}:5: dataset 'mnist-single-same' {problem}"


CHECKPOINTED = """\
    name: checkpointed
    datasets:
      - {name: sprites-mot, split: eval}
    methods:
      - sort
      - method: tba
        config:
          checkpoint: CHECKPOINT
    """


def test_a_missing_checkpoint_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, CHECKPOINTED.replace("CHECKPOINT", "trained/seed-{seed}/last"))
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    card = tmp_path / "trained" / "seed-0" / "last.json"
    assert str(info.value) == (
        f"{path}:8: TBA checkpoint not found (make one with `trackbench train`): {card}"
    )


def test_a_checkpoint_that_exists_loads(tmp_path):
    published = ROOT / "checkpoints" / "tba" / "sprites-mot" / "TBA" / "last"
    (cell,) = [
        c
        for c in expand(
            load_experiment(write(tmp_path, CHECKPOINTED.replace("CHECKPOINT", str(published))))
        )
        if c.method == "tba"
    ]
    assert cell.method_config["checkpoint"] == str(published)
