"""The speed paths of issue 14 against their reference paths: PNGs written by fpng decode to exactly the pixels
OpenCV's writer stores (in every reader); frames written by the writer thread while the encoder takes them are
exactly the frames of a plain one-thread render; the yuv420p conversion equals its numpy stand-in and
ffmpeg's within a level or two; a movie piped as yuv420p matches the one piped as RGB; frames are counted from
the MP4 boxes as ffprobe counts them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor.core import io, yuv
from compositor.core.io import mp4_video_samples, read_rgb8, write_image
from compositor.steps import burnin
from compositor.steps.composite import CutRenderer, render_cut, render_range
from compositor.steps.encode import MoviePlan, ffmpeg_exe, probe
from tests.test_fast_paths import _cut


def _smooth(rng: np.random.Generator, h: int, w: int, channels: int = 3) -> np.ndarray:
    noise = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0).reshape(h, w, channels)


def _ffmpeg_rgb(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Every frame of an image or movie as ffmpeg decodes it: uint8 RGB (N, H, W, 3)."""
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    data = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(data, np.uint8).reshape(-1, size[1], size[0], 3)


# ------------------------------------------------------------------------------------------------------------
# PNG writes


@pytest.mark.parametrize("channels", [3, 4])
def test_fast_png_reads_back_exactly_in_every_reader(tmp_path, channels):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (37, 53, channels), dtype=np.uint8)  # odd sizes, incompressible
    pixels[:10] = 7  # and a flat run
    path = tmp_path / "f.png"
    write_image(path, pixels, key="some-key")
    assert io.read_png_key(path) == "some-key"
    order = cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA
    assert np.array_equal(cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), order), pixels)
    assert np.array_equal(np.asarray(Image.open(path)), pixels)
    if channels == 3:
        assert np.array_equal(read_rgb8(path), pixels)
        assert np.array_equal(_ffmpeg_rgb(path, (53, 37))[0], pixels)
    # the same pixels as OpenCV's writer (the reference path) stores
    ok, reference = cv2.imencode(".png", cv2.cvtColor(pixels, order), io.PNG_PARAMS)
    assert ok and np.array_equal(cv2.imdecode(reference, cv2.IMREAD_UNCHANGED), cv2.imread(str(path), cv2.IMREAD_UNCHANGED))


def test_fast_png_is_fpng_where_installed():
    pixels = np.zeros((4, 6, 3), np.uint8)
    data = io.fast_png(pixels)
    if io._fpng is None:
        assert data is None
    else:
        assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n")
    assert io.fast_png(np.zeros((4, 6, 3), np.uint16)) is None  # 16-bit: OpenCV writes it
    assert io.fast_png(np.zeros((4, 6), np.uint8)) is None


def test_writer_thread_and_fast_png_make_the_reference_frames(production_factory, monkeypatch):
    shot = _cut(production_factory, 1.1)
    render_cut(shot, threads=2)  # frames to the encoder as they come, their PNGs by the writer thread (fpng)
    files = [shot.paths.comp_frame(n) for n in shot.frame_numbers()]
    fast = [read_rgb8(p) for p in files]
    keys = [io.read_png_key(p) for p in files]
    renderer = CutRenderer(shot)
    assert keys == renderer.frame_keys()
    for p in files:
        p.unlink()
    monkeypatch.setattr(io, "_fpng", None)  # the reference: OpenCV's writer, one thread, no encoder
    assert len(render_range(shot, list(range(shot.frames)), threads=1)) == shot.frames
    for index, (p, frame) in enumerate(zip(files, fast)):
        assert np.array_equal(read_rgb8(p), frame), index
        assert np.array_equal(renderer.make_frame(index, write=False), frame), index


# ------------------------------------------------------------------------------------------------------------
# RGB -> yuv420p


@pytest.mark.parametrize("matrix", ["bt709", "bt601"])
def test_yuv420p_equals_numpy_and_ffmpeg(matrix, monkeypatch):
    rng = np.random.default_rng(5)
    w, h = 64, 40
    rgb = _smooth(rng, h, w)
    fast = yuv.rgb_to_yuv420p(rgb, matrix)
    monkeypatch.setattr(yuv, "_rgb_to_yuv420", None)
    assert np.array_equal(yuv.rgb_to_yuv420p(rgb, matrix), fast)
    cmd = [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-",
           "-vf", f"scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p", "-f", "rawvideo", "-"]
    swscale = np.frombuffer(subprocess.run(cmd, input=rgb.tobytes(), capture_output=True, check=True).stdout, np.uint8)
    diff = np.abs(fast.astype(int) - swscale.astype(int))
    assert diff[: w * h].max() <= 1  # luma: swscale's rounding
    assert diff[w * h :].max() <= 4 and diff[w * h :].mean() < 1  # chroma: a 2x2 average, swscale filters


def test_yuv420p_levels_and_grey():
    w, h = 8, 6
    for value, luma in ((0, 16), (255, 235), (128, 126)):
        out = yuv.rgb_to_yuv420p(np.full((h, w, 3), value, np.uint8))
        assert out.shape == (w * h * 3 // 2,)
        assert np.all(out[: w * h] == luma) and np.all(out[w * h :] == 128)  # grey has no colour
    with pytest.raises(ValueError, match="even"):
        yuv.rgb_to_yuv420p(np.zeros((5, 8, 3), np.uint8))


def test_yuv_pipe_movie_matches_the_rgb_pipe(production_factory, monkeypatch):
    """Through x264 the two pipes do not give the same bytes; the movie piped as yuv420p is as close to the comp
    frames as the one piped as RGB (the reference path), and its burn-ins look the same."""
    shot = _cut(production_factory, 1.1)
    (movie,) = render_cut(shot, threads=2).movies
    plan = MoviePlan(shot, shot.own_preset, ["k"] * shot.frames)
    assert plan.pipe == "yuv420p"
    fast = _ffmpeg_rgb(movie, shot.size).astype(int)
    assert mp4_video_samples(movie) == probe(movie)["frames"] == shot.frames
    comp = np.stack([read_rgb8(shot.paths.comp_frame(n)) for n in shot.frame_numbers()]).astype(int)
    monkeypatch.setenv("COMPOSITOR_PIPE", "rgb24")
    rgb_plan = MoviePlan(shot, shot.own_preset, ["k"] * shot.frames)
    assert rgb_plan.pipe == "rgb24" and rgb_plan.key != plan.key  # the other pipe encodes again
    (movie,) = render_cut(shot, threads=2).movies
    reference = _ffmpeg_rgb(movie, shot.size).astype(int)
    assert fast.shape == reference.shape == comp.shape
    band = burnin.text_layout(shot.size[1], plan.preset)[1]
    picture = slice(band, shot.size[1] - band)
    err_fast = np.abs(fast - comp)[:, picture]
    err_reference = np.abs(reference - comp)[:, picture]
    assert err_fast.mean() <= err_reference.mean() * 1.1 + 0.25
    assert np.percentile(err_fast, 99) <= np.percentile(err_reference, 99) * 1.1 + 2
    assert np.abs(fast - reference)[:, :band].mean() < 3  # the burn-in band: black, white text


def test_mp4_counting_refuses_what_it_cannot_read(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x10ftypisom" + b"\xff" * 40)
    assert mp4_video_samples(junk) is None
    assert mp4_video_samples(tmp_path / "missing.mp4") is None


# ------------------------------------------------------------------------------------------------------------
# Compositing in bands straight to 8-bit


@pytest.mark.parametrize("band", [32, 7])
def test_fused_frames_are_the_composed_frames(production_factory, band):
    shot = _cut(production_factory, 1.1)
    renderer = CutRenderer(shot)
    renderer.BAND = band  # bands that do not divide the frame's 40 rows too
    fused = 0
    for index in range(shot.frames):
        canvas = renderer.backdrop.canvas(index)
        reference = io.to_uint8_rgb(renderer.compose_reference(index, canvas))
        composed = io.to_uint8_rgb(renderer.compose(index, canvas))
        rgb = renderer.fused_rgb(index, canvas)
        if rgb is not None:
            fused += 1
            assert np.array_equal(rgb, composed), index
            assert np.abs(rgb.astype(int) - reference.astype(int)).max() <= 1, index
        assert np.array_equal(renderer.make_frame(index, write=False), composed), index
    assert 0 < fused < shot.frames  # whole-pixel pans fused; the zoomed, turned, fractional frames not
