"""``source = "plate"``: a painted image, an image sequence (``bg.%04d.png``) or a video file.

The plate is scaled to cover the canvas (keeping its aspect, centred) and, with ``stylize``, given a painterly
look frame by frame. Sequences and videos are read in order, one frame at a time. A sequence's canvas ``i`` is
its file numbered ``first + i``, never the i-th file found: a missing number is an error naming it, unless
``background.hold_missing`` holds the frame before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from compositor.core.digest import file_digest
from compositor.core.io import FrameSource, decoding_note
from compositor.errors import SpecError
from compositor.spec import Shot

PLATE_VERSION = 1


def fit_to_canvas(frame: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """Scale ``frame`` (H, W, C) to cover ``canvas`` (W, H) keeping its aspect, centred and cropped. Pure."""
    h, w = frame.shape[:2]
    cw, ch = canvas
    if (w, h) == (cw, ch):
        return frame
    scale = max(cw / w, ch / h)
    size = (max(cw, round(w * scale)), max(ch, round(h * scale)))
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    x0, y0 = (size[0] - cw) // 2, (size[1] - ch) // 2
    out = np.clip(resized[y0 : y0 + ch, x0 : x0 + cw], 0, 1)
    return np.ascontiguousarray(out, dtype=np.float32)


def _source(shot: Shot) -> FrameSource:
    return FrameSource(
        shot.files["background.plate"],
        f"{shot.display}: background.plate",
        shot.production.rel,
        hold_missing=shot.spec.background.hold_missing,
    )


def frame_count(shot: Shot) -> int:
    source = _source(shot)
    if source.still:
        return 1
    if len(source) < shot.frames:
        raise SpecError(
            f"{shot.display}: background.plate: {len(source)} frames, but the cut is {shot.frames}"
        )
    return shot.frames


def describe(shot: Shot, index: int) -> dict[str, Any]:
    source = _source(shot)
    if source.still or source.sequence:  # the file frame `index` is read from (by number, gaps held)
        content = file_digest(source.frame_file(index))
        content += decoding_note(source.frame_file(index))  # a photo laid upright, a TIFF unpremultiplied
    else:  # a video
        content = f"{file_digest(source.path)}#{index}"
    bg = shot.spec.background
    described = {
        "backend": "plate",
        "version": PLATE_VERSION,
        "plate": content,
        "canvas": list(shot.canvas),
        "stylize": bg.stylize,
        "seed": bg.seed + index if bg.stylize != "none" else None,
    }
    # only when asked, so that the canvases of a plate that asks for neither keep their keys
    if shot.output.alpha:
        described["alpha"] = True
    if shot.output.frames != "png8":
        described["depth"] = 16  # the canvas is kept at 16 bits, so a deep plate reaches deep frames
    if bg.plate_colourspace:
        config = shot.edit.ocio_config or ""
        described["colour"] = {
            "config": config if config.startswith("ocio://") else file_digest(Path(config)),
            "from": bg.plate_colourspace,
            "to": shot.edit.spec.colour.working_space,
        }
    return described


def _finish(shot: Shot, frame: np.ndarray, index: int) -> np.ndarray:
    bg = shot.spec.background
    if bg.plate_colourspace and shot.edit.ocio_config:
        from compositor.core.colour import convert_colourspace  # noqa: PLC0415 (OpenColorIO only when asked)

        frame = convert_colourspace(frame, shot.edit.ocio_config, bg.plate_colourspace, shot.edit.spec.colour.working_space)
    canvas = fit_to_canvas(frame, shot.canvas)
    if bg.stylize != "none":
        from compositor.core.stylize import stylize  # noqa: PLC0415

        canvas = stylize(canvas, bg.stylize, bg.seed + index)
    canvas = canvas.copy()
    if not shot.output.alpha:
        # Plates are backgrounds: fully opaque whatever the file says, unless the cut keeps its alpha.
        canvas[:, :, 3] = 1.0
    return canvas


def paint_frames(shot: Shot, indices: list[int], progress: Any = None) -> Iterator[np.ndarray]:
    source = _source(shot)
    if not indices:
        return
    first, last = min(indices), max(indices)
    wanted = set(indices)
    for offset, frame in enumerate(source.frames(0 if source.still else first, 1 if source.still else last - first + 1)):
        i = first + offset
        if i in wanted:
            yield _finish(shot, frame, i)


def paint(shot: Shot, index: int, progress: Any = None) -> np.ndarray:
    return next(paint_frames(shot, [index], progress))
