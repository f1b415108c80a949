"""A board as a reader sees it: rendered by headless Chromium at 1400 px (skipped without it)."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from harness.results.board import write_report

CHROMIUM = next(
    (
        path
        for path in ("/usr/bin/chromium", shutil.which("chromium"))
        if path and Path(path).is_file()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)"
)

METHODS = {  # method: (MOTA, IDF1, fps) of a clean seed
    "sort": (0.86, 0.92, 2000.0),
    "sort:no-min-hits": (0.99, 0.99, 2800.0),
    "iou": (0.80, 0.87, 18000.0),
    "tba:TBA": (0.24, 0.33, 30.0),
    "ground-truth": (1.0, 1.0, 3e6),
}
PROVENANCE = [
    ("Experiment", "browser-board"),
    ("Git commit", "0123456789abcdef0123456789abcdef01234567"),
    ("Packages", "torch 2.13.0, numpy 2.4.6, trackeval 1.3.0"),
    ("CPU/GPU", "AMD EPYC 7B13"),
    ("Threads", "1"),
    ("Jobs", "2"),
]


def board_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A wide board's results and timings: five methods × two detection levels × two seeds, every
    metric of the TBA column set (the widest paper table goes beside it)."""
    metrics, timings = [], []
    for ref, (mota, idf1, fps) in METHODS.items():
        method, _, ablation = ref.partition(":")
        for level, noise in (("clean", 0.0), ("heavy", 0.3)):
            for seed in (0, 1):
                key = {
                    "experiment": "browser-board",
                    "dataset": "sprites-mot",
                    "split": "eval",
                    "detections": level,
                    "method": method,
                    "ablation": ablation or "default",
                    "seed": seed,
                }
                jitter = -0.01 * seed
                values = {
                    "MOTA": mota - noise + jitter,
                    "IDF1": idf1 - noise + jitter,
                    "IDP": idf1 - noise / 2,
                    "IDR": idf1 - noise,
                    "HOTA": idf1 - noise - 0.05,
                    "MOTP": 0.8 + jitter,
                    "FAF": 0.05 + noise,
                    "MT": 40 - 30 * noise + seed,
                    "ML": 2 + 20 * noise,
                    "FP": 500 + 15000 * noise + seed,
                    "FN": 1200 + 16000 * noise,
                    "IDSW": 30 + 100 * noise,
                    "Frag": 20 + 50 * noise,
                }
                metrics += [
                    {**key, "sequence": "COMBINED", "metric": m, "value": v}
                    for m, v in values.items()
                ]
                timings.append(
                    {
                        **key,
                        "sequence": "video",
                        "frames": 990,
                        "total_seconds": 990 / fps,
                        "latency_p50_ms": 1000 / fps,
                        "latency_p95_ms": 1100 / fps,
                        "peak_memory_bytes": 10**8,
                        "device_name": "AMD EPYC 7B13",
                    }
                )
    return pd.DataFrame(metrics), pd.DataFrame(timings)


class Elements(HTMLParser):
    """Every start tag of a page with its attributes, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def named(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("board")
    metrics, timings = board_frames()
    write_report(
        metrics,
        out,
        "browser-board",
        columns="tba",
        timings=timings,
        papers=["tba-t1"],
        provenance=PROVENANCE,
    )
    return out / "leaderboard.html"


def test_the_browser_shows_tables_plots_and_the_provenance_footer(board, tmp_path):
    dom = Elements(chromium(board, tmp_path / "profile", "--dump-dom").stdout)
    tables = dom.named("table")
    assert [t["id"] for t in tables] == ["table-1", "table-2"]  # the paper's, then the board
    assert [d.get("open") for d in dom.named("details")] == [None]  # the board, folded away
    assert len(dom.named("td")) >= 10 * 19 + 6 * 16
    best = [td for td in dom.named("td") if "best" in (td.get("class") or "").split()]
    deltas = [
        td for td in dom.named("td") if {"better", "worse"} & set((td.get("class") or "").split())
    ]
    assert best and deltas

    images = dom.named("img")
    assert [img["alt"] for img in images] == ["leaderboard", "speed_accuracy"]
    for img in images:
        prefix, data = img["src"].split(",", 1)
        assert prefix == "data:image/png;base64"
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        assert picture.format == "PNG" and min(picture.size) > 200

    assert len(dom.named("footer")) == 1
    text = " ".join(dom.text)
    assert "Provenance" in text and "0123456789abcdef0123456789abcdef01234567" in text
    assert "AMD EPYC 7B13" in text and "Threads" in text and "Jobs" in text


def test_the_board_screenshot_at_1400_px_is_a_real_picture(board, tmp_path):
    shot = tmp_path / "board.png"
    chromium(board, tmp_path / "profile", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000
    picture = Image.open(shot)
    assert picture.format == "PNG" and picture.size == (1400, 900)
    colours = picture.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, table rules, marks: not one colour
