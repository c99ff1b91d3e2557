"""Light and tone on the layers of one cut: the spec's keys turned into calls of ``tone`` and ``fill``.

``finish_cel`` is per drawing (a layer's ``fill`` and ``adjust``: done once when the drawing is prepared);
`CutTone` is per frame (a layer's ``shade`` mattes and ``light``, the cut's ``para`` and ``lens``, alpha-add
groups): the compositor asks it which layers it lays itself (``handles``), hands it those, and lets it finish
the frame before the effects. Its ``key`` is the part of a frame's key these decide.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from compositor.core.photography import tone
from compositor.core.timesheet import parse_timing
from compositor.errors import CorruptInputError, MissingInputError, SpecError
from compositor.spec import Layer, Shot


def finish_cel(cel: np.ndarray, layer: Layer, colour_key: np.ndarray | None = None) -> np.ndarray:
    """A keyed drawing ``(H, W, 4)`` filled and recoloured (``layer.fill``), then colour-corrected
    (``layer.adjust``); premultiplied float32 in and out. Pure."""
    from compositor.core.fill import fill_drawing  # noqa: PLC0415

    out = cel
    if layer.fill is not None:
        f = layer.fill
        out = fill_drawing(
            out,
            gap=f.gap,
            threshold=f.threshold,
            colour=tone.hex_colour(f.colour) if f.colour else None,
            key=colour_key,
            lines=tone.hex_colour(f.lines) if f.lines else None,
        )
    if layer.adjust is not None:
        a = layer.adjust
        out = tone.adjust_colour(out, a.black, a.white, a.gamma, a.tint, a.saturation)
    return out


def prepare_weight(weight: np.ndarray, layer: Layer) -> np.ndarray:
    """A matte ``(h, w)`` drawn on the layer's sheet brought to the prepared drawing's pixels (scaled like
    it, grown by its blur margin), so the drawing's map on screen carries it too."""
    from compositor.core.cels import blur_margin  # noqa: PLC0415 (cels imports this module)

    out = weight
    if layer.scale != 1.0:
        h, w = out.shape[:2]
        size = (max(1, round(w * layer.scale)), max(1, round(h * layer.scale)))
        out = cv2.resize(out, size, interpolation=cv2.INTER_AREA if layer.scale < 1 else cv2.INTER_LINEAR)
    pad = blur_margin(layer)
    if pad:
        out = cv2.copyMakeBorder(out, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    return np.clip(out, 0, 1).astype(np.float32)


def uses_tone(shot: Shot) -> bool:
    """Whether the cut uses any per-frame light and tone (the frame key then has a ``tone`` entry)."""
    spec = shot.spec
    return bool(spec.para or spec.lens) or any(
        layer.shade or layer.light is not None or layer.blend == "alpha-add" for layer in spec.layers
    )


def check_mattes(shot: Shot) -> None:
    """Every shade matte drawing a timesheet uses and every fill colour-key drawing has a file that decodes;
    reports all problems at once, in the words a render uses (`compositor validate`)."""
    from compositor.core.cels import drawings_in  # noqa: PLC0415
    from compositor.core.io import decode_problem  # noqa: PLC0415

    problems: list[str] = []
    missing = False
    try:
        tone_of_cut = CutTone(shot)
    except (MissingInputError, SpecError) as e:
        raise MissingInputError(str(e)) from None
    for i, layer in enumerate(shot.spec.layers):
        for j, (_, exposure, _files, where) in enumerate(tone_of_cut.mattes.get(layer.name, [])):
            for index in sorted({exposure.index(d) for d in exposure if d is not None}):
                try:
                    path = tone_of_cut._matte_path(layer, j, index)
                except MissingInputError as e:
                    problems.append(str(e))
                    missing = True
                    continue
                if path is not None and (problem := decode_problem(path)) is not None:
                    problems.append(f"{shot.production.rel(path)}: {where}: cannot decode matte ({problem.reason})")
        key_folder = shot.files.get(f"layers[{i}].fill.key")
        if key_folder is not None:
            for path in drawings_in(key_folder).values():
                if (problem := decode_problem(path)) is not None:
                    problems.append(f"{shot.production.rel(path)}: layers[{i}].fill.key: cannot decode "
                                    f"({problem.reason})")
    if problems:
        raise (MissingInputError if missing else CorruptInputError)("\n".join(problems))


class CutTone:
    """Per-frame light and tone of one cut. Safe to share between threads (matte weights are cached)."""

    def __init__(self, shot: Shot, capacity: int = 32):
        from compositor.core.cels import drawings_in  # noqa: PLC0415

        self.shot = shot
        self.used = uses_tone(shot)
        self.mattes: dict[str, list[tuple[Any, list[int | None], dict[int, Path], str]]] = {}
        for i, layer in enumerate(shot.spec.layers):
            for j, shade in enumerate(layer.shade):
                where = f"layers[{i}].shade[{j}]"
                exposure = parse_timing(shade.timing if shade.timing is not None else layer.timing, shot.frames)
                files = drawings_in(shot.files[f"{where}.cels"])
                self.mattes.setdefault(layer.name, []).append((shade, exposure, files, where))
        self.layer_para: dict[str, list[Any]] = {}
        for para in shot.spec.para:
            for name in para.layers:
                self.layer_para.setdefault(name, []).append(para)
        self.frame_para = [p for p in shot.spec.para if not p.layers]
        self._gradients: dict[int, np.ndarray] = {}
        self._weights: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    # -- what decides the pixels -----------------------------------------------------------------------------

    def handles(self, layer: Layer) -> bool:
        """Whether this layer is laid here (rather than by the compositor's fast path)."""
        return bool(layer.shade) or layer.light is not None or layer.name in self.layer_para or (
            layer.blend == "alpha-add")

    def _matte_path(self, layer: Layer, j: int, index: int) -> Path | None:
        shade, exposure, files, where = self.mattes[layer.name][j]
        drawing = exposure[index]
        if drawing is None:
            return None
        path = files.get(drawing)
        if path is None:
            raise MissingInputError(
                f"{self.shot.display}: {where}.timing: layer {layer.name!r}, frame {self.shot.start + index}: "
                f"matte drawing {drawing} has no file in {self.shot.production.rel(self.shot.files[f'{where}.cels'])}"
            )
        return path

    def key(self, index: int) -> dict[str, Any] | None:
        """What of frame ``index`` (0-based) light and tone decide: the matte drawings shown (their bytes),
        each light's strength on this frame, the para and lens lights. None when the cut uses none."""
        if not self.used:
            return None
        from compositor.core.digest import file_digest  # noqa: PLC0415

        number = self.shot.start + index
        mattes = {}
        for layer in self.shot.spec.layers:
            if layer.name in self.mattes:
                paths = [self._matte_path(layer, j, index) for j in range(len(self.mattes[layer.name]))]
                mattes[layer.name] = [file_digest(p) if p is not None else None for p in paths]
        lights = {
            layer.name: round(self.light_strength(layer, number), 9)
            for layer in self.shot.spec.layers if layer.light is not None
        }
        return {
            "mattes": mattes,
            "lights": lights,
            "para": [p.model_dump(mode="json") for p in self.shot.spec.para],
            "lens": [self.lens_at(lens, number) for lens in self.shot.spec.lens],
        }

    @staticmethod
    def light_strength(layer: Layer, number: int) -> float:
        light = layer.light
        assert light is not None
        return light.strength * tone.flicker(light.flicker, number, light.jitter, light.seed)

    @staticmethod
    def lens_at(lens: Any, number: int) -> list[float]:
        from compositor.core.camera import _interpolate  # noqa: PLC0415

        return [round(float(v), 9) for v in _interpolate(lens.keys, number, ("x", "y", "strength"))]

    # -- pixels ----------------------------------------------------------------------------------------------

    def _weight(self, layer: Layer, j: int, path: Path) -> np.ndarray:
        from compositor.core.io import read_image  # noqa: PLC0415

        cache_key = (layer.name, j, str(path))
        with self._lock:
            if cache_key in self._weights:
                self._weights.move_to_end(cache_key)
                return self._weights[cache_key]
        try:
            matte = read_image(path)
        except CorruptInputError as e:
            where = self.mattes[layer.name][j][3]
            raise CorruptInputError(
                f"{self.shot.production.rel(path)}: {where}: cannot decode matte ({e.reason})") from None
        weight = prepare_weight(tone.matte_weight(matte), layer)
        with self._lock:
            self._weights[cache_key] = weight
            if len(self._weights) > self.capacity:
                self._weights.popitem(last=False)
        return weight

    def _gradient(self, para: Any) -> np.ndarray:
        key = id(para)
        with self._lock:
            cached = self._gradients.get(key)
        if cached is None:
            cached = tone.gradient(self.shot.size, para.shape, para.start, para.end,
                                   [tone.hex_colour(c) for c in para.colours])
            with self._lock:
                self._gradients[key] = cached
        return cached

    def _reach(self, layer: Layer) -> int:
        """How far past the drawing's box on screen its toned image can reach (blurs), in pixels."""
        reach = max((shade.softness for shade in layer.shade), default=0.0) * 3
        if layer.light is not None:
            reach = max(reach, 3 * (layer.light.halo + layer.light.core))
        return int(math.ceil(reach)) + 2

    def layer_image(self, layer: Layer, cel: np.ndarray, m: np.ndarray,
                    index: int) -> tuple[np.ndarray, int, int] | None:
        """The layer alone on a transparent sheet: the prepared drawing ``cel`` laid through its map ``m``, its
        shades and para on it, clipped to it. Returns ``(image, x, y)``: the sheet covers the drawing's box on
        screen (grown by what its blurs reach, clipped to the frame) and its top-left corner is ``(x, y)`` of
        the frame; None when the drawing is off screen. Working on the box only, a small cel costs little."""
        from compositor.steps.composite import place_layer  # noqa: PLC0415

        width, height = self.shot.size
        h, w = cel.shape[:2]
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64) @ m.T
        reach = self._reach(layer)
        x0 = max(0, math.floor(corners[:, 0].min()) - reach)
        y0 = max(0, math.floor(corners[:, 1].min()) - reach)
        x1 = min(width, math.ceil(corners[:, 0].max()) + reach)
        y1 = min(height, math.ceil(corners[:, 1].max()) + reach)
        if x1 <= x0 or y1 <= y0:
            return None
        local = m.copy()
        local[:, 2] -= (x0, y0)
        box = (x1 - x0, y1 - y0)
        image = np.zeros((box[1], box[0], 4), np.float32)
        place_layer(image, cel, local, "over", 1.0)
        for j, (shade, _, _, _) in enumerate(self.mattes.get(layer.name, [])):
            path = self._matte_path(layer, j, index)
            if path is None or shade.opacity <= 0:
                continue
            prepared = self._weight(layer, j, path)
            if prepared.shape[:2] != cel.shape[:2]:  # a matte is drawn on its cel's sheet, registered with it
                where = self.mattes[layer.name][j][3]
                raise SpecError(
                    f"{self.shot.production.rel(path)}: {where}.cels: the matte is {prepared.shape[1]}x"
                    f"{prepared.shape[0]} px once prepared, but layer {layer.name!r}'s drawing is {cel.shape[1]}x"
                    f"{cel.shape[0]}: draw it on the same sheet (the same size)")
            weight = tone.place_matte(prepared, local, box)
            image = tone.tone(image, tone.hex_colour(shade.colour), weight, shade.opacity, shade.blend,
                              shade.softness)
        for para in self.layer_para.get(layer.name, []):
            image = tone.tone(image, self._gradient(para)[y0:y1, x0:x1], None, para.opacity, para.blend)
        return image, x0, y0

    def lay(self, frame: np.ndarray, layer: Layer, cel: np.ndarray, m: np.ndarray, index: int) -> None:
        """Lay a layer this handles (not alpha-add: see ``AlphaAddGroup``) onto ``frame`` in place."""
        from compositor.core.ops import blend_into  # noqa: PLC0415

        placed = self.layer_image(layer, cel, m, index)
        if placed is None:
            return
        image, x, y = placed
        if layer.light is not None:
            light = layer.light
            image = tone.transmitted_light(image[:, :, 3], tone.hex_colour(light.colour),
                                           self.light_strength(layer, self.shot.start + index),
                                           light.core, light.halo)
            blend_into(frame, image, "add", layer.opacity, x, y)
            return
        blend_into(frame, image, layer.blend, layer.opacity, x, y)

    def finish(self, frame: np.ndarray, index: int) -> np.ndarray:
        """The frame-wide para and the lens lights, in the spec's order (before the effects). Pure."""
        from compositor.core.ops import blend  # noqa: PLC0415

        for para in self.frame_para:
            frame = tone.tone(frame, self._gradient(para), None, para.opacity, para.blend)
        for lens in self.shot.spec.lens:
            x, y, strength = self.lens_at(lens, self.shot.start + index)
            if strength > 0:
                light = tone.lens_light(self.shot.size, x, y, tone.hex_colour(lens.colour), lens.size, strength,
                                        lens.kind)
                frame = blend(frame, light, "add")
        return frame
