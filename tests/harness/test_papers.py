"""Paper tables: the shipped transcriptions and the loader's validation."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import ConfigError
from harness.metrics.catalogue import CATALOGUE
from harness.papers import (
    CATALOGUE_UNITS,
    claimed_rows,
    load_paper_file,
    paper_table,
    paper_tables,
    split_method_ref,
    tables_for,
    without_axes,
)

TBA_T1_COLUMNS = [
    "IDF1",
    "IDP",
    "IDR",
    "MOTA",
    "MOTP",
    "FAF",
    "MT",
    "ML",
    "FP",
    "FN",
    "IDS",
    "Frag",
]


def test_shipped_tables_are_all_there():
    expected = {"tba-t1", "tba-readme-mnist", "tba-readme-sprites", "cis-t2"}
    assert expected | {"gan-t1", "gan-t2", "gan-t3", "gan-t4"} <= set(paper_tables())


GAN_ORDER_T1 = ["single-same", "single-diff", "multi-same", "multi-diff"]
GAN_ORDER_T3 = ["single-same", "multi-same", "single-diff", "multi-diff"]


@pytest.mark.parametrize(
    "table_id, models, order",
    [
        ("gan-t1", ["ConvTracker", "RecTracker-ID"], GAN_ORDER_T1),
        ("gan-t2", ["RecTracker-ID", "RecTracker-Att-1"], GAN_ORDER_T1),
        ("gan-t3", ["RecTracker-Att-1", "RecTracker-Att-3"], GAN_ORDER_T3),
        ("gan-t4", ["RecTracker-Att-1", "KerCorrTracker"], GAN_ORDER_T3),
    ],
)
def test_gan_tables_keep_their_printed_layout(table_id, models, order):
    table = paper_table(table_id)
    assert [c.name for c in table.columns] == ["20", "40", "80", "160"]
    assert [c.axes for c in table.columns] == [f"length={n}" for n in (20, 40, 80, 160)]
    assert {(c.metric, c.unit, c.decimals) for c in table.columns} == {("IoU", "fraction", 2)}
    assert table.dataset is None and table.split == "test"
    assert [row.dataset for row in table.rows] == [f"mnist-{d}" for d in order] * 2
    assert [row.name.split(", ")[0] for row in table.rows] == [m for m in models for _ in order]
    for row in table.rows:  # Multi rows: the models trained on MNIST-Multi; KCF is not trained
        multi = "multi" in row.dataset and row.method != "kcf"
        assert row.ablation == ("multi" if multi else "default")
        assert all(" ± " in cell for cell in row.printed)


def test_gan_cells_as_printed():
    frame = paper_table("gan-t1").frame()
    assert frame.loc["ConvTracker, MNIST-Single-Diff"].tolist() == [0.37, 0.35, 0.33, 0.29]
    assert frame.loc["RecTracker-ID, MNIST-Multi-Diff"].tolist() == [0.33, 0.29, 0.26, 0.24]
    t3 = paper_table("gan-t3")
    assert t3.rows[1].printed == ("0.37 ± 0.22", "0.35 ± 0.22", "0.29 ± 0.22", "0.25 ± 0.20")
    assert t3.frame().loc["RecTracker-Att-3, MNIST-Single-Diff"].tolist() == [
        0.61,
        0.61,
        0.59,
        0.56,
    ]
    t4 = paper_table("gan-t4").frame()
    assert t4.loc["KerCorrTracker, MNIST-Multi-Same"].tolist() == [0.41, 0.32, 0.24, 0.16]
    # RecTracker-ID and RecTracker-Att-1 print the same cells in every table that has them
    for model in ("RecTracker-ID", "RecTracker-Att-1"):
        rows = {
            (row.dataset, row.printed)
            for table_id in ("gan-t1", "gan-t2", "gan-t3", "gan-t4")
            for row in paper_table(table_id).rows
            if row.name.startswith(model + ",")
        }
        assert len(rows) == 4


def test_tba_table1_shape_order_and_cells():
    table = paper_table("tba-t1")
    values = table.frame()
    assert values.shape == (6, 12)
    assert list(values.columns) == TBA_T1_COLUMNS
    assert list(values.index) == [
        "TBA",
        "TBAc",
        "TBAc-noOcc",
        "TBAc-noAtt",
        "TBAc-noMem",
        "TBAc-noRep",
    ]
    assert [c.direction for c in table.columns] == ["up"] * 5 + ["down", "up"] + ["down"] * 5
    assert (table.dataset, table.split, table.page) == ("sprites-mot", "eval", 1323)
    assert values.loc["TBA"].tolist() == [
        99.2,
        99.3,
        99.2,
        99.2,
        79.1,
        0.01,
        985,
        1,
        60,
        80,
        30,
        22,
    ]
    assert values.loc["TBAc-noAtt", "IDS"] == 8425 and values.loc["TBAc-noAtt", "FP"] == 1862
    assert math.isnan(values.loc["TBAc-noMem", "IDP"]) and math.isnan(
        values.loc["TBAc-noMem", "MOTP"]
    )
    assert values.loc["TBAc-noMem", "FN"] == 22096
    assert (values.loc["TBAc-noRep", "IDP"], values.loc["TBAc-noRep", "IDR"]) == (92.5, 93.6)
    assert [row.ref for row in table.rows][:2] == ["tba:TBA", "tba:TBAc"]


def test_readme_tables_match_spec():
    mnist = paper_table("tba-readme-mnist").frame()
    sprites = paper_table("tba-readme-sprites").frame()
    assert list(mnist.columns) == ["IDF1", "MOTA", "MOTP", "ML", "FP", "FN", "IDS"]
    assert mnist.loc["TBA"].tolist() == [99.6, 99.5, 78.4, 0, 49, 49, 22]
    assert sprites.loc["TBA"].tolist() == [99.2, 99.2, 79.1, 1, 60, 80, 30]


def test_cross_input_table2_every_printed_row():
    table = paper_table("cis-t2")
    values = table.frame()
    assert values.shape == (9, 8)  # ours, SORT, IOU, and six supervised rows from the paper only
    assert [row.method for row in table.rows].count(None) == 6
    assert values.loc["CenterTrack [30] (supervised)"].tolist()[:2] == [59.6, 61.5]
    assert values.loc["SORT [2]"].tolist() == [39.8, 43.1, 295, 997, 28_000, 288_000, 5_000, 7_000]
    assert values.loc["IOU [3]"].tolist() == [39.4, 45.5, 369, 953, 20_000, 282_000, 6_000, 7_000]
    sort_row = next(row for row in table.rows if row.name == "SORT [2]")
    assert sort_row.printed[4:] == ("28K", "288K", "5K", "7K")
    assert (table.dataset, table.split) == ("mot17", "test")


def test_every_column_agrees_with_our_metric_metadata():
    for table in paper_tables().values():
        for column in table.columns:
            info = CATALOGUE[column.metric]
            assert CATALOGUE_UNITS[column.unit] == info.unit, (table.id, column)
            assert (column.direction == "up") == info.higher_is_better, (table.id, column)


def test_split_method_ref():
    assert split_method_ref("tba:TBAc-noMem") == ("tba", "TBAc-noMem")
    assert split_method_ref("sort") == ("sort", "default")


GOOD = """\
paper: "A. Author. Title. 2020."
source: "Proceedings PDF"
tables:
  - id: t1
    table: "Table 1"
    page: 3
    caption: "c"
    dataset: mot17
    split: test
    protocol: "p"
    columns:
      - {name: MOTA, metric: MOTA, direction: up, unit: percent}
      - {name: IDS, metric: IDSW, direction: down, unit: count}
    rows:
      - {name: A, method: a, values: [50.0, "1K"]}
      - {name: B, method: "a:x", values: [null, 3]}
"""


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads(tmp_path):
    (table,) = load_paper_file(write(tmp_path, GOOD))
    assert table.frame().loc["A", "IDS"] == 1000
    assert [row.dataset for row in table.rows] == ["mot17", "mot17"]  # the table's
    assert math.isnan(table.frame().loc["B", "MOTA"])
    assert (table.rows[1].method, table.rows[1].ablation) == ("a", "x")


@pytest.mark.parametrize(
    "old, new, line, words",
    [
        ('[50.0, "1K"]', "[50.0]", 15, "1 values for 2 columns"),
        ("direction: down", "direction: sideways", 13, "direction"),
        ('"1K"', '"lots"', 15, "not a number"),
        ("unit: count", "unit: pounds", 13, "unit"),
        ('    caption: "c"\n', "", 4, "caption"),
        ("method: a,", "method: ':x',", 15, "method must be"),
        ("page: 3", "page: three", 4, "page"),
        ("    dataset: mot17\n", "", 14, "names no dataset and the table has none"),
        ('"1K"', '"0.5 +- 0.1"', 15, "like '0.61 ± 0.11'"),
        ("unit: count}", "unit: count, axes: [1]}", 13, "'axes' must be a mapping"),
    ],
)
def test_malformed_file_names_file_and_line(tmp_path, old, new, line, words):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError, match=words) as caught:
        load_paper_file(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_yaml_syntax_error_names_line(tmp_path):
    path = write(tmp_path, GOOD.replace("      - {name: B", "      - {name: B: ]"))
    with pytest.raises(ConfigError) as caught:
        load_paper_file(path)
    assert caught.value.path == str(path) and caught.value.line == 16


def test_duplicate_ids_and_unknown_table(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ConfigError, match="already defined"):
        paper_tables(tmp_path)
    with pytest.raises(ConfigError, match="did you mean 'tba-t1'"):
        paper_table("tba_t1")


def test_tba_table2_lists_every_duke_method_with_only_tba_runnable():
    table = paper_table("tba-t2")
    frame = table.frame()
    assert frame.shape == (7, 12)
    assert [row.ref for row in table.rows].count(None) == 6
    assert frame.loc["TBA (ours)", "IDS"] == 875 and frame.loc["DeepCC [50]", "FN"] == 94399
    assert list(frame["IDF1"]) == sorted(frame["IDF1"], reverse=True)  # printed order: by IDF1


def test_tables_for_results_pick_the_tables_about_them():
    def frame(rows):
        return pd.DataFrame(rows, columns=["dataset", "split", "method", "ablation"])

    tba = frame(
        [("sprites-mot", "eval", "tba", "TBAc-noMem"), ("sprites-mot", "eval", "sort", "default")]
    )
    assert {t.id for t in tables_for(tba)} == {"tba-t1"}
    full = frame([("sprites-mot", "eval", "tba", "TBA")])
    assert {t.id for t in tables_for(full)} == {"tba-t1", "tba-readme-sprites"}
    assert tables_for(frame([("mot17", "train", "tba", "TBA")])) == []
    # a table printing no number is about results holding the first method of one of its claims
    cis = frame([("sprites-mot", "eval", "cis", "Visual-Spatial")])
    assert {t.id for t in tables_for(cis)} == {"cis-sprites"}
    # ... and, where the results have metrics, one of its columns' metrics
    utrack = frame([("sprites-mot", "eval", "utrack", "UTrack")] * 2)
    utrack["metric"] = ["IDF1", "MOTA"]
    assert {t.id for t in tables_for(utrack)} == {"utrack-sprites"}
    utrack["metric"] = ["R1", "mAP"]
    assert {t.id for t in tables_for(utrack)} == {"utrack-sprites-reid"}
    # a table whose columns report experiment-axis values needs a cell of ours at one of them
    gan = pd.DataFrame(
        [("mnist-multi-same", "test", "rectracker-id", "multi", "")],
        columns=["dataset", "split", "method", "ablation", "axes"],
    )
    assert tables_for(gan) == []
    gan["axes"] = "length=40"
    assert {t.id for t in tables_for(gan)} == {"gan-t1", "gan-t2"}


def test_rows_on_other_datasets_and_values_with_their_spread(tmp_path):
    text = GOOD.replace(
        '      - {name: B, method: "a:x", values: [null, 3]}',
        '      - {name: B, method: a, dataset: kitti, values: ["0.61 ± 0.11", 3]}',
    )
    (table,) = load_paper_file(write(tmp_path, text))
    assert table.datasets == ["mot17", "kitti"]
    assert table.frame().loc["B", "MOTA"] == 0.61 and table.rows[1].printed[0] == "0.61 ± 0.11"
    assert table.columns[0].decimals == 2  # the most a printed value of the column has
    same = text.replace("dataset: kitti, ", "dataset: mot17, ")
    with pytest.raises(ConfigError, match="same method on the same dataset"):
        load_paper_file(write(tmp_path, same))


@pytest.mark.parametrize(
    "table_ids, count",
    [
        (("gan-t1", "gan-t2", "gan-t3", "gan-t4"), 5),
        (("hart-t1", "hart-kth"), 4),
        (("cis-t1", "cis-t2", "cis-t3"), 5),
        (tuple(f"utrack-t{i}" for i in range(1, 9)), 41),
    ],
)
def test_every_claim_holds_in_the_papers_own_cells(table_ids, count):
    tables = [paper_table(table_id) for table_id in table_ids]
    assert sum(len(table.claims) for table in tables) == count
    for table in tables:
        for claim in table.claims:
            stat = 0 if claim.stat == "mean" else 1
            cells = [
                {
                    (row.dataset, column.name): (value, spread)
                    for row in claimed_rows(name, table.rows)
                    for column, value, spread in zip(table.columns, row.values, row.spreads)
                }
                for name in claim.methods
            ]
            datasets = claim.datasets or table.datasets
            columns = claim.columns or [c.name for c in table.columns]
            for cell in [(d, c) for d in datasets for c in columns]:
                a, b = cells[0][cell][stat], cells[1][cell][stat]
                assert a > b if claim.relation == "above" else abs(a - b) <= claim.within + 1e-9


CLAIM = """\
    claims:
      - {text: "A above", methods: [a, a], relation: above}
"""


@pytest.mark.parametrize(
    "old, new, words",
    [
        ("relation: above", "relation: beside", "'relation' must be one of"),
        ("methods: [a, a]", "methods: [a]", "'methods' must name two"),
        ("methods: [a, a]", "methods: [a, b]", "methods has 'b', which no row"),
        ("relation: above", "relation: within", "'within' goes with it"),
        ("relation: above}", "relation: above, columns: [MOTB]}", "columns has 'MOTB'"),
        ("relation: above}", "relation: above, stat: median}", "'stat' must be one of"),
        ("relation: above}", "relation: above, by: 2}", "unknown keys .'by'."),
    ],
)
def test_malformed_claims_name_file_and_line(tmp_path, old, new, words):
    rows = GOOD.replace('method: "a:x", values', 'method: "a:x", dataset: kitti, values')
    text = rows.replace("    rows:\n", CLAIM.replace(old, new) + "    rows:\n")
    (table,) = load_paper_file(write(tmp_path, rows.replace("    rows:\n", CLAIM + "    rows:\n")))
    assert table.claims[0].methods == ("a", "a")
    with pytest.raises(ConfigError, match=words) as caught:
        load_paper_file(write(tmp_path, text))
    assert str(caught.value).startswith(f"{tmp_path / 'p.yaml'}:15: ")


def test_a_claim_on_a_method_with_two_rows_on_one_dataset_is_ambiguous(tmp_path):
    # rows A (a) and B (a:x) are both on the table's dataset
    with pytest.raises(ConfigError, match="method 'a' has two rows on one dataset") as caught:
        load_paper_file(write(tmp_path, GOOD.replace("    rows:\n", CLAIM + "    rows:\n")))
    assert str(caught.value).startswith(f"{tmp_path / 'p.yaml'}:15: ")
    # naming the ablations picks one row each
    named = CLAIM.replace("methods: [a, a]", 'methods: ["a:default", "a:x"]')
    (table,) = load_paper_file(write(tmp_path, GOOD.replace("    rows:\n", named + "    rows:\n")))
    assert [[row.name for row in claimed_rows(m, table.rows)] for m in table.claims[0].methods] == [
        ["A"],
        ["B"],
    ]


def test_what_the_paper_evaluated_on_sequences_and_mean_over(tmp_path):
    (plain,) = load_paper_file(write(tmp_path, GOOD))
    assert plain.sequences is None and plain.mean_over == {}
    stated = GOOD.replace('    protocol: "p"\n', '    protocol: "p"\n    sequences: 500\n')
    stated = stated.replace("    split: test\n", "    split: test\n    mean_over: {fold: 25}\n")
    (table,) = load_paper_file(write(tmp_path, stated))
    assert table.sequences == 500 and table.mean_over == {"fold": 25}
    assert {t.id: t.sequences for t in paper_tables().values() if t.id.startswith("gan")} == {
        f"gan-t{i}": 500 for i in (1, 2, 3, 4)
    }
    assert paper_table("hart-kth").mean_over == {"fold": 25}


@pytest.mark.parametrize(
    "new, line, words",
    [
        ("    sequences: 0\n", 4, "'sequences' must be a positive integer or null, got 0"),
        ("    sequences: many\n", 4, "'sequences' must be a positive integer"),
        ("    mean_over: [fold]\n", 4, "'mean_over' must be a mapping"),
        ("    mean_over: {fold: all}\n", 11, "axis 'fold' needs the number of values"),
        ("    mean_over: {length: 4}\n", 11, "axis 'length' is also a column's axis"),
    ],
)
def test_malformed_protocol_fields_name_file_and_line(tmp_path, new, line, words):
    text = GOOD.replace('    protocol: "p"\n', '    protocol: "p"\n' + new).replace(
        "unit: count}", "unit: count, axes: {length: 20}}"
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=words) as caught:
        load_paper_file(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_a_table_averaged_over_an_axis_is_about_results_at_any_of_its_values():
    kth = pd.DataFrame(
        [("kth", "test", "hart", "default", "fold=7")],
        columns=["dataset", "split", "method", "ablation", "axes"],
    )
    assert [t.id for t in tables_for(kth)] == ["hart-kth"]
    assert without_axes("fold=3, length=20", ["fold"]) == "length=20"
    assert without_axes("fold=3", ["fold"]) == without_axes("", ["fold"]) == ""
