"""A fast reader for the common PNG: 8-bit RGB or RGBA, not interlaced (what fpng and OpenCV write for frames).

It gives the very array OpenCV's ``cv2.imdecode(data, cv2.IMREAD_UNCHANGED)`` gives (BGR or BGRA ``uint8``, the
same bytes: PNG is lossless, so there is only one right answer), in about half the time: the image data is
inflated by libdeflate (the ``deflate`` package; zlib where it is missing) and the row filters are undone by one
compiled pass that also puts the channels in OpenCV's order. At 1280x720 a frame decodes in about 10 ms of CPU
where OpenCV takes about 20 (the temporal pass reads two PNGs a frame).

Anything else returns None and OpenCV decodes the file as before, with its errors: another depth or colour type,
interlacing, a chunk that could change what OpenCV gives (``tRNS``, which OpenCV turns into alpha;
animation chunks; any chunk not listed in ``_HARMLESS``), a bad checksum, data that does not inflate
to exactly the image's size, a zlib window smaller than the image (libpng refuses a match beyond it), a chunk
over OpenCV's chunk limit, or an image over OpenCV's or libpng's size limits (``OPENCV_IO_MAX_IMAGE_PIXELS``...,
a million pixels a side). So a file decodes here only where the answer is certain (tests/test_png_read.py)."""

from __future__ import annotations

import os
import re
import struct
import zlib

import cv2
import numpy as np

from compositor.core.kernels import HAVE_NUMBA

try:  # libdeflate inflates a whole buffer about twice as fast as zlib
    import deflate as _deflate
except ImportError:  # pragma: no cover - exercised where deflate is not installed
    _deflate = None

if HAVE_NUMBA:
    import numba

SIGNATURE = b"\x89PNG\r\n\x1a\n"

_HARMLESS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"tIME", b"pHYs", b"fdEC", b"gAMA", b"cHRM", b"sRGB", b"iCCP"})
"""Ancillary chunks that change nothing OpenCV decodes: text, time, pixel size, fpng's marker, and the colour
space a painting program writes (gamma, chromaticities, sRGB intent, ICC profile: OpenCV gives the stored
values, tests/test_png_read.py)."""


def _opencv_limit(name: str, default: int) -> int:
    """The limit OpenCV reads from ``name``: digits, then KB or MB (any case of the first letter, as OpenCV's
    parser takes them); 0 (every image left to OpenCV) for a value OpenCV would not read."""
    value = os.environ.get(name)
    if value is None:
        return default
    parsed = re.fullmatch(r"([0-9]+)(|[KkMm][Bb])", value)
    if parsed is None or parsed[2] in ("kB", "mB"):
        return 0
    return int(parsed[1]) * {"": 1, "k": 1024, "m": 1024 * 1024}[parsed[2][:1].lower()]


# OpenCV refuses images over its limits (the variables it reads once, with its defaults): a larger file is left
# to it, so that it refuses it as before.
_MAX_PIXELS = _opencv_limit("OPENCV_IO_MAX_IMAGE_PIXELS", 1 << 30)
# libpng's own default limits (PNG_USER_WIDTH_MAX, PNG_USER_HEIGHT_MAX: a million pixels a side) are under
# OpenCV's, and it refuses a larger side before OpenCV sees the size.
_LIBPNG_MAX_SIDE = 1_000_000
_MAX_WIDTH = min(_opencv_limit("OPENCV_IO_MAX_IMAGE_WIDTH", 1 << 20), _LIBPNG_MAX_SIDE)
_MAX_HEIGHT = min(_opencv_limit("OPENCV_IO_MAX_IMAGE_HEIGHT", 1 << 20), _LIBPNG_MAX_SIDE)

_OPENCV_CHUNK_MAX = 8_000_000
"""OpenCV refuses a PNG with a chunk over this (length, type and checksum included) before the image data, but
for a few types (``tEXt`` of those read here): libpng's ``PNG_USER_CHUNK_MALLOC_MAX``."""

_CHANNELS = {2: 3, 6: 4}
"""PNG colour type → channels: RGB and RGBA."""


def _unfilter_py(raw, ch, out):  # pragma: no cover - compiled
    """Undo PNG's row filters: ``raw`` ``(h, 1 + w·c)`` ``uint8``, each row its filter type then its bytes
    (``ch`` a pixel), into ``out`` of the same shape (the filter bytes copied). Returns False for a filter type
    PNG does not have."""
    h, n = raw.shape[0], raw.shape[1]
    zero = np.int32(0)
    for y in range(h):
        kind = raw[y, 0]
        out[y, 0] = kind
        if kind == 0 or (kind == 2 and y == 0):
            for i in range(1, n):
                out[y, i] = raw[y, i]
        elif kind == 1:
            for i in range(1, n):
                out[y, i] = raw[y, i] + out[y, i - ch] if i > ch else raw[y, i]
        elif kind == 2:
            for i in range(1, n):
                out[y, i] = raw[y, i] + out[y - 1, i]
        elif kind == 3:
            for i in range(1, n):
                a = np.int32(out[y, i - ch]) if i > ch else zero
                b = np.int32(out[y - 1, i]) if y > 0 else zero
                out[y, i] = raw[y, i] + ((a + b) >> 1)
        elif kind == 4:
            for i in range(1, n):
                a = np.int32(out[y, i - ch]) if i > ch else zero
                b = np.int32(out[y - 1, i]) if y > 0 else zero
                c = np.int32(out[y - 1, i - ch]) if (y > 0 and i > ch) else zero
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    out[y, i] = raw[y, i] + a
                elif pb <= pc:
                    out[y, i] = raw[y, i] + b
                else:
                    out[y, i] = raw[y, i] + c
        else:
            return False
    return True


_unfilter = numba.njit(cache=True, nogil=True, boundscheck=False)(_unfilter_py) if HAVE_NUMBA else None


def _crc_ok(data: bytes, start: int, end: int, crc: int) -> bool:
    part = memoryview(data)[start:end]
    computed = _deflate.crc32(part) if _deflate is not None else zlib.crc32(part)
    return (computed & 0xFFFFFFFF) == crc


def _inflate(stream: bytes, size: int) -> bytes | None:
    # libpng inflates with the window the zlib header claims (``CINFO``: 2**(CINFO + 8) bytes) and refuses a
    # match that reaches further back; libdeflate keeps every byte. A window smaller than the image (never what
    # libpng or fpng write: libpng shrinks it only for an image that fits) is left to OpenCV, which decides.
    if len(stream) < 2 or (stream[0] >> 4 < 7 and size > 1 << ((stream[0] >> 4) + 8)):
        return None
    try:
        raw = _deflate.zlib_decompress(stream, size) if _deflate is not None else zlib.decompress(stream)
    except (zlib.error, ValueError, getattr(_deflate, "DeflateError", ValueError)):
        return None
    return raw if len(raw) == size else None


_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
"""The bit depths PNG allows for each colour type (grey, RGB, palette, grey + alpha, RGBA)."""

CUT_SHORT = "cut short: the file ends before its IEND chunk (an unfinished copy or download?)"


def damage(data: bytes) -> str | None:
    """Why a PNG file (``data`` starting with its signature) cannot decode, found from its chunks alone: one cut
    short before ``IEND``, or a critical chunk whose checksum does not match; None when neither is so (the
    decoder decides the rest). libpng fails on both anyway, and prints its own "libpng error: ..." line on
    stderr on the way: said here, the file is refused in one line and OpenCV never sees it. An ancillary
    chunk's bad checksum is left to it (libpng drops the chunk and decodes the image)."""
    pos, n = len(SIGNATURE), len(data)
    first = True
    while True:
        if pos + 12 > n:
            return None if first else CUT_SHORT
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if first and (kind != b"IHDR" or length != 13):
            return None  # not a PNG's structure at all: the decoder's "corrupt or not an image"
        if first:
            _, _, depth, colour, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", data, pos + 8)
            if depth not in _DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
                return f"damaged: its header (IHDR) holds {depth}-bit colour type {colour}, compression {compression}, " \
                       f"filter {filtering}, interlace {interlace}, which no PNG has"
        first = False
        if length > 0x7FFFFFFF or end + 4 > n:
            return CUT_SHORT
        if not kind[0] & 0x20 and not _crc_ok(data, pos + 4, end, struct.unpack_from(">I", data, end)[0]):
            return f"damaged: the checksum of its {kind.decode('latin-1')!r} chunk does not match"
        if kind == b"IEND":
            return None
        pos = end + 4


BROKEN_DATA = "damaged: its image data does not inflate (the compressed stream is broken)"


class Damaged(ValueError):
    """A PNG whose image data is certainly broken: invalid deflate data, or a wrong Adler-32 checksum."""


def _broken(stream: bytes) -> bool:
    """Whether zlib finds invalid data or a wrong Adler-32 checksum in ``stream``; OpenCV's libpng refuses both
    (tests/test_audit_inputs2.py), a stream merely cut short or followed by more data is not counted."""
    try:
        zlib.decompressobj().decompress(stream)
    except zlib.error:
        return True
    return False


def decode_png(data: bytes) -> np.ndarray | None:
    """``data`` (a whole PNG file) as ``cv2.imdecode(data, cv2.IMREAD_UNCHANGED)`` decodes it: ``uint8`` BGR
    ``(H, W, 3)`` or BGRA ``(H, W, 4)``; None for a file this reader leaves to OpenCV (see the module).
    `Damaged` where its image data certainly does not inflate (OpenCV fails on it too)."""
    if _unfilter is None or not data.startswith(SIGNATURE):
        return None
    pos, n = len(SIGNATURE), len(data)
    header: tuple[int, ...] | None = None
    idat: list[memoryview] = []
    idat_done = False
    view = memoryview(data)
    while True:
        if pos + 12 > n:
            return None  # no IEND
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if length > 0x7FFFFFFF or end + 4 > n:
            return None
        if not _crc_ok(data, pos + 4, end, struct.unpack_from(">I", data, end)[0]):
            return None
        if header is None:
            if kind != b"IHDR" or length != 13:
                return None
            header = struct.unpack_from(">IIBBBBB", data, pos + 8)
        elif kind == b"IDAT":
            if idat_done:
                return None  # IDAT chunks must follow one another
            idat.append(view[pos + 8 : end])
        elif kind == b"IEND":
            break
        elif kind in _HARMLESS:
            if length + 12 > _OPENCV_CHUNK_MAX and kind != b"tEXt":
                return None  # OpenCV refuses it (before the image data; after it, left to OpenCV all the same)
            idat_done = bool(idat)
        else:
            return None
        pos = end + 4
    width, height, depth, colour, compression, filtering, interlace = header
    channels = _CHANNELS.get(colour)
    if (
        channels is None
        or depth != 8
        or compression
        or filtering
        or interlace
        or not 0 < width <= _MAX_WIDTH
        or not 0 < height <= _MAX_HEIGHT
        or width * height > _MAX_PIXELS
        or not idat
    ):
        return None
    stream = b"".join(idat)
    raw = _inflate(stream, height * (1 + width * channels))
    if raw is None:
        if _broken(stream):  # libpng would fail on it too, printing "libpng error: IDAT: ..." on stderr
            raise Damaged(BROKEN_DATA)
        return None  # another size (more data than rows, a stream cut short): OpenCV decides, as before
    shape = (height, 1 + width * channels)
    rows = np.empty(shape, np.uint8)
    if not _unfilter(np.frombuffer(raw, np.uint8).reshape(shape), channels, rows):
        return None
    pixels = rows[:, 1:].reshape(height, width, channels)  # PNG's RGB(A), each row after its filter byte
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if channels == 3 else cv2.COLOR_RGBA2BGRA)
