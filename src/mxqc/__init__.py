"""mxqc: anomaly detection in macromolecular X-ray diffraction images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mxqc")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

from mxqc.errors import FrameReadError, MxqcError
from mxqc.frame import Frame, FrameSource, Geometry

__all__ = ["Frame", "FrameReadError", "FrameSource", "Geometry", "MxqcError", "__version__",
           "classify", "load_model"]


def load_model(path=None):
    """Load a model file; with no path, the default model (imports torch on first use)."""
    from mxqc.learn import load_model as _load

    return _load(path)


def classify(paths, *, model=None, centre_method="auto", witnesses=True) -> list[dict]:
    """One row per frame of ``paths`` (files, directories or globs), with the columns of a
    scan's ``results.csv``: ``p_<class>``, ``<class>`` (flagged or not), ``evidence_<class>``,
    spots, beam centre and rings; unreadable files are rows with ``status`` "error".

    >>> rows = classify("demo-out/run/series1/sim_11_000000.cbf")  # doctest: +SKIP
    >>> [c for c in CLASSES if rows[0][c]]  # doctest: +SKIP
    ['loop_scattering', 'strong_background', 'non_uniform_detector']
    """
    from mxqc.scan.run import classify as _classify

    return _classify(paths, model=model, centre_method=centre_method, witnesses=witnesses)
