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


def classify(paths, *, model=None, centre_method="auto", witnesses=True) -> list:
    """One ``mxqc.result.FrameResult`` per frame of ``paths`` (files, directories or globs),
    with the columns of a scan's ``results.csv``: ``p_<class>``, ``<class>`` (flagged or
    not), ``evidence_<class>``, spots, beam centre and rings; an unreadable file or frame is
    a result with ``status`` "error" and the reason in ``error``.

    >>> results = classify("demo-out/run/series1/sim_11_000000.cbf")  # doctest: +SKIP
    >>> results[0].labels  # doctest: +SKIP
    ['loop_scattering', 'strong_background', 'non_uniform_detector']
    >>> results[0].evidence["non_uniform_detector"]  # doctest: +SKIP
    'module gains differ: …'
    """
    from mxqc.scan.run import classify as _classify

    return _classify(paths, model=model, centre_method=centre_method, witnesses=witnesses)
