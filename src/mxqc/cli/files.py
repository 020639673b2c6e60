"""``mxqc version``, ``info``, ``centre`` (alias ``center``) and ``convert``: what a file
holds, where its beam is, and the RefleX-style image of it."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from typing import Annotated

import typer

from mxqc import __version__
from mxqc.centre import CENTRE_METHODS, locate_beam
from mxqc.cli.common import (
    AsJson,
    Paths,
    add,
    check_centre_method,
    check_choice,
    fail_file,
    file_table,
    finish,
)
from mxqc.console import console, err_console
from mxqc.errors import MxqcError
from mxqc.guard import GuardedPool, map_each
from mxqc.io import describe_file, read_frame, read_frames
from mxqc.normalise import RESIZE_METHODS, VARIANTS, normalise_frame
from mxqc.paths import expand_paths

INFO_COLUMNS = ("sweep", "format", "frames", "rows×columns", "gaps", "beam x", "beam y",
                "pixel mm", "dist mm", "λ Å")


def version():
    """Print the mxqc version."""
    console.print(__version__)


def info(paths: Paths, as_json: AsJson = False):
    """Format, shape, geometry and gap fraction of each file (first frame)."""
    rows, failures = [], []
    with GuardedPool(1) as pool:  # a file that crashes or hangs its reader costs its row
        for path, row, error in map_each(pool, describe_file, expand_paths(paths)):
            if error is None:
                rows.append(row)
            else:
                fail_file(path, error, failures)
    _name_sweeps(rows)
    if as_json:
        print(json.dumps(finite({"files": rows, "failures": failures}), indent=2))
    else:
        _print_info(rows)
    finish(failures)


def _print_info(rows) -> None:
    table = file_table(rows, *INFO_COLUMNS)
    for r in rows:
        table.add_row(os.path.basename(r["path"]), r["sweep"], r["format"], str(r["frames"]),
                      "×".join(map(str, r["shape"])), f"{100 * r['gap_fraction']:.1f}%",
                      *(_dash(r[k]) for k in ("beam_x", "beam_y", "pixel_size_mm",
                                              "distance_mm", "wavelength_a")))
    console.print(table)
    for r in rows:
        for warning in r["warnings"]:
            err_console.print(f"[yellow]warning[/yellow] {r['path']}: {warning}")


def _dash(value) -> str:
    return "—" if value is None else str(value)


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


def centre(paths: Paths,
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
            rows.append(_centre_row(path, frame_index, method, size))
        except MxqcError as exc:
            fail_file(path, exc, failures)
    if as_json:
        console.print_json(json.dumps({"centres": rows, "failures": failures}))
    else:
        _print_centres(rows)
    finish(failures)


def _centre_row(path: str, index: int, method: str, size: int) -> dict:
    frame = read_frame(path, index)
    found = locate_beam(frame, method=method, size=size)
    g = frame.geometry
    # what the image itself says against the header (auto may return the header)
    x, y = (found.x, found.y) if found.image_x is None else (found.image_x, found.image_y)
    offset = math.hypot(x - g.beam_x, y - g.beam_y) if g.has_beam else None
    return {"path": path, "frame": index, **asdict(found),
            "header_x": _rounded(g.beam_x), "header_y": _rounded(g.beam_y),
            "offset_from_header": _rounded(offset)}


def _rounded(value, digits: int = 2):
    return None if value is None else round(float(value), digits)


def _print_centres(rows) -> None:
    table = file_table(rows, "x", "y", "± px", "method", "header x", "header y",
                       "image − header px")
    for r in rows:
        table.add_row(os.path.basename(r["path"]), f"{r['x']:.1f}", f"{r['y']:.1f}",
                      "—" if r["uncertainty"] is None else f"{r['uncertainty']:.1f}",
                      r["method"], *(_dash(r[k]) for k in ("header_x", "header_y",
                                                          "offset_from_header")))
    console.print(table)
    for r in rows:  # the why of each answer, too long for a table cell
        console.print(f"[dim]{os.path.basename(r['path'])}: {r['detail']}[/dim]")


def convert(paths: Paths,
            out: Annotated[str, typer.Option("--out", help="Output directory.")],
            size: Annotated[int, typer.Option(help="Output edge in pixels.")] = 512,
            variant: Annotated[str, typer.Option(help="paper or reflex-code.")] = "paper",
            resize: Annotated[str, typer.Option(help="nearest, area or max.")] = "nearest"):
    """Raw frames → 8-bit PNG negatives like the RefleX dataset."""
    import cv2

    check_choice(variant, VARIANTS, "--variant")
    check_choice(resize, RESIZE_METHODS, "--resize")
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
            fail_file(path, exc, failures)
    console.print(f"wrote {written} PNG(s) to {out}")
    finish(failures)


def register(app: typer.Typer) -> None:
    add(app, version)
    add(app, info)
    add(app, centre)
    add(app, centre, "center", hidden=True)  # the American spelling, kept as an alias
    add(app, convert)
