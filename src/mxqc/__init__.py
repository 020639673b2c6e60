"""mxqc: anomaly detection in macromolecular X-ray diffraction images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mxqc")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

from mxqc.errors import FrameReadError, MxqcError
from mxqc.frame import Frame, FrameSource, Geometry

__all__ = ["Frame", "FrameReadError", "FrameSource", "Geometry", "MxqcError", "__version__",
           "load_model"]


def load_model(path=None):
    """Load a model file; with no path, the default model (imports torch on first use)."""
    from mxqc.learn import load_model as _load

    return _load(path)
