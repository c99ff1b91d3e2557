"""The camera: keys interpolated per frame, and the affine maps it gives the background and each layer.

A camera key says which point of the background canvas is at the centre of the frame (``x``, ``y``), how much
it is magnified (``zoom``) and turned (``rotation``, degrees, counter-clockwise on screen). Between keys the
values are interpolated with the *next* key's ``ease`` (linear, in, out, in-out, or hold).

A layer with parallax ``p`` sees a camera that has moved ``p`` times as far from where it was on the cut's first
frame: 1 moves with the background, 0 is fixed to the screen, 1.3 (a BOOK in front) moves faster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from compositor.spec import CameraKey, MotionKey, Shot


def ease(t: float, kind: str) -> float:
    """Map linear progress ``t`` in [0, 1] through an easing curve (smoothstep-style cubic)."""
    if kind == "hold":
        return 0.0
    if kind == "in":
        return t * t
    if kind == "out":
        return 1 - (1 - t) * (1 - t)
    if kind == "in-out":
        return t * t * (3 - 2 * t)
    return t


def _interpolate(keys: list, frame: float, fields: tuple[str, ...]) -> tuple[float, ...]:
    if frame <= keys[0].frame:
        return tuple(getattr(keys[0], f) for f in fields)
    for a, b in zip(keys, keys[1:]):
        if frame <= b.frame:
            t = ease((frame - a.frame) / (b.frame - a.frame), b.ease)
            return tuple(getattr(a, f) + (getattr(b, f) - getattr(a, f)) * t for f in fields)
    return tuple(getattr(keys[-1], f) for f in fields)


@dataclass(frozen=True)
class View:
    """Where the camera looks on one frame."""

    x: float
    y: float
    zoom: float = 1.0
    rotation: float = 0.0


def camera_view(keys: list[CameraKey], frame: float, default: View) -> View:
    """The camera on ``frame`` (timesheet numbering); without keys, ``default`` (the canvas centre)."""
    if not keys:
        return default
    x, y, zoom, rotation = _interpolate(keys, frame, ("x", "y", "zoom", "rotation"))
    return View(x, y, zoom, rotation)


def motion_position(keys: list[MotionKey], frame: float, default: tuple[float, float]) -> tuple[float, float]:
    if not keys:
        return default
    x, y = _interpolate(keys, frame, ("x", "y"))
    return (x, y)


def _rotation_scale(zoom: float, degrees: float) -> np.ndarray:
    r = math.radians(degrees)
    c, s = math.cos(r) * zoom, math.sin(r) * zoom
    # Screen y points down, so a positive angle turns the picture counter-clockwise as seen.
    return np.array([[c, s], [-s, c]], dtype=np.float64)


def canvas_to_screen(view: View, frame_size: tuple[int, int]) -> np.ndarray:
    """The 2×3 affine map from canvas pixels to frame pixels for ``view``; ``frame_size`` is (W, H)."""
    a = _rotation_scale(view.zoom, view.rotation)
    # Pixel centres: the canvas point (x, y) lands on the frame's centre, (W/2, H/2) in continuous coordinates.
    centre = np.array([frame_size[0] / 2, frame_size[1] / 2])
    t = centre - a @ np.array([view.x, view.y])
    return np.hstack([a, t[:, None]])


def layer_view(view: View, first: View, parallax: float) -> View:
    """The camera a layer with ``parallax`` sees: its motion since the first frame, scaled."""
    return View(
        x=first.x + parallax * (view.x - first.x),
        y=first.y + parallax * (view.y - first.y),
        zoom=first.zoom * (view.zoom / first.zoom) ** parallax,
        rotation=first.rotation + parallax * (view.rotation - first.rotation),
    )


def layer_to_screen(
    view: View, first: View, parallax: float, position: tuple[float, float], frame_size: tuple[int, int]
) -> np.ndarray:
    """The 2×3 affine map from a (prepared) cel's pixels to frame pixels.

    On the first frame the cel's top-left corner is at ``position``; afterwards it follows ``layer_view``.
    """
    plane_to_screen_first = canvas_to_screen(first, frame_size)
    a0, t0 = plane_to_screen_first[:, :2], plane_to_screen_first[:, 2]
    # cel pixel u sits on the layer's plane at q = A0^-1 (position + u - t0)
    a0_inv = np.linalg.inv(a0)
    now = canvas_to_screen(layer_view(view, first, parallax), frame_size)
    a1, t1 = now[:, :2], now[:, 2]
    a = a1 @ a0_inv
    t = a1 @ (a0_inv @ (np.asarray(position) - t0)) + t1
    return np.hstack([a, t[:, None]])


def is_translation(m: np.ndarray, eps: float = 1e-9) -> bool:
    return abs(m[0, 0] - 1) < eps and abs(m[1, 1] - 1) < eps and abs(m[0, 1]) < eps and abs(m[1, 0]) < eps


def sample(image: np.ndarray, m: np.ndarray, size: tuple[int, int], border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Resample ``image`` (H, W, C) through the affine map ``m`` (source → destination) into ``size`` (W, H).

    Bicubic sampling keeps a slow sub-pixel pan from pulsing between sharp and soft the way bilinear does;
    when the map shrinks the image, it is first reduced with area averaging so that it does not alias.
    """
    scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
    if scale < 0.8:
        factor = scale / 0.9
        h, w = image.shape[:2]
        small = (max(1, round(w * factor)), max(1, round(h * factor)))
        image = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
        sx, sy = small[0] / w, small[1] / h
        m = m @ np.array([[1 / sx, 0, 0], [0, 1 / sy, 0], [0, 0, 1]])
    # OpenCV's warpAffine uses pixel-centre coordinates; our maps are in continuous coordinates (pixel i spans
    # [i, i+1)), so shift by half a pixel on both sides.
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    half_inv = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    m3 = half_inv @ np.vstack([m, [0, 0, 1]]) @ half
    out = cv2.warpAffine(
        image, m3[:2], size, flags=cv2.INTER_CUBIC, borderMode=border, borderValue=(0, 0, 0, 0)
    )
    return out


def default_view(shot: Shot) -> View:
    return View(shot.canvas[0] / 2, shot.canvas[1] / 2)


def shot_views(shot: Shot) -> list[View]:
    """The camera on every frame of the cut, in order."""
    keys = shot.spec.camera.keys
    return [camera_view(keys, f, default_view(shot)) for f in shot.frame_numbers()]
