"""``mxqc simulate`` and ``mxqc dataset build|merge|split``: frames with known anomalies, and
data sets in the RefleX layout."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress

from mxqc.cli.common import add, check_choice, finish
from mxqc.console import console, err_console
from mxqc.errors import MxqcError
from mxqc.normalise import RESIZE_METHODS

Detector = Annotated[str, typer.Option(
    help="Detector model, or several separated by commas (taken in turn).")]
Format = Annotated[str | None, typer.Option(
    "--format", help="cbf, smv, h5 or png (default: the detector's own).")]
Rates = Annotated[str | None, typer.Option(
    help="Class rates, e.g. 'ice_ring=0.3,artifact=0.2' (others as RefleX).")]
Gallery = Annotated[str | None, typer.Option(
    help="Instead of a data set, draw one example per class to this PNG.")]
Real = Annotated[list[str] | None, typer.Option(
    help="Real frames to show beside the gallery (repeatable).")]
Resize = Annotated[str, typer.Option(help="Resampling for PNG output: nearest, area or max.")]
Sweep = Annotated[int, typer.Option(
    help="Single-frame formats: N consecutive files are one rotation sweep (shared geometry "
         "and sample; anomalies persist, artefacts come and go).")]
Draws = Annotated[int, typer.Option(
    help="Scenes drawn per label vector until its classes are visible (1: keep the first "
         "draw; invisible classes are labelled 0).")]
Resume = Annotated[bool, typer.Option(
    help="Keep frames already in OUT (same seed and options); make the rest.")]
Canvas = Annotated[list[str] | None, typer.Option(
    help="Real frames (files or folders, repeatable) to inject the anomalies into, on their "
         "own geometry and mask; their labels.csv gives what they are known to show (PNG "
         "output).")]
Seed = Annotated[int, typer.Option(help="Random seed (of the frames, or of the split).")]


def simulate(out: Annotated[str | None, typer.Argument(help="Output directory.")] = None,
             n: Annotated[int, typer.Option("-n", help="Number of frames.")] = 10,
             detector: Detector = "square1k", fmt: Format = None, seed: Seed = 0,
             rates: Rates = None, gallery: Gallery = None, real: Real = None,
             size: Annotated[int, typer.Option(help="Image edge for PNG output.")] = 512,
             resize: Resize = "nearest",
             workers: Annotated[int, typer.Option(help="Processes to simulate with.")] = 1,
             sweep: Sweep = 1, draws: Draws = 4, resume: Resume = False,
             canvas: Canvas = None):
    """Simulate raw frames with known anomalies, beam centre and geometry."""
    from mxqc.simulate.detector import DETECTORS
    from mxqc.simulate.export import write_simulated

    detectors = [d.strip() for d in detector.split(",")]
    if any(d not in DETECTORS for d in detectors):
        raise typer.BadParameter(f"must be among {sorted(DETECTORS)}", param_hint="--detector")
    if gallery:
        from mxqc.simulate.gallery import draw_gallery

        draw_gallery(gallery, detector=detectors[0], seed=seed, real_paths=real or ())
        console.print(f"wrote {gallery}")
        return
    if out is None:
        raise typer.BadParameter("give an output directory (or --gallery PNG)", param_hint="OUT")
    options = dict(seed=seed, rates=_rates(rates), size=size, resize=resize, draws=draws,
                   workers=workers)
    if canvas:
        _simulate_canvases(out, canvas, n, **options)
        return
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"simulating {n} {detector} frames", total=n)
        try:
            names = write_simulated(out, n, detector=detectors, fmt=fmt, resume=resume,
                                    sweep=sweep, progress=lambda k: bar.advance(task, k),
                                    **options)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    console.print(f"wrote {len(names)} frames, labels.csv (visible labels), truth.csv and "
                  f"truth.jsonl (drawn, visibility) to {out}")


def _rates(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    try:
        return {k.strip(): float(v) for k, v in (p.split("=") for p in text.split(","))}
    except ValueError:
        raise typer.BadParameter("expected name=rate pairs separated by commas",
                                 param_hint="--rates") from None


def _simulate_canvases(out, paths, n, **options):
    from mxqc.simulate.canvas import write_canvases

    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"injecting anomalies into {n} canvases", total=n)
        try:
            names = write_canvases(out, paths, n, progress=lambda k: bar.advance(task, k),
                                   **options)
        except MxqcError as exc:
            raise typer.BadParameter(str(exc), param_hint="--canvas") from None
    console.print(f"wrote {len(names)} injected frames, labels.csv (canvas labels and the "
                  f"visible injected classes; ? where unknown) and truth.jsonl to {out}")


def dataset_build(src: Annotated[str, typer.Argument(help="Raw frames with labels.csv.")],
                  out: Annotated[str, typer.Option("--out", help="Output directory.")],
                  size: Annotated[int, typer.Option(help="Image edge in pixels.")] = 512,
                  resize: Annotated[str, typer.Option(help="nearest, area or max.")] = "nearest",
                  seed: Seed = 0):
    """Normalised PNGs, labels.csv and a stratified 80/10/10 train/val/test split."""
    from mxqc.dataset import build_dataset

    check_choice(resize, RESIZE_METHODS, "--resize")
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("normalising frames")
        dataset, failures = build_dataset(src, out, size=size, resize=resize, seed=seed,
                                          progress=lambda k: bar.advance(task, k))
    _print_splits(out, dataset)
    for name, error in failures:
        err_console.print(f"[red]error[/red] {name}: {error}")
    finish([{"path": n, "error": e} for n, e in failures])


def dataset_merge(out: Annotated[str, typer.Argument(help="New data set directory.")],
                  sources: Annotated[list[str], typer.Argument(
                      help="Data sets to merge (images are linked, not copied).")],
                  seed: Seed = 0):
    """One data set of several (e.g. simulated frames and real-frame canvases), newly split."""
    from mxqc.dataset import merge_datasets

    _print_splits(out, merge_datasets(out, sources, seed=seed))


def dataset_split(root: Annotated[str, typer.Argument(help="Data set with labels.csv.")],
                  seed: Seed = 0):
    """(Re)write the stratified 80/10/10 split of a data set's labels.csv."""
    from mxqc.dataset import split_dataset

    _print_splits(root, split_dataset(root, seed=seed))


def _print_splits(root: str, dataset) -> None:
    counts = {k: len(v.names) for k, v in dataset.splits.items()}
    console.print(f"{root}: {counts['all']} images; train {counts['train']}, "
                  f"val {counts['val']}, test {counts['test']}")


def register(app: typer.Typer) -> None:
    add(app, simulate)
    datasets = typer.Typer(help="Data sets in the RefleX layout.", no_args_is_help=True)
    add(datasets, dataset_build, "build")
    add(datasets, dataset_merge, "merge")
    add(datasets, dataset_split, "split")
    app.add_typer(datasets, name="dataset")
