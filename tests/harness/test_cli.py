"""The command line: listings, evaluate, run/report, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import yaml

from harness import registry
from harness.cli import _parse_params
from harness.errors import FormatError
from harness.metrics.catalogue import CLEAR, COUNT, HOTA, IDENTITY, names_of

# The keys ``evaluate --json`` has always documented (it emits every metric of these families).
DOCUMENTED_KEYS = "MOTA MOTP IDF1 IDP IDR HOTA DetA AssA LocA FP FN IDSW Frag MT PT ML".split()


@pytest.fixture
def tud(motmetrics_data, tmp_path):
    """TUD gt in a ``<seq>/gt.txt`` folder and the motmetrics test results as ``<seq>.txt``."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    pred.mkdir()
    for seq in ("TUD-Campus", "TUD-Stadtmitte"):
        (gt / seq).mkdir(parents=True)
        shutil.copy(motmetrics_data / seq / "gt.txt", gt / seq / "gt.txt")
        shutil.copy(motmetrics_data / seq / "test.txt", pred / f"{seq}.txt")
    return gt, pred


def test_trackers_list(trackbench):
    code, out, _ = trackbench("trackers", "list")
    assert code == 0
    for text in (
        "sort",
        "no-min-hits",
        "min_hits=0",
        "iou",
        "offline",
        "ground-truth",
        "detections",
        "Bewley",
        "default",
    ):
        assert text in out


NO_TORCH = """
import json, sys
from harness.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps([code, sorted(m for m in sys.modules if m.split(".")[0] == "torch")]))
"""


@pytest.mark.parametrize("args", [["--help"], ["trackers", "list"]], ids=" ".join)
def test_help_and_the_trackers_list_import_no_torch(args):
    run = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, check=True
    )
    code, torch_modules = json.loads(run.stdout.splitlines()[-1])
    assert code == 0 and torch_modules == []


def test_datasets_list_and_info(trackbench):
    code, out, _ = trackbench("datasets", "list")
    assert code == 0 and "sprites-mot" in out and "mnist-mot" in out
    code, out, _ = trackbench("datasets", "info", "sprites-mot")
    card = yaml.safe_load(out)
    assert code == 0 and card["name"] == "sprites-mot" and "eval" in card["splits"]


def test_evaluate_json_has_the_documented_keys(trackbench, tud):
    gt, pred = tud
    code, out, _ = trackbench("evaluate", "--gt", gt, "--pred", pred, "--json")
    assert code == 0
    result = json.loads(out)
    assert set(result["sequences"]) == {"TUD-Campus", "TUD-Stadtmitte"}
    for values in [*result["sequences"].values(), result["combined"]]:
        assert list(values) == names_of([CLEAR, IDENTITY, HOTA, COUNT])  # catalogue order
        assert set(DOCUMENTED_KEYS) <= set(values)
        assert 0 < values["MOTA"] < 1 and 0 < values["IDF1"] < 1
        assert all(
            isinstance(values[k], int) for k in ("FP", "FN", "IDSW", "Frag", "MT", "PT", "ML")
        )
        errors = values["FP"] + values["FN"] + values["IDSW"]
        assert values["MOTA"] == pytest.approx(1 - errors / values["GT_Dets"])


def test_evaluate_engines_agree_and_an_unknown_one_is_refused(trackbench, tud):
    gt, pred = tud
    outputs = [
        json.loads(trackbench("evaluate", "--gt", gt, "--pred", pred, "--json", *engine)[1])
        for engine in ((), ("--engine", "trackeval"))
    ]
    ours, theirs = ({**r["sequences"], "COMBINED": r["combined"]} for r in outputs)
    assert ours.keys() == theirs.keys()
    for scope, values in theirs.items():
        assert ours[scope] == pytest.approx(values, abs=1e-12, rel=0), scope
    code, _, err = trackbench("evaluate", "--gt", gt, "--pred", pred, "--engine", "fast")
    assert code == 2 and "unknown evaluation engine 'fast'" in err


def test_evaluate_prints_a_table(trackbench, tud):
    gt, pred = tud
    code, out, _ = trackbench("evaluate", "--gt", gt, "--pred", pred)
    assert code == 0
    for text in ("MOTA", "IDF1", "HOTA", "Frag", "TUD-Campus", "TUD-Stadtmitte", "COMBINED"):
        assert text in out
    rows = {line.split()[1]: line.split()[3:-1:2] for line in out.splitlines() if "│" in line}
    assert list(rows)[:3] == ["MOTA", "MOTP", "IDF1"]  # catalogue order
    assert rows["MOTA"] == ["52.6", "56.4", "55.5"]  # in %
    assert all(re.fullmatch(r"\d\.\d\d", faf) for faf in rows["FAF"])  # a plain value, 2 decimals
    assert rows["GT_Dets"][-1] == "1,515"


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\ndatasets: []\nmethod: [sort]\n", encoding="utf-8")
    (tmp_path / "gt.txt").write_text(
        "1,1,10,10,5,5,1,1,1\n1,2,abc,10,5,5,1,1,1\n", encoding="utf-8"
    )
    (tmp_path / "pred.txt").write_text("1,1,10,10,5,5,1,-1,-1,-1\n", encoding="utf-8")
    return tmp_path


ERROR_CASES = {
    "missing experiment": (
        ["run", "{d}/missing.yaml"],
        "{d}/missing.yaml: experiment file not found",
    ),
    "bad experiment": (["run", "{d}/bad.yaml"], "{d}/bad.yaml:3: unknown key 'method'"),
    "malformed gt": (
        ["evaluate", "--gt", "{d}/gt.txt", "--pred", "{d}/pred.txt"],
        "{d}/gt.txt:2: column 3 is not a number: 'abc'",
    ),
    "missing gt": (["evaluate", "--gt", "{d}/nope.txt", "--pred", "{d}/pred.txt"], "nope.txt"),
    "unknown protocol": (
        ["evaluate", "--gt", "{d}/pred.txt", "--pred", "{d}/pred.txt", "--protocol", "mot99"],
        "unknown evaluation protocol 'mot99'",
    ),
    "missing database": (
        ["report", "--db", "{d}/none.sqlite", "--out", "{d}/out"],
        "{d}/none.sqlite: results database not found",
    ),
    "unknown dataset": (["datasets", "info", "sprite-mot"], "did you mean 'sprites-mot'?"),
    "unknown command": (["frobnicate"], "No such command 'frobnicate'"),
    "missing option": (["evaluate", "--gt", "{d}/gt.txt"], "Missing option '--pred'"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_print_one_line_and_exit_2(trackbench, bad_files, case):
    args, expected = ERROR_CASES[case]
    code, out, err = trackbench(*(a.format(d=bad_files) for a in args))
    assert code == 2
    assert out == ""
    assert err.startswith("trackbench: error: ") and err.count("\n") == 1
    assert expected.format(d=bad_files) in err
    assert "Traceback" not in err


def test_installed_entry_point_errors_and_debug(tmp_path):
    missing = tmp_path / "missing.yaml"
    command = [sys.executable, "-m", "harness.cli"]
    done = subprocess.run(
        [*command, "run", str(missing)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr == f"trackbench: error: {missing}: experiment file not found\n"
    for line in (["--debug", "run", str(missing)], ["run", str(missing), "--debug"]):
        debug = subprocess.run([*command, *line], capture_output=True, text=True, timeout=120)
        assert debug.returncode != 0, line
        assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr, line


def test_debug_after_the_subcommand_and_after_double_dash(trackbench, tmp_path):
    from harness.cli import _debug_first

    assert _debug_first(["run", "x.yaml", "--debug"]) == ["--debug", "run", "x.yaml"]
    assert _debug_first(["run", "--", "--debug"]) == ["run", "--", "--debug"]
    with pytest.raises(FormatError):  # the exception itself, not a one-line error
        trackbench("evaluate", "--gt", tmp_path / "gt.txt", "--pred", tmp_path, "--debug")


@pytest.mark.parametrize("command", [[], ["run"], ["evaluate"], ["compare"], ["train"]])
def test_help_shows_flags_as_flags(trackbench, command):
    code, out, _ = trackbench(*command, "--help")
    assert code == 0 and "<bool>" not in out
    flags = {
        (): "--debug  Show tracebacks",
        ("run",): "--report / --no-report",
        ("evaluate",): "--json ",
        ("compare",): "--speed / --no-speed",
        ("train",): "--resume / --no-resume",
    }[tuple(command)]
    assert flags in out


LIGHT_START = """import sys
from harness.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("torch", "seaborn", "matplotlib", "datasets", "pandas", "scipy", "trackeval")
print(" ".join(name for name in heavy if name in sys.modules), file=sys.stderr)
"""


def test_help_and_evaluate_import_only_what_they_need(tmp_path, motmetrics_data):
    script = tmp_path / "light.py"
    script.write_text(LIGHT_START, encoding="utf-8")

    def imported(*args) -> set[str]:
        command = [sys.executable, str(script), *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return set(done.stderr.splitlines()[-1].split()) if done.stderr.strip() else set()

    assert imported("--help") == set()
    assert imported("run", "--help") == set()
    gt, pred = (motmetrics_data / "TUD-Campus" / name for name in ("gt.txt", "test.txt"))
    # SciPy's assignment solver is loaded without the scipy package; TrackEval only on request.
    assert imported("evaluate", "--gt", gt, "--pred", pred) == set()  # Arrow reads plain files
    on_trackeval = imported("evaluate", "--gt", gt, "--pred", pred, "--engine", "trackeval")
    assert on_trackeval == {"scipy", "trackeval"}


def test_run_then_report(trackbench, tmp_path):
    experiment = tmp_path / "tiny.yaml"
    experiment.write_text(
        textwrap.dedent(f"""\
        name: tiny
        datasets:
          - name: sprites-mot
            split: eval
            root: {tmp_path / "cache"}
            params: {{eval_frames: 200}}
            detections:
              noisy: {{miss_rate: 0.1, jitter: 0.05, fp_rate: 0.2}}
        methods: [iou, ground-truth]
        seeds: [0, 1]
        """),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    code, stdout, err = trackbench("run", experiment, "--out", out)
    assert code == 0, err
    assert "tiny: 4 cells, 0 already done, 4 done now, 0 failed" in err
    for name in (
        "results.sqlite",
        "leaderboard.md",
        "leaderboard.html",
        "leaderboard.csv",
        "leaderboard.png",
    ):
        assert (out / name).is_file()
    assert "ground-truth" in (out / "leaderboard.md").read_text(encoding="utf-8")

    code, _, err = trackbench("run", experiment, "--out", out, "--no-report")
    assert code == 0 and "4 already done, 0 done now" in err

    code, stdout, _ = trackbench(
        "report", "--db", out / "results.sqlite", "--out", tmp_path / "board"
    )
    assert code == 0 and "leaderboard.md" in stdout
    assert (tmp_path / "board" / "leaderboard.html").is_file()

    code, stdout, _ = trackbench("report", "--db", out / "results.sqlite", "--format", "json")
    board = json.loads(stdout)
    assert code == 0 and board["experiment"] == "tiny"
    csv = pd.read_csv(tmp_path / "board" / "leaderboard.csv").set_index("method")
    for row in board["rows"]:
        assert row["n"] == 2 and row["method"] in ("iou", "ground-truth")
        assert list(row["metrics"])[:3] == ["MOTA", "MOTP", "IDF1"]  # catalogue order
        for name in ("MOTA", "FP", "fps"):
            cell = row["metrics"][name]
            assert (cell["spread"], cell["n"]) == ("seeds", 2)
            assert cell["mean"] == pytest.approx(csv.loc[row["method"], f"{name}_mean"])
            assert cell["std"] == pytest.approx(csv.loc[row["method"], f"{name}_std"])
    code, _, err = trackbench("report", "--db", out / "results.sqlite")
    assert code == 2 and "--out is needed" in err


def test_run_with_failed_cells_exits_1(trackbench, tmp_path):
    experiment = tmp_path / "mnist.yaml"
    experiment.write_text(
        textwrap.dedent(f"""\
        name: no-digits
        datasets:
          - name: mnist-mot
            split: eval
            root: {tmp_path / "cache"}
            params: {{eval_frames: 50, mnist_dir: {tmp_path / "missing"}}}
        methods: [ground-truth]
        """),
        encoding="utf-8",
    )
    code, _, err = trackbench("run", experiment, "--out", tmp_path / "run")
    assert code == 1
    assert "1 failed" in err and "failed: mnist-mot/eval/none ground-truth:default seed 0" in err
    assert "no scored cells, no report written" in err


def test_the_board_lists_the_cells_that_failed(trackbench, tmp_path, monkeypatch):
    registry.load_plugins()
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    registry.register_method(  # unlike its class (SORT takes detections): its cells fail
        "mislabelled", "trackers.baselines.sort:SORT", {}, kind="multi-object", inputs={"image"}
    )
    experiment = tmp_path / "partly.yaml"
    experiment.write_text(
        textwrap.dedent(f"""\
        name: partly
        datasets:
          - name: sprites-mot
            split: eval
            root: {tmp_path / "cache"}
            params: {{eval_frames: 30}}
        methods:
          - ground-truth
          - mislabelled
        seeds: [0, 1]
        """),
        encoding="utf-8",
    )
    code, _, _ = trackbench("run", experiment, "--out", tmp_path / "run")
    assert code == 1
    board = (tmp_path / "run" / "leaderboard.md").read_text(encoding="utf-8")
    failed = board.split("## Failed or unfinished cells\n\n")[1].splitlines()[0]
    assert failed.startswith("- ") and "mislabelled (seeds 0, 1): ConfigError:" in failed
    assert "is registered as a multi-object tracker" in failed and "ground-truth" not in failed
    for suffix in ("html", "tex"):
        board = (tmp_path / "run" / f"leaderboard.{suffix}").read_text()
        assert "Failed or unfinished cells" in board


INPUT_ERRORS = {
    "dataset param": (
        "params: {eval_frames: -5}",
        "",
        5,
        "dataset 'sprites-mot' parameter 'eval_frames' must be an integer >= 1, got -5",
    ),
    "missing checkpoint": (
        "params: {eval_frames: 30}",
        "  - method: tba\n    config: {checkpoint: none/last}\n",
        9,
        "TBA checkpoint not found (make one with `trackbench train`): {folder}/none/last.json",
    ),
}


@pytest.mark.parametrize("case", list(INPUT_ERRORS))
def test_input_errors_exit_2_before_any_cell_starts(trackbench, tmp_path, case):
    params, method, line, problem = INPUT_ERRORS[case]
    experiment = tmp_path / "bad.yaml"
    experiment.write_text(
        "name: bad\ndatasets:\n  - name: sprites-mot\n    split: eval\n"
        f"    {params}\nmethods:\n  - ground-truth\n{method}",
        encoding="utf-8",
    )
    code, out, err = trackbench("run", experiment, "--out", tmp_path / "run")
    assert code == 2 and out == ""
    message = problem.format(folder=tmp_path)
    assert err == f"trackbench: error: {experiment}:{line}: {message}\n"
    assert not (tmp_path / "run").exists()  # no results database, no cell


def test_reproduce_runs_a_tables_experiment_and_puts_the_paper_beside(
    trackbench, tmp_path, monkeypatch
):
    from harness import papers

    (tmp_path / "papers").mkdir()
    (tmp_path / "exp.yaml").write_text(
        textwrap.dedent(f"""\
        name: tiny-repro
        datasets:
          - name: sprites-mot
            split: eval
            root: {tmp_path / "cache"}
            params: {{eval_frames: 60}}
        methods: [ground-truth]
        """)
    )
    (tmp_path / "papers" / "paper.yaml").write_text(
        textwrap.dedent("""\
        paper: "A paper"
        source: "here"
        tables:
          - id: tiny-t1
            table: "Table 1"
            experiment: ../exp.yaml
            caption: "Ground truth scores."
            dataset: sprites-mot
            split: eval
            protocol: plain
            columns:
              - {name: MOTA, metric: MOTA, direction: up, unit: percent}
            rows:
              - {name: GT, method: ground-truth, values: [99.0]}
          - id: tiny-t2
            table: "Table 2"
            caption: "Not runnable."
            dataset: sprites-mot
            split: eval
            protocol: plain
            columns:
              - {name: MOTA, metric: MOTA, direction: up, unit: percent}
            rows:
              - {name: Other, values: [50.0]}
        """)
    )
    monkeypatch.setattr(papers, "PAPERS_DIR", tmp_path / "papers")
    code, _, _ = trackbench("reproduce", "tiny-t1", "--out", tmp_path / "run")
    board = (tmp_path / "run" / "leaderboard.md").read_text()
    assert code == 0 and "## Paper: tiny-t1" in board and "100.0 / 99.0 (+1.0)" in board
    code, _, err = trackbench("reproduce", "tiny-t2")
    assert code == 2 and "has no experiment" in err and "tiny-t1" in err


def test_key_value_options_read_exponent_numbers_as_floats():
    # YAML 1.1 leaves "1e-4" a string; a learning rate given so must still be a number
    assert _parse_params(["lr=1e-4", "eps=3.3E-5", "name=1e4x", "items=[1e-3]", "n=nan"]) == {
        "lr": 1e-4,
        "eps": 3.3e-5,
        "name": "1e4x",
        "items": ["1e-3"],
        "n": "nan",
    }
