"""Synthetic diffraction frames with known anomalies, geometry and beam centre."""

from mxqc.simulate.detector import DETECTORS, DetectorModel
from mxqc.simulate.generate import SimulatedFrame, render_scene, simulate_frame
from mxqc.simulate.labels import sample_labels
from mxqc.simulate.rings import RingPattern, ring_pattern
from mxqc.simulate.scene import Scene, sample_scene

__all__ = ["DETECTORS", "DetectorModel", "RingPattern", "Scene", "SimulatedFrame",
           "render_scene", "ring_pattern", "sample_labels", "sample_scene", "simulate_frame"]
