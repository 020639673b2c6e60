"""Synthetic frames with known answers (a ring-pattern generator for now)."""

from mxqc.simulate.rings import RingPattern, ring_pattern

__all__ = ["RingPattern", "ring_pattern"]
