"""One simulated example per anomaly class and a clean frame, side by side, for judging
realism at a glance (optionally beside real frames normalised the same way)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from mxqc.classes import CLASSES
from mxqc.io import read_frame
from mxqc.normalise import normalise, normalise_frame
from mxqc.simulate.generate import simulate_frame


def draw_gallery(out_png, *, detector: str = "pilatus6m", seed: int = 0, real_paths=(),
                 size: int = 512):
    """Write ``out_png``: 7 one-class frames and a clean one (+ real frames, if given).

    Frames are normalised as the models see them (paper clip, area resize to ``size``).
    """
    panels = []
    for j, name in enumerate((*CLASSES, "clean")):
        labels = np.zeros(len(CLASSES), int)
        if j < len(CLASSES):
            labels[j] = 1
        frame = simulate_frame(seed + j, detector=detector, labels=labels)
        panels.append((normalise(frame.counts, size=size, resize="area").image,
                       name.replace("_", " ")))
    for path in real_paths:
        frame = read_frame(path)
        panels.append((normalise_frame(frame, size=size, resize="area").image,
                       f"real: {frame.source.path.rsplit('/', 1)[-1][:24]}"))
    cols = 4
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(3 * cols, 3.2 * rows), dpi=90)
    axes = fig.subplots(rows, cols)
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, (image, title) in zip(np.ravel(axes), panels, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="antialiased")
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"mxqc simulator, {detector} (seed {seed}), normalised like the RefleX PNGs",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(out_png)
    return out_png
