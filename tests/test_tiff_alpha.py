"""An 8-bit RGBA TIFF (Kenney's walk cycle is one, under a .png name) holds straight colour, as its ExtraSamples
tag says; OpenCV reads it through libtiff's RGBA interface, which premultiplies. Read as straight, its soft
edges were premultiplied twice: a white outline on white showed a grey ring. Now it reads as every other reader
gives it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from compositor.core.io import decoding_note, read_image, read_rgba8

_UNASSOCIATED = b"\x52\x01\x03\x00\x01\x00\x00\x00\x02\x00"  # ExtraSamples = 2, as Pillow writes it (II order)


def _edge() -> np.ndarray:
    """A straight RGBA ``(4, 8, 4)`` uint8 picture: white and a colour, alpha ramping 0 → 255 along a row."""
    rgba = np.zeros((4, 8, 4), np.uint8)
    rgba[:2, :, :3] = 255
    rgba[2:, :, :3] = (200, 100, 50)
    rgba[:, :, 3] = [0, 8, 31, 64, 128, 191, 240, 255]
    return rgba


def _tiff(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgba).save(out, "TIFF", compression="tiff_deflate")
    data = out.getvalue()
    assert data.count(_UNASSOCIATED) == 1  # the file says: straight colour
    return data


def _premultiplied(rgba: np.ndarray) -> np.ndarray:
    straight = rgba.astype(np.float64) / 255
    return np.concatenate([straight[:, :, :3] * straight[:, :, 3:], straight[:, :, 3:]], axis=2)


def test_a_straight_tiff_is_read_straight(tmp_path: Path) -> None:
    path = tmp_path / "p1_walk01.png"  # Kenney's name: a TIFF under .png
    path.write_bytes(_tiff(_edge()))
    assert np.array_equal(np.asarray(Image.open(path)), _edge())  # Pillow, the reference, reads it as written
    frame = read_image(path)
    assert np.abs(frame - _premultiplied(_edge())).max() <= 1 / 255 + 1e-6
    # over white, a white edge stays white: no grey ring
    over_white = frame[:2, :, :3] + (1 - frame[:2, :, 3:])
    assert over_white.min() >= 254 / 255
    rgba = read_rgba8(path)  # straight again: what it shows (colour × alpha) within a level of the file's
    assert np.array_equal(rgba[:, :, 3], _edge()[:, :, 3])
    assert np.abs(_premultiplied(rgba) - _premultiplied(_edge())).max() <= 1 / 255 + 1e-6
    assert decoding_note(path) == "@straight"


def test_an_associated_alpha_tiff_is_unpremultiplied(tmp_path: Path) -> None:
    premultiplied = np.round(_premultiplied(_edge()) * 255).astype(np.uint8)
    path = tmp_path / "A_0001.tif"
    path.write_bytes(_tiff(premultiplied).replace(_UNASSOCIATED, _UNASSOCIATED[:8] + b"\x01\x00"))
    assert np.abs(read_image(path) - _premultiplied(_edge())).max() <= 1 / 255 + 1e-6


def test_a_tiff_without_an_alpha_tag_is_read_as_stored(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "A_0001.tif"
    cv2.imwrite(str(path), cv2.cvtColor(_edge(), cv2.COLOR_RGBA2BGRA))  # OpenCV writes no ExtraSamples
    assert np.array_equal(read_rgba8(path), _edge())
    assert decoding_note(path) == ""
