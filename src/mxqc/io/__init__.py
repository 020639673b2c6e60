"""Reading detector frames: one entry point over an ordered table of format readers.

>>> for frame in read_frames("run_0001.cbf"):  # doctest: +SKIP
...     print(frame.shape, frame.geometry.beam_x)
"""

from mxqc.io.registry import (
    count_frames,
    describe_file,
    detect_reader,
    read_frame,
    read_frames,
    readers,
)
from mxqc.io.writers import write_cbf, write_edf, write_nexus, write_smv, write_tiff

__all__ = ["count_frames", "describe_file", "detect_reader", "read_frame", "read_frames",
           "readers", "write_cbf", "write_edf", "write_nexus", "write_smv", "write_tiff"]
