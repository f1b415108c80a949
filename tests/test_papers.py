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
    load_paper_file,
    paper_table,
    paper_tables,
    split_method_ref,
    tables_for,
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
    assert {"tba-t1", "tba-readme-mnist", "tba-readme-sprites", "cis-t2"} <= set(paper_tables())


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


def test_cross_input_table2_sort_and_iou_rows():
    table = paper_table("cis-t2")
    values = table.frame()
    assert values.shape == (3, 8)
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
