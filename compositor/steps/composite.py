"""Compositing a cut: per frame, the camera's view of the background, the cels the timesheet shows, effects.

``render/<cut>/comp/<cut>.%04d.png`` holds the frames (numbered as on the timesheet); ``comp.json`` beside
them is written last, when every frame is in, and is what make waits for. A render that stops half way
resumes: the frames already written for the same inputs are kept and only the missing ones are made.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from compositor.backgrounds import BG_MANIFEST, bg_folder, bg_frame_path, read_manifest
from compositor.core.camera import (
    View,
    canvas_to_screen,
    is_translation,
    layer_to_screen,
    motion_position,
    sample,
    shot_views,
)
from compositor.core.cels import CelLibrary, CelPiece, blur_margin, check_layers, exposure_of
from compositor.errors import SpecError
from compositor.core.io import read_image, read_rgb8, to_uint8_rgb, write_bytes_atomic, write_image
from compositor.core.kernels import blend_region, copy_clipped
from compositor.spec import Effect, Production, Shot, load_shot

RENDER_VERSION = 1
"""Bump when the compositing code changes its pixels, so that make-less resumes never mix old and new
frames."""

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
    from compositor.core.ops import blend_into  # noqa: PLC0415

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


def whole_pixels(m: np.ndarray) -> tuple[int, int] | None:
    """The offset of ``m`` when it is a translation by whole pixels (nothing to resample), else None."""
    tx, ty = m[0, 2], m[1, 2]
    if is_translation(m) and abs(tx - round(tx)) < 1e-6 and abs(ty - round(ty)) < 1e-6:
        return int(round(tx)), int(round(ty))
    return None


def place_piece(frame: np.ndarray, piece: CelPiece, m: np.ndarray, mode: str, opacity: float) -> bool:
    """Composite the covered ``piece`` of a drawing whose whole map is ``m``, in place; the same pixels as
    ``place_layer(frame, drawing, m, ...)``. Returns False (and does nothing) where only the whole drawing
    gives those pixels: a map that shrinks it enough to be area-averaged first (see ``camera.sample``).
    """
    if piece.empty or opacity <= 0:
        return True
    local = m.copy()
    local[:, 2] += m[:, :2] @ np.asarray(piece.offset, dtype=np.float64)
    offset = whole_pixels(local)
    if offset is not None:
        blend_region(frame, offset[0], offset[1], piece.pixels, mode, opacity)
        return True
    if math.sqrt(abs(np.linalg.det(m[:, :2]))) < 0.8:
        return False
    place_layer(frame, piece.premultiplied(), local, mode, opacity)
    return True


def view_of_canvas(canvas: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame ``size`` (W, H) the camera sees through ``m`` (canvas → screen), clipped to valid
    premultiplied.

    A whole-pixel pan that stays inside the canvas is a copy (bicubic sampling at whole pixels is the
    identity); anything else is resampled by ``camera.sample`` (OpenCV's bicubic warp).
    """
    width, height = size
    offset = whole_pixels(m)
    if offset is not None and canvas.dtype == np.float32 and canvas.flags.c_contiguous:
        x, y = -offset[0], -offset[1]
        if 0 <= x and 0 <= y and x + width <= canvas.shape[1] and y + height <= canvas.shape[0]:
            return copy_clipped(canvas, x, y, np.empty((height, width, 4), np.float32))
    return _clip_premultiplied(sample(canvas, m, size))


def apply_effects(frame: np.ndarray, effects: Iterable[Effect], number: int) -> np.ndarray:
    """The finishing effects of anime photography, in the order the spec lists them. Pure."""
    from compositor.core import ops  # noqa: PLC0415

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


class StageTimes:
    """CPU seconds spent per stage (``decode``, ``composite``, ``write``, ...), summed over every thread, so
    that frames composited side by side (or an encoder sharing the cores) do not blur where the time goes.
    Thread-safe."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    @contextmanager
    def timing(self, stage: str):
        started = time.thread_time()
        try:
            yield
        finally:
            self.add(stage, time.thread_time() - started)


class Backdrop:
    """The background canvas of each frame: a still one is decoded once and shared, a moving one read per
    frame."""

    def __init__(self, shot: Shot, times: StageTimes):
        manifest = read_manifest(shot)
        self.shot = shot
        self.count = manifest["frames"]
        if self.count != 1 and self.count < shot.frames:
            raise SpecError(f"{shot.display}: background: {self.count} frames, but the cut is {shot.frames}")
        self.times = times
        self._still: np.ndarray | None = None
        self._lock = threading.Lock()

    def canvas(self, index: int) -> np.ndarray:
        if self.count == 1:
            with self._lock:
                if self._still is None:
                    with self.times.timing("decode"):
                        self._still = read_image(bg_frame_path(self.shot, 0))
                return self._still
        with self.times.timing("decode"):
            return read_image(bg_frame_path(self.shot, index))


FrameSink = Callable[[int, np.ndarray], None]
"""``sink(index, rgb)``: called in frame order with each frame as opaque ``uint8`` RGB ``(H, W, 3)``."""


class CutRenderer:
    """Composites the frames of one cut; holds the decoded cels so a held drawing is decoded once.

    ``compose`` is the fast path: each drawing kept as drawn and cropped to what it covers, laid in one fused
    pass per layer (``kernels``), a whole-pixel pan copied rather than resampled. ``compose_reference`` is the
    plain float path it is held equal to (tests/test_fast_paths.py). One renderer may be shared by threads.
    """

    def __init__(self, shot: Shot):
        self.shot = shot
        self.views: list[View] = shot_views(shot)
        self.layers = [
            (layer, exposure_of(shot, i), CelLibrary(shot, i)) for i, layer in enumerate(shot.spec.layers)
        ]
        self.times = StageTimes()
        self._backdrop: Backdrop | None = None

    @property
    def backdrop(self) -> Backdrop:
        if self._backdrop is None:
            self._backdrop = Backdrop(self.shot, self.times)
        return self._backdrop

    def _layer_maps(self, index: int):
        shot = self.shot
        view, first = self.views[index], self.views[0]
        number = shot.start + index
        for layer, exposure, library in self.layers:
            drawing = exposure[index]
            if drawing is None or layer.opacity == 0:
                continue
            position = motion_position(layer.motion, number, layer.position)
            margin = blur_margin(layer)
            position = (position[0] - margin, position[1] - margin)
            yield layer, library, drawing, layer_to_screen(view, first, layer.parallax, position, shot.size)

    def compose(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """Frame ``index`` (0-based) of the cut over the background ``canvas`` → premultiplied RGBA (H, W,
        4)."""
        shot = self.shot
        clock = time.thread_time
        started = clock()
        decoding = 0.0
        frame = view_of_canvas(canvas, canvas_to_screen(self.views[index], shot.size), shot.size)
        for layer, library, drawing, m in self._layer_maps(index):
            t = clock()
            piece = library.piece(drawing)
            decoding += clock() - t
            if not place_piece(frame, piece, m, layer.blend, layer.opacity):
                t = clock()
                whole = library.get(drawing)
                decoding += clock() - t
                place_layer(frame, whole, m, layer.blend, layer.opacity)
        if shot.spec.effects:
            frame = apply_effects(frame, shot.spec.effects, shot.start + index)
        self.times.add("decode", decoding)
        self.times.add("composite", clock() - started - decoding)
        return frame

    def compose_reference(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """The plain float path: whole drawings, every layer and the background resampled through its map."""
        shot = self.shot
        frame = sample(canvas, canvas_to_screen(self.views[index], shot.size), shot.size)
        _clip_premultiplied(frame)
        for layer, library, drawing, m in self._layer_maps(index):
            place_layer(frame, library.get(drawing), m, layer.blend, layer.opacity)
        if shot.spec.effects:
            frame = apply_effects(frame, shot.spec.effects, shot.start + index)
        return frame

    def make_frame(self, index: int, write: bool = True) -> np.ndarray:
        """Composite frame ``index``, write its file (when ``write``) and return it as ``uint8`` RGB (H, W,
        3)."""
        frame = self.compose(index, self.backdrop.canvas(index))
        with self.times.timing("write"):
            rgb = to_uint8_rgb(frame)
            del frame
            if write:
                write_image(frame_path(self.shot, self.shot.start + index), rgb)
        return rgb

    def render(
        self,
        indices: list[int],
        progress: Progress | None = None,
        threads: int = 1,
        sink: FrameSink | None = None,
        reuse: bool = False,
    ) -> None:
        """Composite and write frames ``indices`` (0-based, ascending), ``threads`` at a time.

        ``sink`` receives every frame in order as it is done (e.g. an encoder's pipe); with ``reuse``, a frame
        whose file already exists is read back for the sink instead of being made again. At most two frames a
        thread are in flight, so memory does not grow with the length of the cut.
        """
        if not indices:
            return
        done = 0

        def job(index: int) -> np.ndarray | None:
            path = frame_path(self.shot, self.shot.start + index)
            if reuse and path.is_file():
                with self.times.timing("decode"):
                    return read_rgb8(path)
            rgb = self.make_frame(index)
            return rgb if sink is not None else None

        def finish(index: int, rgb: np.ndarray | None) -> None:
            nonlocal done
            if sink is not None and rgb is not None:
                sink(index, rgb)
            done += 1
            if progress:
                progress(f"{self.shot.name}: composite", done, len(indices))

        if threads <= 1:
            for index in indices:
                finish(index, job(index))
            return
        window: deque[tuple[int, Future]] = deque()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="comp") as pool:
            try:
                for index in indices:
                    window.append((index, pool.submit(job, index)))
                    if len(window) >= 2 * threads:
                        i, future = window.popleft()
                        finish(i, future.result())
                while window:
                    i, future = window.popleft()
                    finish(i, future.result())
            finally:
                for _, future in window:
                    future.cancel()


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


_worker_renderer: dict[tuple[str, str], tuple[str, CutRenderer]] = {}
"""The last cut a worker process rendered, with the digest of its inputs: a worker given several chunks of one
cut decodes each drawing once, not once a chunk. One entry, so a worker's memory does not grow with the cuts
it renders."""


def render_chunk(root: str, cut: str, indices: list[int]) -> list[int]:
    """Render some frames of a cut in this process (a worker of a local pool or of a Dask cluster)."""
    shot = load_shot(Production(Path(root)), cut)
    digest = inputs_digest(shot)
    cached = _worker_renderer.get((root, cut))
    if cached is not None and cached[0] == digest:
        renderer = cached[1]
    else:
        _worker_renderer.clear()
        renderer = CutRenderer(shot)
        _worker_renderer[(root, cut)] = (digest, renderer)
    renderer.render(indices)
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
            futures = [
                pool.submit(render_chunk, str(shot.production.root), shot.name, c) for c in chunks(todo, size)
            ]
            for future in as_completed(futures):
                done += len(future.result())
                if progress:
                    progress(f"{shot.name}: composite", done, len(todo))
    elif todo:
        CutRenderer(shot).render(todo, progress)
    return finish_cut(shot)


def render_and_encode(
    shot: Shot,
    preset_name: str | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    renderer: CutRenderer | None = None,
) -> tuple[Path, Path]:
    """Composite the cut and encode its movie in one pass: each frame goes to the encoder's pipe as it is made
    and to its PNG file beside it (frames already there are read back instead of made again).

    ``threads`` frames are composited at a time (default: the cores); ``renderer`` may be given to read its
    ``times`` afterwards. Writes ``comp.json`` and then the movie
    (``render/<cut>/<cut>.mp4``, newer than ``comp.json``, so make takes it for done); returns both paths.
    """
    check_layers(shot)
    frames_to_render(shot)  # forgets frames made from other inputs
    renderer = renderer or CutRenderer(shot)
    threads = threads if threads is not None else min(os.cpu_count() or 1, 4)
    from compositor.steps.encode import MoviePipe  # noqa: PLC0415 (ffmpeg lives at the edge)

    movie = MoviePipe(shot, preset_name)
    try:
        renderer.render(list(range(shot.frames)), progress, threads=threads, sink=movie.write, reuse=True)
        manifest = finish_cut(shot)
        out = movie.finish()
    except BaseException:
        movie.abort()
        raise
    return manifest, out


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
