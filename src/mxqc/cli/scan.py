"""``mxqc scan``: a driver over ``mxqc.scan.run.scan`` with a progress bar and a summary."""

from __future__ import annotations

import csv
import itertools
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from mxqc.cli.common import (
    add,
    check_centre_method,
    check_device,
    check_model,
    check_paths,
    parse_frames,
)
from mxqc.console import console, err_console
from mxqc.threads import available_cores

Frames = Annotated[str | None, typer.Option(
    help="Frames of multi-frame files, START:STOP[:STEP] (0-based).")]
Dask = Annotated[str | None, typer.Option(
    help="Dask scheduler address (tcp://host:8786) or local[N].")]
SweepCentre = Annotated[bool, typer.Option(
    help="With --centre auto: a sweep whose header centres its own frames do not confirm "
         "takes its centre from the sum of its frames.")]
Witnesses = Annotated[bool, typer.Option(
    help="Physical evidence per class (spots, rings, lines, module gains) and its sentences; "
         "the model's fusion with the CNN needs it.")]
Heatmaps = Annotated[bool, typer.Option(
    help="Heatmaps of where each flagged class is (annular occlusion for rings, Grad-CAM "
         "otherwise).")]
HeatmapEvery = Annotated[int, typer.Option(
    help="Heatmaps for one in N flagged frames (1: all); the costliest stage on a CPU.")]
TimeLimit = Annotated[float, typer.Option(
    help="Seconds one frame may take before its worker is stopped and the frame recorded as "
         "an error.", min=1)]
MemoryLimit = Annotated[float, typer.Option(
    help="GB of data one worker may allocate; beyond, its frame is an error.", min=1)]
Workers = Annotated[int | None, typer.Option(
    help="Local worker processes [default: the cores this process may use].", min=1)]
Tta = Annotated[int, typer.Option(
    help="Test-time views averaged per frame: 1, 4 or 8 (Cartesian CNNs); costs that many "
         "forward passes.")]


def scan(paths: Annotated[list[str], typer.Argument(help="Files, directories or globs.")],
         out: Annotated[str, typer.Option("--out", help="Result directory.")],
         model: Annotated[str | None, typer.Option(
             help="Model file, or 'default' (the shipped model, also when not given).")
         ] = None,
         frames: Frames = None,
         every: Annotated[int, typer.Option(help="Keep one frame in N.")] = 1,
         workers: Workers = None,
         dask: Dask = None,
         resume: Annotated[bool, typer.Option(help="Skip frames already in OUT's journal.")
                           ] = False,
         centre_method: Annotated[str, typer.Option("--centre", help="Centre method.")
                                  ] = "auto",
         sweep_centre: SweepCentre = True,
         rings: Annotated[bool, typer.Option(help="Training-free ring analysis.")] = True,
         witnesses: Witnesses = True, heatmaps: Heatmaps = True, heatmap_every: HeatmapEvery = 10,
         batch_size: Annotated[int, typer.Option(help="Frames per batch.")] = 16,
         time_limit: TimeLimit = 60.0, memory_limit: MemoryLimit = 6.0,
         device: Annotated[str, typer.Option(help="Where the CNN runs: cpu, cuda or auto.")
                           ] = "cpu",
         tta: Tta = 1,
         report: Annotated[bool, typer.Option(help="Write report.html.")] = True):
    """Per-frame anomaly probabilities, labels, evidence, beam centre, rings, spots and
    heatmaps."""
    from mxqc.guard import Limits
    from mxqc.scan import ScanOptions

    check_centre_method(centre_method)
    check_model(model, tta)  # a bad model or view count is one line before any worker starts
    check_device(device)
    check_paths(paths)
    options = ScanOptions(model_path=model, centre_method=centre_method,
                          sweep_centre=sweep_centre, rings=rings, witnesses=witnesses,
                          heatmaps=heatmaps, heatmap_every=heatmap_every, device=device, tta=tta)
    summary = _run(paths, out, options, frames=parse_frames(frames), every=every,
                   workers=workers or available_cores(), dask=dask, resume=resume,
                   batch_size=batch_size, limits=Limits(seconds=time_limit, memory_gb=memory_limit))
    if not summary.frames:
        selection = (f" with --frames {frames} (frame indices start at 0; a single-frame file "
                     "has frame 0 only)") if frames else (
                     " (give frame files, folders holding them, or globs; `mxqc info PATH` "
                     "lists what mxqc reads)")
        err_console.print(f"[red]error[/red] no frames found in {' '.join(paths)}{selection}")
        raise typer.Exit(code=1)
    _print_summary(summary, out)
    if report and summary.tables:
        from mxqc.report import write_report

        console.print(f"report: {write_report(out)}")
    for name, path in summary.tables.items():
        console.print(f"{name}: {path}")
    if summary.failures:
        _print_failures(summary.tables["errors"], summary.failures)
        raise typer.Exit(code=1)


def _run(paths, out, options, **how):
    """The scan with a progress bar; Ctrl-C says where the finished frames are."""
    from mxqc.scan.run import scan as run_scan

    columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]:.1f} frames/s"), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("scan", total=None, rate=0.0)

        def progress(done, total):
            elapsed = bar.tasks[0].elapsed or 0
            bar.update(task, completed=done, total=total,
                       rate=done / elapsed if elapsed else 0.0)

        try:
            return run_scan(paths, out, options=options, progress=progress, **how)
        except KeyboardInterrupt:
            err_console.print(f"interrupted: finished frames are in {out}; "
                              "run again with --resume")
            raise typer.Exit(code=130) from None


def _print_summary(summary, out) -> None:
    table = Table(title=f"{summary.frames} frames ({summary.failures} failed)")
    for column, justify in (("class", "left"), ("frames", "right"), ("rate", "right")):
        table.add_column(column, justify=justify)
    ok = max(summary.frames - summary.failures, 1)
    for name, count in summary.per_class.items():
        table.add_row(name, str(count), f"{count / ok:.0%}")
    console.print(table)
    _print_sweeps(out)
    rate = summary.analysed / summary.seconds if summary.seconds else 0
    again = (f", {summary.recentred} of them again with their sweep's centre"
             if summary.recentred else "")
    console.print(f"analysed {summary.analysed} frames in {summary.seconds:.1f} s "
                  f"({rate:.1f} frames/s{again}); {summary.skipped} already done")


def _print_sweeps(out, shown: int = 10) -> None:
    """One line per sweep: what it shows and on which frames (read with neighbours)."""
    from mxqc.scan.results import Journal
    from mxqc.scan.sweeps import group_sweeps

    sweeps = group_sweeps(Journal(out).rows())
    for sweep in sweeps[:shown]:
        shows = [c.replace("_", " ") + (f" ({k.held})" if sweep.frames > 1 else "")
                 for c, k in sweep.classes.items() if k.call]
        console.print(f"[bold]{sweep.label}[/bold] ({sweep.frames} frame"
                      f"{'s' if sweep.frames != 1 else ''}): "
                      + (", ".join(shows) if shows else "nothing"))
    if len(sweeps) > shown:
        console.print(f"… {len(sweeps) - shown} more sweeps in sweeps.csv")


def _print_failures(errors_csv, count: int, shown: int = 5) -> None:
    """The first reasons on the terminal, so that a mistyped path is not only in a file."""
    with open(errors_csv, newline="") as f:
        rows = list(itertools.islice(csv.DictReader(f), shown))
    for row in rows:
        err_console.print(f"failed: {row['error']}")
    more = f" ({count - len(rows)} more)" if count > len(rows) else ""
    err_console.print(f"{count} frame(s) or file(s) failed{more}: see {errors_csv}")


def register(app: typer.Typer) -> None:
    add(app, scan)
