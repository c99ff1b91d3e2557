"""Camera keys, easing, parallax, and sub-pixel sampling that does not shimmer on a slow pan."""

import cv2
import numpy as np
import pytest

from compositor.core.camera import View, camera_view, canvas_to_screen, ease, layer_to_screen, sample
from compositor.spec import CameraKey


def keys(*ks):
    return [CameraKey(**k) for k in ks]


def test_linear_interpolation_between_keys_and_clamping_outside():
    k = keys({"frame": 1, "x": 0, "y": 0}, {"frame": 11, "x": 100, "y": 50, "zoom": 2.0})
    assert camera_view(k, 6, View(0, 0)) == View(50, 25, 1.5, 0)
    assert camera_view(k, -3, View(0, 0)) == View(0, 0, 1, 0)
    assert camera_view(k, 40, View(0, 0)) == View(100, 50, 2, 0)


@pytest.mark.parametrize("kind", ["linear", "in", "out", "in-out"])
def test_eases_start_at_0_end_at_1_and_are_monotonic(kind):
    ts = np.linspace(0, 1, 101)
    values = [ease(t, kind) for t in ts]
    assert values[0] == 0 and values[-1] == 1
    assert all(b >= a for a, b in zip(values, values[1:]))


def test_in_out_is_slow_at_both_ends():
    assert ease(0.1, "in-out") < 0.1 and ease(0.9, "in-out") > 0.9 and ease(0.5, "in-out") == 0.5


def test_ease_of_the_next_key_applies():
    k = keys({"frame": 1, "x": 0, "y": 0}, {"frame": 11, "x": 100, "y": 0, "ease": "in"})
    assert camera_view(k, 6, View(0, 0)).x == pytest.approx(25)


def test_canvas_centre_lands_on_frame_centre():
    m = canvas_to_screen(View(1000, 300, zoom=2, rotation=30), (1280, 720))
    assert m @ np.array([1000, 300, 1]) == pytest.approx([640, 360])


@pytest.mark.parametrize("parallax, expected_shift", [(1.0, -100), (0.0, 0), (0.5, -50), (1.3, -130)])
def test_parallax_scales_the_camera_motion_a_layer_sees(parallax, expected_shift):
    first, now = View(640, 360), View(740, 360)
    m = layer_to_screen(now, first, parallax, (10, 20), (1280, 720))
    assert m @ np.array([0, 0, 1]) == pytest.approx([10 + expected_shift, 20])


def test_layer_with_parallax_1_stays_glued_to_the_background_under_zoom_and_rotation():
    first, now = View(640, 360), View(700, 380, zoom=1.5, rotation=10)
    size = (1280, 720)
    cel_to_screen_now = layer_to_screen(now, first, 1.0, (100, 50), size)
    # where the cel's top-left corner sat on the canvas at the first frame, seen by the camera now
    canvas_point = np.linalg.inv(np.vstack([canvas_to_screen(first, size), [0, 0, 1]])) @ np.array([100, 50, 1])
    assert cel_to_screen_now @ np.array([0, 0, 1]) == pytest.approx(canvas_to_screen(now, size) @ canvas_point)


def test_integer_translation_samples_exactly():
    rng = np.random.default_rng(0)
    img = rng.random((20, 30, 4), dtype=np.float32)
    m = np.array([[1.0, 0, -5], [0, 1, -3]])
    out = sample(img, m, (10, 8))
    assert np.allclose(out, img[3:11, 5:15], atol=1e-6)


def test_slow_subpixel_pan_does_not_shimmer():
    """Sharpness must not pulse as the pan crosses half-pixel offsets (bilinear softens it by a quarter at half a pixel)."""
    rng = np.random.default_rng(1)
    tex = cv2.GaussianBlur(rng.random((64, 256), dtype=np.float32), (0, 0), 1.0)
    img = np.dstack([tex, tex, tex, np.ones_like(tex)])
    energy = []
    for i in range(9):
        m = np.array([[1.0, 0, -(i / 8)], [0, 1, 0]])
        out = sample(img, m, (200, 64))[8:-8, 8:-8, 0]
        energy.append(float(np.var(cv2.Laplacian(out, cv2.CV_32F))))
    assert min(energy) / max(energy) > 0.9  # bilinear gives ~0.73 here, bicubic ~0.98


def test_zooming_out_does_not_alias():
    stripes = np.zeros((64, 64, 4), np.float32)
    stripes[:, ::2] = 1  # 1-pixel stripes: averaging them gives grey, point-sampling gives stripes
    stripes[:, :, 3] = 1
    out = sample(stripes, np.array([[0.25, 0, 0], [0, 0.25, 0]]), (16, 16))
    assert np.abs(out[2:-2, 2:-2, 0] - 0.5).max() < 0.1
