"""Physical measurements per class on the raw frame, each able to say itself.

``witness_frame`` runs every witness on one frame (one binned copy, one spot search, one
background model) and returns an ``Evidence`` per class: a few numbers with fixed names
(``FEATURES``, the fusion's inputs) and a sentence in units a crystallographer can check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from mxqc.classes import CLASSES
from mxqc.frame import Frame
from mxqc.witness.artefacts import ArtefactFinding, measure_artefacts
from mxqc.witness.background import Binned, isotropic_background
from mxqc.witness.detector import Cells, ResponseFinding, measure_response, module_bands
from mxqc.witness.diffuse import texture
from mxqc.witness.spots import SpotFinding, measure_spots, signal_pixels

# Each class's witness features and the sign physics gives them: +1 a larger value can
# only raise the evidence for the class, −1 only lower it, 0 either.
FEATURES: dict[str, tuple[tuple[str, int], ...]] = {
    "loop_scattering": (("low_res_significance", 1), ("low_res_coverage", 1)),
    "background_ring": (("water_significance", 1),),
    "strong_background": (("spot_i_sigma", -1), ("spots", -1), ("background_share", 1)),
    "diffuse_scattering": (("texture", 1),),
    "artifact": (("faulty_lines", 1), ("line_span", 1), ("band", 1), ("cross", 1),
                 ("hot_pixels", 1)),
    "ice_ring": (("ice_lines", 1), ("ice_significance", 1), ("ice_absent", -1)),
    "non_uniform_detector": (("module_deviation", 1), ("halves", 1), ("step", 1),
                             ("gradient", 1)),
}
assert set(FEATURES) == set(CLASSES)
SAY_TEXTURE = 0.2  # background structure said in a sentence (real normal frames: 0.05–0.10)
# Paired arcs are said from this many σ: 2.3 % of simulated frames without a loop reach it,
# 57 % of those with a nylon fibre. They are said, not fused: as a fusion input they
# raised the witnesses' loop F1 (0.65 -> 0.76) and not the fusion's on held-out frames.
SAY_ARCS = 10.0


@dataclass(frozen=True)
class Evidence:
    """One class's physical evidence on one frame.

    Attributes
    ----------
    features : tuple of (name, value)
        The class's ``FEATURES``, in order (0 where the witness saw nothing or could not
        look, e.g. rings without geometry).
    sentence : str
        What was measured, in units ('' when nothing worth saying was found).
    measured : str
        The class's largest measurement, however small, with how it compares with normal
        frames: shown for a flagged class whose ``sentence`` is empty ('' where the
        witness has nothing weaker to offer).
    """

    features: tuple[tuple[str, float], ...]
    sentence: str = ""
    measured: str = ""  # what a flag rests on where nothing stood out enough to be said


@dataclass(frozen=True, eq=False)
class Witnessed:
    """Everything the witnesses measured on a frame, and the evidence per class."""

    spots: SpotFinding
    response: ResponseFinding
    artefacts: ArtefactFinding
    evidence: dict[str, Evidence]


def witness_frame(frame: Frame, centre, rings=None, binned: Binned | None = None, *,
                  trusted_centre: bool = False) -> Witnessed:
    """All witnesses on a raw ``frame`` with the beam at ``centre`` (raw x, y); ``rings``
    is the frame's ring analysis (``mxqc.scan.rings.RingAnalysis``) or None where the
    geometry does not allow one; ``binned``: the frame's ``Binned``, where the caller has
    it (the ring analysis works on the same). ``trusted_centre``: two sources agree on the
    centre (the header and the image), so a ring missing from the analysis is absent
    rather than smeared by a wrong centre."""
    binned = binned or Binned.of(frame.pixels)
    valid = np.isfinite(binned.counts)
    counts = np.where(valid, binned.counts, np.float32(0))
    signal, gain = signal_pixels(counts, valid)
    spots, spot_bins = measure_spots(frame, binned, counts, valid, signal, gain, centre)
    quiet = valid & ~signal
    expected = isotropic_background(binned, quiet, centre)
    layout = module_bands(binned.counts)
    cells = Cells.of(binned, quiet, expected)
    response = measure_response(binned, cells, centre, gain, layout)
    artefacts = measure_artefacts(binned, spot_bins, expected, frame.pixels,
                                  spots.n_hot_pixels, gain, layout)
    spread = texture(cells, gain)
    evidence = {**_ring_evidence(rings, trusted_centre), **_spot_evidence(spots),
                "artifact": _artefact_evidence(artefacts),
                "non_uniform_detector": _response_evidence(response),
                "diffuse_scattering": _diffuse_evidence(spread)}
    return Witnessed(spots, response, artefacts, evidence)


def _ring_evidence(rings, trusted_centre: bool) -> dict[str, Evidence]:
    found = rings.rings if rings is not None else ()
    arcs = rings.arcs if rings is not None else None
    absent = rings.absent_ice_lines() if trusted_centre and rings is not None else ()

    def of(kind):
        return [r for r in found if r.kind == kind]

    ice, water, low = of("ice"), of("water"), of("low-resolution")
    return {
        "ice_ring": Evidence(
            (("ice_lines", float(len(ice))),
             ("ice_significance", _log_significance(ice)),
             ("ice_absent", float(bool(absent)))),
            _ring_sentence("ice rings", ice),
            f"no sharp ring at ice's lines ({', '.join(f'{d:.2f}' for d in absent)} Å) "
            "about a centre the header and the image agree on" if absent else ""),
        "background_ring": Evidence(
            (("water_significance", _log_significance(water)),),
            "; ".join(f"water ring at {r.d_a:.2f} Å, {r.significance:.0f}σ above the radial "
                      "background" for r in water)),
        "loop_scattering": Evidence(
            (("low_res_significance", _log_significance(low)),
             ("low_res_coverage", max((r.coverage for r in low), default=0.0))),
            "; ".join(filter(None, (_ring_sentence("rings or arcs", low),
                                    _arcs_sentence(arcs))))),
    }


def _arcs_sentence(arcs) -> str:
    """'paired arcs at 4.39 Å, 28° wide, centred 110° and 290° from the fast axis, 16σ
    (a drawn fibre: nylon's 4.4 Å line)'; '' under ``SAY_ARCS``."""
    if arcs is None or arcs.significance < SAY_ARCS:
        return ""
    what = (f"a drawn fibre: nylon's {arcs.nylon_a} Å line" if arcs.nylon_a
            else "as a drawn fibre scatters; not at a nylon line")
    return (f"paired arcs at {arcs.d_a:.2f} Å, {arcs.width_deg:.0f}° wide, centred "
            f"{arcs.chi_deg:.0f}° and {arcs.chi_deg + 180:.0f}° from the fast axis, "
            f"{arcs.significance:.0f}σ ({what})")


def _log_significance(rings) -> float:
    return float(np.log1p(max((r.significance for r in rings), default=0.0)))


def _ring_sentence(what: str, rings) -> str:
    """'ice rings at 3.90, 3.67, 3.44 Å (3 full)'; one ring also says its coverage."""
    if not rings:
        return ""
    spacings = ", ".join(f"{r.d_a:.2f}" for r in rings)
    if len(rings) == 1:
        return f"{what} at {spacings} Å ({rings[0].shape}, {rings[0].coverage:.0%} of the azimuth)"
    shapes = Counter(r.shape for r in rings)
    return f"{what} at {spacings} Å ({', '.join(f'{n} {s}' for s, n in shapes.items())})"


def _spot_evidence(spots: SpotFinding) -> dict[str, Evidence]:
    return {"strong_background": Evidence(
        (("spot_i_sigma", float(np.log1p(spots.median_i_sigma))),
         ("spots", float(np.log1p(spots.n_spots))),
         ("background_share", spots.background_share)),
        spots.sentence())}


def _artefact_evidence(found: ArtefactFinding) -> Evidence:
    band = max((abs(b.ratio - 1) for b in found.bands), default=0.0)
    return Evidence((("faulty_lines", float(np.log1p(found.n_lines))),
                     ("line_span", found.span), ("band", band),
                     ("cross", found.cross), ("hot_pixels", float(np.log1p(found.hot_pixels)))),
                    found.sentence())


def _diffuse_evidence(spread: float) -> Evidence:
    said = (f"the background between the spots varies by {spread:.0%} r.m.s. beyond "
            "counting noise")
    if spread >= SAY_TEXTURE:
        return Evidence((("texture", spread),), said, said)
    weak = f"{said} (under {SAY_TEXTURE:.0%}: within what normal frames show)"
    return Evidence((("texture", spread),), "", weak if round(spread, 2) > 0 else "")


def _response_evidence(found: ResponseFinding) -> Evidence:
    return Evidence((("module_deviation", abs(found.module_deviation)),
                     ("halves", abs(found.halves)), ("step", abs(found.step)),
                     ("gradient", abs(found.gradient))), found.sentence(), found.measured())


def feature_columns() -> tuple[str, ...]:
    """The results columns that hold the witness features (``w_<feature>``)."""
    return tuple(f"w_{name}" for c in CLASSES for name, _ in FEATURES[c])


SPOT_COLUMNS = ("n_spots", "resolution_a", "spot_i_sigma", "background_counts", "hot_pixels")


def weak_evidence(found: Witnessed) -> dict[str, str]:
    """Per class, what a flag rests on where the witnesses said nothing (``Evidence
    .measured``); classes without such a measurement are left out."""
    return {c: e.measured for c, e in found.evidence.items() if e.measured and not e.sentence}


def witness_row(found: Witnessed) -> dict:
    """A frame's witness results as results columns: ``evidence_<class>`` sentences,
    ``w_<feature>`` numbers and the spot finder's summary (``SPOT_COLUMNS``)."""
    row = {f"evidence_{c}": found.evidence[c].sentence for c in CLASSES}
    row.update({f"w_{name}": round(float(value), 4) for c in CLASSES
                for name, value in found.evidence[c].features})
    spots = found.spots
    row.update(n_spots=spots.n_spots, resolution_a=spots.resolution_a,
               spot_i_sigma=round(spots.median_i_sigma, 2),
               background_counts=round(spots.background, 3), hot_pixels=spots.n_hot_pixels)
    return row
