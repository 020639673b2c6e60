"""The analysis of a batch, imported where it runs: a guarded worker or a Dask worker loads
torch (``mxqc.scan.analyse``), the process that plans the scan and hands out the batches
need not."""

from __future__ import annotations


def analyse_batch(units, *, started=None, **kwargs) -> list:
    """``mxqc.scan.analyse.analyse_units`` of ``units``: a list of ``FrameResult``."""
    from mxqc.scan.analyse import analyse_units

    return analyse_units(units, started=started, **kwargs)
