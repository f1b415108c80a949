"""The regression gate: tolerances, seed noise, the paired test over sequences, directions,
missing/new rows, speed, axes, CLI."""

from __future__ import annotations

import itertools
import json
import math

import pandas as pd
import pytest

from harness.compare import (
    DEFAULT_TOLERANCES,
    PAIRED_TEST,
    TOLERANCE_RULE,
    Tolerance,
    compare,
    parse_tolerances,
    to_markdown,
)
from harness.errors import ConfigError, FormatError
from harness.experiment import Cell
from harness.store import COMBINED, Store, utc_now

VALUES = {  # one seed's COMBINED values of the default ("mot") metrics
    "MOTA": 0.62,
    "IDF1": 0.70,
    "HOTA": 0.55,
    "MOTP": 0.80,
    "MT": 10,
    "ML": 2,
    "FP": 100,
    "FN": 300,
    "IDSW": 5,
    "Frag": 8,
    "PT": 4,
}
TIMING = {
    "frames": 200,
    "total_seconds": 0.5,
    "latency_p50_ms": 2.0,
    "latency_p95_ms": 3.0,
    "fps": 400.0,
    "peak_memory_bytes": 10**8,
    "device_name": "cpu (x86_64)",
}


def results(cells: dict[tuple[str, int], dict[str, float]]) -> pd.DataFrame:
    """A ``Store.metrics_frame``-like frame of COMBINED values: (method, seed) -> metrics."""
    rows = [
        {
            "experiment": "exp",
            "dataset": "sprites-mot",
            "split": "eval",
            "detections": "clean",
            "method": method,
            "ablation": "default",
            "seed": seed,
            "sequence": COMBINED,
            "metric": metric,
            "value": float(value),
        }
        for (method, seed), values in cells.items()
        for metric, value in values.items()
    ]
    return pd.DataFrame(rows)


def seeds(method: str, metric: str, values: list[float]) -> dict[tuple[str, int], dict]:
    return {(method, seed): {metric: value} for seed, value in enumerate(values)}


def verdicts(result) -> dict[str, str]:
    return dict(zip(result.comparisons["metric"], result.comparisons["verdict"]))


# ----------------------------------------------------------------------------- compare()


def test_identical_results_pass():
    frame = results({("sort", s): VALUES for s in range(3)})
    result = compare(frame, frame)
    assert result.passed and result.exit_code == 0
    assert set(result.comparisons["verdict"]) == {"ok"}
    assert (result.comparisons["delta"] == 0).all()
    assert "PT" not in set(result.comparisons["metric"])  # no direction, not gated by default


def test_drop_within_seed_noise_passes_but_fails_with_one_seed():
    base = results(seeds("sort", "MOTA", [0.60, 0.62, 0.64]))
    new = results(seeds("sort", "MOTA", [0.59, 0.61, 0.63]))  # -1 point > 0.5 point tolerance
    result = compare(new, base, metrics=["MOTA"])
    row = result.comparisons.iloc[0]
    assert row["standard_error"] == pytest.approx(math.sqrt(2 * 0.02**2 / 3))
    assert row["allowed"] == pytest.approx(0.005 + 2 * row["standard_error"])
    assert row["delta"] == pytest.approx(-0.01) and row["verdict"] == "ok"

    assert verdicts(compare(new, base, metrics=["MOTA"], z=0)) == {"MOTA": "regressed"}
    one = compare(
        results(seeds("sort", "MOTA", [0.61])), results(seeds("sort", "MOTA", [0.62])), "MOTA"
    )
    assert one.comparisons["standard_error"].iloc[0] == 0
    assert verdicts(one) == {"MOTA": "regressed"} and one.exit_code == 1


def test_within_tolerance_passes_and_beyond_fails_without_noise():
    base = results(seeds("sort", "MOTA", [0.62]))
    assert compare(results(seeds("sort", "MOTA", [0.616])), base, "MOTA").passed
    assert not compare(results(seeds("sort", "MOTA", [0.614])), base, "MOTA").passed


def test_one_seed_side_borrows_the_other_sides_variance():
    base = results(seeds("sort", "MOTA", [0.60, 0.62, 0.64]))
    new = results(seeds("sort", "MOTA", [0.60]))
    row = compare(new, base, "MOTA").comparisons.iloc[0]
    assert row["standard_error"] == pytest.approx(math.sqrt(0.02**2 / 3 + 0.02**2 / 1))
    assert row["verdict"] == "ok"


def test_lower_is_better_metrics_use_their_direction():
    base = results({("sort", 0): {"FP": 100, "IDSW": 5, "MOTA": 0.6}})
    worse = compare(
        results({("sort", 0): {"FP": 103, "IDSW": 7, "MOTA": 0.7}}), base, "FP,IDSW,MOTA"
    )
    assert verdicts(worse) == {"FP": "regressed", "IDSW": "regressed", "MOTA": "improved"}
    assert not worse.passed
    better = compare(
        results({("sort", 0): {"FP": 90, "IDSW": 3, "MOTA": 0.6}}), base, "FP,IDSW,MOTA"
    )
    assert verdicts(better) == {"FP": "improved", "IDSW": "improved", "MOTA": "ok"}
    assert better.passed  # improvements never fail
    # counts: 2% of the baseline or one event, whichever is larger
    small = compare(results({("sort", 0): {"FP": 102, "IDSW": 6, "MOTA": 0.6}}), base, "FP,IDSW")
    assert verdicts(small) == {"FP": "ok", "IDSW": "ok"}
    assert small.comparisons["tolerance"].tolist() == [2.0, 1.0]


def test_missing_row_or_seed_in_new_fails_and_new_rows_are_listed():
    base = results({**seeds("sort", "MOTA", [0.6, 0.6]), **seeds("iou", "MOTA", [0.5, 0.5])})
    new = results({**seeds("sort", "MOTA", [0.6]), **seeds("oracle", "MOTA", [0.9])})
    result = compare(new, base, "MOTA")
    assert not result.passed
    missing = result.missing.set_index("method")
    assert missing.loc["iou", "row_absent"] and missing.loc["iou", "missing_seeds"] == [0, 1]
    assert not missing.loc["sort", "row_absent"] and missing.loc["sort", "missing_seeds"] == [1]
    assert result.new_rows["method"].tolist() == ["oracle"]
    assert result.comparisons["method"].tolist() == ["sort"]

    only_new = compare(new, results(seeds("sort", "MOTA", [0.6])), "MOTA")
    assert only_new.passed and only_new.new_rows["method"].tolist() == ["oracle"]


def test_metric_lost_in_one_new_row_is_a_regression():
    base = results({("sort", 0): {"MOTA": 0.6}, ("iou", 0): {"MOTA": 0.5}})
    new = results({("sort", 0): {"MOTA": 0.6}, ("iou", 0): {"IDF1": 0.5}})
    result = compare(new, base, "MOTA")
    assert dict(zip(result.comparisons["method"], result.comparisons["verdict"])) == {
        "sort": "ok",
        "iou": "regressed",
    }


def test_metric_absent_on_a_side_is_an_error_naming_it():
    base = results(seeds("sort", "MOTA", [0.6]))
    new = results(seeds("sort", "IDF1", [0.6]))
    with pytest.raises(FormatError, match=r"NEW results lack metrics \['MOTA'\]"):
        compare(new, base, "MOTA")
    with pytest.raises(FormatError, match=r"baseline results lack metrics \['IDF1'\]"):
        compare(new, base, "IDF1")


def test_unknown_or_undirected_metrics_are_config_errors():
    frame = results(seeds("sort", "MOTA", [0.6]))
    with pytest.raises(ConfigError, match="IDS.*did you mean 'IDSW'"):
        compare(frame, frame, "IDS")
    with pytest.raises(ConfigError, match="no better direction"):
        compare(frame, frame, "PT")
    with pytest.raises(ConfigError, match="not compared"):
        compare(frame, frame, "MOTA", tolerances={"FP": Tolerance(1.0)})


def test_parse_tolerances():
    parsed = parse_tolerances(["MOTA=0.01", "FP=5%, IDSW=2"])
    assert parsed == {
        "MOTA": Tolerance(absolute=0.01),
        "FP": Tolerance(relative=0.05),
        "IDSW": Tolerance(absolute=2.0),
    }
    for bad in ("MOTA:0.01", "MOTA=", "MOTA=-1", "=3", "MOTA=abc"):
        with pytest.raises(ConfigError, match="bad --tolerance"):
            parse_tolerances([bad])
    assert DEFAULT_TOLERANCES["fraction"] == Tolerance(absolute=0.005)


def test_a_one_seed_spread_over_sequences_is_no_seed_noise():
    """A board's ± of one seed's IoU spreads over its samples; both sides score the same
    samples, so the gate allows only the tolerance."""

    def one_seed(ious: list[float]) -> pd.DataFrame:
        combined = results({("sot", 0): {"IoU": sum(ious) / len(ious)}})
        samples = [combined.assign(sequence=f"s{i}", value=iou) for i, iou in enumerate(ious)]
        return pd.concat([combined, *samples], ignore_index=True)

    result = compare(one_seed([0.18, 0.58, 0.98]), one_seed([0.2, 0.6, 1.0]), "IoU")
    assert verdicts(result) == {"IoU": "regressed"}  # 2 points down, 0.5 allowed
    judged = result.comparisons.iloc[0]
    assert judged["standard_error"] == 0 and math.isnan(judged["baseline_std"])


def per_sequence(method: str, metric: str, values: list[float]) -> pd.DataFrame:
    """One seed's results: ``values`` per sequence s0, s1, ... and their mean as COMBINED."""
    combined = results({(method, 0): {metric: sum(values) / len(values)}})
    sequences = [combined.assign(sequence=f"s{i}", value=v) for i, v in enumerate(values)]
    return pd.concat([combined, *sequences], ignore_index=True)


BASE_IOUS = [0.50, 0.55, 0.60, 0.65, 0.70, 0.75]


def exact_wilcoxon_less(differences: list[float]) -> float:
    """The exact one-sided ("less") p of the signed-rank test for distinct nonzero |differences|:
    the share of the 2^n sign assignments whose sum of positive ranks is at most the observed."""
    ranks = {abs(d): r for r, d in enumerate(sorted(differences, key=abs), start=1)}
    observed = sum(ranks[abs(d)] for d in differences if d > 0)
    sums = [
        sum(r for r, positive in zip(ranks.values(), signs) if positive)
        for signs in itertools.product([False, True], repeat=len(differences))
    ]
    return sum(total <= observed for total in sums) / len(sums)


def test_one_seed_rows_over_the_same_sequences_are_judged_by_a_paired_test():
    base = per_sequence("sot", "IoU", BASE_IOUS)
    drop = compare(per_sequence("sot", "IoU", [v - 0.02 for v in BASE_IOUS]), base, "IoU")
    judged = drop.comparisons.iloc[0]
    assert judged["verdict"] == "regressed" and judged["test"] == PAIRED_TEST
    assert judged["sequences"] == 6 and judged["p_value"] == pytest.approx(1 / 2**6)
    rise = compare(per_sequence("sot", "IoU", [v + 0.02 for v in BASE_IOUS]), base, "IoU")
    assert verdicts(rise) == {"IoU": "improved"} and rise.comparisons["p_value"][0] < 0.05

    # a mean 1.2 points down, beyond the 0.5-point tolerance, but most sequences got better
    differences = [-0.2, 0.05, 0.04, 0.03, 0.02, -0.01]
    mixed = per_sequence("sot", "IoU", [v + d for v, d in zip(BASE_IOUS, differences)])
    result = compare(mixed, base, "IoU")
    judged = result.comparisons.iloc[0]
    assert judged["delta"] == pytest.approx(sum(differences) / 6) and judged["delta"] < -0.005
    assert judged["p_value"] == pytest.approx(exact_wilcoxon_less(differences))
    assert judged["p_value"] > 0.05 and judged["verdict"] == "ok" and result.passed
    assert compare(mixed, base, "IoU", alpha=0.9).comparisons["verdict"][0] == "regressed"


def test_the_paired_test_follows_the_metric_s_direction_and_counts():
    base = per_sequence("sort", "FP", [10, 20, 30, 40, 50, 60])
    more = compare(per_sequence("sort", "FP", [15, 26, 37, 48, 59, 70]), base, "FP")
    judged = more.comparisons.iloc[0]
    assert judged["test"] == PAIRED_TEST and judged["verdict"] == "regressed"
    assert judged["p_value"] == pytest.approx(1 / 2**6)  # every sequence moved up
    fewer = compare(per_sequence("sort", "FP", [5, 14, 23, 32, 41, 50]), base, "FP")
    assert verdicts(fewer) == {"FP": "improved"}


def test_few_or_different_sequences_or_several_seeds_keep_the_tolerance_rule():
    base = per_sequence("sot", "IoU", BASE_IOUS)
    four = compare(
        per_sequence("sot", "IoU", [v - 0.02 for v in BASE_IOUS[:4]]),
        per_sequence("sot", "IoU", BASE_IOUS[:4]),
        "IoU",
    )  # 0.5^4 >= 0.05: no paired test over four sequences could reach alpha
    assert four.comparisons["test"][0] == TOLERANCE_RULE and verdicts(four) == {"IoU": "regressed"}
    renamed = per_sequence("sot", "IoU", [v - 0.02 for v in BASE_IOUS])
    renamed["sequence"] = renamed["sequence"].replace({"s0": "other"})
    other = compare(renamed, base, "IoU").comparisons.iloc[0]
    assert other["test"] == TOLERANCE_RULE and math.isnan(other["p_value"])
    seeded = pd.concat([base, base.assign(seed=1)], ignore_index=True)
    assert compare(seeded, seeded, "IoU").comparisons["test"][0] == TOLERANCE_RULE
    with pytest.raises(ConfigError, match="alpha must be between 0 and 1"):
        compare(base, base, "IoU", alpha=1.5)


def test_custom_tolerance_replaces_the_default():
    base = results(seeds("sort", "MOTA", [0.62]))
    new = results(seeds("sort", "MOTA", [0.60]))
    assert not compare(new, base, "MOTA").passed
    assert compare(new, base, "MOTA", tolerances={"MOTA": Tolerance(0.03)}).passed
    assert compare(new, base, "MOTA", tolerances={"MOTA": Tolerance(relative=0.05)}).passed


def test_summary_line_counts_regressions_by_metric_not_comparisons():
    base = results({(m, s): VALUES for m in ("sort", "iou") for s in range(2)})
    worse = {"sort": {**VALUES, "MOTA": 0.5, "IDSW": 9}, "iou": {**VALUES, "MOTA": 0.5}}
    new = results({(m, s): worse[m] for m in ("sort", "iou") for s in range(2)})
    assert compare(new, base).summary_line() == (
        "FAILED: 3 regressions (MOTA on 2 rows, IDS on 1 row); 20 comparisons in 2 rows, 0 improved"
    )
    better = results({(m, s): {**VALUES, "FP": 50} for m in ("sort", "iou") for s in range(2)})
    assert compare(better, base).summary_line() == (
        "PASSED: no regressions; 20 comparisons in 2 rows, 2 improved"
    )


def test_markdown_escapes_names_and_marks_verdicts():
    base = results(seeds("a|b", "MOTA", [0.62]))
    text = to_markdown(compare(results(seeds("a|b", "MOTA", [0.5])), base, "MOTA"), "gate")
    assert "| Row | Metric | Baseline | New | Δ | Allowed | Verdict |" in text
    assert "a\\|b" in text and "62.0 (1)" in text and "-12.0" in text and "✗" in text
    assert "FAILED" in text


def test_markdown_has_an_axes_column_and_names_the_paired_test():
    base = per_sequence("sot", "IoU", BASE_IOUS).assign(axes="length=20")
    new = per_sequence("sot", "IoU", [v - 0.02 for v in BASE_IOUS]).assign(axes="length=20")
    text = to_markdown(compare(new, base, "IoU"), "gate")
    assert "| Row | Axes | Metric | Baseline | New | Δ | Allowed | Verdict |" in text
    row = next(line for line in text.splitlines() if "sprites-mot/eval/clean sot" in line)
    assert "| length=20 | IoU ↑ |" in row and row.endswith("| ✗ Wilcoxon p=0.016 |")
    assert "Wilcoxon signed-rank test of the per-sequence differences" in text


# ----------------------------------------------------------------------------- CLI


def make_cell(method: str, seed: int, experiment: str = "exp", axes: dict | None = None) -> Cell:
    return Cell(
        experiment=experiment,
        dataset="sprites-mot",
        split="eval",
        detections="clean",
        method=method,
        ablation="default",
        seed=seed,
        method_config={},
        dataset_params={"eval_frames": 200, **(axes or {})},
        noise={"miss_rate": 0.0, "jitter": 0.0, "fp_rate": 0.0},
        protocol="plain",
        warmup_frames=10,
        device="cpu",
        axes=axes or {},
    )


def write_db(
    path,
    cells: dict[tuple[str, int], dict],
    fps: float = 400.0,
    experiment="exp",
    axes: dict | None = None,
):
    """A results database with one done cell per (method, seed) and one timed sequence each."""
    with Store(path) as store:
        run = store.start_run(experiment, "cpu")
        made = {key: make_cell(*key, experiment=experiment, axes=axes) for key in cells}
        store.add_pending(run, made.values())
        for key, values in cells.items():
            timing = {**TIMING, "total_seconds": TIMING["frames"] / fps, "fps": fps}
            evaluation = {"sequences": {"seq": values}, "combined": values}
            store.record_done(made[key], evaluation, {"seq": timing}, utc_now())
    return path


@pytest.fixture
def baseline(tmp_path):
    return write_db(tmp_path / "old.sqlite", {("sort", s): VALUES for s in (0, 1)})


def test_cli_identical_databases_pass(trackbench, tmp_path, baseline):
    new = write_db(tmp_path / "new.sqlite", {("sort", s): VALUES for s in (0, 1)})
    code, out, err = trackbench("compare", new, "--baseline", baseline)
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 10 and all("✓" in row for row in rows)
    assert out.splitlines()[-1] == "PASSED: no regressions; 10 comparisons in 1 row, 0 improved"
    assert "MOTA" in out


def test_cli_regression_exits_1_names_the_metric_and_writes_markdown(
    trackbench, tmp_path, baseline
):
    new = write_db(tmp_path / "new.sqlite", {("sort", s): {**VALUES, "IDF1": 0.65} for s in (0, 1)})
    md = tmp_path / "ci" / "comment.md"
    code, out, _ = trackbench("compare", new, "--baseline", baseline, "--markdown", md)
    assert code == 1
    failed = [line for line in out.splitlines() if line.startswith("│") and "✗" in line]
    assert len(failed) == 1 and "IDF1" in failed[0] and "-5.0" in failed[0]
    assert out.splitlines()[-1] == (
        "FAILED: 1 regression (IDF1 on 1 row); 10 comparisons in 1 row, 0 improved"
    )
    text = md.read_text(encoding="utf-8")
    assert "IDF1 ↑" in text and "✗" in text and "sprites-mot/eval/clean sort" in text

    code, out, _ = trackbench("compare", new, "--baseline", baseline, "--json")
    document = json.loads(out)
    assert code == 1 and not document["passed"]
    assert [c["metric"] for c in document["comparisons"] if c["verdict"] == "regressed"] == ["IDF1"]

    code, _, _ = trackbench("compare", new, "--baseline", baseline, "--tolerance", "IDF1=0.06")
    assert code == 0


def test_cli_shows_axis_values_in_a_column_of_their_own(trackbench, tmp_path):
    """``[length=20]`` would be rich markup; the axes are a column, shown as written."""
    axes = {"length": 20}
    base = write_db(tmp_path / "old.sqlite", {("sort", 0): VALUES}, axes=axes)
    new = write_db(tmp_path / "new.sqlite", {("sort", 0): {**VALUES, "MOTA": 0.5}}, axes=axes)
    md = tmp_path / "comment.md"
    code, out, _ = trackbench("compare", new, "--baseline", base, "--markdown", md)
    assert code == 1
    header = next(line for line in out.splitlines() if "Metric" in line)
    assert [cell.strip() for cell in header.strip("│┃ ").split("┃")][:3] == [
        "Row",
        "Axes",
        "Metric",
    ]
    first = next(line for line in out.splitlines() if "sprites-mot" in line)
    assert "sprites-mot/eval/clean sort" in first and "│ length=20 " in first
    assert "| sprites-mot/eval/clean sort | length=20 | MOTA ↑ |" in md.read_text(encoding="utf-8")
    code, out, _ = trackbench("compare", new, "--baseline", base, "--json")
    assert {c["axes"] for c in json.loads(out)["comparisons"]} == {"length=20"}


def test_cli_summary_prints_only_the_verdict_line_with_the_same_exit_code(
    trackbench, tmp_path, baseline
):
    worse = {**VALUES, "MOTA": 0.5, "IDF1": 0.6, "FP": 150}
    new = write_db(
        tmp_path / "new.sqlite", {(m, s): worse for m in ("sort", "iou") for s in (0, 1)}
    )
    code, out, err = trackbench("compare", new, "--baseline", baseline, "--summary")
    assert code == 1 and err == ""
    assert out == (
        "FAILED: 3 regressions (MOTA on 1 row, IDF1 on 1 row, FP on 1 row); "
        "10 comparisons in 1 row, 0 improved; 1 new row\n"
    )
    code, out, _ = trackbench("compare", baseline, "--baseline", baseline, "--summary")
    assert code == 0 and out == "PASSED: no regressions; 10 comparisons in 1 row, 0 improved\n"
    code, _, err = trackbench("compare", new, "--baseline", baseline, "--summary", "--json")
    assert code == 2 and "--json and --summary exclude each other" in err


def test_cli_missing_and_new_rows(trackbench, tmp_path, baseline):
    new = write_db(tmp_path / "new.sqlite", {("sort", 0): VALUES, ("iou", 0): VALUES})
    code, out, _ = trackbench("compare", new, "--baseline", baseline)
    assert code == 1
    assert "seeds 1 not done" in out
    assert out.splitlines()[-1] == (
        "FAILED: no regressions; 1 baseline row not done in NEW; "
        "10 comparisons in 1 row, 0 improved; 1 new row"
    )
    assert any("iou" in line and "new" in line for line in out.splitlines())


def test_cli_new_run_with_every_cell_failed_fails(trackbench, tmp_path, baseline):
    new = tmp_path / "new.sqlite"
    with Store(new) as store:
        cells = [make_cell("sort", seed) for seed in (0, 1)]
        store.add_pending(store.start_run("exp", "cpu"), cells)
        for cell in cells:
            store.record_failed(cell, "ValueError: boom", "Traceback ...", utc_now())
    code, out, _ = trackbench("compare", new, "--baseline", baseline, "--speed")
    assert code == 1
    assert "not done" in out
    assert out.splitlines()[-1] == (
        "FAILED: no regressions; 1 baseline row not done in NEW; 0 comparisons in 0 rows, "
        "0 improved"
    )
    code, _, err = trackbench("compare", baseline, "--baseline", new)
    assert code == 2 and "baseline experiment 'exp' has no finished cells" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tolerance", "MOTA:0.01"], "bad --tolerance 'MOTA:0.01'"),
        (["--tolerance", "FAF=1"], "not compared"),
        (["--metrics", "MOTA,Bogus"], "unknown metric 'Bogus'"),
        (["--metrics", "MODA"], "baseline results lack metrics ['MODA']"),
        (["--experiment", "other"], "no experiment 'other'"),
        (["--z", "-1"], "--z"),
        (["--alpha", "1.5"], "alpha must be between 0 and 1, got 1.5"),
    ],
)
def test_cli_usage_errors_exit_2_with_one_line(trackbench, tmp_path, baseline, args, message):
    code, out, err = trackbench("compare", baseline, "--baseline", baseline, *args)
    assert code == 2 and out == ""
    assert err.startswith("trackbench: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_metric_absent_in_new_is_an_input_error(trackbench, tmp_path, baseline):
    without_hota = {k: v for k, v in VALUES.items() if k != "HOTA"}
    new = write_db(tmp_path / "new.sqlite", {("sort", s): without_hota for s in (0, 1)})
    code, _, err = trackbench("compare", new, "--baseline", baseline)
    assert code == 2 and "NEW results lack metrics ['HOTA']" in err
    code, _, err = trackbench("compare", tmp_path / "none.sqlite", "--baseline", baseline)
    assert code == 2 and "results database not found" in err


def test_cli_speed_is_gated_only_with_speed(trackbench, tmp_path, baseline):
    slow = write_db(tmp_path / "new.sqlite", {("sort", s): VALUES for s in (0, 1)}, fps=200.0)
    code, out, _ = trackbench("compare", slow, "--baseline", baseline)
    assert code == 0 and "fps" not in out
    code, out, _ = trackbench("compare", slow, "--baseline", baseline, "--speed", "--json")
    fps = [c for c in json.loads(out)["comparisons"] if c["metric"] == "fps"]
    assert code == 1 and fps[0]["verdict"] == "regressed"
    assert fps[0]["new_mean"] == pytest.approx(200.0) and fps[0]["tolerance"] == pytest.approx(80)
    args = ("--speed", "--speed-tolerance", "0.6")
    assert trackbench("compare", slow, "--baseline", baseline, *args)[0] == 0


def test_cli_needs_experiment_when_a_database_holds_several(trackbench, tmp_path, baseline):
    both = tmp_path / "both.sqlite"
    write_db(both, {("sort", 0): VALUES, ("sort", 1): VALUES}, experiment="a")
    write_db(both, {("sort", 0): VALUES, ("sort", 1): VALUES}, experiment="exp")
    code, _, err = trackbench("compare", both, "--baseline", baseline)
    assert code == 2 and "choose one with --experiment" in err
    code, out, _ = trackbench("compare", both, "--baseline", baseline, "--experiment", "exp")
    assert code == 0 and "PASSED" in out
