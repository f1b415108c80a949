"""The ``trackbench`` command line: run experiments, evaluate files, list trackers and datasets,
write reports.

Errors users can fix (TrackbenchError, missing files, bad YAML, bad options) print one line
``trackbench: error: <message>`` to stderr and exit with code 2; ``--debug`` (anywhere on the line)
shows the traceback instead. ``trackbench run`` exits with 1 when a cell failed and 130 when it was
stopped. Commands import what they need (the runner, torch, TrackEval, pandas, seaborn) only when
they run, so ``--help`` imports none of them (``tests/benchmarks/test_bench_cli.py`` times it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand

from harness.errors import ConfigError, TrackbenchError
from harness.metrics.protocols import FAIRMOT, PROTOCOLS
from harness.metrics.sot_files import SOT_PROTOCOLS

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="trackbench: run tracker experiments, evaluate results files, list trackers and datasets, "
    "write leaderboards.",
)
trackers_app = typer.Typer(help="Registered tracker methods and their ablations.")
datasets_app = typer.Typer(help="Dataset cards.")
app.add_typer(trackers_app, name="trackers")
app.add_typer(datasets_app, name="datasets")

_options = {"debug": False}


class ReportFormat(StrEnum):
    """What ``trackbench report`` makes."""

    files = "files"
    json = "json"


@app.callback()
def _global_options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of errors (anywhere on the line).")
    ] = False,
) -> None:
    _options["debug"] = debug


OutFolder = Annotated[
    Path | None, typer.Option(help="Report folder (default: runs/<experiment name>).")
]
ResultsDatabase = Annotated[
    Path | None, typer.Option(help="Results database (default: <out>/results.sqlite).")
]
Jobs = Annotated[
    int,
    typer.Option(
        min=1,
        help="Worker processes (local executor); CPUs, and so threads, of each cell's task (ray).",
    ),
]
ExecutorName = Annotated[
    Literal["local", "ray"],
    typer.Option(
        help="Compute the cells here (local) or as Ray tasks (ray, needs trackbench[ray]).",
    ),
]
RayAddress = Annotated[
    str | None,
    typer.Option(
        help="Ray cluster to join, e.g. auto or ray://HOST:10001 (default: start a local one)."
    ),
]
Device = Annotated[
    str | None,
    typer.Option(help="Run and time the trackers on this device (default: the experiment's)."),
]
Rerun = Annotated[
    list[str] | None,
    typer.Option(
        metavar="METHOD[:ABLATION]",
        help="Compute this method's cells again even if done and unchanged (a bare METHOD: every "
        "ablation of it); repeatable.",
    ),
]
Force = Annotated[bool, typer.Option("--force", help="Compute every cell again.")]


@app.command()
def run(
    experiment: Annotated[Path, typer.Argument(metavar="EXPERIMENT", help="Experiment YAML file.")],
    out: OutFolder = None,
    db: ResultsDatabase = None,
    jobs: Jobs = 1,
    device: Device = None,
    report: Annotated[
        bool, typer.Option(help="Write the leaderboard into --out after the run.")
    ] = True,
    executor: ExecutorName = "local",
    address: RayAddress = None,
    rerun: Rerun = None,
    force: Force = False,
) -> None:
    """Run every cell of an experiment not already done in the database, then report. A cell
    whose code, checkpoint, dataset or config changed since its result is computed again."""
    from harness.executors import make_executor
    from harness.experiment import expand, load_experiment
    from harness.progress import CellBars, CellLines
    from harness.runner import RunInterrupted, run_experiment
    from harness.store import Store

    computer = make_executor(executor, jobs, address)
    spec = load_experiment(experiment)
    if device is not None:
        spec = spec.on_device(device)
    out = out or Path("runs") / spec.name
    err = Console(stderr=True, soft_wrap=True)
    display = CellBars(err) if err.is_terminal else CellLines(sys.stderr)
    with Store(db or out / "results.sqlite") as store:
        try:
            summary = run_experiment(
                spec, store, progress=display, executor=computer, rerun=rerun or (), force=force
            )
        except RunInterrupted as stop:
            _print_summary(err, stop.summary, store.path)
            err.print(
                f"the board of the finished cells: trackbench report --db {store.path} --out {out}",
                markup=False,
                highlight=False,
            )
            raise typer.Exit(130) from None
        _print_summary(err, summary, store.path)
        if report:
            _write_report(store, spec.name, out, [cell.config_hash for cell in expand(spec)])
    if summary.failed:
        raise typer.Exit(1)


def _print_summary(err: Console, summary, database: Path) -> None:
    """What a run did (with how many done cells it computed again, and why), and one line per
    failed cell."""
    from harness.plan import count_reasons

    interrupted = f", {summary.interrupted} interrupted" if summary.interrupted else ""
    reruns = summary.reruns.values()
    rerun = f", {len(reruns)} re-run ({count_reasons(reruns)})" if reruns else ""
    submitted = f", {len(summary.submitted)} submitted" if summary.submitted else ""
    err.print(
        f"{summary.experiment}: {summary.total} cells, {summary.skipped} already done, "
        f"{summary.done} done now{submitted}, {len(summary.failed)} failed{rerun}{interrupted}"
        f" ({database})",
        markup=False,
        highlight=False,
    )
    for outcome in summary.failed:
        err.print(f"  failed: {outcome.cell.label}: {outcome.error}", markup=False, highlight=False)


class _ReproduceCommand(TyperCommand):
    """``trackbench reproduce --help`` ends with every paper table it runs and what each needs."""

    def format_help(self, ctx: Any, formatter: Any) -> None:  # click's, or typer's copy of it
        super().format_help(ctx, formatter)
        from harness.plan import table_needs

        formatter.write_paragraph()
        formatter.write_text("Paper tables and what they need:")
        with formatter.indentation():
            for needs in table_needs():
                for line in needs.lines():
                    formatter.write(f"{' ' * formatter.current_indent}{line}\n")


@app.command(cls=_ReproduceCommand)
def reproduce(
    table: Annotated[str, typer.Argument(metavar="TABLE", help="Paper table id, e.g. tba-t1.")],
    out: OutFolder = None,
    db: ResultsDatabase = None,
    jobs: Jobs = 1,
    device: Device = None,
    executor: ExecutorName = "local",
    address: RayAddress = None,
    rerun: Rerun = None,
    force: Force = False,
) -> None:
    """Run the experiment that reproduces a paper table; the board shows ours beside it.

    The list below says, for each experiment: the tables it serves, its cells, the datasets to
    obtain (their cards, datasets/*.yaml, say from where) or generated here, the checkpoints its
    methods read (published in checkpoints/, or to train first), the device, the data it
    generates and caches, and whether it runs on a laptop as shipped (CPU, no dataset to obtain,
    every checkpoint there, at most 10 GB of cache).
    """
    from harness.papers import paper_table

    run(
        paper_table(table).experiment_path(),
        out=out,
        db=db,
        jobs=jobs,
        device=device,
        executor=executor,
        address=address,
        rerun=rerun,
        force=force,
    )


@app.command()
def evaluate(
    gt: Annotated[
        Path,
        typer.Option(
            help="Ground truth: a file, a folder of sequences (e.g. TrackEval's "
            "gt/mot_challenge/MOT17-train), TrackEval's gt/mot_challenge (with --benchmark and "
            "--split); KITTI: label_02 or the folder holding it and its seqmap."
        ),
    ],
    pred: Annotated[
        Path,
        typer.Option(
            help="Tracker results: a file, a folder of <seq>.txt, a tracker folder with data/, a "
            "folder of tracker folders or TrackEval's trackers/mot_challenge (with --benchmark "
            "and --split): every tracker in it, or the one --tracker names."
        ),
    ],
    protocol: Annotated[
        str | None,
        typer.Option(
            help=f"One of {', '.join(PROTOCOLS)} (default plain); single-object: "
            f"{', '.join(SOT_PROTOCOLS)} (default: the one the --gt layout shows)."
        ),
    ] = None,
    benchmark: Annotated[
        str | None, typer.Option(help="TrackEval benchmark, e.g. MOT17 (with --split).")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            help="TrackEval split, e.g. train: <BENCHMARK>-<SPLIT> folders; KITTI: the seqmap "
            "evaluate_tracking.seqmap.<SPLIT> (default training)."
        ),
    ] = None,
    tracker: Annotated[
        str | None,
        typer.Option(help="The tracker folder to evaluate among several (default: every one)."),
    ] = None,
    seqmap: Annotated[
        Path | None,
        typer.Option(
            help="Evaluate only the sequences this seqmap lists (TrackEval's format: a line "
            "'name', then one sequence per line; KITTI protocols: KITTI's seqmap)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    task: Annotated[
        Literal["multi-object", "single-object"] | None,
        typer.Option(
            help="Default: single-object where --gt has OTB's, GOT-10k's or LaSOT's layout."
        ),
    ] = None,
    sequences: Annotated[
        Path | None,
        typer.Option(help="Single-object: evaluate the sequences this file lists, one a line."),
    ] = None,
    repetitions: Annotated[
        Literal["first", "all"] | None,
        typer.Option(help="GOT-10k: score <seq>_001.txt (first) or pool every repetition (all)."),
    ] = None,
    plots: Annotated[
        Path | None,
        typer.Option(help="Single-object: write success.png and precision.png into this folder."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="Multi-object metrics by trackbench's engine or TrackEval's own metric classes "
            "(trackeval); the numbers are equal."
        ),
    ] = "trackbench",
) -> None:
    """Evaluate tracker results against ground truth like TrackEval does (single-object: like the
    got10k toolkit)."""
    import warnings

    from harness.errors import EmptyResultsWarning
    from harness.metrics import evaluate_files
    from harness.metrics.catalogue import in_catalogue_order, metric_named
    from harness.metrics.files import tracker_names
    from harness.metrics.sot_files import single_object_protocol

    single_object = single_object_protocol(task, protocol, gt)
    if single_object is not None:
        if benchmark or split or seqmap:
            raise ConfigError("--benchmark, --split and --seqmap are multi-object options")
        runs = repetitions or "first"
        _evaluate_single_object(gt, pred, single_object, sequences, tracker, runs, as_json, plots)
        return
    if sequences or repetitions or plots:
        raise ConfigError("--sequences, --repetitions and --plots are single-object options")
    protocol = protocol or "plain"
    # A folder of tracker folders without --tracker: every tracker, as TrackEval evaluates them.
    names: list[str | None] = [] if tracker else list(tracker_names(pred, benchmark, split))
    results: dict[str | None, dict] = {}
    for name in names or [tracker]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", EmptyResultsWarning)
            results[name] = evaluate_files(
                gt,
                pred,
                protocol,
                benchmark=benchmark,
                split=split,
                tracker=name,
                seqmap=seqmap,
                engine=engine,
            )
        _echo_warnings(caught, EmptyResultsWarning)
    for result in results.values():
        for values_of in result.get("classes", {None: result}).values():  # KITTI: per class
            values_of["sequences"] = {
                seq: in_catalogue_order(values) for seq, values in values_of["sequences"].items()
            }
            values_of["combined"] = in_catalogue_order(values_of["combined"])
    if as_json:
        typer.echo(json.dumps({"trackers": results} if names else results[tracker], indent=2))
        return
    evaluator = " (FairMOT's evaluator, not TrackEval)" if protocol == FAIRMOT else ""
    for name, result in results.items():
        for cls, values_of in result.get("classes", {None: result}).items():
            columns = {**values_of["sequences"], "COMBINED": values_of["combined"]}
            caption = (
                f"protocol {protocol}{evaluator}"
                + (f", tracker {name}" if names else "")
                + (f", class {cls}" if cls else "")
                + "; ratios in %"
            )
            table = Table(caption=caption)
            table.add_column("metric")
            for column in columns:
                table.add_column(column, justify="right")
            for metric in values_of["combined"]:
                info = metric_named(metric)
                table.add_row(metric, *(info.format(values[metric]) for values in columns.values()))
            _console().print(table)


def _echo_warnings(caught: list[Any], category: type[Warning]) -> None:
    """Caught warnings of ``category`` as ``trackbench: warning: ...`` lines, others as Python
    shows them."""
    import warnings

    for warning in caught:
        if issubclass(warning.category, category):
            typer.echo(f"trackbench: warning: {warning.message}", err=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _evaluate_single_object(
    gt: Path,
    pred: Path,
    protocol: str,
    sequences: Path | None,
    tracker: str | None,
    repetitions: str,
    as_json: bool,
    plots: Path | None,
) -> None:
    """``evaluate`` of single-object results: a table per tracker (a row per sequence) or JSON,
    and the plots."""
    import warnings

    from harness.metrics.sot_files import ShortResultsWarning, evaluate_single_object

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ShortResultsWarning)
        result = evaluate_single_object(gt, pred, protocol, sequences, tracker, repetitions)
    _echo_warnings(caught, ShortResultsWarning)
    if plots is not None:
        from harness.metrics.sot_plots import write_plots

        for path in write_plots(result, plots):
            typer.echo(f"trackbench: wrote {path}", err=True)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    for name, values in result["trackers"].items():
        table = Table(caption=f"protocol {result['protocol']}, tracker {name}; ratios in %")
        table.add_column("sequence")
        for metric in values["combined"]:
            table.add_column(metric, justify="right")
        for seq, scores in {**values["sequences"], "COMBINED": values["combined"]}.items():
            table.add_row(seq, *(f"{100 * value:.1f}" for value in scores.values()))
        _console().print(table)


@app.command()
def report(
    db: Annotated[Path, typer.Option(help="Results database.")],
    out: Annotated[
        Path | None, typer.Option(help="Report folder (needed with --format files).")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option(help="Experiment to report (needed if several).")
    ] = None,
    output_format: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help="files: the board's files in --out; json: its rows on stdout (for CI).",
        ),
    ] = ReportFormat.files,
    pivot_metric: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Metric of the axis tables and by_<axis>.png: any metric the results have "
            "(default: the first report column).",
        ),
    ] = None,
) -> None:
    """Write the leaderboard (Markdown, CSV, HTML, LaTeX, plot) of an experiment's results, or
    print its rows as JSON."""
    from harness.store import Store

    if output_format is ReportFormat.files and out is None:
        raise ConfigError("--out is needed to write the board's files (or use --format json)")
    with Store(db, create=False) as store:
        name = store.resolve_experiment(experiment)
        if output_format is ReportFormat.json:
            rows = _board_rows(store, name)
            typer.echo(json.dumps({"experiment": name, "rows": rows}, indent=2, ensure_ascii=False))
        else:
            assert out is not None  # checked above for the files format
            _write_report(store, name, out, pivot_metric=pivot_metric)


@app.command()
def compare(
    new: Annotated[Path, typer.Argument(metavar="NEW", help="Results database of the change.")],
    baseline: Annotated[Path, typer.Option(help="Results database of the baseline.")],
    experiment: Annotated[
        str | None, typer.Option(help="Experiment to compare (needed if a database holds several).")
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(help="Comma-separated metrics or a column set (mot, tba, hota, cis)."),
    ] = None,
    tolerance: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC=X (absolute, stored units: MOTA=0.01 is 1 point) or METRIC=X% "
            "(relative); repeatable."
        ),
    ] = None,
    z: Annotated[
        float, typer.Option(min=0, help="Standard errors of seed noise added to tolerances.")
    ] = 2.0,
    alpha: Annotated[
        float,
        typer.Option(
            help="Significance level of the paired test over sequences (one seed a side)."
        ),
    ] = 0.05,
    speed: Annotated[bool, typer.Option(help="Also gate on fps (noisy across machines).")] = False,
    speed_tolerance: Annotated[
        float, typer.Option(min=0, help="Relative fps tolerance (0.2 = 20%).")
    ] = 0.2,
    markdown: Annotated[
        Path | None, typer.Option(help="Also write the table as Markdown (a CI comment).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print only the verdict line (for CI logs).")
    ] = False,
) -> None:
    """Regression gate: compare NEW's results with the baseline's; exit 1 on a regression."""
    from rich.markup import escape

    from harness.compare import (
        NUMERIC_COLUMNS,
        compare_databases,
        display_table,
        parse_tolerances,
        table_notes,
        to_markdown,
    )

    if as_json and summary:
        raise ConfigError("--json and --summary exclude each other")
    result, new_side, base_side = compare_databases(
        new,
        baseline,
        experiment,
        speed=speed,
        metrics=metrics,
        tolerances=parse_tolerances(tolerance or []),
        z=z,
        alpha=alpha,
        speed_tolerance=speed_tolerance,
    )
    title = (
        f"trackbench compare: {new_side.experiment} ({new}) "
        f"vs baseline {base_side.experiment} ({baseline})"
    )
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(to_markdown(result, title), encoding="utf-8")
    if summary:
        typer.echo(result.summary_line())
    elif as_json:
        typer.echo(result.to_json())
    else:
        header, rows = display_table(result)
        table = Table(title=escape(title), title_justify="left")
        for column in header:
            table.add_column(column, justify="right" if column in NUMERIC_COLUMNS else "left")
        styles = {"✗": "bold red", "↑": "green"}
        for row in rows:  # cells are text, never markup: "[length=20]" stays as written
            table.add_row(*map(escape, row), style=styles.get(row[-1][:1]))
        console = _console()
        console.print(table)
        for line in [*table_notes(result), result.summary_line()]:
            console.print(line, markup=False, highlight=False)
    if not result.passed:
        raise typer.Exit(result.exit_code)


@app.command()
def train(
    method: Annotated[
        str, typer.Argument(metavar="METHOD", help="Method and ablation, e.g. tba:TBAc-noMem.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Checkpoint folder (last.pt, last.json, curve.json).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset to train on (default: the method's).")
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(help="Folder holding your copy of the dataset (generated sets: their cache)."),
    ] = None,
    iterations: Annotated[int, typer.Option(min=1, help="Total iterations (chunks).")] = 1000,
    resume: Annotated[bool, typer.Option(help="Continue from the checkpoint in --out.")] = False,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 ...")] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of weights, data, resets and noise.")] = 0,
    checkpoint_every: Annotated[int, typer.Option(min=1)] = 100,
    log_every: Annotated[int, typer.Option(min=1, help="Iterations per curve point.")] = 10,
    config: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="Override a method config key (repeatable)."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="Override a dataset card param (repeatable)."),
    ] = None,
    hparam: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Override a training hyper-parameter, e.g. batch=8 (repeatable;"
            " --hparams lists the method's).",
        ),
    ] = None,
    hparams: Annotated[
        bool,
        typer.Option(
            "--hparams", help="Print the method's training hyper-parameters and defaults; exit."
        ),
    ] = False,
    validate_every: Annotated[
        int,
        typer.Option(min=0, help="Iterations between validations on a held-out video (0: off)."),
    ] = 1000,
    validation_frames: Annotated[int, typer.Option(min=1, help="Validation video length.")] = 500,
    compile: Annotated[
        str | None,
        typer.Option(
            help="torch.compile mode of the training: default, reduce-overhead,"
            " max-autotune-no-cudagraphs."
        ),
    ] = None,
    evaluate: Annotated[
        bool, typer.Option(help="Evaluate the checkpoint on the evaluation video afterwards.")
    ] = False,
    max_minutes: Annotated[
        float | None,
        typer.Option(
            min=0, help="Stop (checkpointed, resumable) at the first curve point after this."
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Processes making the training batches ahead (0: in this one; other batches,"
            " so a resume needs the same number).",
        ),
    ] = 0,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Continue this checkpoint's training (same method and config; e.g. published"
            " weights on a new machine) with a fresh optimizer; with --resume, only when --out"
            " holds no training state yet.",
        ),
    ] = None,
) -> None:
    """Train a learnable method with the recipe it registers; print a JSON summary."""
    from harness import lifecycle

    overrides = _parse_params(config or [], "--config", "smoke=true")
    if dataset is not None:
        overrides["dataset"] = dataset
    overrides["device"] = device
    if hparams:
        defaults = lifecycle.hyperparameters(method, **overrides)
        typer.echo(json.dumps(defaults, indent=2))
        return
    if out is None:
        raise ConfigError("--out is required: the folder the run's checkpoints go to")
    summary = lifecycle.train_method(
        method,
        out,
        iterations,
        config=overrides,
        hyperparameters=_parse_params(hparam or [], "--hparam", "batch=8"),
        dataset_root=root,
        dataset_params=_parse_params(param or []),
        validate_every=validate_every or None,
        validation_frames=validation_frames,
        evaluate=evaluate,
        seed=seed,
        resume=resume,
        checkpoint_every=checkpoint_every,
        log_every=log_every,
        max_minutes=max_minutes,
        compile=compile,
        workers=workers,
        init_from=init_from,
    )
    typer.echo(json.dumps(summary, indent=2))


CheckpointPath = Annotated[
    Path, typer.Argument(metavar="CHECKPOINT", help="Checkpoint path, e.g. checkpoints/x/last.")
]


@app.command()
def card(
    method: Annotated[
        str, typer.Argument(metavar="METHOD", help="The learnable method, e.g. tba.")
    ],
    checkpoint: CheckpointPath,
    evaluate: Annotated[
        bool, typer.Option(help="Evaluate it on its dataset's evaluation split into the card.")
    ] = False,
    frames: Annotated[
        int | None,
        typer.Option(min=1, help="A generated dataset's evaluated frames (default: the card's)."),
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 ...")] = "cpu",
    setting: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="A tracking option of the evaluated tracker, e.g. stochastic=true (repeatable).",
        ),
    ] = None,
) -> None:
    """Print a trained checkpoint's card summary (JSON); --evaluate adds the metrics first."""
    from harness import lifecycle

    settings = _parse_params(setting or [], "--setting", "stochastic=true")
    summary = lifecycle.describe_checkpoint(
        method, checkpoint, evaluate, frames=frames, device=device, settings=settings
    )
    typer.echo(json.dumps(summary, indent=2))


@app.command()
def publish(
    checkpoint: CheckpointPath,
    target: Annotated[
        Path, typer.Argument(metavar="TARGET", help="Published path, e.g. checkpoints/x/last.")
    ],
    dtype: Annotated[
        str | None,
        typer.Option(help="Store the floating weights as float16, bfloat16 or float32."),
    ] = None,
    best: Annotated[
        bool,
        typer.Option(
            "--best",
            help="CHECKPOINT is a training run's --out folder: publish its best-validated"
            " checkpoint, the card saying which and how far the run went.",
        ),
    ] = False,
) -> None:
    """Copy a trained checkpoint's weights and card (not its training state) for publishing;
    print the card's stored dtype and size."""
    from harness.checkpoints import checkpoint_files, publish_checkpoint

    card = publish_checkpoint(checkpoint, target, dtype, best)
    size = checkpoint_files(target)[0].stat().st_size
    typer.echo(
        json.dumps({"target": str(target), "stored_dtype": card["stored_dtype"], "bytes": size})
    )


@trackers_app.command("list")
def trackers_list() -> None:
    """Every method and ablation: the kind and inputs it is registered with, paper, table."""
    from harness.registry import DEFAULT_ABLATION, methods

    table = Table(title="trackers")
    for column in ("method", "ablation", "inputs", "kind", "overrides", "paper", "table"):
        table.add_column(column, overflow="fold")
    for name, spec in methods().items():
        inputs = ", ".join(sorted(spec.inputs)) or "-"
        rows = {
            DEFAULT_ABLATION: "-",
            **{a: _format_overrides(o) for a, o in spec.ablations.items()},
        }
        for i, (ablation, overrides) in enumerate(rows.items()):
            first = i == 0  # the method's own columns once, on its default row
            table.add_row(
                name if first else "",
                ablation,
                inputs if first else "",
                spec.kind if first else "",
                overrides,
                spec.paper if first else "",
                spec.table if first else "",
            )
    _console().print(table)


@datasets_app.command("list")
def datasets_list() -> None:
    """Every dataset card."""
    from harness.datasets.base import card_names, load_card, split_task

    table = Table(title="datasets")
    for column in ("name", "splits (task)", "protocol", "description"):
        table.add_column(column, overflow="fold")
    for name in card_names():
        card = load_card(name)
        table.add_row(
            name,
            ", ".join(f"{split} ({split_task(card, split)})" for split in card["splits"]),
            str(card["protocol"].get("preprocessing") or f"iou: {card['protocol'].get('iou')}"),
            " ".join(str(card["description"]).split()).split(". ")[0],
        )
    _console().print(table)


@datasets_app.command("info")
def datasets_info(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name, e.g. sprites-mot.")],
) -> None:
    """Show a dataset card."""
    from harness.datasets.base import load_card

    typer.echo(yaml.safe_dump(load_card(name), sort_keys=False, allow_unicode=True), nl=False)


@datasets_app.command("check")
def datasets_check(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Dataset name, e.g. mot17.")],
    root: Annotated[
        Path, typer.Argument(metavar="ROOT", help="Folder holding your copy of the dataset.")
    ],
    param: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Override a card param, VALUE in YAML (repeatable), e.g. "
            "--param sequences=[MOT17-02,MOT17-04] or --param detectors=[SDP].",
        ),
    ] = None,
) -> None:
    """List every missing file, layout error, checksum mismatch and malformed line of a copy;
    exit 1 if there is any."""
    from harness.datasets import load_dataset

    problems = load_dataset(name, root, **_parse_params(param or [])).check()
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        typer.echo(f"{name} at {root}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{name} at {root}: complete")


EXPONENT_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+")
"""Numbers such as ``1e-4`` that YAML 1.1 reads as strings."""


def _parse_params(
    specs: list[str], option: str = "--param", example: str = "detectors=[SDP]"
) -> dict[str, Any]:
    """``["sequences=[A,B]", "fps=25"]`` -> ``{"sequences": ["A", "B"], "fps": 25}`` (values
    parsed as YAML, and a number YAML 1.1 leaves a string, such as ``1e-4``, as a float);
    errors name ``option``, the flag they came from, with ``example``."""
    params: dict[str, Any] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"bad {option} {spec!r}: expected KEY=VALUE, e.g. {example}")
        if key in params:
            raise ConfigError(f"{option} {key} given twice")
        try:
            params[key] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"bad {option} {spec!r}: VALUE is not YAML ({problem})") from None
        if isinstance(params[key], str) and EXPONENT_NUMBER.fullmatch(params[key].strip()):
            params[key] = float(params[key])
    return params


def _console() -> Console:
    """A console for tables: the terminal's width, or 160 columns when piped to a file."""
    return Console(width=None if sys.stdout.isatty() else 160)


def _board_rows(store, experiment: str) -> list[dict[str, Any]]:
    """``render.board_rows`` of an experiment's done cells, with its paper tables."""
    from harness.papers import tables_for
    from harness.results.render import board_rows

    frame = store.metrics_frame(experiment)
    if frame.empty:
        return []
    return board_rows(frame, store.timings_frame(experiment), tables_for(frame))


def _write_report(
    store,
    experiment: str,
    out: Path,
    config_hashes: list[str] | None = None,
    pivot_metric: str | None = None,
) -> None:
    from harness.papers import tables_for
    from harness.results.board import write_report
    from harness.results.sections import board_provenance

    frame = store.metrics_frame(experiment, config_hashes)
    if frame.empty:
        cells = store.cells(experiment)
        zips = cells["submission"].dropna().tolist() if "submission" in cells else []
        scored = "no scored cells" + (f" ({len(zips)} submission zips)" if zips else "")
        Console(stderr=True).print(f"{experiment}: {scored}, no report written", markup=False)
        return
    timings = store.timings_frame(experiment, config_hashes)
    papers = tables_for(frame)
    models = store.provenance_frame(experiment, config_hashes)
    cells = store.cells(experiment)
    if config_hashes is not None:
        cells = cells[cells["config_hash"].isin(config_hashes)]
    written = write_report(
        frame,
        out,
        title=experiment,
        timings=timings,
        papers=papers,
        models=models,
        failures=cells,
        provenance=board_provenance(store.runs(), cells, timings),
        curves=store.curves_frame(experiment, config_hashes),
        pivot_metric=pivot_metric,
    )
    for path in written:
        _console().print(f"wrote {path}", markup=False, highlight=False)


def _format_overrides(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in overrides.items())


def _fail(message: str, code: int = 2) -> int:
    typer.echo(f"trackbench: error: {' '.join(message.split())}", err=True)
    return code


class _StderrLines(logging.Handler):
    """The library's progress messages (``logging``, e.g. a synthetic video being cached) as
    ``trackbench: message`` lines on whatever ``sys.stderr`` is when they come."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"trackbench: {record.getMessage()}", file=sys.stderr, flush=True)


def _log_to_stderr() -> None:
    logger = logging.getLogger("harness")
    if not any(isinstance(handler, _StderrLines) for handler in logger.handlers):
        logger.addHandler(_StderrLines())
    logger.setLevel(logging.INFO)


def _debug_first(args: list[str]) -> list[str]:
    """``--debug`` moved before the subcommand, where the global option is parsed, so that
    ``trackbench run X --debug`` works too (arguments after ``--`` are left alone)."""
    options = args[: args.index("--")] if "--" in args else args
    if "--debug" not in options:
        return args
    rest = list(args)
    rest.remove("--debug")
    return ["--debug", *rest]


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``trackbench`` console script."""
    _log_to_stderr()
    args = _debug_first(sys.argv[1:] if argv is None else list(argv))
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="trackbench", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        code = _fail(f"{exc.format_message()} (see trackbench --help)", exc.exit_code)
    except typer.Abort:
        code = _fail("aborted", 1)
    except (TrackbenchError, FileNotFoundError, IsADirectoryError, yaml.YAMLError) as exc:
        if _options["debug"]:
            raise
        message = str(exc)
        if isinstance(exc, OSError) and exc.filename is not None:
            message = f"{exc.filename}: {exc.strerror}"
        code = _fail(message)
    if code == 130:  # `run` stopped by Ctrl-C or SIGTERM
        _fail("interrupted; finished cells are saved, run again to resume", 130)
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
