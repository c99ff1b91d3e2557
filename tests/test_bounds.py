"""Bounds: every number in a spec is finite and in its range, shorthand and images are measured before they are
expanded or decoded, a cut's memory is estimated before it renders. Whatever a user writes is either one
``error:`` line naming the file and the key (exit status 1, no traceback) or renders."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import compositor
from compositor.core.cels import MAX_PREPARED_PIXELS, prepare_cel
from compositor.core.io import MAX_IMAGE_EDGE, MAX_IMAGE_PIXELS, image_size, read_image
from compositor.errors import CorruptInputError, SpecError
from compositor.spec import Layer, ShotSpec, TemporalSettings, parse_model
from compositor.spec.loading import CANVASES_STEADIED, peak_memory
from tests.conftest import write_grid

SHOT = "shots/sc010_c010/shot.toml"

GOOD = """
[shot]
frames = 4
fps = 24
start = 1
[background]
source = "procedural"
style = "dusk"
seed = 7
[camera]
keys = [ { frame = 1, x = 16, y = 12, zoom = 1.0, rotation = 0.0 } ]
[[layers]]
name = "A"
cels = "cels/A"
timing = "1 . 2 x"
position = [0.0, 0.0]
motion = [ { frame = 1, x = 0.0, y = 0.0 } ]
scale = 1.0
parallax = 1.0
blur = 0.0
[[effects]]
type = "glow"
strength = 0.5
radius = 24.0
threshold = 0.7
tint = [1.0, 1.0, 1.0]
seed = 0
"""


def _root(production_factory, text: str = GOOD, **kw) -> Path:
    root = production_factory({"sc010_c010": text}, **kw)
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "R.\n.R")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "G.\n.G")
    return root


def _edited(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "compositor", *(args or ("validate",))],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _one_error(run: subprocess.CompletedProcess) -> str:
    """The one problem the command reported: exit status 1, one ``error:`` line, nothing else, no traceback."""
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0].removeprefix("error: ")


def test_the_good_spec_validates(production_factory):
    run = _cli(_root(production_factory))
    assert run.returncode == 0, run.stderr


# ------------------------------------------------------------------------------------------------------------
# 1. Every float is finite. `validate` reports every problem at once, so each test writes many and expects one
# line for each, naming its file and key.

NON_FINITE_SHOT = [
    ("fps = 24", "fps = inf", "shot.fps"),
    ("x = 16", "x = nan", "camera.keys[0].x"),
    ("zoom = 1.0", "zoom = inf", "camera.keys[0].zoom"),
    ("rotation = 0.0", "rotation = -inf", "camera.keys[0].rotation"),
    ("position = [0.0, 0.0]", "position = [nan, 0.0]", "layers[0].position[0]"),
    ("{ frame = 1, x = 0.0", "{ frame = 1, x = inf", "layers[0].motion[0].x"),
    ("scale = 1.0", "scale = nan", "layers[0].scale"),
    ("parallax = 1.0", "parallax = -inf", "layers[0].parallax"),
    ("blur = 0.0", "blur = inf", "layers[0].blur"),
    ("strength = 0.5", "strength = nan", "effects[0].strength"),
    ("radius = 24.0", "radius = inf", "effects[0].radius"),
    ("threshold = 0.7", "threshold = nan", "effects[0].threshold"),
    ("tint = [1.0, 1.0, 1.0]", "tint = [1.0, nan, 1.0]", "effects[0].tint[1]"),
]


def _errors(run: subprocess.CompletedProcess) -> list[str]:
    """Every problem reported: exit status 1, only ``error:`` lines, no traceback."""
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines), run.stderr
    return [line.removeprefix("error: ") for line in lines]


def test_non_finite_shot_values_are_one_line_each(production_factory):
    text = GOOD
    for old, new, _ in NON_FINITE_SHOT:
        text = _edited(text, old, new)
    text += "[temporal]\nstrength = nan\nlowpass = -inf\n"
    keys = [key for _, _, key in NON_FINITE_SHOT] + ["temporal.strength", "temporal.lowpass"]
    assert sorted(_errors(_cli(_root(production_factory, text)))) == sorted(
        f"{SHOT}: {key}: Input should be a finite number" for key in keys
    )


def test_non_finite_values_in_the_edit_styles_and_presets_are_one_line_each(production_factory):
    root = _root(production_factory, edit_extra="[limits]\nmemory_gb = inf\n")
    for path, old, new in [
        ("shots/edit.toml", "fps = 24", "fps = inf"),
        ("shots/edit.toml", "slate = 0", "slate = nan"),
        ("templates/styles/dusk.toml", "horizon = 0.7", "horizon = nan"),
        ("templates/encode/screening.toml", "crf = 18", "crf = nan"),
    ]:
        (root / path).write_text(_edited((root / path).read_text(), old, new))
    assert sorted(_errors(_cli(root))) == sorted([
        "shots/edit.toml: edit.fps: Input should be a finite number",
        "shots/edit.toml: edit.slate: Input should be a finite number",
        "shots/edit.toml: limits.memory_gb: Input should be a finite number",
        "templates/encode/screening.toml: crf: Input should be a finite number",
        "templates/styles/dusk.toml: procedural.horizon: Input should be a finite number",
    ])


def test_non_finite_settings_of_the_temporal_pass_are_refused(production_factory):
    root = _root(production_factory)
    run = _cli(root, "deflicker", "--input", "in/%04d.png", "--guide", "g/%04d.png", "--output", "out", "--detail", "nan")
    assert run.returncode == 2 and "Traceback" not in run.stderr and "--detail" in run.stderr  # bad usage
    with pytest.raises(SpecError) as e:
        TemporalSettings(strength=float("nan"), lowpass=float("inf"))
    assert str(e.value).splitlines() == [
        "temporal settings: temporal.strength: Input should be a finite number",
        "temporal settings: temporal.lowpass: Input should be a finite number",
    ]


# ------------------------------------------------------------------------------------------------------------
# 2. Every number has a range: two cuts, one past the top of each range and one under the bottom

OVER_THE_TOP = [
    ("frames = 4", "frames = 100001", "shot.frames", "less than or equal to 100000"),
    ("fps = 24", "fps = 1001", "shot.fps", "less than or equal to 1000"),
    ("start = 1", "start = 1000001", "shot.start", "less than or equal to 1000000"),
    ("[background]", "size = [32, 16385]\n[background]", "shot.size[1]", "less than or equal to 16384"),
    ("seed = 7", "seed = 7\ncanvas = [16385, 24]", "background.canvas[0]", "less than or equal to 16384"),
    ('style = "dusk"', 'style = "dusk"\nsteps = 1001', "background.steps", "less than or equal to 1000"),
    ("{ frame = 1, x = 16", "{ frame = 1100001, x = 16", "camera.keys[0].frame", "less than or equal to 1100000"),
    ("x = 16", "x = 1000001", "camera.keys[0].x", "less than or equal to 1000000"),
    ("zoom = 1.0", "zoom = 101", "camera.keys[0].zoom", "less than or equal to 100"),
    ("rotation = 0.0", "rotation = 36001", "camera.keys[0].rotation", "less than or equal to 36000"),
    ("position = [0.0, 0.0]", "position = [0.0, 1e7]", "layers[0].position[1]", "less than or equal to 1000000"),
    ("{ frame = 1, x = 0.0", "{ frame = 1, x = 1e7", "layers[0].motion[0].x", "less than or equal to 1000000"),
    ("scale = 1.0", "scale = 101", "layers[0].scale", "less than or equal to 100"),
    ("parallax = 1.0", "parallax = 11", "layers[0].parallax", "less than or equal to 10"),
    ("blur = 0.0", "blur = 501", "layers[0].blur", "less than or equal to 500"),
    ("strength = 0.5", "strength = 11", "effects[0].strength", "less than or equal to 10"),
    ("radius = 24.0", "radius = 2001", "effects[0].radius", "less than or equal to 2000"),
    ("threshold = 0.7", "threshold = 1.5", "effects[0].threshold", "less than or equal to 1"),
    ("tint = [1.0, 1.0, 1.0]", "tint = [1.0, 1.0, 10.5]", "effects[0].tint[2]", "less than or equal to 10"),
]
UNDER_THE_BOTTOM = [
    ("frames = 4", "frames = 0", "shot.frames", "greater than or equal to 1"),
    ("fps = 24", "fps = 0", "shot.fps", "greater than 0"),
    ("start = 1", "start = -1000001", "shot.start", "greater than or equal to -1000000"),
    ("seed = 7", "seed = -1", "background.seed", "greater than or equal to 0"),
    ("x = 16", "x = -1e7", "camera.keys[0].x", "greater than or equal to -1000000"),
    ("zoom = 1.0", "zoom = 0.001", "camera.keys[0].zoom", "greater than or equal to 0.01"),
    ("rotation = 0.0", "rotation = -36001", "camera.keys[0].rotation", "greater than or equal to -36000"),
    ("scale = 1.0", "scale = 0", "layers[0].scale", "greater than 0"),
    ("parallax = 1.0", "parallax = -11", "layers[0].parallax", "greater than or equal to -10"),
    ("blur = 0.0", "blur = -1", "layers[0].blur", "greater than or equal to 0"),
    ("radius = 24.0", "radius = 0", "effects[0].radius", "greater than 0"),
    ("tint = [1.0, 1.0, 1.0]", "tint = [-1, 1.0, 1.0]", "effects[0].tint[0]", "greater than or equal to 0"),
    ("seed = 0", "seed = -5", "effects[0].seed", "greater than or equal to 0"),
]


def test_out_of_range_shot_values_are_one_line_each(production_factory):
    texts = {}
    for cut, cases in (("sc010_c010", OVER_THE_TOP), ("sc010_c020", UNDER_THE_BOTTOM)):
        text = GOOD
        for old, new, _, _ in cases:
            text = _edited(text, old, new)
        texts[cut] = text
    root = production_factory(texts)
    expected = [
        f"shots/{cut}/shot.toml: {key}: Input should be {message}"
        for cut, cases in (("sc010_c010", OVER_THE_TOP), ("sc010_c020", UNDER_THE_BOTTOM))
        for _, _, key, message in cases
    ]
    assert sorted(_errors(_cli(root))) == sorted(expected)


def test_out_of_range_values_in_the_edit_and_presets_are_one_line_each(production_factory):
    root = _root(production_factory, edit_extra="[limits]\nmemory_gb = 4097\n")
    for path, old, new in [
        ("shots/edit.toml", "fps = 24", "fps = 1e6"),
        ("shots/edit.toml", "size = [32, 24]", "size = [0, 24]"),
        ("shots/edit.toml", "slate = 0", "slate = 601"),
        ("templates/encode/screening.toml", "gop = 24", "gop = 100001"),
    ]:
        (root / path).write_text(_edited((root / path).read_text(), old, new))
    assert sorted(_errors(_cli(root))) == sorted([
        "shots/edit.toml: edit.fps: Input should be less than or equal to 1000",
        "shots/edit.toml: edit.size[0]: Input should be greater than or equal to 1",
        "shots/edit.toml: edit.slate: Input should be less than or equal to 600",
        "shots/edit.toml: limits.memory_gb: Input should be less than or equal to 4096",
        "templates/encode/screening.toml: gop: Input should be less than or equal to 100000",
    ])


def test_a_cut_too_long_is_refused_before_its_timing_is_read(production_factory):
    text = _edited(_edited(GOOD, "frames = 4", "frames = 1000000000"), '"1 . 2 x"', '"1@1000000000"')
    root = _root(production_factory, text)
    assert _one_error(_cli(root)) == f"{SHOT}: shot.frames: Input should be less than or equal to 100000"


# ------------------------------------------------------------------------------------------------------------
# 3. Timesheet shorthand is measured against the cut before it is expanded

TOO_LONG = [
    ("1@999999999", "'1@999999999' makes 999999999 frames, but the cut is 4"),
    ("(1 2)*99999999999", "'(1 2)*99999999999' makes 199999999998 frames, but the cut is 4"),
    ("1-300000000", "'1-300000000' makes 300000000 frames, but the cut is 4"),
    ("x@10000000000", "'x@10000000000' makes 10000000000 frames, but the cut is 4"),
    ("(1 (2 x)*99999999)*3", "'(2 x)*99999999' makes 199999998 frames, but the cut is 4"),
    (" ".join(["1@4"] * 20000), "80000 frames, but the cut is 4"),  # each token fits: measured, not expanded
]


def test_shorthand_longer_than_the_cut_is_one_line_each(production_factory):
    layers = "".join(
        f'[[layers]]\nname = "L{i}"\ncels = "cels/A"\ntiming = "{timing}"\n' for i, (timing, _) in enumerate(TOO_LONG)
    )
    root = _root(production_factory, GOOD + layers)
    assert _errors(_cli(root)) == [f"{SHOT}: layers[{i + 1}].timing: {message}" for i, (_, message) in enumerate(TOO_LONG)]


# ------------------------------------------------------------------------------------------------------------
# 4. Image headers are checked against the pixel budget before decoding


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` RGBA pixels, followed by a few bytes of image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


OVER_BUDGET = f"the header claims 60000x60000 pixels, over the budget of {MAX_IMAGE_EDGE} px a side and {MAX_IMAGE_PIXELS} pixels"


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_drawing_whose_header_claims_too_many_pixels_is_one_line_error(production_factory, command):
    root = _root(production_factory)
    _png_claiming(root / "shots/sc010_c010/cels/A/A_0002.png", 60000, 60000)
    args = ("render", "sc010_c010") if command == "render" else ("validate",)
    assert _one_error(_cli(root, *args)) == (
        f"shots/sc010_c010/cels/A/A_0002.png: cannot decode drawing 2 of layer 'A' ({OVER_BUDGET})"
    )


def test_a_plate_whose_header_claims_too_many_pixels_is_one_line_error(production_factory):
    text = _edited(GOOD, 'source = "procedural"', 'source = "plate"\nplate = "plates/bg.png"')
    root = _root(production_factory, text)
    _png_claiming(root / "shots/sc010_c010/plates/bg.png", 60000, 60000)
    line = _one_error(_cli(root, "bg", "sc010_c010"))
    assert line == f"{SHOT}: background.plate: cannot decode shots/sc010_c010/plates/bg.png ({OVER_BUDGET})"


def test_headers_are_read_without_decoding(tmp_path):
    assert image_size(_png_claiming(tmp_path / "fine.png", 16384, 16384)) == (16384, 16384)
    with pytest.raises(CorruptInputError, match=r"wide.png: the header claims 16385x1 pixels"):
        image_size(_png_claiming(tmp_path / "wide.png", 16385, 1))
    with pytest.raises(CorruptInputError, match=r"huge.png: the header claims 60000x60000 pixels") as e:
        read_image(_png_claiming(tmp_path / "huge.png", 60000, 60000))
    assert e.value.reason == OVER_BUDGET


def test_an_opencv_error_while_decoding_is_one_line_error(production_factory):
    """OpenCV's own pixel limit (an assertion: a cv2.error) set below every image's size stands in for any
    OpenCV error while decoding: the first image a render decodes is its background canvas."""
    root = _root(production_factory)
    env = {**os.environ, "OPENCV_IO_MAX_IMAGE_PIXELS": "2"}
    line = _one_error(_cli(root, "render", "sc010_c010", env=env))
    canvas = root.resolve() / "render/sc010_c010/bg/bg.0001.png"
    assert line == f"{canvas}: cannot decode the image (OpenCV: pixels <= CV_IO_MAX_IMAGE_PIXELS)"
    script = (
        "import compositor\n"
        "from compositor.core.cels import CelLibrary\n"
        "shot = compositor.cut(compositor.load('.'), 'sc010_c010')\n"
        "try:\n    CelLibrary(shot, 0).piece(1)\n"
        "except compositor.errors.CorruptInputError as e:\n    print(e)\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, env=env, timeout=300)
    assert run.stdout.strip() == (
        "shots/sc010_c010/cels/A/A_0001.png: cannot decode drawing 1 of layer 'A' "
        "(OpenCV: pixels <= CV_IO_MAX_IMAGE_PIXELS)"
    ), run.stderr


# ------------------------------------------------------------------------------------------------------------
# 5. A cut's memory is estimated when it loads


def test_a_canvas_over_the_memory_budget_is_refused_with_the_figure(production_factory):
    root = _root(production_factory, _edited(GOOD, "seed = 7", "seed = 7\ncanvas = [16000, 16000]"))
    need = peak_memory((32, 24), (16000, 16000), moving=False, steadied=False) / 2**30
    assert _one_error(_cli(root)) == (
        f"{SHOT}: background.canvas: a 16000x16000 canvas (with 32x24 frames) needs about {need:.1f} GB to render, "
        "over the memory budget of 4 GB (make the canvas or the frame smaller, or raise [limits] memory_gb in "
        "shots/edit.toml)"
    )
    assert 11 < need < 12


def test_the_memory_budget_is_raised_in_edit_toml(production_factory):
    text = _edited(GOOD, "seed = 7", "seed = 7\ncanvas = [16000, 16000]")
    root = _root(production_factory, text, edit_extra="[limits]\nmemory_gb = 16\n")
    run = _cli(root)
    assert run.returncode == 0, run.stderr


def test_a_steadied_moving_background_counts_the_temporal_pass(production_factory):
    text = _edited(GOOD, "seed = 7", "seed = 7\nanimate = true\ncanvas = [4096, 4200]") + '[temporal]\nmethod = "flow"\n'
    need = peak_memory((32, 24), (4096, 4200), moving=True, steadied=True) / 2**30
    assert _one_error(_cli(_root(production_factory, text))).startswith(
        f"{SHOT}: background.canvas: a 4096x4200 canvas (steadied by the temporal pass, with 32x24 frames) "
        f"needs about {need:.1f} GB to render, over the memory budget of 4 GB"
    )
    # the same canvas, still: one canvas painted, then shared by the threads
    still = _edited(GOOD, "seed = 7", "seed = 7\ncanvas = [4096, 4200]")
    assert _cli(_root(production_factory, still)).returncode == 0


def test_peak_memory_grows_with_threads_of_frames_and_moving_canvases():
    still = peak_memory((1920, 1080), (3840, 1080), moving=False, steadied=False)
    moving = peak_memory((1920, 1080), (3840, 1080), moving=True, steadied=False)
    steadied = peak_memory((1920, 1080), (3840, 1080), moving=True, steadied=True)
    assert still < moving < steadied
    assert steadied == round(3840 * 1080 * 16 * CANVASES_STEADIED)


# ------------------------------------------------------------------------------------------------------------
# 6. The top of every range renders (tiny frames), without an overflow or an OpenCV error

TOPS = """
[shot]
frames = 3
start = {start}
[background]
seed = {seed}
canvas = [40, 30]
[camera]
keys = [ {{ frame = {f1}, x = {x1}, y = {y1}, zoom = {z1}, rotation = {r1} }},
         {{ frame = {f2}, x = {x2}, y = {y2}, zoom = {z2}, rotation = {r2}, ease = "in-out" }} ]
[[layers]]
name = "A"
cels = "cels/A"
timing = "1 2 1"
position = [{px}, {py}]
scale = {scale}
parallax = {parallax}
blur = {blur}
blend = "{blend}"
motion = [ {{ frame = {f1}, x = {mx}, y = {my} }}, {{ frame = {f2}, x = {my}, y = {mx} }} ]
[[effects]]
type = "glow"
strength = {strength}
radius = {radius}
threshold = {threshold}
tint = [{tint}, {tint}, {tint}]
[[effects]]
type = "vignette"
strength = {strength}
[[effects]]
type = "grain"
strength = {strength}
seed = {fx_seed}
[[effects]]
type = "grade"
strength = {strength}
tint = [{tint}, 0, {tint}]
"""
MIDDLE = dict(start=1, seed=0, f1=1, f2=3, x1=20, y1=15, z1=1, r1=0, x2=20, y2=15, z2=1, r2=0, px=8, py=6, scale=1,
              parallax=1, blur=0, blend="over", mx=8, my=6, strength=0.5, radius=24, threshold=0.7, tint=1, fx_seed=0)


@pytest.mark.parametrize(
    "extremes",
    [
        dict(z1=100, z2=0.01, parallax=10),
        dict(z1=0.01, z2=100, parallax=-10, r1=-36000, r2=36000),
        dict(x1=1e6, y1=-1e6, x2=-1e6, y2=1e6, px=1e6, py=-1e6, mx=-1e6, my=1e6, z1=100, z2=0.01),
        dict(start=1000000, f1=1000000, f2=1000002),
        dict(start=-1000000, f1=-1000000, f2=-999998, seed=2**63 - 1, fx_seed=2**63 - 1),
        dict(strength=10, radius=2000, threshold=1, tint=10),
        dict(strength=10, radius=2000, threshold=0, tint=10, blend="add"),
        dict(scale=100, blur=500, blend="multiply"),
        dict(scale=1e-9, blur=500, blend="screen"),
    ],
    ids=["zoom-parallax", "zoom-parallax-rotation", "coordinates", "start-top", "start-bottom-seeds", "effects",
         "effects-threshold-0", "scale-blur", "scale-tiny"],
)
def test_the_top_of_every_range_renders(production_factory, extremes):
    root = production_factory({"sc010_c010": TOPS.format(**{**MIDDLE, **extremes})})
    write_grid(root / "shots/sc010_c010/cels/A/A_0001.png", "RG\nBW")
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "h.\n.Y")
    shot = compositor.cut(compositor.load(root), "sc010_c010")
    for frame in compositor.render_frames(shot):
        assert frame.shape == (24, 32, 4)
        assert np.isfinite(frame).all() and frame.min() >= 0 and frame.max() <= 1


def test_wide_blur_is_the_exact_blur_below_its_span_and_close_above():
    from compositor.core import ops

    rng = np.random.default_rng(1)
    img = np.zeros((300, 260, 4), np.float32)
    img[100:200, 90:170] = rng.random((100, 80, 4), dtype=np.float32)
    np.testing.assert_array_equal(ops.wide_blur(img, 12), ops.gaussian_blur(img, 12))
    for radius in (16, 40):
        assert np.abs(ops.wide_blur(img, radius) - ops.gaussian_blur(img, radius)).max() < 1 / 255


def test_a_drawing_too_large_once_scaled_is_refused_by_key(production_factory):
    root = _root(production_factory, _edited(GOOD, "scale = 1.0", "scale = 100"))
    write_grid(root / "shots/sc010_c010/cels/A/A_0002.png", "\n".join(["G" * 90] * 90))
    assert _one_error(_cli(root)) == (
        f"{SHOT}: layers[0].scale: drawing 2: 90x90 px at scale 100 with blur 0 would be 9000x9000 px, "
        f"over the {MAX_PREPARED_PIXELS} pixels a prepared drawing may have"
    )
    layer = parse_model(ShotSpec, {"shot": {"frames": 1}, "layers": [{"name": "A", "cels": "c", "timing": "1",
                                                                         "scale": 100}]}, "t").layers[0]
    assert isinstance(layer, Layer)
    with pytest.raises(SpecError, match=r"layer 'A': scale: 90x90 px at scale 100"):
        prepare_cel(np.zeros((90, 90, 4), np.float32), layer)
