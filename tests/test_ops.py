"""compositor.core.ops against published references (flrs/blend_modes, OpenImageIO) and its own algebra."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from compositor.core import ops

DATA = Path(__file__).parent / "data"
LEVEL = 1 / 255


# ------------------------------------------------------------------------------------------------------------
# Helpers


def random_frame(rng: np.random.Generator, height: int, width: int, opaque: bool = False) -> np.ndarray:
    """A valid premultiplied frame (colour <= alpha) with a good share of exact 0 and 1 alphas."""
    alpha = rng.random((height, width, 1), dtype=np.float32)
    alpha[alpha < 0.15] = 0
    alpha[alpha > 0.85] = 1
    if opaque:
        alpha[:] = 1
    colour = rng.random((height, width, 3), dtype=np.float32) * alpha
    return np.concatenate([colour, alpha], axis=2)


def read_png_straight(path: Path) -> np.ndarray:
    """A blend_modes PNG as straight float RGBA (the library works on straight colour; channel order is
    irrelevant to separable modes, so BGRA is kept)."""
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).astype(np.float32) / 255


def read_exr(path: Path) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A minimal OpenEXR reader for the OIIO fixtures: single-part scanline files, uncompressed or ZIP(S).

    Returns premultiplied RGBA ``(h, w, 4)`` float32 covering the data window, and the data window
    ``(xmin, ymin, xmax, ymax)`` from the header. (The OpenCV wheel in this environment is built without
    OpenEXR.)
    """
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 0)[0] == 20000630, f"{path}: not an OpenEXR file"
    assert not struct.unpack_from("<I", data, 4)[0] & 0x1A00, f"{path}: tiled, deep or multi-part"
    pos, attrs = 8, {}
    while data[pos] != 0:
        end = data.index(b"\0", pos)
        name = data[pos:end].decode()
        pos = end + 1
        end = data.index(b"\0", pos)
        kind = data[pos:end].decode()
        pos = end + 1
        size = struct.unpack_from("<i", data, pos)[0]
        attrs[name] = (kind, data[pos + 4 : pos + 4 + size])
        pos += 4 + size
    pos += 1
    channels, raw, p = [], attrs["channels"][1], 0
    while raw[p] != 0:
        end = raw.index(b"\0", p)
        channels.append((raw[p:end].decode(), struct.unpack_from("<i", raw, end + 1)[0]))
        p = end + 1 + 16  # pixel type, pLinear + reserved, xSampling, ySampling
    window = struct.unpack("<4i", attrs["dataWindow"][1])
    x0, y0, x1, y1 = window
    width, height = x1 - x0 + 1, y1 - y0 + 1
    compression = attrs["compression"][1][0]
    lines_per_chunk = {0: 1, 2: 1, 3: 16}[compression]  # NONE, ZIPS, ZIP
    chunks = (height + lines_per_chunk - 1) // lines_per_chunk
    offsets = struct.unpack_from(f"<{chunks}Q", data, pos)
    kinds = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
    planes = {name: np.zeros((height, width), np.float32) for name, _ in channels}
    for offset in offsets:
        y, size = struct.unpack_from("<ii", data, offset)
        block = data[offset + 8 : offset + 8 + size]
        lines = min(lines_per_chunk, y1 - y + 1)
        expected = sum(kinds[t].itemsize for _, t in channels) * width * lines
        if size < expected:
            # zlib, then undo the byte predictor and the split into two interleaved halves.
            t = np.frombuffer(zlib.decompress(block), np.uint8).astype(np.int64)
            t[1:] -= 128
            t = (np.cumsum(t) & 0xFF).astype(np.uint8)
            half = (len(t) + 1) // 2
            merged = np.empty_like(t)
            merged[0::2], merged[1::2] = t[:half], t[half:]
            block = merged.tobytes()
        p = 0
        for line in range(lines):
            for name, kind in channels:
                planes[name][y - y0 + line] = np.frombuffer(block, kinds[kind], width, p)
                p += kinds[kind].itemsize * width
    rgba = np.stack([planes[c] for c in "RGBA"], axis=2)
    return rgba, window


def place(img: np.ndarray, window: tuple[int, int, int, int], union: tuple[int, int, int, int]) -> np.ndarray:
    """``img`` (covering ``window``) on a transparent canvas covering ``union``: EXR data windows aligned."""
    ux0, uy0, ux1, uy1 = union
    canvas = np.zeros((uy1 - uy0 + 1, ux1 - ux0 + 1, 4), np.float32)
    ops.blend_into(canvas, img, "over", 1.0, window[0] - ux0, window[1] - uy0)
    return canvas


# ------------------------------------------------------------------------------------------------------------
# flrs/blend_modes (tests/data/blend_modes: a 256x416 crop of its 640x640 fixtures, around the layer's edges)
#
# The library takes straight RGBA, computes in float and truncates to uint8. Its "normal" is straight-alpha
# over; its multiply and screen mix the straight blend result into the backdrop by ratio = a_s*opacity / a_out
# and keep the backdrop's alpha. Over an opaque backdrop that is exactly the W3C formula used here; over a
# transparent one the library drops the layer while W3C (and Photoshop, AE, Nuke) shows it, so there it is
# compared with over.


@pytest.fixture(scope="module")
def blend_inputs() -> tuple[np.ndarray, np.ndarray]:
    orig = read_png_straight(DATA / "blend_modes" / "orig.png")
    layer = read_png_straight(DATA / "blend_modes" / "layer.png")
    return orig, layer


@pytest.mark.parametrize(
    "reference, mode, opacity",
    [("normal_100p", "over", 1.0), ("normal_50p", "over", 0.5), ("multiply", "multiply", 0.5),
     ("screen", "screen", 0.5)],
)
def test_blend_modes_match_blend_modes_library(blend_inputs, reference, mode, opacity):
    orig, layer = blend_inputs
    expected = read_png_straight(DATA / "blend_modes" / f"{reference}.png")
    result = ops.blend(ops.premultiply(orig), ops.premultiply(layer), mode, opacity)

    if mode == "over":
        compared = np.ones(orig.shape[:2], bool)
    else:
        compared = orig[:, :, 3] == 1  # where the library's alpha convention and W3C agree
    assert compared.mean() > 0.5
    # In the library's own space: straight colour, truncated to 8 bits, within one level where alpha is not
    # tiny (below that, 8-bit straight colour is too coarse to mean anything).
    straight = np.floor(ops.unpremultiply(result) * 255) / 255
    meaningful = compared & (expected[:, :, 3] >= 0.1)
    assert np.abs(straight[:, :, 3] - expected[:, :, 3])[compared].max() <= LEVEL + 1e-6
    assert np.abs(straight[:, :, :3] - expected[:, :, :3])[meaningful].max() <= LEVEL + 1e-6
    # Premultiplied, everywhere compared: within two levels.
    assert np.abs(result - ops.premultiply(expected))[compared].max() <= 2 * LEVEL


@pytest.mark.parametrize("mode", ["multiply", "screen"])
def test_blend_over_transparent_backdrop_shows_the_source(blend_inputs, mode):
    """The deliberate difference from blend_modes: with ad = 0 the W3C formula gives the source itself."""
    orig, layer = blend_inputs
    backdrop, source = ops.premultiply(orig), ops.premultiply(layer)
    empty = (orig[:, :, 3] == 0) & (layer[:, :, 3] > 0)
    assert empty.sum() > 1000
    result = ops.blend(backdrop, source, mode, 0.5)
    np.testing.assert_allclose(result[empty], source[empty] * 0.5, atol=1e-6)


# ------------------------------------------------------------------------------------------------------------
# OpenImageIO: oiiotool a.exr --over b.exr (testsuite/oiiotool-composite); the data windows of a and b differ.


def test_over_matches_openimageio_a_over_b_exr():
    a, window_a = read_exr(DATA / "oiio_composite" / "a.exr")
    b, window_b = read_exr(DATA / "oiio_composite" / "b.exr")
    ref, window_ref = read_exr(DATA / "oiio_composite" / "a_over_b.exr")
    assert window_a == (3, -41, 284, 296) and window_b == (19, -34, 281, 356)
    union = (min(window_a[0], window_b[0]), min(window_a[1], window_b[1]),
             max(window_a[2], window_b[2]), max(window_a[3], window_b[3]))
    assert union == window_ref  # OIIO's result covers the union of the inputs' data windows
    a_aligned, b_aligned = place(a, window_a, union), place(b, window_b, union)
    result = ops.over(b_aligned, a_aligned)
    assert a[:, :, 0].max() > 1  # HDR values pass through unclipped
    np.testing.assert_array_equal(result, ref)
    # The alignment matters: ignoring the data windows does not reproduce the reference.
    shifted = ops.over(place(b, (window_a[0], window_a[1], window_a[0] + b.shape[1] - 1,
                                 window_a[1] + b.shape[0] - 1), union), a_aligned)
    assert np.abs(shifted - ref).max() > 0.05


# ------------------------------------------------------------------------------------------------------------
# Algebra


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def test_over_with_opaque_source_gives_source(rng):
    dst, src = random_frame(rng, 32, 48), random_frame(rng, 32, 48, opaque=True)
    np.testing.assert_array_equal(ops.over(dst, src), src)


@pytest.mark.parametrize("mode", sorted(ops.BLEND_MODES))
def test_transparent_source_and_zero_opacity_are_identity(rng, mode):
    dst, src = random_frame(rng, 32, 48), random_frame(rng, 32, 48)
    np.testing.assert_array_equal(ops.blend(dst, np.zeros_like(src), mode), dst)
    np.testing.assert_array_equal(ops.blend(dst, src, mode, opacity=0.0), dst)


@pytest.mark.parametrize("mode", sorted(ops.BLEND_MODES))
def test_results_stay_valid_premultiplied(rng, mode):
    dst, src = random_frame(rng, 64, 64), random_frame(rng, 64, 64)
    for opacity in (1.0, 0.37):
        out = ops.blend(dst, src, mode, opacity)
        assert out.dtype == np.float32 and out.shape == dst.shape
        assert out[:, :, 3].min() >= 0 and out[:, :, 3].max() <= 1
        assert out[:, :, :3].min() >= 0
        assert (out[:, :, :3] - out[:, :, 3:4]).max() <= 1e-6  # colour never exceeds alpha
        expected_alpha = src[:, :, 3] * opacity + dst[:, :, 3] * (1 - src[:, :, 3] * opacity)
        np.testing.assert_allclose(out[:, :, 3], expected_alpha, atol=1e-6)


def test_modes_follow_the_documented_formulas(rng):
    dst, src = random_frame(rng, 48, 48).astype(np.float64), random_frame(rng, 48, 48).astype(np.float64)
    src_scaled = src * 0.7
    cd, ad, cs, a_s = dst[:, :, :3], dst[:, :, 3:4], src_scaled[:, :, :3], src_scaled[:, :, 3:4]
    alpha = a_s + ad * (1 - a_s)
    expected = {
        "over": cs + cd * (1 - a_s),
        "multiply": cs * cd + cs * (1 - ad) + cd * (1 - a_s),
        "screen": cs + cd - cs * cd,
        "add": np.minimum(cs + cd, alpha),
    }
    for mode, colour in expected.items():
        out = ops.blend(dst.astype(np.float32), src.astype(np.float32), mode, 0.7)
        np.testing.assert_allclose(out[:, :, :3], colour, atol=2e-6, err_msg=mode)
        np.testing.assert_allclose(out[:, :, 3:4], alpha, atol=2e-6, err_msg=mode)


def test_multiply_and_screen_identities(rng):
    dst = random_frame(rng, 32, 32)
    white, black = np.ones_like(dst), np.zeros_like(dst)
    black[:, :, 3] = 1
    np.testing.assert_allclose(ops.multiply(white, dst), dst + white * (1 - dst[:, :, 3:4]), atol=1e-6)
    opaque = random_frame(rng, 32, 32, opaque=True)
    np.testing.assert_allclose(ops.multiply(opaque, white), opaque, atol=1e-6)  # x * 1 = x
    np.testing.assert_allclose(ops.screen(opaque, black), opaque, atol=1e-6)  # x + 0 - 0 = x
    np.testing.assert_allclose(ops.multiply(opaque, black), black, atol=1e-6)  # x * 0 = 0
    np.testing.assert_allclose(ops.screen(opaque, white), white, atol=1e-6)  # screen with white is white


def test_add_sums_light_and_clips(rng):
    base = np.full((4, 4, 4), 0.5, np.float32)
    base[:, :, 3] = 1
    light = np.full((4, 4, 4), 0.3, np.float32)
    light[:, :, 3] = 0.3
    np.testing.assert_allclose(ops.add(base, light)[:, :, :3], 0.8, atol=1e-6)
    np.testing.assert_allclose(ops.add(base, light, opacity=1.0)[:, :, 3], 1.0)
    np.testing.assert_allclose(ops.add(ops.add(base, light), light)[:, :, :3], 1.0)


def test_blend_modes_registry_and_unknown_mode(rng):
    assert set(ops.BLEND_MODES) == {"over", "multiply", "screen", "add"}
    dst, src = random_frame(rng, 8, 8), random_frame(rng, 8, 8)
    for name, fn in ops.BLEND_MODES.items():
        np.testing.assert_array_equal(fn(dst, src, 0.6), ops.blend(dst, src, name, 0.6))
    with pytest.raises(ValueError, match="unknown blend mode"):
        ops.blend(dst, src, "overlay")


@pytest.mark.parametrize("mode", sorted(ops.BLEND_MODES))
def test_blend_into_equals_full_frame_blend(rng, mode):
    height, width = 40, 56
    for trial in range(12):
        dst = random_frame(rng, height, width)
        h, w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        src = random_frame(rng, h, w)
        x, y = int(rng.integers(-w - 2, width + 2)), int(rng.integers(-h - 2, height + 2))
        opacity = float(rng.choice([1.0, 0.5, 0.0]))
        padded = np.zeros_like(dst)
        ys, xs = slice(max(y, 0), min(y + h, height)), slice(max(x, 0), min(x + w, width))
        if ys.start < ys.stop and xs.start < xs.stop:
            padded[ys, xs] = src[ys.start - y : ys.stop - y, xs.start - x : xs.stop - x]
        expected = ops.blend(dst, padded, mode, opacity)
        src_before, in_place = src.copy(), dst.copy()
        ops.blend_into(in_place, src, mode, opacity, x, y)
        np.testing.assert_array_equal(in_place, expected, err_msg=f"trial {trial}: {(h, w)} at {(x, y)}")
        np.testing.assert_array_equal(src, src_before)


def test_blend_into_touches_only_the_covered_rectangle(rng):
    dst = random_frame(rng, 30, 30)
    before = dst.copy()
    ops.blend_into(dst, random_frame(rng, 10, 10, opaque=True), "over", 1.0, 25, -5)
    changed = np.argwhere((dst != before).any(axis=2))
    assert changed[:, 0].max() < 5 and changed[:, 1].min() >= 25


def test_pure_ops_do_not_modify_inputs(rng):
    frame, src = random_frame(rng, 24, 24), random_frame(rng, 24, 24)
    frame_before, src_before = frame.copy(), src.copy()
    for mode in ops.BLEND_MODES:
        ops.blend(frame, src, mode, 0.5)
    ops.premultiply(frame)
    ops.unpremultiply(frame)
    ops.gaussian_blur(frame, 3)
    ops.glow(frame, 1.0, 4, 0.2, (1.0, 0.8, 0.6))
    ops.vignette(frame, 0.5)
    ops.grain(frame, 0.5, 1)
    ops.grade(frame, 0.5, (1.0, 0.9, 0.8))
    np.testing.assert_array_equal(frame, frame_before)
    np.testing.assert_array_equal(src, src_before)


def test_premultiply_round_trip(rng):
    straight = rng.random((16, 16, 4), dtype=np.float32)
    straight[0, 0, 3] = 0
    back = ops.unpremultiply(ops.premultiply(straight))
    np.testing.assert_allclose(back[1:], straight[1:], atol=1e-5)
    assert (back[0, 0] == 0).all()


# ------------------------------------------------------------------------------------------------------------
# Filters and finishing effects


def test_gaussian_blur_keeps_energy_and_edges(rng):
    frame = random_frame(rng, 64, 64)
    blurred = ops.gaussian_blur(frame, 3.0)
    assert blurred.shape == frame.shape and blurred.dtype == np.float32
    assert blurred.std() < frame.std()
    np.testing.assert_allclose(blurred.mean(axis=(0, 1)), frame.mean(axis=(0, 1)), atol=0.01)
    np.testing.assert_array_equal(ops.gaussian_blur(frame, 0), frame)
    dot = np.zeros((21, 21, 4), np.float32)
    dot[10, 10] = 1
    cel = ops.gaussian_blur(dot, 2.0, edge="transparent")
    assert abs(cel[:, :, 3].sum() - 1) < 1e-3 and cel[10, 10, 3] == cel[:, :, 3].max()


def test_glow_brightens_around_highlights_only():
    frame = np.zeros((96, 96, 4), np.float32)
    frame[:, :, 3] = 1
    frame[:, :, :3] = 0.2
    frame[44:52, 44:52, :3] = 1.0
    out = ops.glow(frame, strength=1.0, radius=6, threshold=0.7, tint=(1.0, 0.5, 0.25))
    assert out[40, 48, 0] > frame[40, 48, 0] + 0.05  # halo next to the highlight
    assert out[40, 48, 0] > out[40, 48, 2]  # tinted warm
    np.testing.assert_allclose(out[2, 2], frame[2, 2], atol=1e-3)  # far away: untouched
    assert out[:, :, :3].max() <= 1 and (out[:, :, 3] == 1).all()
    np.testing.assert_array_equal(ops.glow(frame, strength=0.0), frame)


def test_vignette_darkens_corners_not_centre():
    frame = np.ones((60, 80, 4), np.float32)
    out = ops.vignette(frame, 0.6)
    assert out[0, 0, 0] < 0.5 and out[30, 40, 0] > 0.99
    np.testing.assert_array_equal(out[:, :, 3], frame[:, :, 3])


def test_grain_is_deterministic_per_seed_and_valid(rng):
    frame = random_frame(rng, 48, 48)
    a, b, c = ops.grain(frame, 0.5, 7), ops.grain(frame, 0.5, 7), ops.grain(frame, 0.5, 8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.01
    assert (a[:, :, :3] <= a[:, :, 3:4] + 1e-7).all() and a[:, :, :3].min() >= 0
    np.testing.assert_array_equal(a[:, :, 3], frame[:, :, 3])
    grey = np.full((128, 128, 4), 0.5, np.float32)
    grey[:, :, 3] = 1
    assert abs(float(ops.grain(grey, 1.0, 3)[:, :, 0].std()) - 0.05) < 0.005


def test_grade_tints_and_lifts():
    frame = np.zeros((4, 4, 4), np.float32)
    frame[:, :, 3] = 1
    frame[0, 0, :3] = 0.8
    out = ops.grade(frame, 0.5, (1.0, 0.8, 0.6))
    assert out[1, 1, 0] > 0 and out[1, 1, 0] > out[1, 1, 2]  # blacks lifted, warm
    assert out[0, 0, 0] > out[0, 0, 2]
    np.testing.assert_array_equal(ops.grade(frame, 0.0), frame)
    transparent = np.zeros((2, 2, 4), np.float32)
    np.testing.assert_array_equal(ops.grade(transparent, 1.0), transparent)  # nothing appears from nothing
