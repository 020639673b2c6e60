"""The HTTP service: ``create_app(ServeSettings(...))``."""

from mxqc.serve.app import ServeSettings, create_app

__all__ = ["ServeSettings", "create_app"]
