"""Scanning raw frames: per-frame anomalies, centres, rings and heatmaps (see ``run.scan``).

``analyse_units`` (the per-frame work, with torch) loads on first use; planning, running and
recording a scan do not need it in the calling process.
"""

from mxqc.scan.options import ScanOptions
from mxqc.scan.results import COLUMNS
from mxqc.scan.run import ScanSummary, plan_units, scan

__all__ = ["COLUMNS", "ScanOptions", "ScanSummary", "analyse_units", "plan_units", "scan"]


def __getattr__(name: str):
    if name == "analyse_units":
        from mxqc.scan.analyse import analyse_units

        return analyse_units
    raise AttributeError(f"module 'mxqc.scan' has no attribute {name!r}")
