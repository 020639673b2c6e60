"""The scan report: one self-contained HTML page (images embedded) from a scan directory."""

from __future__ import annotations

import base64
import datetime
import io
import json
import os
from pathlib import Path

from mxqc.classes import CLASS_DESCRIPTIONS, CLASSES
from mxqc.result import FrameResult
from mxqc.scan.results import read_results
from mxqc.scan.sweeps import group_sweeps

MAX_TABLE_ROWS = 2000  # flagged frames first, then a sample; the full table is results.csv
MAX_THUMBNAILS = 300
SHORT_NAMES = dict(zip(CLASSES, ("loop", "bg ring", "strong bg", "diffuse", "artefact",
                                 "ice", "detector"), strict=True))  # column heads that fit


def _data_uri(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def _sweep_strips(sweeps, thresholds: dict, rows_shown: dict) -> dict[str, dict]:
    """One strip per sweep of ≥ 3 frames: frames along x, classes along y, colour the
    probability relative to the class's threshold (white at the threshold, red above it),
    so that 0.55 under a threshold of 0.93 does not look like an alarm; grey where the
    sweep has no frame. Each strip carries where its axes lie in the image (fractions) and
    the frame table's row id of each of its frames that the table shows (``rows_shown``:
    (file, frame) → id), so that a click on a frame opens it. Keyed by the sweep's name."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    limits = np.array([thresholds.get(c, 0.5) for c in CLASSES])[:, None]
    strips = {}
    for sweep in sweeps:
        if sweep.frames < 3:
            continue
        first, numbers = sweep.numbers[0], np.asarray(sweep.numbers)
        ratio = np.full((len(CLASSES), numbers[-1] - first + 1), np.nan)  # grey: no frame
        ratio[:, numbers - first] = np.array([sweep.p[c] for c in CLASSES], float) / limits
        fig = Figure(figsize=(10, 2.2), layout="constrained")
        ax = fig.add_subplot()
        colours = colormaps["RdBu_r"].with_extremes(bad="#dddddd")
        shown = ax.imshow(ratio, aspect="auto", interpolation="nearest", cmap=colours,
                          norm=TwoSlopeNorm(1.0, 0.0, 2.0),
                          extent=(first - 0.5, numbers[-1] + 0.5, len(CLASSES) - 0.5, -0.5))
        ax.set_yticks(range(len(CLASSES)), [c.replace("_", " ") for c in CLASSES], fontsize=8)
        ax.set(xlabel="frame", title=f"{sweep.label} ({sweep.frames} frames) — "
                                     f"{os.path.dirname(sweep.name)}")
        fig.colorbar(shown, ax=ax, pad=0.01, label="p ÷ threshold")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80)
        box = ax.get_position()  # after the layout, in figure fractions from bottom left
        click = {"x0": box.x0, "x1": box.x1, "y0": 1 - box.y1, "y1": 1 - box.y0,
                 "first": int(first), "last": int(numbers[-1]),
                 "rows": {int(n): rows_shown[key] for n, key in zip(
                     sweep.numbers, sweep.keys, strict=True) if key in rows_shown}}
        strips[sweep.name] = {"title": sweep.label, "image": _data_uri(buf.getvalue()),
                              "click": json.dumps(click)}
    return strips


def _thumbnail(out: Path, relative: str | None) -> str | None:
    if not relative or not (out / relative).is_file():
        return None
    kind = "jpeg" if relative.endswith(".jpg") else "png"
    return _data_uri((out / relative).read_bytes(), kind)


def flagged_evidence(row: FrameResult) -> list[tuple[str, str]]:
    """(class, what the witnesses measured) for each class flagged on a frame."""
    alone = "nothing measured supports it: the network's word alone"
    return [(c, row.evidence.get(c) or alone) for c in row.labels]


def _breakable(name: str):
    """A file name that may wrap after its underscores (the frame table must fit)."""
    from markupsafe import Markup, escape

    return Markup("_<wbr>").join(escape(part) for part in name.split("_"))


def _why_no_heatmap(row: FrameResult, heat, meta: dict) -> str:
    """Why a flagged frame shows no heatmap, for the page to say."""
    if not row["n_anomalies"] or any(uri for _, uri in heat):
        return ""
    if heat:
        return f"heatmaps are in the images folder (the page embeds the first {MAX_THUMBNAILS})"
    if meta.get("heatmaps") is False:
        return "no heatmaps: the scan ran with --no-heatmaps"
    every = meta.get("heatmap_every")
    if every is None:
        return "no heatmap: not among the frames explained"
    if every > 1:
        return f"no heatmap: one in {every} flagged frames is explained (--heatmap-every)"
    return "no heatmap: this model cannot draw them (Cartesian CNNs only)"


def write_report(out_dir) -> Path:
    """Write ``out_dir/report.html`` from ``results.parquet`` and the images folder."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    out = Path(out_dir)
    rows, meta = read_results(out)
    sweeps = group_sweeps(rows)
    ok = [r for r in rows if r.ok]
    errors = [r for r in rows if not r.ok]
    counts = {c: sum(r[c] or 0 for r in ok) for c in CLASSES}
    flagged = sorted((r for r in ok if r.n_anomalies),
                     key=lambda r: -max(r[f"p_{c}"] for c in CLASSES))
    unflagged = [r for r in ok if not r.n_anomalies]
    step = max(1, len(unflagged) // max(MAX_TABLE_ROWS - len(flagged), 1))
    shown = (flagged + unflagged[::step])[:MAX_TABLE_ROWS]
    table, rows_shown = [], {}
    for i, r in enumerate(shown):
        rows_shown[r.key] = f"frame-{i}"
        heat = [(h.class_name, _thumbnail(out, h.image) if i < MAX_THUMBNAILS else None)
                for h in r.heatmaps]
        table.append({"row": r, "name": _breakable(Path(r.file).name),
                      "thumbnail": _thumbnail(out, r.thumbnail) if i < MAX_THUMBNAILS
                      else None,
                      "heatmaps": [h for h in heat if h[1]],
                      "no_heatmap": _why_no_heatmap(r, heat, meta),
                      "classes": " ".join(r.labels),
                      "evidence": flagged_evidence(r)})
    env = Environment(loader=PackageLoader("mxqc", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(
        meta=meta, frames=len(rows), ok=len(ok), errors=errors, counts=counts,
        classes=CLASSES, descriptions=CLASS_DESCRIPTIONS, table=table, short=SHORT_NAMES,
        table_note=(f"{len(shown)} of {len(ok)} frames shown (every flagged frame first, then "
                    "a sample); results.csv has them all") if len(shown) < len(ok) else "",
        plots=_sweep_strips(sweeps, meta.get("thresholds") or {}, rows_shown), sweeps=sweeps,
        created=datetime.datetime.now().isoformat(timespec="seconds"),
        directory=str(out.resolve()))
    path = out / "report.html"
    tmp = out / f".report.html.tmp{os.getpid()}"
    tmp.write_text(html)
    os.replace(tmp, path)
    return path
