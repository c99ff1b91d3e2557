"""The fast PNG reader (compositor.core.png): OpenCV's very array for the PNGs it reads, None for the others."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest

import compositor.core.io as io_module
from compositor.core import png
from compositor.core.io import fast_png, read_image, write_image
from compositor.errors import CorruptInputError

FILTERS = [
    cv2.IMWRITE_PNG_FILTER_NONE,
    cv2.IMWRITE_PNG_FILTER_SUB,
    cv2.IMWRITE_PNG_FILTER_UP,
    cv2.IMWRITE_PNG_FILTER_AVG,
    cv2.IMWRITE_PNG_FILTER_PAETH,
    cv2.IMWRITE_PNG_ALL_FILTERS,
]


def _image(h: int, w: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    img[: h // 2] = img[: h // 2] // 9 * 9  # a smoother half, where each filter wins somewhere
    img[:, : w // 3] = np.linspace(0, 255, h, dtype=np.uint8)[:, None, None]
    return img


def _same_as_opencv(data: bytes) -> np.ndarray:
    ours = png.decode_png(data)
    theirs = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert ours is not None
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert ours.flags.c_contiguous
    assert np.array_equal(ours, theirs)
    return ours


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (9, 17), (40, 23)])
def test_every_row_filter_as_opencv_decodes_it(channels: int, size: tuple[int, int]) -> None:
    img = _image(*size, channels)
    for kind in FILTERS:
        ok, encoded = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_FILTER, kind])
        assert ok
        assert np.array_equal(_same_as_opencv(encoded.tobytes()), img)


@pytest.mark.parametrize("channels", [3, 4])
def test_fpng_frames_as_opencv_decodes_them(channels: int) -> None:
    img = _image(48, 64, channels, seed=3)
    data = fast_png(img)  # RGB(A) in, as the frame writers hand it
    if data is None:
        pytest.skip("fpng is not installed")
    assert np.array_equal(_same_as_opencv(data)[:, :, [2, 1, 0]], img[:, :, :3])


def test_read_image_gives_the_same_frame_either_way(tmp_path, monkeypatch) -> None:
    rgba = _image(30, 20, 4, seed=5)
    frame = rgba.astype(np.float32) / 255
    frame[:, :, :3] *= frame[:, :, 3:4]
    path = tmp_path / "f.png"
    write_image(path, frame, alpha=True)
    assert png.decode_png(path.read_bytes()) is not None
    fast = read_image(path)
    monkeypatch.setattr(io_module, "decode_png", lambda _data: None)  # OpenCV alone, as before
    slow = read_image(path)
    assert fast.dtype == np.float32 and np.array_equal(fast, slow)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def _png(
    width: int, height: int, depth: int, colour: int, rows: bytes, extra: bytes = b"", interlace: int = 0
):
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return (
        png.SIGNATURE
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def test_what_it_leaves_to_opencv() -> None:
    rgb_rows = b"".join(b"\0" + bytes(range(6)) for _ in range(2))  # 2x2 RGB, no filter
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows)) is not None
    # tRNS makes OpenCV add alpha; unknown chunks might change what it gives.
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows, _chunk(b"tRNS", b"\0\0\0\0\0\0"))) is None
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows, _chunk(b"zzZz", b"x"))) is None
    # Harmless chunks are read past.
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows, _chunk(b"tEXt", b"k\0v"))) is not None
    # Grey, palette, 16 bits, interlaced: OpenCV's.
    assert png.decode_png(_png(2, 2, 8, 0, b"\0\0\0" * 2)) is None
    assert png.decode_png(_png(2, 2, 16, 2, b"".join(b"\0" + bytes(12) for _ in range(2)))) is None
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows, interlace=1)) is None
    # Damaged files: a bad checksum, a filter type PNG does not have, too little or too much data, no IEND.
    good = _png(2, 2, 8, 2, rgb_rows)
    assert png.decode_png(good[:-5] + b"\0" + good[-4:]) is None  # IEND's CRC
    bad_idat = bytearray(good)
    bad_idat[50] ^= 0xFF
    assert png.decode_png(bytes(bad_idat)) is None
    assert png.decode_png(_png(2, 2, 8, 2, b"\x05" + rgb_rows[1:])) is None
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows[:-1])) is None
    assert png.decode_png(_png(2, 2, 8, 2, rgb_rows + b"\0")) is None
    assert png.decode_png(good[:-12]) is None
    assert png.decode_png(b"not a png") is None


def test_a_damaged_png_is_still_reported_as_before(tmp_path) -> None:
    path = tmp_path / "bad.png"
    data = bytearray(cv2.imencode(".png", _image(8, 8, 3))[1].tobytes())
    data[60] ^= 0xFF  # inside the image data: OpenCV refuses it, and so does the fast reader
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptInputError, match="bad.png"):
        read_image(path)


def test_without_libdeflate_zlib_inflates_the_same(monkeypatch) -> None:
    data = cv2.imencode(".png", _image(20, 30, 4, seed=7))[1].tobytes()
    with_libdeflate = png.decode_png(data)
    monkeypatch.setattr(png, "_deflate", None)
    assert np.array_equal(_same_as_opencv(data), with_libdeflate)


@pytest.mark.parametrize("chunk", ["gAMA 1/2.2", "gAMA 1.0", "sRGB", "cHRM", "iCCP"])
def test_a_painting_programs_colour_chunks_are_read_past_as_opencv_reads_past_them(chunk: str) -> None:
    """What a painting program writes beside the pixels (gamma, sRGB intent, chromaticities, an ICC profile):
    OpenCV gives the stored values, and so does the fast reader."""
    from PIL import Image, ImageCms, PngImagePlugin  # noqa: PLC0415

    drawing = _image(29, 41, 4, seed=3)
    info = PngImagePlugin.PngInfo()
    extra = {}
    if chunk.startswith("gAMA"):
        info.add(b"gAMA", (45455 if "2.2" in chunk else 100000).to_bytes(4, "big"))
    elif chunk == "sRGB":
        info.add(b"sRGB", b"\0")
    elif chunk == "cHRM":
        info.add(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
    else:
        extra["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = BytesIO()
    Image.fromarray(drawing).save(buffer, "PNG", pnginfo=info, **extra)
    data = buffer.getvalue()
    assert chunk[:4].encode() in data
    ours = _same_as_opencv(data)
    assert np.array_equal(ours, cv2.cvtColor(drawing, cv2.COLOR_RGBA2BGRA))  # the stored values


def _as_opencv_or_refused_alike(data: bytes) -> None:
    """The fast reader gives OpenCV's array, or leaves the file to OpenCV (None): never an image OpenCV refuses."""
    ours = png.decode_png(data)
    theirs = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if ours is not None:
        assert theirs is not None, "an image OpenCV refuses"
        assert np.array_equal(ours, theirs)


def _small_window(stream: bytes, cinfo: int) -> bytes:
    """``stream`` (zlib) with its header claiming a window of ``2**(cinfo + 8)`` bytes (the data unchanged)."""
    cmf = (cinfo << 4) | 8
    flg = stream[1] & 0xE0
    flg += (31 - (cmf * 256 + flg) % 31) % 31
    return bytes([cmf, flg]) + stream[2:]


def test_a_zlib_window_smaller_than_the_data_is_left_to_opencv() -> None:
    """libpng inflates with the window the zlib header claims: a match reaching further back (a 256-byte window,
    rows of 601 bytes repeated) is an error to it, where libdeflate (which always keeps 32 kB) would inflate it."""
    row = np.random.default_rng(1).integers(0, 256, (1, 200, 3), dtype=np.uint8)
    rows = b"".join(b"\0" + row.tobytes() for _ in range(20))
    header = struct.pack(">IIBBBBB", 200, 20, 8, 2, 0, 0, 0)
    data = (
        png.SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", _small_window(zlib.compress(rows, 9), 0))
        + _chunk(b"IEND", b"")
    )
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is None  # too far back
    assert png.decode_png(data) is None
    # A small window that holds the whole image (what libpng writes for a small one) is read as before.
    small = b"".join(b"\0" + bytes(range(6)) for _ in range(2))
    data = png.SIGNATURE + _chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
    data += _chunk(b"IDAT", _small_window(zlib.compress(small), 0)) + _chunk(b"IEND", b"")
    _same_as_opencv(data)


def test_an_image_over_libpngs_size_limits_is_left_to_opencv() -> None:
    """libpng refuses a side over a million pixels (its default user limits), under OpenCV's own."""
    for width, height in ((1_000_001, 1), (1, 1_000_001)):
        rows = b"".join(b"\0" + bytes(3 * width) for _ in range(height))
        data = _png(width, height, 8, 2, rows)
        _as_opencv_or_refused_alike(data)
        assert png.decode_png(data) is None
    _same_as_opencv(_png(1_000_000, 1, 8, 2, b"\0" + bytes(3_000_000)))


def test_a_chunk_over_opencvs_chunk_limit_is_left_to_opencv() -> None:
    """OpenCV refuses a chunk before the image data over 8 000 000 bytes (but tEXt), as libpng's chunk limit."""
    rows = b"".join(b"\0" + bytes(range(6)) for _ in range(2))
    for kind in (b"iCCP", b"zTXt", b"gAMA"):
        data = _png(2, 2, 8, 2, rows, _chunk(kind, b"k\0\0" + bytes(8_000_000 - 12 - 3 + 1)))
        _as_opencv_or_refused_alike(data)
        assert png.decode_png(data) is None
    _same_as_opencv(_png(2, 2, 8, 2, rows, _chunk(b"iCCP", b"k\0\0" + bytes(8_000_000 - 12 - 3))))
    _same_as_opencv(_png(2, 2, 8, 2, rows, _chunk(b"tEXt", b"k\0" + bytes(8_000_000))))


_UNDER_A_LIMIT = """
import cv2, numpy as np
from compositor.core import png
data = cv2.imencode(".png", np.zeros((40, 40, 3), np.uint8))[1].tobytes()  # 1600 pixels
try:
    theirs = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) is not None
except cv2.error:
    theirs = False
print(theirs, png.decode_png(data) is not None)
"""


@pytest.mark.parametrize("limit", ["1KB", "1mb"])
def test_opencvs_pixel_limit_is_read_as_opencv_reads_it(limit: str) -> None:
    """``OPENCV_IO_MAX_IMAGE_PIXELS=1KB`` is 1024 pixels to OpenCV (it reads KB and MB): the fast reader took
    it for no limit and decoded an image OpenCV refuses."""
    env = {**os.environ, "OPENCV_IO_MAX_IMAGE_PIXELS": limit, "PYTHONPATH": str(Path(__file__).parents[1])}
    run = subprocess.run([sys.executable, "-c", _UNDER_A_LIMIT], env=env, capture_output=True, text=True, timeout=120)
    theirs, ours = run.stdout.split()
    assert theirs == ("True" if limit == "1mb" else "False")
    assert ours == theirs or ours == "False"  # OpenCV's array, or left to OpenCV
