"""The seven RefleX anomaly classes, in canonical order (the column order of the label files).

This module is the only place that spells the list out. The original fastai models emitted
alphabetical order; mxqc never does.
"""

CLASS_DESCRIPTIONS: dict[str, str] = {
    "loop_scattering": "rings or arcs from the loop or mount material at low resolution",
    "background_ring": "broad water/solvent scattering ring near 3.0-3.7 Å",
    "strong_background": "high background relative to the crystal signal (low signal to noise)",
    "diffuse_scattering": "intensity between Bragg spots: streaks, haloes, cloudy texture",
    "artifact": "digital artefacts: hot/dead pixels or lines, zingers, readout streaks",
    "ice_ring": "sharp rings (or spotty rings) at crystalline ice d-spacings",
    "non_uniform_detector": "uneven detector response: tile/module gain steps, dead modules",
}

CLASSES: tuple[str, ...] = tuple(CLASS_DESCRIPTIONS)
N_CLASSES = len(CLASSES)
# A label nobody knows (``?`` or empty in a label file): left out of losses and measures.
UNKNOWN = -1
