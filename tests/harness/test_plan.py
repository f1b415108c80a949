"""A run's plan (cells, paper tables, cache to write, frames and time), the frame-weighted ETA,
and what each paper table needs (``trackbench reproduce --help``)."""

from __future__ import annotations

import io

import pytest
from experiment_helpers import SMALL_SPRITES, write
from paths import ROOT

from harness import progress
from harness.errors import ConfigError
from harness.experiment import expand, load_experiment
from harness.papers import paper_tables
from harness.plan import estimate, format_bytes, plan_run, table_needs
from harness.progress import CellLines, FrameClock
from harness.runner import run_experiment
from harness.store import Store


@pytest.fixture
def experiment(tmp_path):
    return load_experiment(
        write(tmp_path, SMALL_SPRITES.format(root=tmp_path / "cache", methods="iou, ground-truth"))
    )


def test_plan_names_the_cache_to_write_until_it_is_written(experiment, tmp_path):
    cells = expand(experiment)
    before = plan_run(experiment.name, cells, cells)
    assert (before.cells, before.todo) == (2, 2)
    assert len(before.cache) == 1  # both cells read one split
    assert before.cache_bytes == 40 * 128 * 128 * 3  # Sprites-MOT frames: 128 x 128 RGB uint8
    assert "about 2.0 MB" in "\n".join(before.lines())
    with Store(tmp_path / "results.sqlite") as store:
        run_experiment(experiment, store)
    assert plan_run(experiment.name, cells, []).cache == ()


def test_plan_names_the_paper_tables_the_cells_serve(tmp_path):
    path = write(
        tmp_path,
        SMALL_SPRITES.format(root=tmp_path / "cache", methods='"tba:TBA"'),
    )
    cells = expand(load_experiment(path, check_methods=False))
    assert "tba-t1" in plan_run("small", cells, cells).tables


def test_estimate_divides_frames_by_measured_throughput(experiment):
    cells = expand(experiment)
    rates = {("iou", "default"): 20.0}
    forecast = estimate(cells, lambda cell: 40, rates, jobs=2)
    assert forecast.frames == 80
    assert forecast.seconds == pytest.approx(40 / 20.0)  # the ground truth has no rate yet
    assert forecast.unestimated == ("ground-truth:default",)
    assert "80 frames to track, about 1 s on 2 jobs" in forecast.line()
    assert "no timing yet of ground-truth:default" in forecast.line()


def test_store_throughput_is_frames_over_cell_time_on_the_device(experiment, tmp_path):
    with Store(tmp_path / "results.sqlite") as store:
        assert not run_experiment(experiment, store).failed
        cells = store.cells("small")
        rates = store.throughput(store.runs()["device"].iloc[0])
        assert store.throughput("cuda:0 (another device)") == {}
    assert set(cells["frames"]) == {40}
    assert set(rates) == {("iou", "default"), ("ground-truth", "default")}
    assert all(rate > 0 for rate in rates.values())


def test_frame_clock_weighs_the_remaining_work_by_frames(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    clock = FrameClock()
    assert clock.eta() == ""  # no plan yet
    clock.plan(1000)
    clock.cell_started("a", 100)
    clock.cell_started("b", 900)
    assert clock.seconds_left() is None  # nothing tracked yet
    now[0] += 10.0
    clock.frames_done("a", 100)
    clock.cell_finished("a")
    clock.frames_done("b", 100)
    # 200 frames in 10 s: 800 left take 40 s
    assert clock.seconds_left() == pytest.approx(40.0)
    assert clock.eta() == "ETA 40 s"


def test_cell_lines_print_the_plan_and_the_eta(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    stream = io.StringIO()
    lines = CellLines(stream, heartbeat=200.0)
    lines.announce("small: 2 cells, 2 to run")
    lines.start(2)
    lines.planned(300)
    lines.cell_started("a", "cell a", 100)
    now[0] = 120.0
    lines.frames_done("a", 100, 120.0)
    lines.cell_finished("a", "cell a", "MOTA 1", 120.0)
    lines.cell_started("b", "cell b", 200)
    now[0] = 360.0
    lines.frames_done("b", 100, 240.0)
    lines.cell_finished("b", "cell b", "MOTA 1", 240.0)
    text = stream.getvalue().splitlines()
    assert text[0] == "small: 2 cells, 2 to run"
    assert text[1] == "[1/2] cell a: MOTA 1 (120.0 s) ETA 4 min"  # 200 frames at 100 per 2 min
    assert text[2].startswith("  cell b: 100/200 frames (240 s) ETA")
    assert text[3] == "[2/2] cell b: MOTA 1 (240.0 s)"  # the last cell: no ETA


def test_format_bytes():
    assert [format_bytes(n) for n in (512, 1500, 2.5e6, 6.0e9)] == [
        "512 bytes",
        "1.5 kB",
        "2.5 MB",
        "6.0 GB",
    ]


@pytest.fixture(scope="module")
def needs():
    """What each experiment serving paper tables needs, named from the repository's root."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the listing names experiment files relative to the working folder
        return table_needs()


def test_every_reproducible_table_says_what_it_needs(needs):
    served = {table for each in needs for table in each.tables}
    reproducible = {t.id for t in paper_tables().values() if t.experiment is not None}
    assert served == reproducible
    gan = next(each for each in needs if "gan-t1" in each.tables)
    # four datasets x lengths 20, 40, 80, 160 x 500 test sequences of 100 x 100 grey frames
    assert gan.cache_bytes == 4 * (20 + 40 + 80 + 160) * 500 * 100 * 100
    assert gan.obtain == () and gan.device == "cpu"
    kitti = next(each for each in needs if "hart-t1" in each.tables)
    assert kitti.obtain == ("kitti-tracking",) and not kitti.laptop


def test_reproduce_help_lists_every_table(trackbench):
    code, out, _ = trackbench("reproduce", "--help")
    assert code == 0
    listing = out[out.index("Paper tables and what they need:") :]
    for table in paper_tables().values():
        if table.experiment is not None:
            assert table.id in listing
    assert "obtain kitti-tracking" in listing


def test_the_readme_lists_what_each_table_needs(needs):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = readme.index("<!-- reproduce-needs:")
    start = readme.index("```text\n", marker) + len("```text\n")
    block = readme[start : readme.index("\n```", start)]
    assert block == "\n".join(line for each in needs for line in each.lines())


def test_the_plan_says_which_done_cells_run_again_and_why(experiment):
    cells = expand(experiment)
    reruns = {cells[0].config_hash: "code changed", cells[1].config_hash: "forced by --force"}
    plan = plan_run(experiment.name, cells, cells, reruns)
    assert plan.lines()[0] == (
        "small: 2 cells, 2 to run (2 re-run: 1 code changed, 1 forced by --force)"
    )


def test_a_missing_detection_folder_is_a_need_and_an_error_only_for_a_run():
    """cis-t1's refined detections are a folder the user makes: the table's needs name it, and
    loading the experiment to say so does not refuse it (a run does)."""
    (t1,) = [needs for needs in table_needs() if needs.tables == ("cis-t1",)]
    assert "obtain detections data/mot17-tracktor/train" in t1.lines()[1]
    path = ROOT / "experiments" / "cis-mot17.yaml"
    load_experiment(path, check_methods=False)
    with pytest.raises(ConfigError, match="cis-mot17.yaml"):
        load_experiment(path)
