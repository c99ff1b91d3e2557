"""A photographed drawing or plate carries an EXIF orientation (a phone writes the pixels as the sensor saw them
and a tag saying how to turn them): it is laid as every viewer shows it, and the tag is part of its key."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from compositor.core.io import exif_orientation, read_image, read_rgba8


def _upright() -> np.ndarray:
    """A 48x32 RGB picture of flat 16-px blocks (JPEG keeps them nearly exact), no two blocks alike."""
    rng = np.random.default_rng(7)
    blocks = rng.integers(0, 256, size=(2, 3, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)


def _stored(orientation: int, fmt: str) -> bytes:
    """The file a camera writes for `_upright` under ``orientation``: the pixels turned back, and the tag."""
    undo = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
            7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}[orientation]
    image = Image.fromarray(_upright())
    if undo is not None:
        image = image.transpose(undo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, fmt, exif=exif, **({"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}))
    return out.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photographed_drawing_is_read_upright(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "garlic_0001.jpg"
    path.write_bytes(_stored(orientation, "JPEG"))
    # Pillow's own reading of the tag, the reference every viewer agrees with
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"))
    assert expected.shape == _upright().shape  # the fixture is what it claims
    rgba = read_rgba8(path)
    assert rgba.shape == (32, 48, 4)
    assert np.abs(rgba[:, :, :3].astype(int) - expected).max() <= 6
    assert np.abs(rgba[:, :, :3].astype(int) - _upright()).max() <= 6
    frame = read_image(path)
    assert frame.shape == (32, 48, 4)
    assert np.abs(frame[:, :, :3] * 255 - _upright()).max() <= 6
    assert exif_orientation(path) == orientation


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF"])
def test_lossless_photos_are_turned_exactly_once(tmp_path: Path, fmt: str) -> None:
    # WebP: OpenCV ignores the tag, we apply it; TIFF: libtiff applies it inside OpenCV, we must not again
    path = tmp_path / f"plate.0001.{fmt.lower()}"
    path.write_bytes(_stored(6, fmt) if fmt == "TIFF" else _webp(6))
    assert np.array_equal(read_rgba8(path)[:, :, :3], _upright())


def _webp(orientation: int) -> bytes:
    image = Image.fromarray(_upright()).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "WEBP", exif=exif, lossless=True)
    return out.getvalue()


def test_a_png_is_read_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "A_0001.png"
    Image.fromarray(_upright()).save(path)
    assert exif_orientation(path) == 1
    assert np.array_equal(read_rgba8(path)[:, :, :3], _upright())


def test_a_cut_lays_a_phone_photo_upright_and_its_tag_is_in_the_key(production_factory) -> None:
    import compositor
    from compositor.core.cels import CelLibrary
    from compositor.core.digest import file_digest

    root = production_factory({"sc010_c010": """
        [shot]
        frames = 1
        [[layers]]
        name = "A"
        cels = "cels/A"
        timing = "1"
        """}, size=(48, 32))
    cel = root / "shots" / "sc010_c010" / "cels" / "A" / "A_0001.jpg"
    cel.parent.mkdir(parents=True)
    cel.write_bytes(_stored(6, "JPEG"))
    shot = compositor.cut(compositor.load(root), "sc010_c010")
    frame = compositor.render_frame(shot, 1)  # the drawing covers the frame, opaque
    assert np.abs(frame[:, :, :3] * 255 - _upright()).max() <= 6
    # the key is not the file's bytes alone: frames rendered before the tag was applied are made again
    assert CelLibrary(shot, 0).digest(1) != file_digest(cel)
    cel.write_bytes(_stored(1, "JPEG"))  # the same picture stored upright, untagged: its bytes are its key
    shot = compositor.cut(compositor.load(root), "sc010_c010")
    assert np.abs(compositor.render_frame(shot, 1)[:, :, :3] * 255 - _upright()).max() <= 6
    assert CelLibrary(shot, 0).digest(1) == file_digest(cel)
