"""Model provenance: the tracker hook, its storage with each cell, the board's Models section
and the regression gate's note when weights change."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
import torch

from harness.compare import compare, table_notes, to_markdown, weights_changed
from harness.experiment import Cell, load_experiment
from harness.provenance import cpu_name, device_description, device_name, file_sha256
from harness.results.board import write_report
from harness.results.sections import describe_model, failure_lines, model_lines
from harness.results.summary import KEY
from harness.runner import run_experiment
from harness.store import COMBINED, Store, utc_now
from trackers.tba.config import TBAConfig
from trackers.tba.model import TBA
from trackers.tba.tracker import TBATracker

HARDWARE = [  # a run trained partly on a CPU, then resumed on a GPU (train.py's segments)
    {"from_iteration": 0, "to_iteration": 600, "device": "cpu", "iterations_per_s": 0.2},
    {"from_iteration": 600, "to_iteration": 1800, "device": "cuda", "iterations_per_s": 9.0},
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A smoke Sprites-MOT TBA checkpoint whose card has every fact provenance copies."""
    path = tmp_path_factory.mktemp("ckpt") / "TBA" / "last"
    model = TBA(TBAConfig.for_dataset("sprites-mot").smoke())
    TBATracker.from_model(model, {}).save(
        path,
        seed=5,
        iterations=1800,
        metrics={"MOTA": 0.9},
        hardware=HARDWARE,
    )
    return path


# ----------------------------------------------------------------------------- tracker hook


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(bytes(range(256)) * 1000)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_device_without_a_gpu_is_named_by_its_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cpu_name()
    assert device_name("cpu") == device_name(torch.device("cuda:0")) == cpu_name()
    assert device_description("cuda:0") == f"cuda:0 ({cpu_name()})"


def test_untrained_tba_says_it_is_untrained():
    provenance = TBATracker(smoke=True).provenance()
    assert provenance == {
        "checkpoint": None,
        "trained": False,
        "variant": "TBA",
        "dataset": "sprites-mot",
    }


def test_trained_tba_names_its_weights_and_card(checkpoint):
    provenance = TBATracker(smoke=True, checkpoint=str(checkpoint)).provenance()
    digest = hashlib.sha256(checkpoint.with_name("last.pt").read_bytes()).hexdigest()
    assert provenance == {
        "checkpoint": str(checkpoint),
        "trained": True,
        "sha256": digest,
        "variant": "TBA",
        "dataset": "sprites-mot",
        "iterations": 1800,
        "seed": 5,
        "batch": 4,
        "trained_on": "cpu, cuda",
        "metrics": {"MOTA": 0.9},
        "hardware": HARDWARE,
    }
    assert json.loads(json.dumps(provenance)) == provenance


def test_card_without_training_facts_leaves_them_out(tmp_path):
    TBATracker(act=False, smoke=True).save(tmp_path / "bare")
    provenance = TBATracker(act=False, smoke=True, checkpoint=str(tmp_path / "bare")).provenance()
    assert provenance["variant"] == "TBAc" and provenance["trained"] is True
    assert not {"iterations", "seed", "trained_on", "metrics", "hardware"} & set(provenance)


# ----------------------------------------------------------------------------- store and runner


def tba_cell(seed: int = 0) -> Cell:
    return Cell(
        experiment="exp",
        dataset="sprites-mot",
        split="eval",
        detections="none",
        method="tba",
        ablation="TBA",
        seed=seed,
        method_config={},
        dataset_params={},
        noise=None,
        protocol="plain",
        warmup_frames=0,
        device="cpu",
    )


def test_runner_stores_each_cells_provenance(tmp_path, checkpoint):
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"""\
name: prov
datasets:
  - name: sprites-mot
    split: eval
    root: {tmp_path / "cache"}
    params: {{eval_frames: 30}}
    detections: {{clean: {{}}}}
methods:
  - ground-truth
  - {{method: "tba:TBA", config: {{smoke: true, checkpoint: "{checkpoint}"}}, seeds: [0]}}
seeds: [0, 1]
timing: {{warmup_frames: 2}}
""",
        encoding="utf-8",
    )
    with Store(tmp_path / "results.sqlite") as store:
        summary = run_experiment(load_experiment(path), store)
        assert (summary.done, summary.failed) == (3, [])
        models = store.provenance_frame("prov")
    expected = TBATracker(smoke=True, checkpoint=str(checkpoint)).provenance()
    by_method = models.groupby("method")["provenance"].agg(list).to_dict()
    assert by_method == {"ground-truth": [None, None], "tba": [expected]}


def test_rerun_pending_or_failed_cell_loses_its_old_provenance(tmp_path):
    with Store(tmp_path / "r.sqlite") as store:
        cell = tba_cell()
        store.add_pending(store.start_run("exp", "cpu"), [cell])
        store.record_done(cell, {"sequences": {}, "combined": {}}, {}, utc_now(), {"sha256": "a"})
        store.add_pending(store.start_run("exp", "cpu"), [cell])
        assert store.cells("exp")["status"].tolist() == ["pending"]
        store.record_failed(cell, "ValueError: x", "tb", utc_now())
        raw = store._db.execute("SELECT provenance FROM cells").fetchall()
    assert raw == [(None,)]


# ----------------------------------------------------------------------------- report

TRAINED = {
    "checkpoint": "checkpoints/tba/sprites-mot/TBA/last",
    "trained": True,
    "sha256": "1a2b3c4d" + "0" * 56,
    "iterations": 1800,
    "seed": 0,
    "batch": 8,
    "trained_on": "cpu",
}


def models_frame(rows: list[tuple[str, str, int, dict | None]]) -> pd.DataFrame:
    """A ``Store.provenance_frame``-like frame: (method, ablation, seed, provenance) rows."""
    return pd.DataFrame(
        [
            {
                "experiment": "exp",
                "dataset": "sprites-mot",
                "split": "eval",
                "detections": "none",
                "method": method,
                "ablation": ablation,
                "seed": seed,
                "provenance": provenance,
            }
            for method, ablation, seed, provenance in rows
        ]
    )


def test_a_checkpoint_below_the_working_directory_is_shown_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = {**TRAINED, "checkpoint": str(tmp_path / "checkpoints" / "TBA" / "last")}
    assert describe_model(inside).startswith("checkpoints/TBA/last, sha256 1a2b3c4d")
    outside = {**TRAINED, "checkpoint": "/elsewhere/TBA/last"}
    assert describe_model(outside).startswith("/elsewhere/TBA/last, sha256")
    cells = pd.DataFrame(
        {
            **dict.fromkeys(KEY, "x"),
            "axes": "",
            "seed": [0, 1],
            "status": ["failed", "interrupted"],
            "error": [f"ConfigError: {tmp_path}/checkpoints/TBAc/last.json: not found", None],
        }
    )
    assert failure_lines(cells) == [
        "x/x/x x:x (seed 0): ConfigError: checkpoints/TBAc/last.json: not found",
        "x/x/x x:x (seed 1): interrupted (run again to resume)",
    ]


def test_describe_model_as_one_phrase():
    assert describe_model(TRAINED) == (
        "checkpoints/tba/sprites-mot/TBA/last, sha256 1a2b3c4d, 1,800 iterations"
        " (batch 8, seed 0, trained on cpu)"
    )
    assert describe_model({"checkpoint": None, "trained": False}) == "untrained (no checkpoint)"
    published = {
        **TRAINED,
        "hardware": [{"seconds": 3000.0}, {"seconds": 6000.0}],
        "stored_dtype": "float16",
    }
    assert describe_model(published).endswith(
        "(batch 8, seed 0, trained on cpu for 2.5 h, weights stored as float16)"
    )
    assert describe_model({"hardware": [{"seconds": 600.0}]}) == "model (trained for 10 min)"


def test_model_lines_one_per_row_and_mixed_models_said():
    other = {**TRAINED, "sha256": "5e6f7a8b" + "0" * 56, "iterations": 900}
    lines = model_lines(
        models_frame(
            [
                ("tba", "TBA", 0, TRAINED),
                ("tba", "TBA", 1, TRAINED),
                ("tba", "TBAc", 0, TRAINED),
                ("tba", "TBAc", 1, other),
                ("tba", "TBAc-noMem", 0, {"checkpoint": None, "trained": False}),
                ("sort", "default", 0, None),
            ]
        )
    )
    assert lines == [
        f"sprites-mot/eval/none tba:TBA: {describe_model(TRAINED)}",
        f"sprites-mot/eval/none tba:TBAc: mixes 2 models: {describe_model(TRAINED)}; "
        f"{describe_model(other)}",
        "sprites-mot/eval/none tba:TBAc-noMem: untrained (no checkpoint)",
    ]
    rows = models_frame([("tba", "TBA", 0, TRAINED)] * 3).assign(
        dataset=["sprites-mot", "sprites-mot", "mnist-mot"], axes=["n=1", "n=2", "n=1"]
    )
    assert model_lines(rows) == [
        f"tba:TBA (3 rows: sprites-mot/eval, mnist-mot/eval): {describe_model(TRAINED)}"
    ]


def results_frame(methods: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "experiment": "exp",
                "dataset": "sprites-mot",
                "split": "eval",
                "detections": "none",
                "method": method,
                "ablation": ablation,
                "seed": 0,
                "sequence": COMBINED,
                "metric": metric,
                "value": 0.5,
            }
            for method, ablation in methods
            for metric in ("MOTA", "IDF1")
        ]
    )


def test_report_has_an_escaped_models_section(tmp_path):
    odd = {**TRAINED, "checkpoint": "ck_pts/<a>|b&c%"}
    frame = results_frame([("tba", "TBA"), ("sort", "default")])
    models = models_frame([("tba", "TBA", 0, odd), ("sort", "default", 0, None)])
    write_report(frame, tmp_path, "exp", models=models)
    markdown = (tmp_path / "leaderboard.md").read_text(encoding="utf-8")
    html = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    latex = (tmp_path / "leaderboard.tex").read_text(encoding="utf-8")
    assert "## Models" in markdown
    assert r"- sprites-mot/eval/none tba:TBA: ck_pts/\<a>\|b&c%, sha256 1a2b3c4d" in markdown
    assert (
        "<h2>Models</h2>" in html
        and "<li>sprites-mot/eval/none tba:TBA: ck_pts/&lt;a&gt;|b&amp;c%" in html
    )
    assert r"\paragraph{Models}" in latex
    assert (
        r"\item sprites-mot/eval/none tba:TBA: ck\_pts/\textless{}a\textgreater{}\textbar{}b\&c\%"
        in latex
    )
    assert "sort" not in markdown.split("## Models")[1].split("\n- Cells")[0]
    write_report(frame, tmp_path / "plain", "exp")
    assert "Models" not in (tmp_path / "plain" / "leaderboard.md").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- compare


def test_weights_changed_lines_per_method():
    new = {**TRAINED, "sha256": "5e6f7a8b" + "0" * 56}
    base = models_frame([("tba", "TBA", 0, TRAINED), ("tba", "TBAc", 0, TRAINED)])
    changed = models_frame([("tba", "TBA", 0, new), ("tba", "TBAc", 0, TRAINED)])
    assert weights_changed(changed, base) == [
        "Weights changed for tba:TBA: baseline sha256 1a2b3c4d, new 5e6f7a8b (informational)."
    ]
    assert weights_changed(base, base) == []
    untrained = models_frame([("tba", "TBA", 0, {"checkpoint": None, "trained": False})])
    assert weights_changed(untrained, base[:1]) == [
        "Weights changed for tba:TBA: baseline sha256 1a2b3c4d, new none (untrained)"
        " (informational)."
    ]
    no_provenance = models_frame([("tba", "TBA", 0, None)])  # an older database
    assert weights_changed(no_provenance, base) == []


def test_compare_notes_changed_weights_without_failing():
    frame = results_frame([("tba", "TBA")])
    base = models_frame([("tba", "TBA", 0, TRAINED)])
    new = models_frame([("tba", "TBA", 0, {**TRAINED, "sha256": "f" * 64})])
    result = compare(frame, frame, metrics="MOTA,IDF1", new_models=new, baseline_models=base)
    assert result.passed and len(result.weights_changed) == 1
    assert result.weights_changed[0] in table_notes(result)
    assert "new ffffffff" in to_markdown(result, "t") and result.to_dict()["weights_changed"]
    assert compare(frame, frame, metrics="MOTA,IDF1").weights_changed == ()


def write_db(path, sha256: str):
    with Store(path) as store:
        cell = tba_cell()
        store.add_pending(store.start_run("exp", "cpu"), [cell])
        values = {"MOTA": 0.6, "IDF1": 0.7}
        evaluation = {"sequences": {"seq": values}, "combined": values}
        store.record_done(cell, evaluation, {}, utc_now(), {**TRAINED, "sha256": sha256})
    return path


def test_cli_compare_says_the_weights_changed(trackbench, tmp_path):
    base = write_db(tmp_path / "old.sqlite", "1a2b3c4d" + "0" * 56)
    new = write_db(tmp_path / "new.sqlite", "5e6f7a8b" + "0" * 56)
    code, out, _ = trackbench("compare", new, "--baseline", base, "--metrics", "MOTA,IDF1")
    assert code == 0
    assert "Weights changed for tba:TBA: baseline sha256 1a2b3c4d, new 5e6f7a8b" in out
    code, out, _ = trackbench("compare", base, "--baseline", base, "--metrics", "MOTA,IDF1")
    assert code == 0 and "Weights changed" not in out
