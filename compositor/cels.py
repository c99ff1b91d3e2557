"""Cels: the drawings of a layer, found by the last number in their file name, decoded once and prepared.

``shots/<cut>/cels/A/`` may hold ``A_0001.png``, ``A0001.png`` or ``0001.png``: the drawing number is the last
number in the name. A drawing held for several frames (or reused by a cycle) is decoded and keyed once.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from compositor.errors import CorruptInputError, MissingInputError, SpecError
from compositor.io import IMAGE_SUFFIXES, read_image
from compositor.spec import Layer, Shot
from compositor.timesheet import Exposure, parse_timing

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def drawing_number(path: Path) -> int | None:
    """The drawing number of a cel file: the last number in its name (``A_0012.png`` → 12)."""
    m = _LAST_NUMBER.search(path.stem)
    return int(m.group(1)) if m else None


def drawings_in(folder: Path) -> dict[int, Path]:
    """Every drawing in a layer folder by number; two files with one number are an error."""
    found: dict[int, Path] = {}
    if not folder.is_dir():
        raise MissingInputError(f"{folder}: no such cel folder")
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
            continue
        n = drawing_number(p)
        if n is None:
            continue
        if n in found:
            raise SpecError(f"{p}: drawing {n} is also {found[n].name}; one file per drawing number")
        found[n] = p
    return found


def exposure_of(shot: Shot, index: int) -> Exposure:
    return parse_timing(shot.spec.layers[index].timing, shot.frames)


def check_layers(shot: Shot) -> None:
    """Every drawing a timesheet names has a file; reports all missing drawings at once."""
    problems = []
    for i, layer in enumerate(shot.spec.layers):
        folder = shot.files[f"layers[{i}].cels"]
        try:
            available = drawings_in(folder)
        except (MissingInputError, SpecError) as e:
            problems.append(f"{shot.display}: layers[{i}].cels: {e}")
            continue
        exposure = exposure_of(shot, i)
        reported: set[int] = set()
        for frame_index, drawing in enumerate(exposure):
            if drawing is None or drawing in available or drawing in reported:
                continue
            reported.add(drawing)
            problems.append(
                f"{shot.display}: layers[{i}].timing: layer {layer.name!r}, frame {shot.start + frame_index}: "
                f"drawing {drawing} has no file in {shot.production.rel(folder)}"
            )
    if problems:
        raise MissingInputError("\n".join(problems))


def prepare_cel(image: np.ndarray, layer: Layer) -> np.ndarray:
    """A decoded drawing made ready to composite: keyed if on paper, scaled, blurred. Pure.

    ``image`` and the result are premultiplied float32 RGBA ``(H, W, 4)``.
    """
    cel = image
    if layer.key == "paper":
        from compositor.keying import key_paper  # noqa: PLC0415 (keying is only needed for paper layers)

        cel = key_paper(cel)
    if layer.scale != 1.0:
        h, w = cel.shape[:2]
        size = (max(1, round(w * layer.scale)), max(1, round(h * layer.scale)))
        # Premultiplied data resizes without dark fringes; INTER_AREA when shrinking avoids aliasing.
        cel = cv2.resize(cel, size, interpolation=cv2.INTER_AREA if layer.scale < 1 else cv2.INTER_CUBIC)
        cel = np.clip(cel, 0, 1)
        cel[:, :, :3] = np.minimum(cel[:, :, :3], cel[:, :, 3:4])
    if layer.blur > 0:
        pad = int(layer.blur * 3) + 1
        cel = cv2.copyMakeBorder(cel, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
        cel = cv2.GaussianBlur(cel, (0, 0), layer.blur)
    return np.ascontiguousarray(cel, dtype=np.float32)


class CelLibrary:
    """The prepared drawings of one layer, decoded on first use and kept (bounded LRU) for later frames."""

    def __init__(self, shot: Shot, index: int, capacity: int = 64):
        self.layer = shot.spec.layers[index]
        self.folder = shot.files[f"layers[{index}].cels"]
        self.display = f"{shot.display}: layers[{index}]"
        self.rel = shot.production.rel
        self.files = drawings_in(self.folder)
        self.capacity = capacity
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.decodes = 0

    def get(self, drawing: int) -> np.ndarray:
        if drawing in self._cache:
            self._cache.move_to_end(drawing)
            return self._cache[drawing]
        path = self.files.get(drawing)
        if path is None:
            raise MissingInputError(f"{self.display}: drawing {drawing} has no file in {self.folder}")
        try:
            image = read_image(path)
        except CorruptInputError:
            raise CorruptInputError(
                f"{self.rel(path)}: cannot decode drawing {drawing} of layer {self.layer.name!r} (corrupt or not an image)"
            ) from None
        cel = prepare_cel(image, self.layer)
        self.decodes += 1
        self._cache[drawing] = cel
        if len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return cel
