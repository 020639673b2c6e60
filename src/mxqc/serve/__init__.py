"""The HTTP service: ``create_app(ServeSettings(...))``."""

from mxqc.serve.app import create_app
from mxqc.serve.service import ServeSettings

__all__ = ["ServeSettings", "create_app"]
