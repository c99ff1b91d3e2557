"""A cut as a moviepy clip, for people who script edits in Python (``pip install 'compositor[moviepy]'``).

    from compositor.moviepy import clip
    preview = clip(shot)                      # a moviepy VideoClip: frames rendered on demand
    preview.subclipped(0, 1).write_videofile("first_second.mp4")

Frame ``i`` of the clip (time ``i / fps``) is timesheet frame ``shot.start + i``, composited in memory with
everything the render applies, as opaque ``uint8`` RGB (over black); the last frame rendered is kept, so a
held time is not composited twice.
"""

from __future__ import annotations

import math
from typing import Any

from compositor.core.io import to_uint8_rgb
from compositor.errors import BackendMissingError
from compositor.spec import Shot


def clip(shot: Shot) -> Any:
    """The cut as a ``moviepy.VideoClip`` of ``shot.frames / shot.fps`` seconds at ``shot.fps``."""
    try:
        from moviepy import VideoClip  # noqa: PLC0415
    except ImportError:
        raise BackendMissingError("a cut as a moviepy clip needs moviepy 2: pip install 'compositor[moviepy]'") from None
    from compositor.steps.composite import CutRenderer  # noqa: PLC0415

    renderer = CutRenderer(shot)
    last: dict[int, Any] = {}

    def frame_at(t: float) -> Any:
        index = min(shot.frames - 1, max(0, math.floor(t * shot.fps + 1e-6)))
        if index not in last:
            last.clear()
            last[index] = to_uint8_rgb(renderer.frame(index))
        return last[index]

    return VideoClip(frame_function=frame_at, duration=shot.frames / shot.fps).with_fps(shot.fps)
