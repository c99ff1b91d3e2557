"""The speed paths of issue 14 against their reference paths: PNGs written by fpng decode to exactly the pixels
OpenCV's writer stores (in every reader); frames written by the writer thread while the encoder takes them are
exactly the frames of a plain one-thread render; the yuv420p conversion equals its numpy stand-in and
ffmpeg's within a level or two; a movie piped as yuv420p matches the one piped as RGB; frames are counted from
the MP4 boxes as ffprobe counts them."""

from __future__ import annotations

import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from compositor.core import io, kernels, reuse, yuv
from compositor.core.cels import CelLibrary
from compositor.core.io import mp4_video_samples, read_rgb8, write_image
from compositor.core.kernels import MODES
from compositor.errors import CorruptInputError
from compositor.spec import Production, load_shot
from compositor.steps import burnin
from compositor.steps.background import ensure_background
from compositor.steps.composite import CutRenderer, render_cut, render_range
from compositor.steps.encode import MoviePlan, ffmpeg_exe, probe
from compositor.steps.layer_cache import BoundedCache
from tests.conftest import grid, premultiplied, write_grid
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


# ------------------------------------------------------------------------------------------------------------
# What frames share, composited once (core/reuse.py, steps/layer_cache.py): the same bits as laying each layer


def _random_drawing(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    img[..., 3][rng.random((h, w)) < 0.3] = 0
    img[..., 3][rng.random((h, w)) < 0.3] = 255
    return img


def _bits(frame: np.ndarray) -> np.ndarray:
    return frame.view(np.uint32)  # -0.0 and 0.0, or any last bit, tell apart


@pytest.mark.skipif(not reuse.HAVE_REUSE, reason="groups need numba")
@pytest.mark.parametrize("build_rows", [64, 3])  # groups built a few rows at a time too
def test_a_group_lays_the_bits_its_layers_lay(monkeypatch, build_rows):
    monkeypatch.setattr(reuse, "BUILD_ROWS", build_rows)
    rng = np.random.default_rng(21)
    modes = list(MODES)
    for trial in range(150):
        h, w = (int(v) for v in rng.integers(4, 30, 2))
        frame = rng.random((h, w, 4)).astype(np.float32)
        frame[..., :3] *= frame[..., 3:]
        members = []
        for _ in range(int(rng.integers(1, 5))):
            mh, mw = (int(v) for v in rng.integers(1, 20, 2))
            pixels = _random_drawing(rng, mh, mw)
            if rng.random() < 0.3:  # a scaled or blurred drawing is kept as float
                pixels = kernels.premultiply_rgba8(pixels)
            members.append(reuse.Member(pixels, int(rng.integers(-8, 25)), int(rng.integers(-8, 25)),
                                        modes[int(rng.integers(0, 4))], float(rng.choice([1.0, 0.6, 0.0]))))
        x, y = (int(v) for v in rng.integers(-12, 12, 2))
        expected = frame.copy()
        for m in members:
            kernels.blend_region(expected, x + m.x, y + m.y, m.pixels, m.mode, m.opacity)
        got = frame.copy()
        reuse.build_group(members).lay(got, x, y)
        assert np.array_equal(_bits(got), _bits(expected)), trial
        if members[0].pixels.dtype == np.uint8 and members[0].mode != "add":
            m = members[0]
            got, expected = frame.copy(), frame.copy()
            kernels.blend_region(expected, x, y, m.pixels, m.mode, m.opacity)
            reuse.find_runs(m.pixels, m.opacity).lay(got, x, y, m.pixels, m.mode)
            assert np.array_equal(_bits(got), _bits(expected)), trial


@pytest.mark.skipif(not reuse.HAVE_REUSE, reason="groups need numba")
def test_a_group_decides_opaque_pixels_and_replays_soft_ones():
    reuse.warm_up()  # what bench/speed.py calls before it times the composite
    under = reuse.Member(grid("RRh.\nRRh."), 0, 0, "over", 1.0)
    above = reuse.Member(grid("hGh\nhhh"), 1, 0, "over", 1.0)
    group = reuse.build_group([under, above])
    # row 0: R, R under h, h under G: decided; h alone: replayed. Row 1: R, R under h: decided; h under h (two
    # blends), h alone (one): replayed
    assert group.row_ptr.tolist() == [0, 2, 4]
    assert group.span_x0.tolist() == [0, 3, 0, 2] and group.span_x1.tolist() == [3, 4, 2, 4]
    assert group.span_kind.tolist() == [reuse.SET, reuse.REPLAY, reuse.SET, reuse.REPLAY]
    assert group.set_val.shape[0] == 5 and group.rep_start.tolist() == [0, 1, 3, 4]
    assert np.array_equal(group.set_val[0], premultiplied("R")[0, 0])
    assert np.array_equal(group.set_val[2], premultiplied("G")[0, 0])
    assert reuse.run_kinds(1.0)[[0, 1, 128, 254, 255]].tolist() == [0, 2, 2, 2, 1]
    assert set(reuse.run_kinds(0.5)[1:].tolist()) == {2}  # at half opacity nothing is opaque


def test_bounded_cache_stays_bounded_and_makes_once():
    cache = BoundedCache(entries=3, nbytes=100, size=len)
    made = []
    for i in range(10):
        assert cache.get(i, lambda i=i: made.append(i) or b"x" * 10) == b"x" * 10
        assert cache.get(i, lambda: pytest.fail("made twice while kept")) == b"x" * 10
        assert len(cache) <= 3
    assert made == list(range(10)) and cache.reused == 10
    cache.get("big", lambda: b"y" * 90)
    cache.get("bigger", lambda: b"z" * 95)
    assert len(cache) == 1  # over the byte limit: only the newest is kept
    with pytest.raises(ZeroDivisionError):
        cache.get("broken", lambda: 1 / 0)
    assert cache.get("broken", lambda: b"ok") == b"ok"  # a failed make is not kept


REUSE_CUT = """
[shot]
frames = 9

[background]
source = "plate"
plate = "plates/bg.png"
canvas = [80, 16]

[camera]
keys = [ { frame = 1, x = 12, y = 8 }, { frame = 4, x = 12, y = 8 }, { frame = 9, x = 62, y = 8 } ]
{camera}

[[layers]]
name = "held"
cels = "cels/A"
timing = "1 . 2 . . . . 1 ."
parallax = 0
position = [2, 3]

[[layers]]
name = "pair"
cels = "cels/P"
timing = "1@9"
parallax = 0
position = [4, 5]

[[layers]]
name = "blurred"
cels = "cels/P"
timing = "1@9"
parallax = 0
position = [12, 2]
blur = 1.0
opacity = 0.8

[[layers]]
name = "ones"
cels = "cels/O"
timing = "1 . . 2 . . 3 . ."
position = [16, 6]
parallax = 0.5
blend = "multiply"
{ones}

[[layers]]
name = "book"
cels = "cels/K"
timing = "1@9"
parallax = 1.3
position = [-2, 10]
"""


def _reuse_cut(production_factory, camera: str = "", ones: str = "", effects: str = ""):
    text = REUSE_CUT.replace("{camera}", camera).replace("{ones}", ones) + effects
    root = production_factory({"sc010_c010": text}, size=(24, 16))
    folder = root / "shots/sc010_c010"
    (folder / "plates").mkdir(parents=True)
    rng = np.random.default_rng(4)
    cv2.imwrite(str(folder / "plates/bg.png"), cv2.GaussianBlur(rng.integers(0, 256, (16, 80, 3), dtype=np.uint8), (0, 0), 1))
    write_grid(folder / "cels/A/A_0001.png", "RRRh\nRKKh\nhhh.")
    write_grid(folder / "cels/A/A_0002.png", "GGGh\nGWWh\nhhh.")  # the drawing changes on frame 3
    write_grid(folder / "cels/P/P_0001.png", "hBBBB\nhBYYB\n.hhhh")  # over the held drawing, partly
    write_grid(folder / "cels/O/O_0001.png", "YY\nYh")
    write_grid(folder / "cels/O/O_0002.png", "Bh\nhB")
    write_grid(folder / "cels/O/O_0003.png", "hW\nWW")
    write_grid(folder / "cels/K/K_0001.png", "K" * 60 + "\n" + "hG" * 30)
    shot = load_shot(Production(root), "sc010_c010")
    ensure_background(shot)
    return shot


def _frames_with(shot, order, enabled=True, hold=None, threads=1, long_hold=None):
    renderer = CutRenderer(shot)
    renderer.reuse.enabled = enabled
    if hold is not None:
        renderer.reuse.HOLD = renderer.reuse.GROUP_HOLD = hold
    if long_hold is not None:
        renderer.reuse.LONG_HOLD = long_hold
    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            frames = dict(zip(order, pool.map(lambda i: renderer.make_frame(i, write=False), order)))
    else:
        frames = {i: renderer.make_frame(i, write=False) for i in order}
    return [frames[i] for i in range(shot.frames)], renderer.reuse


@pytest.mark.skipif(not reuse.HAVE_REUSE, reason="groups need numba")
def test_reused_layers_and_frames_make_the_same_frames(production_factory):
    shot = _reuse_cut(production_factory)
    order = list(range(shot.frames))
    plain, _ = _frames_with(shot, order, enabled=False)
    renderer = CutRenderer(shot)
    for index in order:  # the reference: compose (held equal to the plain float path elsewhere)
        canvas = renderer.backdrop.canvas(index)
        assert np.array_equal(plain[index], io.to_uint8_rgb(renderer.compose(index, canvas))), index
        assert renderer.fused_rgb(index, canvas) is not None, index  # whole-pixel pans: every frame fused
    assert not np.array_equal(plain[1], plain[2])  # the held drawing changed: a stale group would show
    assert np.array_equal(plain[0], plain[1])  # camera, drawings, everything the same: one frame made twice
    cases = [(None, None, 1, False), (2, None, 1, False), (2, 10**6, 1, False), (2, 10**6, 1, True), (2, None, 3, True)]
    for hold, long_hold, threads, shuffled in cases:
        run = list(reversed(order)) if shuffled else order
        frames, kept = _frames_with(shot, run, hold=hold, threads=threads, long_hold=long_hold)
        for index in order:
            assert np.array_equal(frames[index], plain[index]), (hold, long_hold, threads, shuffled, index)
        if long_hold is None:  # the BOOK, held for the cut, as a group of its own: made once, laid on every frame
            assert kept.groups.made >= 1 and kept.groups.reused >= 1
        else:  # its runs found once, laid on the panning frames
            assert kept.runs.made >= 1 and kept.runs.reused >= 1
        if hold == 2:
            # held + pair (+ the blurred float drawing) as one group on frames 1-2 and again on 8-9; another
            # for frames 3-7, where the held drawing is another
            assert kept.groups.made >= 2 and kept.groups.reused >= 2, (kept.groups.made, kept.groups.reused)
            assert kept.runs.made >= 2  # each drawing of "ones" held while it pans
        if threads == 1:
            assert kept.frames.made >= 1 and kept.frames.reused >= 1  # frames 1 and 2
        assert len(kept.groups) <= kept.groups.entries
    # a render writes the same files, each with its own key, frames 1 and 2 (one key) made once
    assert render_range(shot, order, threads=2) == order
    for index in order:
        assert np.array_equal(read_rgb8(shot.paths.comp_frame(shot.start + index)), plain[index]), index
    assert io.read_png_key(shot.paths.comp_frame(shot.start)) == renderer.frame_key(0)


@pytest.mark.skipif(not reuse.HAVE_REUSE, reason="groups need numba")
@pytest.mark.parametrize("work", ["motion blur", "vignette"])
def test_camera_work_and_effects_bypass_the_layer_reuse(production_factory, work):
    """A motion-blurred layer sends the frames where it moves down the full path (the others still reuse their
    layers); an effect, every frame. Frames keyed alike (camera still, drawings held) are still made once."""
    if work == "motion blur":
        shot = _reuse_cut(production_factory, camera="[camera.motion_blur]\nshutter = 180\n", ones="motion_blur = true")
    else:
        shot = _reuse_cut(production_factory, effects='\n[[effects]]\ntype = "vignette"\nstrength = 0.8\n')
    order = list(range(shot.frames))
    plain, _ = _frames_with(shot, order, enabled=False)
    frames, kept = _frames_with(shot, order, hold=2)
    renderer = CutRenderer(shot)
    fused = 0
    for index in order:
        canvas = renderer.backdrop.canvas(index)
        assert np.array_equal(frames[index], plain[index]), index
        assert np.array_equal(plain[index], io.to_uint8_rgb(renderer.compose(index, canvas))), index
        fused += renderer.fused_rgb(index, canvas) is not None
    if work == "motion blur":
        assert 0 < fused < shot.frames  # still on frames 1-4, blurred while the camera pans
        assert kept.groups.made >= 1
    else:
        assert fused == 0 and kept.groups.made == 0 and kept.runs.made == 0
    assert kept.frames.made >= 1 and kept.frames.reused >= 1  # frames 1 and 2: the same key
    assert renderer.frame_key(0) == renderer.frame_key(1) != renderer.frame_key(2)


def test_a_waiting_thread_decodes_the_drawings_coming_up(production_factory):
    """While another thread decodes a drawing both need, a thread decodes what the next frames show (in frame
    order, each drawing once) instead of waiting idle; a drawing that does not decode is left to the frame that
    shows it, which says so."""
    shot = _reuse_cut(production_factory)
    (shot.folder / "cels/O/O_0002.png").write_bytes(b"\x89PNG\r\n\x1a\n not a drawing")
    renderer = CutRenderer(shot)
    held, ones = renderer.layers[0][2], renderer.layers[3][2]
    busy = held._loading.setdefault(1, threading.Lock())  # as while another thread decodes drawing 1
    busy.acquire()
    ahead: list[bool] = []

    def meanwhile() -> bool:
        ahead.append(renderer.decode_ahead(0))
        return ahead[-1]

    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(held.piece, 1, meanwhile)
        deadline = time.monotonic() + 30
        while (not ahead or ahead[-1]) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not waiting.done()  # it waits for drawing 1 once nothing is left to decode
        busy.release()
        piece = waiting.result(timeout=30)
    # frames 1-5: held 2, pair 1, blurred 1, ones 1 and 2 (corrupt), book 1; then nothing
    assert ahead == [True] * 6 + [False]
    assert np.array_equal(piece.pixels, CelLibrary(shot, 0).piece(1).pixels)
    assert held.decodes == 2 and ones.decodes == 1  # ones 3 is shown from frame 7 only
    assert renderer.decode_ahead(0) is False  # each drawing once
    with pytest.raises(CorruptInputError, match=r"O_0002.png: cannot decode drawing 2 of layer .ones."):
        ones.piece(2)


def test_a_resumed_render_decodes_ahead_only_for_the_frames_it_makes(production_factory):
    shot = _reuse_cut(production_factory)
    order = list(range(shot.frames))
    assert render_range(shot, order, threads=1) == order
    renderer = CutRenderer(shot)
    renderer.render(order, fresh=frozenset(order[1:]))  # frames 2-9 are on disk from the same keys
    assert renderer.decode_ahead(0) is False  # held drawing 2 and ones 2 show on frames 3-5, which it keeps
    assert CutRenderer(shot).decode_ahead(0) is True  # a renderer that may make them decodes ahead for them


def test_decoding_ahead_leaves_the_drawings_a_frame_lays_whole(production_factory):
    """A drawing the coming frames lay whole (motion-blurred there: ``library.get``) is not decoded ahead as a
    covered piece: no frame used that piece, and the drawing was decoded a second time."""
    shot = _reuse_cut(production_factory, camera="[camera.motion_blur]\nshutter = 180\n", ones="motion_blur = true")
    renderer = CutRenderer(shot)
    ones = renderer.layers[3][2]
    while renderer.decode_ahead(4):  # frames 5-9: "ones" shows drawings 2 and 3, motion-blurred (it pans)
        pass
    assert not ones._pieces
    renderer.render(list(range(shot.frames)), threads=1)
    assert ones.decodes == 3  # drawing 1 as a piece (frames 1-3, the camera still), 2 and 3 whole
