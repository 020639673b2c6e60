"""How real frames and simulated clean frames of the same detector differ, statistic by statistic.

    .venv/bin/python benchmarks/bench_realism.py [--real ../shared/real-frames] [--sim 6]

Real frames, grouped by detector model: the PILATUS 6M frames (the thaumatin grid and
DLS I03), the EIGER 16M frame and the ADSC CCD frame. Against each, ``--sim`` simulated
clean frames (no anomaly drawn) of the matching model: pilatus6m, eiger16m, ccd_2x2.
Per frame (then the median over the group):

* level: background counts per pixel (median of 16×16 block means, above the CCD pedestal);
* grey p10 / p50 / p90: quantiles of the model's input (512², area, RefleX polarity);
* radial falloff: median counts at s = 0.05–0.10 Å⁻¹ over those at 0.25–0.35 Å⁻¹;
* dispersion: median over 32×32 blocks of variance / mean (1 for Poisson counts);
* module step: RMS % step of the counts between neighbouring modules across each gap
  (strips 3–12 px from it; Poisson noise taken out), the module layout found from the gaps;
* edge 1 / edge 2: % excess of the pixels 1 and 2 from a module gap over those 5–10 away;
* gap roughness: in the model input, the roughness (mean squared step along the row) of
  the rows at the filled gaps over that of the other rows (1: the gaps leave no line).

Writes benchmarks/results-realism.md.
"""

from __future__ import annotations

import argparse
import itertools
import warnings
from pathlib import Path

import numpy as np

from mxqc.io.registry import read_frame
from mxqc.normalise import normalise
from mxqc.simulate.canvas import Canvas
from mxqc.simulate.generate import simulate_frame
from mxqc.witness.detector import module_bands

RESULTS = Path(__file__).with_name("results-realism.md")
GROUPS = {  # real frames (globs under --real) → the simulator's model of that detector
    "PILATUS 6M": (("thaumatin-grid/*.cbf.bz2", "thau_3_2_0016.cbf.bz2",
                    "DLS_I03_smargon_0001.cbf.gz"), "pilatus6m"),
    "EIGER 16M": (("dlsnxs2cbf_therm_0001.cbf.gz",), "eiger16m"),
    "ADSC CCD": (("adsc.img.bz2",), "ccd_2x2"),
}
STATS = ("level", "grey p10", "grey p50", "grey p90", "radial falloff", "dispersion",
         "module step", "edge 1", "edge 2", "gap roughness")


def frame_stats(counts: np.ndarray, geometry) -> dict[str, float]:
    canvas = Canvas("", counts, geometry, ())
    counts = counts - np.float32(canvas.pedestal)
    out = {"level": canvas.level}
    image = normalise(counts + np.float32(canvas.pedestal), resize="area")
    grey = image.image[image.valid]
    out.update({f"grey p{q}": float(np.percentile(grey, q)) for q in (10, 50, 90)})
    h, w = counts.shape
    radius = np.hypot(np.arange(w)[None, :] - geometry.beam_x,
                      np.arange(h)[:, None] - geometry.beam_y)
    s = 1.0 / geometry.d_spacing(np.maximum(radius, 1e-3))
    valid = np.isfinite(counts)
    inner = counts[valid & (s > 0.05) & (s < 0.10)]
    outer = counts[valid & (s > 0.25) & (s < 0.35)]
    out["radial falloff"] = _ratio(np.mean(inner) if inner.size else np.nan,
                                   np.mean(outer) if outer.size else np.nan)
    out["dispersion"] = _dispersion(counts)
    out["module step"] = _module_step(counts, radius)
    out["edge 1"], out["edge 2"] = _edge_excess(counts)
    out["gap roughness"] = _gap_roughness(image)
    return out


def _ratio(a, b) -> float:
    return float(a / b) if b and np.isfinite(b) and b > 0 else float("nan")


def _dispersion(counts: np.ndarray, block: int = 32) -> float:
    h, w = (n // block * block for n in counts.shape)
    blocks = counts[:h, :w].reshape(h // block, block, w // block, block)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(blocks, axis=(1, 3))
        var = np.nanvar(blocks, axis=(1, 3))
    ok = np.isfinite(mean) & (mean > 0.05)
    return float(np.median(var[ok] / mean[ok])) if ok.any() else float("nan")


def _module_step(counts, radius) -> float:
    """Typical % step between neighbouring modules across each gap (strips 3–12 px from it,
    the counts over the mean of their radial shell; the median over the gaps of the squared
    log step less what Poisson noise makes of it)."""
    valid = np.isfinite(counts)
    shell = radius.astype(np.int32)
    sums = np.bincount(shell[valid], counts[valid], minlength=shell.max() + 1)
    hits = np.bincount(shell[valid], minlength=shell.max() + 1)
    model = (sums / np.maximum(hits, 1)).astype(np.float32)[shell]
    relative = np.where(model > 0, counts / np.maximum(model, 1e-6), np.nan)
    row_bands, col_bands = module_bands(counts)
    rows, cols = _band_edges(row_bands >= 0), _band_edges(col_bands >= 0)
    steps = []
    for (r0, r1) in rows:
        for (_, left_end), (right_start, _) in itertools.pairwise(cols):
            steps.append((np.s_[r0:r1, left_end - 12:left_end - 2],
                          np.s_[r0:r1, right_start + 3:right_start + 13]))
    for (c0, c1) in cols:
        for (_, top_end), (bottom_start, _) in itertools.pairwise(rows):
            steps.append((np.s_[top_end - 12:top_end - 2, c0:c1],
                          np.s_[bottom_start + 3:bottom_start + 13, c0:c1]))
    excess = []
    for a, b in steps:
        sa, sb = np.nansum(counts[a]), np.nansum(counts[b])
        if sa > 100 and sb > 100:
            ratio = np.nanmean(relative[a]) / np.nanmean(relative[b])
            excess.append(np.log(ratio) ** 2 - (1 / sa + 1 / sb))
    if not excess:
        return float("nan")
    return float(100 * np.sqrt(max(np.median(excess), 0.0)))


def _band_edges(inside: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True."""
    edges = np.diff(np.r_[0, inside.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _edge_excess(counts) -> tuple[float, float]:
    gap_cols = np.isnan(counts).mean(axis=0) >= 0.9
    if not gap_cols.any():
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        column = np.nanmean(counts, axis=0)
    w = counts.shape[1]
    starts = np.flatnonzero(gap_cols & ~np.r_[False, gap_cols[:-1]])
    ends = np.flatnonzero(gap_cols & ~np.r_[gap_cols[1:], False])

    def at(k):  # both sides of every gap
        picks = [e + k for e in ends if e + k < w] + [s - k for s in starts if s - k >= 0]
        return float(np.nanmean(column[picks]))

    far = np.nanmean([at(k) for k in range(5, 11)])
    return 100 * (at(1) / far - 1), 100 * (at(2) / far - 1)


def _gap_roughness(image) -> float:
    roughness = np.mean(np.diff(image.image.astype(float), axis=1) ** 2, axis=1)
    gap_rows = np.flatnonzero((~image.valid).mean(axis=1) > 0.5)
    if gap_rows.size == 0:
        return float("nan")
    near = np.zeros(roughness.size, bool)
    for step in (-1, 0, 1):
        near[np.clip(gap_rows + step, 0, near.size - 1)] = True
    return _ratio(np.median(roughness[near]), np.median(roughness[~near]))


def _median(rows: list[dict]) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: float(np.nanmedian([r[k] for r in rows])) for k in STATS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", default="../shared/real-frames")
    parser.add_argument("--sim", type=int, default=6, help="simulated frames per detector")
    parser.add_argument("--label", default="current code", help="heading of the table")
    args = parser.parse_args()
    lines = [f"## {args.label}", "",
             "| statistic | " + " | ".join(f"{g} real | {g} sim" for g in GROUPS) + " |",
             "|---|" + "---:|---:|" * len(GROUPS)]
    columns = []
    for globs, model in GROUPS.values():
        paths = sorted(p for g in globs for p in Path(args.real).glob(g))
        real = [frame_stats(np.asarray(f.pixels, np.float32), f.geometry)
                for f in map(read_frame, paths)]
        sims = [simulate_frame(900 + i, detector=model, labels=(0,) * 7) for i in range(args.sim)]
        simulated = [frame_stats(f.counts, f.geometry) for f in sims]
        columns += [_median(real), _median(simulated)]
        print(f"{model}: {len(real)} real, {len(simulated)} simulated", flush=True)
    for stat in STATS:
        lines.append(f"| {stat} | " + " | ".join(f"{c[stat]:.3g}" for c in columns) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(RESULTS, "a") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
