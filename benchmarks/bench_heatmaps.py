"""Where the heatmaps put their mass, and what they cost: simulated ice-ring and water-ring
frames (one anomaly each), the fraction of each class's heatmap on the true rings against
the rings' share of the image (chance), and milliseconds per frame on one thread (as in a
scan worker).

    python benchmarks/bench_heatmaps.py [--model FILE] [--frames 12]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mxqc.classes import CLASSES
from mxqc.coords import ImageMapping
from mxqc.learn import load_model
from mxqc.normalise import normalise
from mxqc.scan.explain import grad_cam, heatmaps
from mxqc.scatterers import ICE_IH
from mxqc.simulate.generate import simulate_frame

DETECTORS = ("pilatus6m", "square1k", "eiger4m", "ccd_2x2")
METHODS = {  # (model, input, centre, class) → (1, 1, s, s) heatmap
    "annular occlusion (scan)": lambda model, x, centre, c: heatmaps(model, x, [centre], [c]),
    "Grad-CAM": lambda model, x, centre, c: grad_cam(model, x, [c]),
}


def ring_mask(sim, model, kind: str):
    """Model input, beam centre (input pixels) and the true ring pixels: strong ice rings
    ±6 px at 256² (scaled with the input size), or the water ring's ±1.5σ band."""
    norm = normalise(sim.counts, **model.normalisation)
    size = model.input_size
    to_input = ImageMapping.resize(norm.image.shape, (size, size))  # as the scan does
    scale = norm.mapping.scale * to_input.scale
    beam = norm.mapping.to_image(sim.scene.beam_x, sim.scene.beam_y)
    cx, cy = to_input.to_image(*beam)
    yy, xx = np.mgrid[:size, :size]
    dist = np.hypot(xx - cx, yy - cy)
    mask = np.zeros((size, size), bool)
    if kind == "ice_ring":
        for d, strength in ICE_IH:
            if strength >= 0.25:
                radius = float(sim.geometry.radius_px(d)) * scale
                mask |= np.abs(dist - radius) <= 6 * size / 256
    else:
        _, d, width = sim.scene.water
        radii = [float(sim.geometry.radius_px(1 / (1 / d + k * width))) * scale
                 for k in (-1.5, 1.5)]
        mask = (dist >= min(radii)) & (dist <= max(radii))
    return model.inputs(norm.image[None], [beam]), (cx, cy), mask


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    print(f"{model.name} {model.input_size}², {args.frames} frames per class, 1 thread\n")
    print("| class | method | mass on the rings (median) | chance | ms per frame |")
    print("|---|---|---|---|---|")
    for kind, seed0 in (("ice_ring", 300), ("background_ring", 500)):
        c = CLASSES.index(kind)
        labels = np.zeros(len(CLASSES), int)
        labels[c] = 1
        found = {method: ([], []) for method in METHODS}
        chance = []
        for i in range(args.frames):
            sim = simulate_frame(seed0 + i, detector=DETECTORS[i % 4], labels=labels)
            x, centre, mask = ring_mask(sim, model, kind)
            chance.append(mask.mean())
            for method, explain in METHODS.items():
                start = time.perf_counter()
                heat = explain(model, x, centre, c)[0, 0]
                found[method][1].append(time.perf_counter() - start)
                found[method][0].append(heat[mask].sum() / max(heat.sum(), 1e-12))
        for method, (fractions, seconds) in found.items():
            print(f"| {kind} | {method} | {np.median(fractions):.2f} | "
                  f"{np.median(chance):.2f} | {np.median(seconds) * 1e3:.0f} |")


if __name__ == "__main__":
    main()
