"""The ``mxqc`` command line: one Typer app, each command a thin driver over library calls."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from typing import Annotated

import cv2
import numpy as np
import typer
from rich.table import Table
from rich.text import Text

from mxqc import __version__
from mxqc.centre import CENTRE_METHODS, locate_beam
from mxqc.cli_scan import check_centre_method
from mxqc.console import console, err_console
from mxqc.errors import MxqcError
from mxqc.guard import GuardedPool, map_each
from mxqc.io import count_frames, read_frame, read_frames
from mxqc.normalise import RESIZE_METHODS, VARIANTS, normalise_frame
from mxqc.paths import expand_paths

app = typer.Typer(help="mxqc: find anomalies in macromolecular X-ray diffraction images.",
                  no_args_is_help=True, add_completion=False)

Paths = Annotated[list[str], typer.Argument(help="Files, directories or globs.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(path: str, error: Exception | str, failures: list) -> None:
    message = str(error) if str(error).startswith(path) else f"{path}: {error}"
    failures.append({"path": path, "error": message})
    err_console.print(Text.assemble(("error", "red"), " ", message))


def _finish(failures: list) -> None:
    if failures:
        err_console.print(f"{len(failures)} file(s) failed")
        raise typer.Exit(code=1)


def _file_table(rows, *columns) -> Table:
    """A table whose first column shows whole file names (never truncated)."""
    table = Table()
    width = max((len(os.path.basename(r["path"])) for r in rows), default=4)
    table.add_column("file", no_wrap=True, min_width=width)
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


def _round(value, digits=2):
    return None if value is None else round(float(value), digits)


@app.command()
def version():
    """Print the mxqc version."""
    console.print(__version__)


def describe_file(path: str) -> dict:
    """``info``'s row for one file (its first frame); run in a guarded worker."""
    frame = read_frame(path)
    g = frame.geometry
    return {"path": path, "format": frame.source.format, "frames": count_frames(path),
            "shape": list(frame.shape), "dtype": str(frame.pixels.dtype),
            "gap_fraction": round(frame.gap_fraction, 5),
            "beam_x": _round(g.beam_x), "beam_y": _round(g.beam_y),
            "pixel_size_mm": _round(g.pixel_size_mm, 5), "distance_mm": _round(g.distance_mm),
            "wavelength_a": _round(g.wavelength_a, 5), "header_fields": dict(g.fields),
            "warnings": list(frame.warnings)}


@app.command()
def info(paths: Paths, as_json: AsJson = False):
    """Format, shape, geometry and gap fraction of each file (first frame)."""
    rows, failures = [], []
    with GuardedPool(1) as pool:  # a file that crashes or hangs its reader costs its row
        for path, row, error in map_each(pool, describe_file, expand_paths(paths)):
            if error is None:
                rows.append(row)
            else:
                _fail(path, error, failures)
    _name_sweeps(rows)
    if as_json:
        print(json.dumps(finite({"files": rows, "failures": failures}), indent=2))
    else:
        table = _file_table(rows, "sweep", "format", "frames", "rows×columns", "gaps", "beam x",
                            "beam y", "pixel mm", "dist mm", "λ Å")
        for r in rows:
            table.add_row(os.path.basename(r["path"]), r["sweep"], r["format"], str(r["frames"]),
                          "×".join(map(str, r["shape"])), f"{100 * r['gap_fraction']:.1f}%",
                          *(("—" if r[k] is None else str(r[k])) for k in ("beam_x", "beam_y")),
                          *(str(r[k] if r[k] is not None else "—")
                            for k in ("pixel_size_mm", "distance_mm", "wavelength_a")))
        console.print(table)
        for r in rows:
            for warning in r["warnings"]:
                err_console.print(f"[yellow]warning[/yellow] {r['path']}: {warning}")
    _finish(failures)


def finite(value):
    """``value`` with NaN and infinities as None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _name_sweeps(rows) -> None:
    """Each file's sweep (``mxqc.scan.sweeps``: name template and header geometry)."""
    from mxqc.scan.sweeps import sweep_members

    keyed = [{"file": r["path"], "frame": 0, "distance_mm": r["distance_mm"],
              "wavelength_a": r["wavelength_a"], "header_beam_x": r["beam_x"],
              "header_beam_y": r["beam_y"], "row": r} for r in rows]
    for _, label, run in sweep_members(keyed):
        for _, entry in run:
            row = entry["row"]
            alone = os.path.basename(row["path"]) if row["frames"] > 1 else "—"
            row["sweep"] = label if len(run) > 1 else alone


@app.command()
def center(paths: Paths,
           method: Annotated[str, typer.Option(
               help="One of: " + ", ".join(sorted(CENTRE_METHODS)))] = "auto",
           size: Annotated[int, typer.Option(help="Working image size.")] = 512,
           frame_index: Annotated[int, typer.Option(
               "--frame", help="Frame of a multi-frame file.")] = 0,
           as_json: AsJson = False):
    """Beam centre of each file in raw-frame pixels, with the header centre beside it."""
    check_centre_method(method, "--method")
    rows, failures = [], []
    for path in expand_paths(paths):
        try:
            frame = read_frame(path, frame_index)
            found = locate_beam(frame, method=method, size=size)
            g = frame.geometry
            # what the image itself says against the header (auto may return the header)
            x, y = (found.x, found.y) if found.image_x is None else (found.image_x,
                                                                       found.image_y)
            offset = np.hypot(x - g.beam_x, y - g.beam_y) if g.has_beam else None
            rows.append({"path": path, "frame": frame_index, **asdict(found),
                         "header_x": _round(g.beam_x), "header_y": _round(g.beam_y),
                         "offset_from_header": _round(offset)})
        except MxqcError as exc:
            _fail(path, exc, failures)
    if as_json:
        console.print_json(json.dumps({"centres": rows, "failures": failures}))
    else:
        table = _file_table(rows, "x", "y", "± px", "method", "header x", "header y",
                            "image − header px")
        for r in rows:
            table.add_row(os.path.basename(r["path"]), f"{r['x']:.1f}", f"{r['y']:.1f}",
                          "—" if r["uncertainty"] is None else f"{r['uncertainty']:.1f}",
                          r["method"], *(("—" if r[k] is None else str(r[k]))
                                         for k in ("header_x", "header_y", "offset_from_header")))
        console.print(table)
        for r in rows:  # the why of each answer, too long for a table cell
            console.print(f"[dim]{os.path.basename(r['path'])}: {r['detail']}[/dim]")
    _finish(failures)


@app.command()
def convert(paths: Paths,
            out: Annotated[str, typer.Option("--out", help="Output directory.")],
            size: Annotated[int, typer.Option(help="Output edge in pixels.")] = 512,
            variant: Annotated[str, typer.Option(help="paper or reflex-code.")] = "paper",
            resize: Annotated[str, typer.Option(help="nearest, area or max.")] = "nearest"):
    """Raw frames → 8-bit PNG negatives like the RefleX dataset."""
    if variant not in VARIANTS:
        raise typer.BadParameter(f"must be one of {VARIANTS}", param_hint="--variant")
    if resize not in RESIZE_METHODS:
        raise typer.BadParameter(f"must be one of {RESIZE_METHODS}", param_hint="--resize")
    os.makedirs(out, exist_ok=True)
    failures, written = [], 0
    for path in expand_paths(paths):
        try:
            stem = os.path.basename(path).split(".")[0]
            for frame in read_frames(path):
                norm = normalise_frame(frame, size=size, variant=variant, resize=resize)
                suffix = f"_{frame.source.index:06d}" if frame.source.format == "nexus" else ""
                cv2.imwrite(os.path.join(out, f"{stem}{suffix}.png"), norm.image)
                written += 1
        except MxqcError as exc:
            _fail(path, exc, failures)
    console.print(f"wrote {written} PNG(s) to {out}")
    _finish(failures)


@app.command()
def simulate(out: Annotated[str | None, typer.Argument(help="Output directory.")] = None,
             n: Annotated[int, typer.Option("-n", help="Number of frames.")] = 10,
             detector: Annotated[str, typer.Option(
                 help="Detector model, or several separated by commas (taken in turn).")
             ] = "square1k",
             fmt: Annotated[str | None, typer.Option(
                 "--format", help="cbf, smv, h5 or png (default: the detector's own).")] = None,
             seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
             rates: Annotated[str | None, typer.Option(
                 help="Class rates, e.g. 'ice_ring=0.3,artifact=0.2' (others as RefleX).")] = None,
             gallery: Annotated[str | None, typer.Option(
                 help="Instead of a data set, draw one example per class to this PNG.")] = None,
             real: Annotated[list[str] | None, typer.Option(
                 help="Real frames to show beside the gallery (repeatable).")] = None,
             size: Annotated[int, typer.Option(help="Image edge for --format png.")] = 512,
             resize: Annotated[str, typer.Option(
                 help="Resampling for --format png: nearest, area or max.")] = "nearest",
             workers: Annotated[int, typer.Option(help="Processes to simulate with.")] = 1,
             sweep: Annotated[int, typer.Option(
                 help="Single-frame formats: N consecutive files are one rotation sweep "
                      "(shared geometry and sample; anomalies persist, artefacts come and "
                      "go).")] = 1,
             draws: Annotated[int, typer.Option(
                 help="Scenes drawn per label vector until its classes are visible (1: keep "
                      "the first draw; invisible classes are labelled 0).")] = 4,
             resume: Annotated[bool, typer.Option(
                 help="Keep frames already in OUT (same seed and options); make the rest.")
             ] = False,
             canvas: Annotated[list[str] | None, typer.Option(
                 help="Real frames (files or folders, repeatable) to inject the anomalies "
                      "into, on their own geometry and mask; their labels.csv gives what "
                      "they are known to show (PNG output).")] = None):
    """Simulate raw frames with known anomalies, beam centre and geometry."""
    from rich.progress import Progress

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
    wanted = None
    if rates:
        try:
            wanted = {k.strip(): float(v) for k, v in (p.split("=") for p in rates.split(","))}
        except ValueError:
            raise typer.BadParameter("expected name=rate pairs separated by commas",
                                     param_hint="--rates") from None
    if canvas:
        _simulate_canvases(out, canvas, n, seed=seed, rates=wanted, size=size,
                           resize=resize, draws=draws, workers=workers)
        return
    with Progress(console=err_console, transient=True) as bar:
        task = bar.add_task(f"simulating {n} {detector} frames", total=n)
        try:
            names = write_simulated(out, n, seed=seed, detector=detectors, fmt=fmt,
                                    rates=wanted, size=size, resize=resize, workers=workers,
                                    resume=resume, sweep=sweep, draws=draws,
                                    progress=lambda k: bar.advance(task, k))
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    console.print(f"wrote {len(names)} frames, labels.csv (visible labels), truth.csv and "
                  f"truth.jsonl (drawn, visibility) to {out}")


def _simulate_canvases(out, paths, n, **options):
    from rich.progress import Progress

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


dataset_app = typer.Typer(help="Data sets in the RefleX layout.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("build")
def dataset_build(src: Annotated[str, typer.Argument(help="Raw frames with labels.csv.")],
                  out: Annotated[str, typer.Option("--out", help="Output directory.")],
                  size: Annotated[int, typer.Option(help="Image edge in pixels.")] = 512,
                  resize: Annotated[str, typer.Option(help="nearest, area or max.")] = "nearest",
                  seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0):
    """Normalised PNGs, labels.csv and a stratified 80/10/10 train/val/test split."""
    from rich.progress import Progress

    from mxqc.dataset import build_dataset

    if resize not in RESIZE_METHODS:
        raise typer.BadParameter(f"must be one of {RESIZE_METHODS}", param_hint="--resize")
    try:
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("normalising frames")
            dataset, failures = build_dataset(src, out, size=size, resize=resize, seed=seed,
                                              progress=lambda k: bar.advance(task, k))
    except MxqcError as exc:
        err_console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=1) from None
    counts = {k: len(v.names) for k, v in dataset.splits.items()}
    console.print(f"{out}: {counts['all']} images; train {counts['train']}, "
                  f"val {counts['val']}, test {counts['test']}")
    for name, error in failures:
        err_console.print(f"[red]error[/red] {name}: {error}")
    _finish([{"path": n, "error": e} for n, e in failures])


@dataset_app.command("merge")
def dataset_merge(out: Annotated[str, typer.Argument(help="New data set directory.")],
                  sources: Annotated[list[str], typer.Argument(
                      help="Data sets to merge (images are linked, not copied).")],
                  seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0):
    """One data set of several (e.g. simulated frames and real-frame canvases), newly split."""
    from mxqc.dataset import merge_datasets

    try:
        dataset = merge_datasets(out, sources, seed=seed)
    except MxqcError as exc:
        err_console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=1) from None
    counts = {k: len(v.names) for k, v in dataset.splits.items()}
    console.print(f"{out}: {counts['all']} images; train {counts['train']}, "
                  f"val {counts['val']}, test {counts['test']}")


@dataset_app.command("split")
def dataset_split(root: Annotated[str, typer.Argument(help="Data set with labels.csv.")],
                  seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0):
    """(Re)write the stratified 80/10/10 split of a data set's labels.csv."""
    from mxqc.dataset import split_dataset

    try:
        dataset = split_dataset(root, seed=seed)
    except MxqcError as exc:
        err_console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=1) from None
    counts = {k: len(v.names) for k, v in dataset.splits.items()}
    console.print(f"{root}: train {counts['train']}, val {counts['val']}, test {counts['test']}")


from mxqc import cli_learn  # noqa: E402  (registers train, evaluate, compare, grid-search)

cli_learn.register(app)
from mxqc import cli_scan  # noqa: E402

cli_scan.register(app)
from mxqc import cli_service  # noqa: E402

cli_service.register(app)
