"""Reading detector frames: one entry point, readers registered by name.

>>> for frame in read_frames("run_0001.cbf"):  # doctest: +SKIP
...     print(frame.shape, frame.geometry.beam_x)
"""

from mxqc.io.registry import READERS, count_frames, detect_reader, read_frame, read_frames
from mxqc.io.writers import write_cbf, write_edf, write_nexus, write_smv, write_tiff

__all__ = ["READERS", "count_frames", "detect_reader", "read_frame", "read_frames", "write_cbf",
           "write_edf",
           "write_nexus", "write_smv", "write_tiff"]
