"""Following beamline directories: classify each new frame once into a database."""

from mxqc.watch.db import connect
from mxqc.watch.watcher import Watcher, WatchOptions

__all__ = ["WatchOptions", "Watcher", "connect"]
