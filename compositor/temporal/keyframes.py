"""Keyframe stylisation: paint only some frames and carry the paint along the guide's flow to the others.

``frames_to_paint`` says which frames of a cut to paint (the first; the first frame after a change of scene,
where the guide's flow passes the occlusion test on under ``SCENE_CHANGE`` of the pixels; each frame
``paint_every`` after the last one painted; the last); ``carry_paint`` makes every frame from those: a keyframe as painted, a frame between two keyframes their
paint carried to it along the flow from both sides (``compositor.temporal.bidirectional``), each side weighted
by how confident its flow is there (the product of the occlusion tests along the way) and by nearness in time.
A static scene keeps the paint exactly; what one keyframe cannot see (an object uncovered it) comes from the
other. Frames: premultiplied float32 RGBA ``(H, W, 4)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np

from compositor.errors import SpecError
from compositor.spec.models import TemporalSettings
from compositor.temporal.bidirectional import SCENE_CHANGE, _run_windows, _valid_share
from compositor.temporal.flow import MotionAnalyser

KEYFRAME_RULE = 2
"""Bump when ``frames_to_paint`` picks other frames from the same guide and settings (a cut's background key
holds it: its keyframes are painted again). 2: counted from the last frame painted, not from the cut's first."""


def frames_to_paint(guide: Iterable[np.ndarray], settings: TemporalSettings) -> list[int]:
    """The frames (0-based) to paint for ``paint_every`` (every frame when it is 0), from the guide's motion.

    ``paint_every`` counts from the last frame painted: after a change of scene the next keyframe is
    ``paint_every`` frames on, as at the head of the cut (no keyframe a frame or two after another, each a
    painting for nothing), so no frame is ever more than ``paint_every`` from a keyframe on either side."""
    every = settings.paint_every
    keys: list[int] = []
    analyser: MotionAnalyser | None = None
    prev = None
    n = 0
    interval = settings.keyframe_interval
    for n, g in enumerate(guide):
        g = np.ascontiguousarray(g, dtype=np.float32)
        if analyser is None:
            analyser = MotionAnalyser.for_settings(g.shape[1], g.shape[0], settings)
        here = analyser.prepare(g)
        if every <= 1 or not keys or n - keys[-1] >= every or (interval > 0 and n % interval == 0):
            keys.append(n)  # (the pass does not cross a keyframe_interval keyframe either: it needs its paint)
        elif prev is not None:
            # The motion exactly as the pass finds it (``pair``, at flow resolution), so that the two agree on
            # every change of scene; nothing at full resolution is made for it.
            motion = analyser.pair(prev, here)[0]
            if not motion.still and _valid_share(motion) < SCENE_CHANGE:
                keys.append(n)
        prev = here
    if analyser is not None and keys[-1] != n:
        keys.append(n)  # the tail of the cut has a keyframe on both sides too
    return keys


def carry_paint(
    painted: Mapping[int, np.ndarray] | Callable[[int], np.ndarray],
    keys: list[int],
    guide: Iterable[np.ndarray],
    settings: TemporalSettings,
) -> Iterator[np.ndarray]:
    """Every frame of the cut from the painted ``keys`` (``frames_to_paint``'s list, whose last entry is the
    cut's last frame): ``painted[k]`` (or ``painted(k)``) is keyframe ``k``'s paint, fetched when the pass
    reaches it. Yields frames in order, a window at a time. Raises ``SpecError`` when the first frame is not a
    keyframe, or the guide's frame count is not the last keyframe's plus one."""
    if not keys or keys[0] != 0:
        raise SpecError("temporal.paint_every: the first frame of the cut must be painted")
    keys = sorted(set(keys))
    key_set = set(keys)
    fetch = painted if callable(painted) else painted.__getitem__
    paint = (fetch(n) if n in key_set else None for n in range(keys[-1] + 1))
    names = (f"the paint (keyframes up to frame {keys[-1] + 1})", "the guide")
    yield from _run_windows(paint, guide, settings, None, names, keys, 0, None, 0)
