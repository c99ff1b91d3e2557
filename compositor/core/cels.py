"""Cels: the drawings of a layer, found by the last number in their file name, decoded once and prepared.

``shots/<cut>/cels/A/`` may hold ``A_0001.png``, ``A0001.png`` or ``0001.png``: the drawing number is the last
number in the name. A drawing held for several frames (or reused by a cycle) is decoded and keyed once.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from compositor.core.digest import file_digest
from compositor.core.io import (
    IMAGE_SUFFIXES,
    decode_problem,
    decoding_note,
    image_size,
    read_image,
    read_rgba8,
)
from compositor.core.kernels import premultiply_rgba8
from compositor.core.ops import wide_blur
from compositor.core.timesheet import Exposure, parse_timing
from compositor.errors import (
    CompositorError,
    CorruptInputError,
    MissingInputError,
    SpecError,
    UnreadableInputError,
)
from compositor.spec import Layer, Shot

_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def drawing_number(path: Path) -> int | None:
    """The drawing number of a cel file: the last number in its name (``A_0012.png`` → 12)."""
    m = _LAST_NUMBER.search(path.stem)
    return int(m.group(1)) if m else None


def drawings_in(folder: Path) -> dict[int, Path]:
    """Every drawing in a layer folder by number; two files with one number are an error."""
    found: dict[int, Path] = {}
    if not folder.is_dir():
        # `cels` naming one drawing instead of its folder: not "no such" anything, it is right there
        raise MissingInputError(f"{folder}: {'a file, not a folder of drawings' if folder.exists() else 'no such cel folder'}")
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in IMAGE_SUFFIXES or p.name.startswith("."):
            continue
        n = drawing_number(p)
        if n is None:
            continue
        if n in found:
            # named by its folder: the caller names the spec and key, and an absolute path says nothing more
            raise SpecError(
                f"{folder.name}/{p.name}: drawing {n} is also {found[n].name} (a drawing's number is the last number "
                "in its name); one file per drawing number"
            )
        found[n] = p
    return found


def _unread_format(folder: Path, drawing: int) -> str:
    """Why a drawing has no file when one with its number is there in a format compositor does not read (a
    Targa or a Photoshop file from a paint program): said, rather than "no file" beside the very file."""
    there = sorted(
        p.name
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES
        and drawing_number(p) == drawing
    )
    if not there:
        return ""
    readable = ", ".join(sorted(s.lstrip(".") for s in IMAGE_SUFFIXES))
    return f" ({', '.join(there)} is there, but compositor reads only {readable}: convert it)"


def exposure_of(shot: Shot, index: int) -> Exposure:
    return parse_timing(shot.spec.layers[index].timing, shot.frames)


def check_layers(shot: Shot) -> None:
    """Every drawing a timesheet names has a file whose header is within the pixel budget, and is not made too
    large by its layer's scale and blur; reports every problem at once (reading headers only, no pixels)."""
    problems = []
    missing = corrupt = False
    for i, layer in enumerate(shot.spec.layers):
        folder = shot.files[f"layers[{i}].cels"]
        try:
            available = drawings_in(folder)
        except (MissingInputError, SpecError) as e:
            problems.append(f"{shot.display}: layers[{i}].cels: {e}")
            missing = True
            continue
        exposure = exposure_of(shot, i)
        reported: set[int] = set()
        for frame_index, drawing in enumerate(exposure):
            if drawing is None or drawing in reported:
                continue
            reported.add(drawing)
            if drawing not in available:
                problems.append(
                    f"{shot.display}: layers[{i}].timing: layer {layer.name!r}, frame {shot.start + frame_index}: "
                    f"drawing {drawing} has no file in {shot.production.rel(folder)}{_unread_format(folder, drawing)}"
                )
                missing = True
                continue
            path = available[drawing]
            try:
                size = image_size(path)
            except CorruptInputError as e:
                corrupt = True
                problems.append(_cannot_decode(shot.production.rel(path), drawing, layer, e.reason))
                continue
            except UnreadableInputError as e:  # permission, an I/O error: the line a render would say
                corrupt = True
                problems.append(str(e))
                continue
            if size is not None and (too_large := oversize(size, layer)):
                problems.append(f"{shot.display}: layers[{i}].{too_large[0]}: drawing {drawing}: {too_large[1]}")
    if problems:
        raise (MissingInputError if missing else CorruptInputError if corrupt else SpecError)("\n".join(problems))


def _cannot_decode(display: str, drawing: int, layer: Layer, reason: str | None) -> str:
    return f"{display}: cannot decode drawing {drawing} of layer {layer.name!r} ({reason or 'corrupt or not an image'})"


MAX_PREPARED_PIXELS = 2**26
"""The largest drawing prepared for compositing (scaled, with its blur margin): 64 Mpx, 1 GiB as float32
RGBA, twice a 4K frame each way. A layer's ``scale`` or ``blur`` that would make one larger is refused, naming
the key, rather than running out of memory in the middle of a render."""


def prepared_size(size: tuple[int, int], layer: Layer) -> tuple[int, int]:
    """``(W, H)`` of a drawing of ``size`` (W, H) once prepared: scaled, then grown by its blur margin."""
    pad = blur_margin(layer)
    width, height = size
    if layer.scale != 1.0:
        width, height = max(1, round(width * layer.scale)), max(1, round(height * layer.scale))
    return width + 2 * pad, height + 2 * pad


def oversize(size: tuple[int, int], layer: Layer) -> tuple[str, str] | None:
    """``(key, problem)`` when a drawing of ``size`` (W, H) would be prepared larger than
    ``MAX_PREPARED_PIXELS``; the key is the one that grows it most (``scale`` or ``blur``)."""
    width, height = prepared_size(size, layer)
    if width * height <= MAX_PREPARED_PIXELS:
        return None
    scaled = prepared_size(size, layer.model_copy(update={"blur": 0.0}))
    key = "scale" if scaled[0] * scaled[1] > MAX_PREPARED_PIXELS else "blur"
    return key, (
        f"{size[0]}x{size[1]} px at scale {layer.scale:g} with blur {layer.blur:g} would be {width}x{height} px, "
        f"over the {MAX_PREPARED_PIXELS} pixels a prepared drawing may have"
    )


def check_drawings(shot: Shot) -> None:
    """Every drawing a timesheet uses decodes; reports all that do not at once, in the words a render uses
    (`compositor validate`; a render finds them as it goes). Missing drawings are `check_layers`'s."""
    problems = []
    for i, layer in enumerate(shot.spec.layers):
        try:
            available = drawings_in(shot.files[f"layers[{i}].cels"])
        except (MissingInputError, SpecError):
            continue
        used = sorted({d for d in exposure_of(shot, i) if d is not None and d in available})
        for drawing in used:
            path = available[drawing]
            try:
                problem = decode_problem(path)
            except CompositorError as e:  # unreadable: a permission, an I/O error
                problems.append(str(e))
                continue
            if problem is not None:  # in the render's words (`CelLibrary._corrupt`)
                problems.append(_cannot_decode(shot.production.rel(path), drawing, layer, problem.reason))
    if problems:
        raise CorruptInputError("\n".join(problems))


def blur_margin(layer: Layer) -> int:
    """Transparent pixels added around a blurred drawing so the blur can spread; the compositor places the
    prepared drawing this much up and left, so blurring never moves it."""
    return int(layer.blur * 3) + 1 if layer.blur > 0 else 0


def prepare_cel(image: np.ndarray, layer: Layer, colour_key: np.ndarray | None = None) -> np.ndarray:
    """A decoded drawing made ready to composite: keyed if on paper, filled and colour-corrected (its
    ``fill`` and ``adjust``), scaled, blurred. Pure.

    ``image`` and the result are premultiplied float32 RGBA ``(H, W, 4)``; ``colour_key`` is the fill's
    colour-key drawing, if any. Raises ``SpecError`` when the result would be over ``MAX_PREPARED_PIXELS``
    (see ``oversize``).
    """
    if too_large := oversize((image.shape[1], image.shape[0]), layer):
        raise SpecError(f"layer {layer.name!r}: {too_large[0]}: {too_large[1]}")
    cel = image
    if layer.key == "paper":
        from compositor.core.keying import key_paper  # noqa: PLC0415 (keying is only needed for paper layers)

        cel = key_paper(cel)
    if layer.fill is not None or layer.adjust is not None:
        from compositor.core.photography.finish import finish_cel  # noqa: PLC0415

        cel = finish_cel(cel, layer, colour_key)
    if layer.scale != 1.0:
        h, w = cel.shape[:2]
        size = (max(1, round(w * layer.scale)), max(1, round(h * layer.scale)))
        # Premultiplied data resizes without dark fringes; INTER_AREA when shrinking avoids aliasing.
        cel = cv2.resize(cel, size, interpolation=cv2.INTER_AREA if layer.scale < 1 else cv2.INTER_CUBIC)
        cel = np.clip(cel, 0, 1)
        cel[:, :, :3] = np.minimum(cel[:, :, :3], cel[:, :, 3:4])
    if layer.blur > 0:
        pad = blur_margin(layer)
        cel = cv2.copyMakeBorder(cel, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
        cel = wide_blur(cel, layer.blur)
    return np.ascontiguousarray(cel, dtype=np.float32)


@dataclass(frozen=True)
class CelPiece:
    """The part of a prepared drawing that holds anything: its non-transparent bounding box.

    ``pixels`` is either ``rgba8`` (straight ``uint8`` RGBA, ``(h, w, 4)``: a drawing used as drawn, a quarter
    of the memory of float) or float32 premultiplied RGBA (a drawing that was keyed, scaled or blurred);
    ``offset`` is the box's top-left corner ``(x, y)`` in the prepared drawing's pixels. Laying the piece at
    the drawing's place shifted by ``offset`` gives the same pixels as laying the whole drawing, since the
    rest is transparent.
    """

    pixels: np.ndarray
    offset: tuple[int, int]

    @property
    def empty(self) -> bool:
        return self.pixels.size == 0

    def premultiplied(self) -> np.ndarray:
        """The piece as float32 premultiplied RGBA (computed on each call for ``rgba8`` pieces; not kept)."""
        if self.pixels.dtype == np.uint8:
            return premultiply_rgba8(self.pixels)
        return self.pixels


def _bounding_box(coverage: np.ndarray) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the non-zero pixels of a 2-D uint8 mask; w = h = 0 when there are none."""
    return cv2.boundingRect(coverage)


def crop_to_content(pixels: np.ndarray) -> CelPiece:
    """The smallest piece of ``pixels`` (rgba8 or premultiplied float) outside which everything is
    transparent."""
    if pixels.dtype == np.uint8:
        mask = np.ascontiguousarray(pixels[:, :, 3])
    else:
        # every channel, so that an invalid pixel (colour without alpha) is never dropped
        mask = (pixels != 0).any(axis=2).view(np.uint8)
    x, y, w, h = _bounding_box(mask)
    return CelPiece(np.ascontiguousarray(pixels[y : y + h, x : x + w]), (x, y))


class CelLibrary:
    """The prepared drawings of one layer, decoded on first use and kept (bounded LRU) for later frames.

    ``get`` gives a whole prepared drawing as float32 (the plain path); ``piece`` gives only its covered part,
    kept as drawn (``rgba8``) where no preparation changes it (the fast path). Safe to share between threads.
    """

    def __init__(self, shot: Shot, index: int, capacity: int = 64):
        self.layer = shot.spec.layers[index]
        self.folder = shot.files[f"layers[{index}].cels"]
        self.display = f"{shot.display}: layers[{index}]"
        self.rel = shot.production.rel
        self.files = drawings_in(self.folder)
        key_folder = shot.files.get(f"layers[{index}].fill.key")
        self.key_files = drawings_in(key_folder) if key_folder is not None else None
        self.capacity = capacity
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._pieces: OrderedDict[int, CelPiece] = OrderedDict()
        self._loading: dict[int, threading.Lock] = {}
        self._lock = threading.Lock()
        self._failed: set[int] = set()
        """Drawings `decode_ahead` could not decode (not tried again ahead)."""
        self.decodes = 0

    def _path(self, drawing: int) -> Path:
        path = self.files.get(drawing)
        if path is None:
            raise MissingInputError(f"{self.display}: drawing {drawing} has no file in {self.folder}")
        return path

    def digest(self, drawing: int) -> str:
        """The key of drawing ``drawing``'s file (its bytes, and its EXIF orientation where it has one): part of
        the key of every frame that shows it (with its fill's colour-key drawing's, when it has one)."""
        path = self._path(drawing)
        digest = file_digest(path)
        digest += decoding_note(path)  # a photo laid upright, a TIFF's alpha unpremultiplied: not as stored
        key_path = self._colour_key_path(drawing)
        return digest if key_path is None else f"{digest}+{file_digest(key_path)}"

    def _colour_key_path(self, drawing: int) -> Path | None:
        """The fill's colour-key drawing for ``drawing``: the key with its number, else the folder's first."""
        if self.key_files is None:
            return None
        if drawing in self.key_files:
            return self.key_files[drawing]
        return self.key_files[min(self.key_files)] if self.key_files else None

    def _corrupt(self, path: Path, drawing: int, error: CorruptInputError) -> CorruptInputError:
        return CorruptInputError(_cannot_decode(self.rel(path), drawing, self.layer, error.reason))

    def _prepared(self, drawing: int) -> np.ndarray:
        path = self._path(drawing)
        try:
            image = read_image(path)
        except CorruptInputError as e:
            raise self._corrupt(path, drawing, e) from None
        if too_large := oversize((image.shape[1], image.shape[0]), self.layer):
            raise SpecError(f"{self.display}.{too_large[0]}: drawing {drawing}: {too_large[1]}")
        key_path = self._colour_key_path(drawing)
        colour_key = None
        if key_path is not None:
            try:
                colour_key = read_image(key_path)
            except CorruptInputError as e:
                raise CorruptInputError(f"{self.rel(key_path)}: fill.key: cannot decode ({e.reason})") from None
        return prepare_cel(image, self.layer, colour_key)

    def get(self, drawing: int) -> np.ndarray:
        with self._lock:
            if drawing in self._cache:
                self._cache.move_to_end(drawing)
                return self._cache[drawing]
        cel = self._prepared(drawing)
        with self._lock:
            self.decodes += 1
            self._cache[drawing] = cel
            if len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return cel

    @property
    def as_drawn(self) -> bool:
        """Whether preparing changes nothing, so the decoded ``rgba8`` pixels can be laid as they are."""
        layer = self.layer
        return (layer.key == "alpha" and layer.scale == 1.0 and layer.blur == 0
                and layer.fill is None and layer.adjust is None)

    def piece(self, drawing: int, meanwhile: Callable[[], bool] | None = None) -> CelPiece:
        """The covered part of ``drawing``, prepared (see ``CelPiece``); decoded once and kept, even when
        several threads ask for it at the same moment (the others wait for the one decoding it).

        ``meanwhile``: what a thread does instead of waiting idle while another decodes the drawing (e.g.
        `decode_ahead` a drawing a later frame shows), called while that lasts and it returns True."""
        with self._lock:
            if drawing in self._pieces:
                self._pieces.move_to_end(drawing)
                return self._pieces[drawing]
            loading = self._loading.setdefault(drawing, threading.Lock())
        if meanwhile is not None:
            while loading.locked() and meanwhile():
                pass
        with loading:
            with self._lock:
                if drawing in self._pieces:
                    return self._pieces[drawing]
            try:
                return self._load_piece(drawing)
            finally:
                with self._lock:
                    self._loading.pop(drawing, None)

    def decode_ahead(self, drawing: int) -> bool:
        """Decode ``drawing`` now, unless it is kept, another thread is decoding it, or it failed before;
        whether it did. A drawing that does not decode is left for the frame that shows it to report (it decodes
        it again, and raises)."""
        with self._lock:
            if drawing in self._pieces or drawing in self._loading or drawing in self._failed:
                return False
            loading = self._loading[drawing] = threading.Lock()
            loading.acquire()
        try:
            self._load_piece(drawing)
        except CompositorError:
            with self._lock:
                self._failed.add(drawing)
        finally:
            loading.release()
            with self._lock:
                self._loading.pop(drawing, None)
        return True

    def _load_piece(self, drawing: int) -> CelPiece:
        pixels = None
        if self.as_drawn:
            path = self._path(drawing)
            try:
                pixels = read_rgba8(path)
            except CorruptInputError as e:
                raise self._corrupt(path, drawing, e) from None
        piece = crop_to_content(pixels if pixels is not None else self._prepared(drawing))
        with self._lock:
            self.decodes += 1
            self._pieces[drawing] = piece
            if len(self._pieces) > self.capacity:
                self._pieces.popitem(last=False)
        return piece
