"""Compositing a cut: per frame, the camera's view of the background, the cels the timesheet shows, effects.

``render/<cut>/comp/<cut>.%04d.png`` holds the frames (numbered as on the timesheet); ``comp.json`` beside them
is written last, when every frame is in, and is what make waits for. A render that stops half way resumes: the
frames already written for the same inputs are kept and only the missing ones are made.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from compositor.backgrounds import background_frames, bg_folder, BG_MANIFEST
from compositor.camera import (
    View,
    canvas_to_screen,
    is_translation,
    layer_to_screen,
    motion_position,
    sample,
    shot_views,
)
from compositor.cels import CelLibrary, check_layers, exposure_of
from compositor.io import write_bytes_atomic, write_image
from compositor.spec import Effect, Production, Shot, load_shot

RENDER_VERSION = 1
"""Bump when the compositing code changes its pixels, so that make-less resumes never mix old and new frames."""

Progress = Callable[[str, int, int], None]


def comp_folder(shot: Shot) -> Path:
    return shot.out / "comp"


def frame_path(shot: Shot, number: int) -> Path:
    """The comp frame file for timesheet frame ``number``."""
    return comp_folder(shot) / f"{shot.name}.{number:04d}.png"


def _clip_premultiplied(frame: np.ndarray) -> np.ndarray:
    """Bicubic sampling overshoots a little; bring colour back under alpha and alpha into [0, 1]. In place."""
    np.clip(frame, 0, 1, out=frame)
    np.minimum(frame[:, :, :3], frame[:, :, 3:4], out=frame[:, :, :3])
    return frame


def place_layer(frame: np.ndarray, cel: np.ndarray, m: np.ndarray, mode: str, opacity: float) -> None:
    """Composite ``cel`` (h, w, 4) onto ``frame`` (H, W, 4) through the affine map ``m``, in place.

    Only the rectangle the cel covers is touched; an integer translation needs no resampling at all.
    """
    from compositor.ops import blend_into  # noqa: PLC0415

    height, width = frame.shape[:2]
    tx, ty = m[0, 2], m[1, 2]
    if is_translation(m) and abs(tx - round(tx)) < 1e-6 and abs(ty - round(ty)) < 1e-6:
        blend_into(frame, cel, mode, opacity, int(round(tx)), int(round(ty)))
        return
    h, w = cel.shape[:2]
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64) @ m.T
    # one pixel of margin for the bicubic kernel's reach
    x0 = max(0, math.floor(corners[:, 0].min()) - 1)
    y0 = max(0, math.floor(corners[:, 1].min()) - 1)
    x1 = min(width, math.ceil(corners[:, 0].max()) + 1)
    y1 = min(height, math.ceil(corners[:, 1].max()) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    local = m.copy()
    local[:, 2] -= (x0, y0)
    patch = sample(cel, local, (x1 - x0, y1 - y0), border=cv2.BORDER_CONSTANT)
    blend_into(frame, _clip_premultiplied(patch), mode, opacity, x0, y0)


def apply_effects(frame: np.ndarray, effects: Iterable[Effect], number: int) -> np.ndarray:
    """The finishing effects of anime photography, in the order the spec lists them. Pure."""
    from compositor import ops  # noqa: PLC0415

    for fx in effects:
        if fx.type == "glow":
            frame = ops.glow(frame, fx.strength, fx.radius, fx.threshold, fx.tint)
        elif fx.type == "vignette":
            frame = ops.vignette(frame, fx.strength)
        elif fx.type == "grain":
            frame = ops.grain(frame, fx.strength, fx.seed + number)
        elif fx.type == "grade":
            frame = ops.grade(frame, fx.strength, fx.tint)
    return frame


class CutRenderer:
    """Composites the frames of one cut; holds the decoded cels so a held drawing is decoded once."""

    def __init__(self, shot: Shot):
        self.shot = shot
        self.views: list[View] = shot_views(shot)
        self.layers = [
            (layer, exposure_of(shot, i), CelLibrary(shot, i)) for i, layer in enumerate(shot.spec.layers)
        ]

    def compose(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """Frame ``index`` (0-based) of the cut over the background ``canvas`` → premultiplied RGBA (H, W, 4)."""
        shot = self.shot
        size = shot.size
        view, first = self.views[index], self.views[0]
        frame = sample(canvas, canvas_to_screen(view, size), size)
        _clip_premultiplied(frame)
        number = shot.start + index
        for layer, exposure, library in self.layers:
            drawing = exposure[index]
            if drawing is None or layer.opacity == 0:
                continue
            position = motion_position(layer.motion, number, layer.position)
            m = layer_to_screen(view, first, layer.parallax, position, size)
            place_layer(frame, library.get(drawing), m, layer.blend, layer.opacity)
        if shot.spec.effects:
            frame = apply_effects(frame, shot.spec.effects, number)
        return frame

    def render(self, indices: list[int], progress: Progress | None = None) -> None:
        """Composite and write frames ``indices`` (0-based, ascending)."""
        if not indices:
            return
        first, last = indices[0], indices[-1]
        wanted = set(indices)
        done = 0
        for offset, canvas in enumerate(background_frames(self.shot, first, last - first + 1)):
            index = first + offset
            if index not in wanted:
                continue
            write_image(frame_path(self.shot, self.shot.start + index), self.compose(index, canvas))
            done += 1
            if progress:
                progress(f"{self.shot.name}: composite", done, len(indices))


def inputs_digest(shot: Shot) -> str:
    """A hash of everything that changes the cut's pixels: spec, style, background, cels, code version."""
    h = hashlib.sha256(f"render-v{RENDER_VERSION}".encode())
    h.update(shot.path.read_bytes())
    if shot.style:
        h.update(shot.style_path.read_bytes())
    h.update((bg_folder(shot) / BG_MANIFEST).read_bytes())
    for key, path in sorted(shot.files.items()):
        if key.startswith("layers["):
            for p in sorted(path.iterdir()):
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def _state_path(shot: Shot) -> Path:
    return comp_folder(shot) / ".inputs"


def frames_to_render(shot: Shot) -> list[int]:
    """0-based indices of the frames still to make; forgets frames made from other inputs."""
    folder = comp_folder(shot)
    folder.mkdir(parents=True, exist_ok=True)
    digest = inputs_digest(shot)
    state = _state_path(shot)
    if not state.is_file() or state.read_text() != digest:
        for old in folder.glob(f"{shot.name}.*.png"):
            old.unlink()
        (folder / "comp.json").unlink(missing_ok=True)
        write_bytes_atomic(state, digest.encode())
    return [i for i in range(shot.frames) if not frame_path(shot, shot.start + i).is_file()]


def render_chunk(root: str, cut: str, indices: list[int]) -> list[int]:
    """Render some frames of a cut in this process (a worker of a local pool or of a Dask cluster)."""
    shot = load_shot(Production(Path(root)), cut)
    CutRenderer(shot).render(indices)
    return indices


def chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[i : i + size] for i in range(0, len(indices), size)]


def render_cut(shot: Shot, progress: Progress | None = None, workers: int | None = None) -> Path:
    """Composite every missing frame of the cut, then write ``comp.json``; returns its path."""
    check_layers(shot)
    todo = frames_to_render(shot)
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if todo and workers > 1 and len(todo) >= 8:
        # Contiguous chunks keep each worker's background reads sequential and its cel cache warm.
        size = max(4, math.ceil(len(todo) / (workers * 2)))
        done = 0
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(render_chunk, str(shot.production.root), shot.name, c) for c in chunks(todo, size)]
            for future in as_completed(futures):
                done += len(future.result())
                if progress:
                    progress(f"{shot.name}: composite", done, len(todo))
    elif todo:
        CutRenderer(shot).render(todo, progress)
    return finish_cut(shot)


def finish_cut(shot: Shot) -> Path:
    """Check every frame is in, drop frames beyond the cut, and write ``comp.json`` (last)."""
    folder = comp_folder(shot)
    missing = [n for n in shot.frame_numbers() if not frame_path(shot, n).is_file()]
    if missing:
        raise RuntimeError(f"{shot.name}: frames {missing[:5]} were not rendered")
    valid = {frame_path(shot, n).name for n in shot.frame_numbers()}
    for p in folder.glob(f"{shot.name}.*.png"):
        if p.name not in valid:
            p.unlink()
    manifest: dict[str, Any] = {
        "cut": shot.name,
        "frames": shot.frames,
        "start": shot.start,
        "size": list(shot.size),
        "fps": shot.fps,
        "inputs": _state_path(shot).read_text(),
    }
    path = folder / "comp.json"
    write_bytes_atomic(path, json.dumps(manifest, indent=2).encode())
    return path
