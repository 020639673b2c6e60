"""Scanning raw frames: per-frame anomalies, centres, rings and heatmaps (see ``run.scan``)."""

from mxqc.scan.analyse import ScanOptions, analyse_units
from mxqc.scan.results import COLUMNS
from mxqc.scan.run import ScanSummary, plan_units, scan

__all__ = ["COLUMNS", "ScanOptions", "ScanSummary", "analyse_units", "plan_units", "scan"]
