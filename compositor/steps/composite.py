"""Compositing a cut: per frame, the camera's view of the background, the cels the timesheet shows, effects.

``render/<cut>/comp/<cut>.%04d.png`` holds the frames (numbered as on the timesheet). Each frame has a key:
the drawings it shows (their bytes), its camera sample, its background canvas's key, the layer and effect
settings, the frame size and the renderer's version; each PNG carries the key it was made from. A render
recomposites exactly the frames whose key changed (or that are missing) and leaves the others untouched, so
an interrupted render resumes and a retouched drawing costs the frames that show it. The frames go on to the
encoder as they come (``encode``): only the movie segments that hold a changed frame are encoded again.
``comp.json``, written when every frame is in, lists the keys; it is what make waits for.

To add an effect: a pure function on frames in ``compositor.core.ops``, its keys in
``compositor.spec.models.Effect``, and one branch in `apply_effects` below.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from compositor.core import Progress
from compositor.core.camera import (
    View,
    is_translation,
    sample,
    shot_views,
)
from compositor.core.cels import CelLibrary, CelPiece, blur_margin, check_layers, exposure_of
from compositor.core.colour import to_linear, to_srgb
from compositor.core.digest import content_key
from compositor.core.io import (
    encode_frame,
    ensure_folder,
    frame_from_bytes,
    read_frame_key,
    read_image,
    read_rgb8,
    remove_file,
    remove_stale_temp_files,
    to_uint8_rgb,
    touch,
    write_bytes_atomic,
    write_image,
)
from compositor.core.kernels import MODES, blend_region, copy_clipped, to_rgb8_into
from compositor.core.photography.camera_work import CutCamera, Look, background_frame, isolated_layer
from compositor.core.photography.finish import CutTone
from compositor.errors import SpecError
from compositor.layout import FRAME_SUFFIXES, CutPaths
from compositor.spec import RENDER_THREADS, Effect, Production, Shot, load_shot
from compositor.spec.models import LAYER_CAMERA_KEYS, TONE_LAYER_KEYS
from compositor.steps.background import ensure_background
from compositor.steps.layer_cache import LayerReuse, Placed, Unit

RENDER_VERSION = 2
"""Part of every frame's key: bump it when the compositing code changes its pixels."""


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


class AlphaAddGroup:
    """Consecutive ``alpha-add`` layers, summed (coverage too) on their own and then laid over the frame as
    one: two cels of a dissolve at 50% each cover fully, where laying each over would let 25% through."""

    def __init__(self) -> None:
        self.sum: np.ndarray | None = None

    def add(self, shape: tuple[int, ...], image: np.ndarray, x: int, y: int, opacity: float) -> None:
        """Add ``image`` (premultiplied, its top-left corner at ``(x, y)``, inside a frame of ``shape``)."""
        from compositor.core.photography.tone import alpha_add  # noqa: PLC0415

        if self.sum is None:
            self.sum = np.zeros(shape, np.float32)
        h, w = image.shape[:2]
        region = self.sum[y : y + h, x : x + w]
        region[:] = alpha_add(region, image, opacity)

    def flush(self, frame: np.ndarray) -> None:
        """Lay the group's sum over ``frame`` in place and empty the group."""
        if self.sum is not None:
            from compositor.core.ops import blend_into  # noqa: PLC0415

            blend_into(frame, self.sum, "over")
            self.sum = None


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
    def timing(self, stage: str) -> Iterator[None]:
        started = time.thread_time()
        try:
            yield
        finally:
            self.add(stage, time.thread_time() - started)


class Backdrop:
    """The background canvas of each frame and its key: a still one is decoded once and shared, a moving one
    read per frame."""

    def __init__(self, shot: Shot, manifest: dict[str, Any], times: StageTimes):
        self.shot = shot
        self.count = int(manifest["frames"])
        if self.count != 1 and self.count < shot.frames:
            raise SpecError(f"{shot.display}: background: {self.count} frames, but the cut is {shot.frames}")
        self.keys: list[str] = list(manifest["canvases"])
        self.times = times
        self._still: np.ndarray | None = None
        self._lock = threading.Lock()

    def key(self, index: int) -> str:
        return self.keys[0 if self.count == 1 else index]

    def canvas(self, index: int) -> np.ndarray:
        if self.count == 1:
            with self._lock:
                if self._still is None:
                    with self.times.timing("decode"):
                        self._still = read_image(self.shot.paths.bg_frame(0))
                return self._still
        with self.times.timing("decode"):
            return read_image(self.shot.paths.bg_frame(index))


FrameSink = Callable[[int, np.ndarray], None]
"""``sink(index, frame)``: called in frame order with each frame as opaque ``uint8`` RGB ``(H, W, 3)``, or, for a cut
whose frames are deeper or carry alpha, premultiplied float RGBA ``(H, W, 4)``."""


def _matrix(m: np.ndarray) -> list[float]:
    return [round(float(v), 9) for v in m.ravel()]


class CutRenderer:
    """Composites the frames of one cut; holds the decoded cels so a held drawing is decoded once.

    ``compose`` is the fast path: each drawing kept as drawn and cropped to what it covers, laid in one fused
    pass per layer (``kernels``), a whole-pixel pan copied rather than resampled. ``compose_reference`` is the
    plain float path it is held equal to (tests/test_fast_paths.py). One renderer may be shared by threads.
    The background must be built (``steps.background.ensure_background``); its manifest may be passed in.
    """

    def __init__(self, shot: Shot, background: dict[str, Any] | None = None):
        self.shot = shot
        self.views: list[View] = shot_views(shot)
        self.camera = CutCamera(shot)  # the keyed camera with its camera work (tracks, shake, follow, blur)
        self.layers = [(layer, exposure_of(shot, i), CelLibrary(shot, i)) for i, layer in enumerate(shot.spec.layers)]
        self.times = StageTimes()
        self.backdrop = Backdrop(shot, background or ensure_background(shot), self.times)
        self.tone = CutTone(shot)
        self.output = shot.output
        self.deep = self.output.frames != "png8" or bool(self.output.alpha)
        """Frames go to their file and the encoder as float RGBA (16-bit, EXR or alpha), not as 8-bit RGB."""
        self.linear = shot.linear
        self._linear_cels: dict[tuple[int, int], np.ndarray] = {}
        self._linear_lock = threading.Lock()
        self._linear_still: tuple[np.ndarray, np.ndarray] | None = None
        self.reuse = LayerReuse(self)
        """Held drawings and layers that stay together (`fused_rgb`), frames keyed alike (`make_frame`): made once."""
        self._made: frozenset[int] | None = None
        """The frames `render` makes (None: any may be made): what `decode_ahead` decodes for."""

    def _layer_maps(self, index: int) -> Iterator[tuple[Any, CelLibrary, int, np.ndarray]]:
        shot = self.shot
        number = shot.start + index
        for layer, exposure, library in self.layers:
            drawing = exposure[index]
            if drawing is None or layer.opacity == 0:
                continue
            yield layer, library, drawing, self.camera.layer_map(layer, number, blur_margin(layer))

    def frame_key(self, index: int) -> str:
        """The key of frame ``index`` (0-based): everything that decides its pixels, and nothing else."""
        shot = self.shot
        effects = [fx.model_dump(mode="json") for fx in shot.spec.effects]
        shown = list(self._layer_maps(index))
        description = {
            "version": RENDER_VERSION,
            "size": list(shot.size),
            "background": self.backdrop.key(index),
            "camera": _matrix(self.camera.background_map(shot.start + index)),
            "layers": [
                [
                    layer.model_dump(
                        mode="json",
                        exclude={"name", "cels", "timing", "track", "position", "motion", *LAYER_CAMERA_KEYS}
                        | {k for k in TONE_LAYER_KEYS if k not in layer.model_fields_set},
                    ),
                    library.digest(drawing),
                    _matrix(m),
                ]
                for layer, library, drawing, m in shown
            ],
            "effects": effects,
            # grain is seeded per frame; nothing else depends on the frame's number
            "number": shot.start + index if any(fx.type == "grain" for fx in shot.spec.effects) else None,
        }
        # camera work (motion blur over the shutter, depth of field, streak) as it stands on this frame only,
        # so that a rack focus or a shake re-renders the frames it changes; absent without camera work
        work = self.camera.frame_key(shot.start + index, [(layer, blur_margin(layer)) for layer, *_ in shown])
        if work is not None:
            description["camera_work"] = work
        if self.deep:  # only when not the defaults, so that the frames of a cut that sets neither keep their keys
            description["output"] = self.output.model_dump(mode="json")
        if self.linear:
            description["linear"] = True
        tone = self.tone.key(index)
        if tone is not None:  # only for cuts using light and tone, so other cuts keep their keys
            description["tone"] = tone
        return content_key(description)

    def frame_keys(self) -> list[str]:
        return [self.frame_key(i) for i in range(self.shot.frames)]

    def _linear_cel(self, layer_index: int, library: CelLibrary, drawing: int) -> np.ndarray:
        """A drawing, prepared and in linear light; the last few are kept (a held drawing converts once)."""
        key = (layer_index, drawing)
        with self._linear_lock:
            cel = self._linear_cels.get(key)
        if cel is None:
            cel = to_linear(library.get(drawing))
            with self._linear_lock:
                if len(self._linear_cels) >= 4 * max(1, len(self.layers)):
                    self._linear_cels.pop(next(iter(self._linear_cels)))
                self._linear_cels[key] = cel
        return cel

    def _linear_canvas(self, canvas: np.ndarray) -> np.ndarray:
        """The background canvas in linear light (the camera then resamples light, not sRGB values); a still
        one, shared by every frame, is converted once."""
        with self._linear_lock:
            if self._linear_still is not None and self._linear_still[0] is canvas:
                return self._linear_still[1]
        linear = to_linear(canvas)
        if self.backdrop.count == 1:
            with self._linear_lock:
                self._linear_still = (canvas, linear)
        return linear

    def compose_linear(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """`compose` in linear light (``[colour] linear``): the background canvas and each drawing converted
        from sRGB to linear, resampled and laid through their maps (blends and opacity on light), the result
        converted back to sRGB, then the effects (tuned on sRGB values) → premultiplied RGBA (H, W, 4)."""
        shot = self.shot
        started = time.thread_time()
        frame = self._background(index, self._linear_canvas(canvas))  # camera work moves it as in sRGB
        libraries = {id(library): i for i, (_, _, library) in enumerate(self.layers)}
        for layer, library, drawing, m in self._layer_maps(index):
            place_layer(frame, self._linear_cel(libraries[id(library)], library, drawing), m, layer.blend, layer.opacity)
        frame = to_srgb(_clip_premultiplied(frame))
        if shot.spec.effects:
            frame = apply_effects(frame, shot.spec.effects, shot.start + index)
        self.times.add("composite", time.thread_time() - started)
        return frame

    def compose(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """Frame ``index`` (0-based) of the cut over the background ``canvas`` → premultiplied RGBA (H, W, 4)."""
        if self.linear:
            return self.compose_linear(index, canvas)
        shot = self.shot
        clock = time.thread_time
        started = clock()
        decoding = 0.0
        frame = self._background(index, canvas)
        group = AlphaAddGroup()
        for layer, library, drawing, m in self._layer_maps(index):
            if self.tone.handles(layer):
                t = clock()
                whole = library.get(drawing)
                decoding += clock() - t
                self._lay_toned(frame, group, layer, whole, m, index)
                continue
            group.flush(frame)
            if self._place_with_camera_work(frame, layer, library, drawing, index):
                continue
            t = clock()
            piece = library.piece(drawing, meanwhile=lambda: self.decode_ahead(index))
            decoding += clock() - t
            if not place_piece(frame, piece, m, layer.blend, layer.opacity):
                t = clock()
                whole = library.get(drawing)
                decoding += clock() - t
                place_layer(frame, whole, m, layer.blend, layer.opacity)
        group.flush(frame)
        if self.tone.used:
            frame = self.tone.finish(frame, index)
        if shot.spec.effects:
            frame = apply_effects(frame, shot.spec.effects, shot.start + index)
        self.times.add("decode", decoding)
        self.times.add("composite", clock() - started - decoding)
        return frame

    def compose_reference(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """The plain float path: whole drawings, every layer and the background resampled through its map."""
        shot = self.shot
        look = self.camera.background_look(shot.start + index)
        frame = background_frame(lambda m, size: _clip_premultiplied(sample(canvas, m, size)), look, shot.size, exact=True)
        group = AlphaAddGroup()
        for layer, library, drawing, m in self._layer_maps(index):
            if self.tone.handles(layer):
                self._lay_toned(frame, group, layer, library.get(drawing), m, index)
                continue
            group.flush(frame)
            if not self._place_with_camera_work(frame, layer, library, drawing, index):
                place_layer(frame, library.get(drawing), m, layer.blend, layer.opacity)
        group.flush(frame)
        if self.tone.used:
            frame = self.tone.finish(frame, index)
        if shot.spec.effects:
            frame = apply_effects(frame, shot.spec.effects, shot.start + index)
        return frame

    def _lay_toned(self, frame: np.ndarray, group: AlphaAddGroup, layer: Any, cel: np.ndarray, m: np.ndarray,
                   index: int) -> None:
        """A layer with light and tone (``CutTone``): alpha-add layers join the group, the rest flush it."""
        if layer.blend == "alpha-add" and layer.light is None:
            placed = self.tone.layer_image(layer, cel, m, index)
            if placed is not None:
                group.add(frame.shape, *placed, layer.opacity)
            return
        group.flush(frame)
        self.tone.lay(frame, layer, cel, m, index)

    def _background(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """The camera's view of ``canvas`` on frame ``index``, with its motion blur, streak and defocus."""
        look: Look = self.camera.background_look(self.shot.start + index)
        if look.plain:
            return view_of_canvas(canvas, look.maps[0], self.shot.size)
        return background_frame(lambda m, size: view_of_canvas(canvas, m, size), look, self.shot.size)

    def _place_with_camera_work(self, frame: np.ndarray, layer: Any, library: CelLibrary, drawing: int,
                                index: int) -> bool:
        """Lay a layer that is motion-blurred or defocused on this frame (in place); False for a plain one."""
        if not self.camera.active:
            return False
        look = self.camera.layer_look(layer, self.shot.start + index, blur_margin(layer))
        if look.plain:
            return False
        placed = isolated_layer(library.get(drawing), look.maps, look.blur, self.shot.size)
        if placed is not None:
            from compositor.core.ops import blend_into  # noqa: PLC0415

            blend_into(frame, placed[0], layer.blend, layer.opacity, placed[1], placed[2])
        return True

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) in memory, premultiplied float32 RGBA ``(H, W, 4)``: nothing is written."""
        return self.compose(index, self.backdrop.canvas(index))

    BAND = 32
    """Rows composited at a time by `fused_rgb` (a band of float32 RGBA 1920 wide is 1 MB: it stays in cache)."""

    def fused_rgb(self, index: int, canvas: np.ndarray) -> np.ndarray | None:
        """Frame ``index`` straight to ``uint8`` RGB ``(H, W, 3)``, ``BAND`` rows at a time: the background
        copied, every layer laid and the rows converted while they are in the cache, instead of three passes
        over a 33 MB float frame (issue 14). The same operations on every pixel as `compose` then
        `to_uint8_rgb`, so the same bytes (tests/test_speed_paths.py). None (nothing done) where a frame needs
        more than copies and whole-pixel blends: resampling, camera work, light and tone, effects. Held drawings
        and layers that stay together are composited once (``layer_cache``), to the same bytes."""
        shot = self.shot
        if self.deep or self.linear or shot.spec.effects or self.tone.used:
            return None
        if canvas.dtype != np.float32 or not canvas.flags.c_contiguous:
            return None
        look = self.camera.background_look(shot.start + index)
        offset = whole_pixels(look.maps[0]) if look.plain else None
        width, height = shot.size
        if offset is None:
            return None
        bx, by = -offset[0], -offset[1]
        if bx < 0 or by < 0 or bx + width > canvas.shape[1] or by + height > canvas.shape[0]:
            return None
        clock = time.thread_time
        started, decoding = clock(), 0.0
        layers = []
        for layer, library, drawing, m in self._layer_maps(index):
            if self.tone.handles(layer) or layer.blend not in MODES:
                return None
            if self.camera.active and not self.camera.layer_look(layer, shot.start + index, blur_margin(layer)).plain:
                return None
            t = clock()
            piece = library.piece(drawing, meanwhile=lambda: self.decode_ahead(index))
            decoding += clock() - t
            if piece.empty or layer.opacity <= 0:
                continue
            local = m.copy()
            local[:, 2] += m[:, :2] @ np.asarray(piece.offset, dtype=np.float64)
            at = whole_pixels(local)
            if at is None:
                return None
            unit = Unit(id(library), drawing, layer.blend, float(layer.opacity), *map(int, np.round(m[:2, 2])))
            layers.append(Placed(unit, piece.pixels, at[0], at[1]))
        items = self.reuse.plan(index, layers)
        out = np.empty((height, width, 3), np.uint8)
        band = np.empty((min(self.BAND, height), width, 4), np.float32)
        for y0 in range(0, height, self.BAND):
            rows = band[: min(self.BAND, height - y0)]
            copy_clipped(canvas, bx, by + y0, rows)
            for lay in items:
                lay(rows, y0)
            to_rgb8_into(rows, out[y0 : y0 + len(rows)])
        self.times.add("decode", decoding)
        self.times.add("composite", clock() - started - decoding)
        return out

    DECODE_AHEAD = 4
    """Frames after the one a thread composites whose drawings it decodes while another thread decodes one
    it needs (threads composite neighbouring frames, which share held drawings)."""

    def decode_ahead(self, index: int) -> bool:
        """Decode one drawing that frame ``index`` or one of the next `DECODE_AHEAD` frames shows as a piece
        (`_laid_as_piece`) and that no thread has decoded or is decoding (the first in frame order); whether
        there was one."""
        for later in range(index, min(index + 1 + self.DECODE_AHEAD, self.shot.frames)):
            if self._made is not None and later not in self._made:
                continue  # on disk already: a render that resumes does not make it
            for layer, exposure, library in self.layers:
                drawing = exposure[later]
                if drawing is None or layer.opacity <= 0 or not self._laid_as_piece(layer, later):
                    continue
                if library.decode_ahead(drawing):
                    return True
        return False

    def _laid_as_piece(self, layer: Any, index: int) -> bool:
        """Whether frame ``index`` lays ``layer`` from its covered piece (``library.piece``), not whole
        (``library.get``: light and tone, motion blur or defocus, linear light), as `compose` decides."""
        if self.linear or self.tone.handles(layer):
            return False
        if not self.camera.active:
            return True
        return self.camera.layer_look(layer, self.shot.start + index, blur_margin(layer)).plain

    def make_frame(self, index: int, key: str | None = None, write: bool = True) -> np.ndarray:
        """Composite frame ``index``, write its file with its key (when ``write``) and return it as ``uint8``
        RGB (H, W, 3); a cut whose frames are deeper or carry alpha (``[output]``): as premultiplied float RGBA
        (H, W, 4), exactly as its file reads back."""
        if self.deep:
            frame = self.frame(index)
            with self.times.timing("write"):
                out = self.output
                data = encode_frame(frame, out.frames or "png8", bool(out.alpha), key if key is not None else self.frame_key(index))
                if write:
                    write_bytes_atomic(self.shot.paths.comp_frame(self.shot.start + index), data)
                return frame_from_bytes(data)
        rgb = self.reuse.frame(index, key, lambda: self._rgb(index))  # a frame keyed as its neighbour: made once
        if write:
            self.write_frame(index, rgb, key)
        return rgb

    def _rgb(self, index: int) -> np.ndarray:
        """Frame ``index`` made (fused where it can be, else composed) → ``uint8`` RGB (H, W, 3)."""
        canvas = self.backdrop.canvas(index)
        rgb = self.fused_rgb(index, canvas)
        if rgb is not None:
            return rgb
        frame = self.compose(index, canvas)
        del canvas
        with self.times.timing("write"):
            rgb = to_uint8_rgb(frame)
            del frame
        return rgb

    def write_frame(self, index: int, rgb: np.ndarray, key: str | None = None) -> None:
        """Write frame ``index``'s file (``uint8`` RGB ``(H, W, 3)``) with its key."""
        with self.times.timing("write"):
            path = self.shot.paths.comp_frame(self.shot.start + index)
            write_image(path, rgb, key=key if key is not None else self.frame_key(index))

    def render(
        self,
        indices: list[int],
        keys: list[str] | None = None,
        progress: Progress | None = None,
        threads: int = 1,
        sink: FrameSink | None = None,
        fresh: frozenset[int] = frozenset(),
    ) -> None:
        """Composite and write frames ``indices`` (0-based, ascending), ``threads`` at a time.

        ``sink`` receives every frame in order as it is done (e.g. the encoder); a frame in ``fresh`` is already
        on disk from the same key, and is read back for the sink instead of being made again. At most two
        frames a thread are in flight, so memory does not grow with the length of the cut.
        """
        if not indices:
            return
        done = 0
        made = sum(1 for i in indices if i not in fresh)
        self._made = frozenset(indices) - fresh
        # With an encoder waiting and threads to spare, a frame goes to the encoder as soon as it is composited
        # and its PNG is written by a writer thread meanwhile (never in the encoder's way; issue 14). At most
        # two frames a thread wait to be written, so memory stays flat. (Deep frames: written as they are made.)
        threaded = sink is not None and threads > 1 and not self.deep
        writer = ThreadPoolExecutor(1, thread_name_prefix="write") if threaded else None
        writes: deque[Future] = deque()

        def job(index: int) -> np.ndarray | None:
            if index in fresh:
                with self.times.timing("decode"):
                    path = self.shot.paths.comp_frame(self.shot.start + index)
                    return read_image(path) if self.deep else read_rgb8(path)
            rgb = self.make_frame(index, keys[index] if keys is not None else None, write=writer is None)
            return rgb if sink is not None else None

        def finish(index: int, rgb: np.ndarray | None) -> None:
            nonlocal done
            if writer is not None and rgb is not None and index not in fresh:
                writes.append(writer.submit(self.write_frame, index, rgb, keys[index] if keys is not None else None))
                while len(writes) > 2 * threads or (writes and writes[0].done()):
                    writes.popleft().result()
            if sink is not None and rgb is not None:
                sink(index, rgb)
            if index not in fresh:
                done += 1
                if progress:
                    progress(f"{self.shot.name}: composite", done, made)

        if threads <= 1:
            for index in indices:
                finish(index, job(index))
            return
        window: deque[tuple[int, Future]] = deque()
        try:
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
            while writes:
                writes.popleft().result()  # every file written (or its error raised) before render returns
        finally:
            if writer is not None:
                writer.shutdown(wait=True)


def stale_frames(shot: Shot, keys: list[str]) -> list[int]:
    """0-based indices of the frames whose file is missing or was made from another key."""
    return [i for i, key in enumerate(keys) if read_frame_key(shot.paths.comp_frame(shot.start + i)) != key]


def remove_leftovers(shot: Shot) -> None:
    """What killed or crashed runs were writing in the cut's folders (``render/<cut>/``, its ``bg/``, ``comp/``
    and ``segments/<preset>/``): temporary files and folders whose process is gone."""
    paths = shot.paths
    folders = [paths.folder, paths.bg_folder, paths.comp_folder]
    segments = paths.folder / "segments"
    if segments.is_dir():
        folders += [p for p in segments.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for folder in folders:
        remove_stale_temp_files(folder)


def _drop_strays(shot: Shot) -> None:
    """Frames beyond the cut (it got shorter, or starts elsewhere) and temporary files of dead processes."""
    paths = shot.paths
    if not paths.comp_folder.is_dir():
        return
    remove_stale_temp_files(paths.comp_folder)
    for number, path in paths.comp_frames().items():
        if number not in shot.frame_numbers():
            remove_file(path)
    for suffix in set(FRAME_SUFFIXES.values()) - {paths.frame_suffix}:  # frames of a format no longer asked for
        for path in CutPaths(paths.root, paths.cut, suffix).comp_frames().values():
            remove_file(path)


_worker_renderer: dict[tuple[str, str], tuple[str, CutRenderer]] = {}
"""The last cut a worker process rendered, with the key of its spec and background: a worker given several
chunks of one cut decodes each drawing once, not once a chunk. One entry, so a worker's memory does not grow
with the cuts it renders."""


def render_chunk(root: str, cut: str, indices: list[int]) -> list[int]:
    """Render some frames of a cut in this process (a worker of a Dask cluster): each written with its key."""
    shot = load_shot(Production(Path(root)), cut)
    manifest = ensure_background(shot)
    identity = content_key(
        {
            "spec": shot.spec.model_dump(mode="json"),
            "size": shot.size,
            "bg": manifest["key"],
            # A drawing retouched since the last chunk: the kept renderer's decoded cels and what it composited
            # once (steps/layer_cache.py) would be stale, so a changed input file means a new renderer.
            "inputs": _input_stats(shot),
        }
    )
    cached = _worker_renderer.get((root, cut))
    if cached is not None and cached[0] == identity:
        renderer = cached[1]
    else:
        _worker_renderer.clear()
        renderer = CutRenderer(shot, manifest)
        _worker_renderer[(root, cut)] = (identity, renderer)
    renderer.render(indices)
    return indices


def _input_stats(shot: Shot) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every file the cut's render reads besides its background."""
    from compositor.deps import _cut_inputs  # noqa: PLC0415 (deps imports the steps)

    stats = []
    for path in _cut_inputs(shot)[1]:
        try:
            st = Path(path).stat()
        except OSError:
            continue
        stats.append((str(path), st.st_size, st.st_mtime_ns))
    return stats


def chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[i : i + size] for i in range(0, len(indices), size)]


@dataclass
class CutResult:
    """What a render of a cut did."""

    manifest: Path
    movies: list[Path]
    composited: list[int] = field(default_factory=list)
    """0-based indices of the frames composited (the others were fresh)."""
    segments: int = 0
    """Movie segments encoded."""
    times: dict[str, float] = field(default_factory=dict)


Composite = Callable[[Shot, list[int], "Progress | None"], None]
"""Composites frames elsewhere (a render farm) and writes their files with their keys."""


def render_cut(
    shot: Shot,
    presets: list[str] | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    composite_elsewhere: Composite | None = None,
    renderer: CutRenderer | None = None,
) -> CutResult:
    """Bring the cut's frames and movies up to date with its inputs, doing only what changed.

    The background is rebuilt first if its key changed; frames whose key changed are composited and written;
    each movie (``presets``, default the cut's: the edit's and its own ``encode``) re-encodes the segments that
    hold a changed frame, taking the frames as they come (fresh ones are read back), and is joined again.
    ``comp.json`` is written once every frame is in, the movies after it. ``composite_elsewhere`` composites
    the stale frames on a render farm instead of here (then the encode reads them back).
    """
    from compositor.steps.encode import MoviePlan, MovieWriter  # noqa: PLC0415 (ffmpeg lives at the edge)

    check_layers(shot)
    remove_leftovers(shot)
    background = ensure_background(shot, progress)
    renderer = renderer or CutRenderer(shot, background)
    keys = renderer.frame_keys()
    paths = shot.paths
    ensure_folder(paths.comp_folder)
    _drop_strays(shot)
    todo = stale_frames(shot, keys)
    if todo:
        remove_file(paths.comp_manifest)  # the books say "not done" until every frame is in
    if todo and composite_elsewhere is not None:
        composite_elsewhere(shot, todo, progress)
        todo_done, todo = todo, []
    else:
        todo_done = todo
    plans = [MoviePlan(shot, p, keys) for p in (presets or list(shot.presets))]
    writer = MovieWriter(plans)
    segments = sum(len(p.stale) for p in writer.plans)
    stale = set(todo)
    needed = [i for i in range(shot.frames) if i in stale or writer.needs(i)]
    threads = threads if threads is not None else min(os.cpu_count() or 1, RENDER_THREADS)
    try:
        renderer.render(
            needed,
            keys,
            progress,
            threads=threads,
            sink=writer.write if writer.plans else None,
            fresh=frozenset(i for i in needed if i not in stale),
        )
        missing = stale_frames(shot, keys)
        if missing:
            raise RuntimeError(f"{shot.name}: frames {[shot.start + i for i in missing[:5]]} were not rendered")
        manifest = write_comp_manifest(shot, keys)
        movies = writer.finish(progress)
    except BaseException:
        writer.abort()
        raise
    for plan in plans:
        if plan.out not in movies:
            touch(plan.out)  # checked and fresh: make's books agree with ours
            movies.append(plan.out)
    return CutResult(manifest, movies, todo_done, segments, dict(renderer.times.seconds))


def render_range(
    shot: Shot, indices: list[int], progress: Progress | None = None, threads: int | None = None
) -> list[int]:
    """Bring frames ``indices`` (0-based) of the cut up to date on disk, as a review render does
    (``compositor render <cut> --frames 12-36``); returns the ones composited (the others were fresh).

    The frames are the ones a whole render makes (same keys, same files), so the whole render that follows
    keeps them. No movie is encoded: a movie needs every frame. ``comp.json`` goes when a frame changed, since it
    no longer describes the folder.
    """
    check_layers(shot)
    remove_leftovers(shot)
    background = ensure_background(shot, progress)
    renderer = CutRenderer(shot, background)
    keys = renderer.frame_keys()
    ensure_folder(shot.paths.comp_folder)
    todo = [i for i in sorted(set(indices)) if read_frame_key(shot.paths.comp_frame(shot.start + i)) != keys[i]]
    if todo:
        remove_file(shot.paths.comp_manifest)
    threads = threads if threads is not None else min(os.cpu_count() or 1, RENDER_THREADS)
    renderer.render(todo, keys, progress, threads=threads)
    return todo


def write_comp_manifest(shot: Shot, keys: list[str]) -> Path:
    """``comp.json``: the cut's frames and their keys (rewritten only when they changed; touched otherwise)."""
    manifest = {
        "cut": shot.name,
        "frames": shot.frames,
        "start": shot.start,
        "size": list(shot.size),
        "fps": shot.fps,
        "key": content_key(keys),
        "frame_keys": keys,
    }
    data = json.dumps(manifest, indent=2).encode()
    path = shot.paths.comp_manifest
    try:
        same = path.read_bytes() == data
    except OSError:
        same = False
    if same:
        touch(path)
    else:
        write_bytes_atomic(path, data)
    return path
