"""compositor: a Makefile-driven, video-aware compositing pipeline for hand-drawn animation.

The library API (``compositor.api``; the ``compositor`` command is a thin layer over it)::

    import compositor
    shot = compositor.cut(compositor.load("my_production"), "sc010_c010")
    frame = compositor.render_frame(shot, 12)   # float32 premultiplied RGBA (H, W, 4)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from compositor.errors import CompositorError

if TYPE_CHECKING:
    from compositor.api import cut, edit, load, render_cut, render_edit, render_frame, render_frames

__version__ = "0.2.0"

_API = {"cut", "edit", "load", "render_cut", "render_edit", "render_frame", "render_frames"}


def __getattr__(name: str) -> Any:
    # The API is imported when first used, not with the package: `compositor.entry` must be able to take charge
    # of Ctrl-C before the half second of imports (pydantic, numpy, OpenCV) that the command needs.
    if name in _API:
        from compositor import api  # noqa: PLC0415

        return getattr(api, name)
    raise AttributeError(f"module 'compositor' has no attribute {name!r}")

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
