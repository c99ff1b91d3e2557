"""compositor: a Makefile-driven, video-aware compositing pipeline for hand-drawn animation.

The library API (``compositor.api``; the ``compositor`` command is a thin layer over it)::

    import compositor
    shot = compositor.cut(compositor.load("my_production"), "sc010_c010")
    frame = compositor.render_frame(shot, 12)   # float32 premultiplied RGBA (H, W, 4)
"""

from compositor.api import cut, edit, load, render_cut, render_edit, render_frame, render_frames
from compositor.errors import CompositorError

__version__ = "0.2.0"

__all__ = [
    "CompositorError",
    "__version__",
    "cut",
    "edit",
    "load",
    "render_cut",
    "render_edit",
    "render_frame",
    "render_frames",
]
