"""Exceptions raised by mxqc library code; only the drivers turn them into exit codes."""

import inspect


class MxqcError(Exception):
    """Base class of every error mxqc raises on purpose."""


class FrameReadError(MxqcError):
    """A file could not be read as a diffraction frame.

    The message always names the file and the reason (truncated, empty,
    unsupported, corrupt), so one bad file can be reported and skipped.
    """

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class InvalidFrameError(MxqcError, ValueError):
    """A frame's pixels cannot be processed (no valid pixel at all, too small for a step,
    frames of one sweep with different shapes). Also a ValueError, as it was."""


class GeometryError(MxqcError, ValueError):
    """A frame's geometry lacks what a conversion needs (pixel size, distance or
    wavelength for d-spacings). Also a ValueError, as it was."""


class CentreError(MxqcError, ValueError):
    """A beam-centre method cannot give an answer for this image (no header centre, a
    centre on the image border). Also a ValueError, as it was."""


class FusionError(MxqcError):
    """A scan that cannot fit or test a fusion of the CNN with the witnesses."""


class DeviceError(MxqcError):
    """A compute device that was asked for cannot be used here (no GPU, unknown name)."""


def describe_exception(exc: BaseException) -> str:
    """A library's exception in words: where it was raised and what it said, e.g.
    "in fabio.cbfimage (AssertionError, no message)"."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = inspect.getmodule(tb.tb_frame) if tb is not None else None
    where = f"in {module.__name__} " if module is not None else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
    return f"{where}({type(exc).__name__}: {text})"


def error_message(exc: BaseException) -> str:
    """An error's text for a person: mxqc's own errors say what was wrong; a library's
    exception says where it was raised, so that no message is a bare exception type."""
    if isinstance(exc, MxqcError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "ran out of memory (the worker's memory limit)"
    return f"failed {describe_exception(exc)}"
