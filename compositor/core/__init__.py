"""Pure building blocks below the pipeline steps: image I/O (the only file reader/writer), compositing ops and
their fused kernels, the camera, timesheets, cels, paper keying, control images and per-frame stylisation."""

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""``progress(description, done, total)``: how the steps report what they are doing (the CLI draws it)."""
