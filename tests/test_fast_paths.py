"""Each faster path equals the plain float path within 1/255: the fused kernels (compiled with numba, and
their numpy stand-ins), drawings kept as drawn and cropped to what they cover, whole-pixel pans copied, the
fast decode, PNG settings, and the movie piped straight to the encoder."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest

from compositor.core import io, kernels
from compositor.core.cels import CelLibrary
from compositor.core.ops import blend_into
from compositor.spec import Production, load_shot
from compositor.steps.background import ensure_background
from compositor.steps.composite import (
    CutRenderer,
    _clip_premultiplied,
    render_cut,
)
from compositor.steps.encode import MoviePlan, SegmentPipe
from tests.conftest import write_grid

LEVEL = 1 / 255


@pytest.fixture(params=["numba", "numpy"])
def implementation(request, monkeypatch):
    """Run a test with the compiled kernels and again with their numpy stand-ins."""
    if request.param == "numba":
        if not kernels.HAVE_NUMBA:
            pytest.skip("numba is not installed")
    else:
        monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
    return request.param


def _straight_rgba8(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A drawing as drawn: transparent, opaque and soft-edged pixels, colours everywhere."""
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    alpha = img[:, :, 3]
    alpha[rng.random((h, w)) < 0.3] = 0
    alpha[rng.random((h, w)) < 0.3] = 255
    return img


def _premultiplied(rgba8: np.ndarray) -> np.ndarray:
    """The plain path's premultiplication (io.read_image's formula, numpy)."""
    img = rgba8.astype(np.float32) * np.float32(1 / 255)
    return np.concatenate([img[:, :, :3] * img[:, :, 3:4], img[:, :, 3:4]], axis=2)


def _backdrop(rng: np.random.Generator, h: int, w: int, opaque: bool) -> np.ndarray:
    frame = _premultiplied(_straight_rgba8(rng, h, w))
    if opaque:
        frame[:, :, 3] = 1
    return np.ascontiguousarray(frame)


@pytest.mark.parametrize("mode", ["over", "multiply", "screen", "add"])
@pytest.mark.parametrize("opacity", [1.0, 0.6])
@pytest.mark.parametrize("opaque", [True, False])
def test_fused_blend_equals_blend_into(implementation, mode, opacity, opaque):
    rng = np.random.default_rng(7)
    src8 = _straight_rgba8(rng, 9, 13)
    src = _premultiplied(src8)
    for x, y in [(0, 0), (5, 3), (-4, -2), (25, 14), (30, 20), (-13, 0)]:
        dst = _backdrop(rng, 18, 30, opaque)
        expected = dst.copy()
        blend_into(expected, src, mode, opacity, x, y)
        for source in (src8, src):
            got = dst.copy()
            kernels.blend_region(got, x, y, source, mode, opacity)
            assert np.abs(got - expected).max() <= LEVEL
            assert np.abs(got - expected).max() <= 1e-6  # same float32 operations, in the same order


def test_copy_clipped_equals_clip_premultiplied(implementation):
    rng = np.random.default_rng(3)
    canvas = (rng.random((20, 40, 4), dtype=np.float32) * 1.4 - 0.2).astype(np.float32)
    out = np.empty((10, 16, 4), np.float32)
    kernels.copy_clipped(canvas, 7, 5, out)
    expected = _clip_premultiplied(canvas[5:15, 7:23].copy())
    assert np.array_equal(out, expected)


def test_to_rgb8_equals_the_plain_conversion(implementation):
    rng = np.random.default_rng(5)
    frame = (rng.random((17, 23, 4), dtype=np.float32) * 1.2 - 0.1).astype(np.float32)
    frame[0, :4, 0] = [0.5 / 255, 127.5 / 255, 1.0, 0.0]
    expected = (np.clip(frame[:, :, :3], 0, 1) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(kernels.to_rgb8(frame), expected)
    assert np.array_equal(io.to_uint8_rgb(frame), expected)


def test_premultiply_rgba8_equals_the_plain_decode(implementation):
    rgba8 = _straight_rgba8(np.random.default_rng(9), 31, 17)
    assert np.array_equal(kernels.premultiply_rgba8(rgba8), _premultiplied(rgba8))


@pytest.mark.parametrize("channels", [3, 4])
def test_fast_decode_equals_the_plain_decode(tmp_path, channels):
    rgba8 = _straight_rgba8(np.random.default_rng(1), 12, 20)
    pixels = cv2.cvtColor(rgba8, cv2.COLOR_RGBA2BGRA if channels == 4 else cv2.COLOR_RGBA2BGR)
    path = tmp_path / "drawing.png"
    cv2.imwrite(str(path), pixels)
    expected = _premultiplied(
        rgba8 if channels == 4 else np.dstack([rgba8[:, :, :3], np.full((12, 20), 255, np.uint8)])
    )
    assert np.array_equal(io.read_image(path), expected)
    straight = io.read_rgba8(path)
    assert np.array_equal(straight[:, :, :3], rgba8[:, :, :3])


def test_png_settings_are_lossless(tmp_path):
    frame = _backdrop(np.random.default_rng(2), 40, 64, opaque=True)
    io.write_image(tmp_path / "f.png", frame)
    assert np.array_equal(io.read_rgb8(tmp_path / "f.png"), io.to_uint8_rgb(frame))


# ------------------------------------------------------------------------------------------------------------
# Whole frames: the fast compose against the plain one, over every kind of move and layer


CUT = """
[shot]
frames = 10

[background]
source = "plate"
plate = "plates/bg.png"
canvas = [160, 48]

[camera]
keys = [ {{ frame = 1, x = 40, y = 24 }},
         {{ frame = 4, x = 70, y = 24 }},
         {{ frame = 7, x = 83.37, y = 25.5, ease = "in-out" }},
         {{ frame = 10, x = 90, y = 24, zoom = {zoom}, rotation = 4 }} ]

[[layers]]
name = "held"
cels = "cels/A"
timing = "(1 2)*"
parallax = 0
position = [3, 5]

[[layers]]
name = "riding"
cels = "cels/A"
timing = "2@10"
parallax = 1
position = [30, 12]
blend = "multiply"

[[layers]]
name = "moving"
cels = "cels/B"
timing = "1 . x 1 . . 1 . . ."
parallax = 0
position = [10, 10]
motion = [ {{ frame = 1, x = 10, y = 10 }}, {{ frame = 10, x = 50.5, y = 12.25 }} ]
opacity = 0.7
blend = "screen"

[[layers]]
name = "scaled"
cels = "cels/B"
timing = "1@10"
scale = 1.5
blur = 1.2
position = [60, 4]
blend = "add"

[[layers]]
name = "book"
cels = "cels/A"
timing = "1@10"
parallax = 1.3
position = [-4, 30]
"""


def _cut(production_factory, zoom: float):
    root = production_factory({"sc010_c010": CUT.format(zoom=zoom)}, size=(64, 40))
    rng = np.random.default_rng(11)
    bg = cv2.GaussianBlur(rng.integers(0, 256, (48, 160, 3), dtype=np.uint8), (0, 0), 1.0)
    (root / "shots/sc010_c010/plates").mkdir(parents=True)
    cv2.imwrite(str(root / "shots/sc010_c010/plates/bg.png"), bg)
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "....\n.RRh\n.KKW\nhhh.\n....")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "YYB\nh.G\n...")
    drawing = np.zeros((40, 64, 4), np.uint8)  # a full-frame cel, a quarter covered, soft edge
    cv2.circle(drawing, (20, 14), 11, (40, 200, 90, 255), -1, cv2.LINE_AA)
    cv2.circle(drawing, (50, 30), 6, (220, 20, 90, 160), -1, cv2.LINE_AA)
    (root / "shots/sc010_c010/cels/B").mkdir(parents=True)
    cv2.imwrite(str(root / "shots/sc010_c010/cels/B/B_0001.png"), drawing)
    shot = load_shot(Production(root), "sc010_c010")
    ensure_background(shot)
    return shot


def frame_path(shot, number):
    return shot.paths.comp_frame(number)


@pytest.mark.parametrize("zoom", [1.1, 0.6])  # 0.6: shrunk enough that drawings are area-averaged first
def test_fast_compose_equals_the_plain_float_path(implementation, production_factory, zoom):
    shot = _cut(production_factory, zoom)
    renderer = CutRenderer(shot)
    canvas = renderer.backdrop.canvas(0)
    worst = 0.0
    for index in range(shot.frames):
        fast, plain = renderer.compose(index, canvas), renderer.compose_reference(index, canvas)
        worst = max(worst, float(np.abs(fast - plain).max()))
        assert np.abs(fast - plain).max() <= LEVEL, f"frame {index + 1}"
    assert worst <= 1e-5  # in fact the same operations: any difference is rounding of the placement maps


def test_drawings_are_kept_cropped_to_what_they_cover(production_factory):
    shot = _cut(production_factory, 1.1)
    library = CelLibrary(shot, 2)
    piece = library.piece(1)
    assert piece.pixels.dtype == np.uint8  # kept as drawn: a quarter of the memory of float
    alpha = cv2.imread(str(shot.folder / "cels/B/B_0001.png"), cv2.IMREAD_UNCHANGED)[:, :, 3]
    rows, cols = np.nonzero(alpha)
    assert piece.offset == (cols.min(), rows.min())
    assert piece.pixels.shape[:2] == (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    scaled = CelLibrary(shot, 3).piece(1)
    assert scaled.pixels.dtype == np.float32  # scaled and blurred: prepared once, then cropped


def test_threaded_render_writes_the_same_frames(production_factory):
    shot = _cut(production_factory, 1.1)
    render_cut(shot, threads=1)
    serial = [cv2.imread(str(frame_path(shot, n))) for n in shot.frame_numbers()]
    for p in shot.paths.comp_folder.glob("*.png"):
        p.unlink()
    CutRenderer(shot).render(list(range(shot.frames)), threads=3)
    assert all(
        np.array_equal(a, cv2.imread(str(frame_path(shot, n)))) for a, n in zip(serial, shot.frame_numbers())
    )


def _decoded(path, size) -> bytes:
    from compositor.steps.encode import ffmpeg_exe  # noqa: PLC0415

    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def test_the_piped_movie_is_the_encoded_movie(production_factory):
    from compositor.steps.encode import encode_cut  # noqa: PLC0415

    shot = _cut(production_factory, 1.1)
    result = render_cut(shot, threads=2)
    (piped,) = result.movies
    assert result.manifest.is_file() and piped.stat().st_mtime_ns >= result.manifest.stat().st_mtime_ns
    piped_frames = _decoded(piped, shot.size)
    stamps = {n: frame_path(shot, n).stat().st_mtime_ns for n in shot.frame_numbers()}
    for segment in shot.paths.segments(shot.edit_preset).iterdir():  # encode again, from the frame files
        segment.unlink()
    encoded = encode_cut(shot)
    assert _decoded(encoded, shot.size) == piped_frames
    assert len(piped_frames) == shot.frames * 64 * 40 * 3 // 2
    # again, with every frame already there: read back, not made again
    piped.unlink()
    for segment in shot.paths.segments(shot.edit_preset).iterdir():
        segment.unlink()
    assert render_cut(shot, threads=2).composited == []
    assert _decoded(piped, shot.size) == piped_frames
    assert {n: frame_path(shot, n).stat().st_mtime_ns for n in shot.frame_numbers()} == stamps


def test_a_failing_encoder_is_one_line(production_factory, monkeypatch):
    from compositor.errors import EncodeError  # noqa: PLC0415

    shot = _cut(production_factory, 1.1)
    plan = MoviePlan(shot, shot.edit_preset, ["k"] * shot.frames)
    pipe = SegmentPipe(plan, plan.segments[0])
    with pytest.raises(EncodeError, match="ffmpeg failed"):
        pipe.write(np.zeros((3, 3, 3), np.uint8))  # too short a frame: ffmpeg sees a truncated stream
        pipe.finish()
    pipe.abort()
