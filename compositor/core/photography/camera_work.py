"""Camera work and focus (撮影): tracks, shake, follow shots, streaked backgrounds, motion blur, depth of field.

The keyed camera (``camera``) says where the camera looks on each frame; this module lays camera work over it,
each piece a pure function of the frame number (a float, so that motion blur can sample between frames):

- a **track** (``track_amount``, ``tracked_view``) multiplies the keyed zoom and adds to its pan and turn along
  an easing curve (``curve``);
- a **shake** (``shake_offset``) jolts the picture on screen by smooth seeded noise, on the whole frame or on
  chosen layers; a **follow shot** (``slide_offset``) slides the background and each layer on screen at their
  own speeds in px per frame. Both are screen-space moves composed onto an element's affine map
  (``screen_move``), so they cost nothing beyond the resampling a map already has;
- **motion blur** (``shutter_times``) averages an element laid at several instants of the shutter's opening;
  a **streak** (``streak``) blurs the background along its motion (流背); **depth of field**
  (``defocus_radius``) blurs a layer by the distance of its depth from the focus depth.

Frames are float32 premultiplied RGBA ``(H, W, 4)``; maps are 2×3 affine (source pixels → frame pixels, in
continuous coordinates as in ``camera``). `CutCamera` gathers what one cut asks for; the compositor
(``steps.composite``) asks it for each element's maps, blur and streak, and for the part of a frame's key
they decide.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from compositor.core.camera import (
    View,
    _interpolate,
    camera_view,
    canvas_to_screen,
    default_view,
    layer_to_screen,
    motion_position,
    sample,
)
from compositor.core.ops import wide_blur
from compositor.spec import Layer, Shot
from compositor.spec.models import BlurKey, Focus, FocusKey, MotionBlur, Shake, Track

# ------------------------------------------------------------------------------------------------------------
# Easing curves


def _monotone_tangents(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    """Fritsch–Carlson tangents: the cubic through the points rises (falls) wherever the points do."""
    n = len(xs)
    d = [(ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]) for k in range(n - 1)]
    m = [d[0]] + [(d[k - 1] + d[k]) / 2 if d[k - 1] * d[k] > 0 else 0.0 for k in range(1, n - 1)] + [d[-1]]
    for k in range(n - 1):
        if d[k] == 0:
            m[k] = m[k + 1] = 0.0
            continue
        a, b = m[k] / d[k], m[k + 1] / d[k]
        if a * a + b * b > 9:
            tau = 3 / math.hypot(a, b)
            m[k], m[k + 1] = tau * a * d[k], tau * b * d[k]
    return m


def custom_curve(points: Sequence[tuple[float, float]], t: float) -> float:
    """The monotone cubic through ``points`` (``(t, value)``, t increasing) at ``t`` (clamped to their range)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    if t <= xs[0]:
        return ys[0]
    if t >= xs[-1]:
        return ys[-1]
    m = _monotone_tangents(xs, ys)
    k = max(i for i in range(len(xs) - 1) if xs[i] <= t)
    h = xs[k + 1] - xs[k]
    s = (t - xs[k]) / h
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return h00 * ys[k] + h10 * h * m[k] + h01 * ys[k + 1] + h11 * h * m[k + 1]


def curve(t: float, kind: str, points: Sequence[tuple[float, float]] | None = None) -> float:
    """Progress ``t`` (clamped to [0, 1]) through an animator's easing curve: 0 at 0, 1 at 1.

    ``ease-in`` / ``ease-out`` / ``ease-in-out`` are cubic (slow start, slow stop, both); ``sine-*`` the gentler
    sinusoidal ones; ``custom`` the monotone cubic through ``points``.
    """
    t = min(1.0, max(0.0, float(t)))
    if kind == "linear":
        return t
    if kind == "ease-in":
        return t**3
    if kind == "ease-out":
        return 1 - (1 - t) ** 3
    if kind == "ease-in-out":
        return 4 * t**3 if t < 0.5 else 1 - (-2 * t + 2) ** 3 / 2
    if kind == "sine-in":
        return 1 - math.cos(t * math.pi / 2)
    if kind == "sine-out":
        return math.sin(t * math.pi / 2)
    if kind == "sine-in-out":
        return (1 - math.cos(t * math.pi)) / 2
    if kind == "custom":
        if not points:
            raise ValueError("curve: 'custom' needs points")
        return custom_curve(points, t)
    raise ValueError(f"curve: unknown kind {kind!r}")


# ------------------------------------------------------------------------------------------------------------
# Tracks, shake, follow: where things are


def track_amount(track: Track, frame: float) -> float:
    """How far ``track`` has gone on ``frame``: 0 up to its start, its curve between, 1 from its end on."""
    return curve((frame - track.start) / (track.end - track.start), track.curve, track.points)


def tracked_view(view: View, tracks: Sequence[Track], frame: float) -> View:
    """``view`` with every track laid over it: zoom multiplied (geometrically, so a track-in's rate of
    magnification is what the curve says), pan and turn added."""
    if not tracks:
        return view
    x, y, zoom, rotation = view.x, view.y, view.zoom, view.rotation
    for track in tracks:
        a = track_amount(track, frame)
        zoom *= track.zoom**a
        x += track.x * a
        y += track.y * a
        rotation += track.rotation * a
    return View(x, y, zoom, rotation)


def _knot(seed: int, index: int, axis: int) -> float:
    """A value in [-1, 1] fixed by (seed, knot index, axis): the same on every machine and every run."""
    digest = hashlib.sha256(f"shake:{seed}:{index}:{axis}".encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**63 - 1.0


def smooth_noise(seed: int, u: float, axis: int) -> float:
    """Seeded value noise at ``u`` (knots at whole ``u``), Catmull-Rom between knots, within [-1, 1]."""
    k = math.floor(u)
    f = u - k
    p0, p1, p2, p3 = (_knot(seed, k + i, axis) for i in (-1, 0, 1, 2))
    value = 0.5 * (
        2 * p1 + (p2 - p0) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f * f + (3 * p1 - p0 - 3 * p2 + p3) * f**3
    )
    return min(1.0, max(-1.0, value))


def shake_offset(shake: Shake, frame: float, fps: float, first: int, last: int) -> tuple[float, float, float]:
    """``(dx, dy, degrees)`` the shake moves the picture on ``frame`` (timesheet numbering, may be fractional).

    Zero outside ``[start, end]`` (default: the cut's ``first`` to ``last`` frame) and everywhere when the
    amplitude and rotation are 0; otherwise seeded noise with ``frequency`` knots a second, fading as
    ``exp(-decay * seconds)`` from ``start``. The same seed gives the same shake.
    """
    start = shake.start if shake.start is not None else first
    end = shake.end if shake.end is not None else last
    if (shake.amplitude == 0 and shake.rotation == 0) or not start <= frame <= end:
        return (0.0, 0.0, 0.0)
    seconds = (frame - start) / fps
    envelope = math.exp(-shake.decay * seconds)
    u = seconds * shake.frequency
    return (
        shake.amplitude * envelope * smooth_noise(shake.seed, u, 0),
        shake.amplitude * envelope * smooth_noise(shake.seed, u, 1),
        shake.rotation * envelope * smooth_noise(shake.seed, u, 2),
    )


def slide_offset(speed: tuple[float, float], frame: float, start: float, end: float) -> tuple[float, float]:
    """Screen pixels slid at ``speed`` (px per frame) by ``frame``: from ``start``, held after ``end``."""
    t = min(max(frame, start), end) - start
    return (speed[0] * t, speed[1] * t)


def screen_move(m: np.ndarray, dx: float, dy: float, degrees: float, size: tuple[int, int]) -> np.ndarray:
    """The 2×3 map ``m`` followed by a turn of ``degrees`` about the frame's centre (``size`` (W, H)) and a move
    by ``(dx, dy)`` screen pixels; ``m`` itself when there is nothing to do."""
    if dx == 0 and dy == 0 and degrees == 0:
        return m
    out = m.copy()
    if degrees:
        r = math.radians(degrees)
        c, s = math.cos(r), math.sin(r)
        turn = np.array([[c, s], [-s, c]])  # counter-clockwise as seen, as the camera's rotation
        centre = np.array([size[0] / 2, size[1] / 2])
        out[:, :2] = turn @ m[:, :2]
        out[:, 2] = turn @ (m[:, 2] - centre) + centre
    out[0, 2] += dx
    out[1, 2] += dy
    return out


# ------------------------------------------------------------------------------------------------------------
# Motion blur, streaks and depth of field: pure ops on frames


def shutter_times(frame: float, blur: MotionBlur | None) -> list[float]:
    """The instants a frame averages: ``samples`` spread evenly over the shutter's opening, centred on
    ``frame`` (a 180° shutter spans half a frame); just ``[frame]`` without motion blur."""
    if blur is None:
        return [float(frame)]
    span = blur.shutter / 360.0
    n = blur.samples
    return [frame + span * (i / (n - 1) - 0.5) for i in range(n)]


def distinct_maps(maps: Sequence[np.ndarray], eps: float = 1e-9) -> list[np.ndarray]:
    """``maps`` when they differ, else only the first: an element that stands still over the shutter is laid
    once, so a still frame's motion blur is exactly the frame."""
    if all(np.allclose(m, maps[0], rtol=0, atol=eps) for m in maps[1:]):
        return [maps[0]]
    return list(maps)


def average(frames: Iterable[np.ndarray]) -> np.ndarray:
    """The mean of ``frames`` (each ``(H, W, C)`` float32), summed as they come so that only one is held at a
    time besides the sum; the frame itself when there is one."""
    total: np.ndarray | None = None
    count = 0
    for frame in frames:
        if total is None:
            total = frame
        elif count == 1:
            total = total.astype(np.float32, copy=True)
            total += frame
        else:
            total += frame
        count += 1
    if total is None:
        raise ValueError("average: no frames")
    if count > 1:
        total *= np.float32(1.0 / count)
    return total


def streak_kernel(dx: float, dy: float) -> np.ndarray:
    """A normalised line kernel along ``(dx, dy)`` (its length in px), centred, anti-aliased by splatting
    points along it bilinearly. Shape ``(2r+1, 2r+1)`` float32; ``(1, 2r+1)`` for a horizontal line."""
    length = math.hypot(dx, dy)
    r = int(math.ceil(length / 2)) + 1
    horizontal = abs(dy) < 1e-6
    kernel = np.zeros((1 if horizontal else 2 * r + 1, 2 * r + 1), np.float64)
    cy = 0 if horizontal else r
    steps = max(2, int(math.ceil(length * 2)) + 1)
    for s in np.linspace(-0.5, 0.5, steps):
        x, y = r + s * dx, cy + (0 if horizontal else s * dy)
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
            for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                if wy > 0 and wx > 0:
                    kernel[yy, xx] += wx * wy
    return (kernel / kernel.sum()).astype(np.float32)


def streak(frame: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The background streaked along ``(dx, dy)`` (流背): a box blur of that length and direction.

    ``frame``: ``(H, W, 4)`` premultiplied (any ``(H, W, C)``); the picture continues past its edges
    (reflected). Under half a pixel it is returned as it is. Returns float32 of its shape.
    """
    frame = np.asarray(frame, dtype=np.float32)
    if math.hypot(dx, dy) < 0.5:
        return frame
    out = cv2.filter2D(frame, -1, streak_kernel(dx, dy), borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(frame.shape)


def focus_depth(keys: Sequence[FocusKey], frame: float) -> float:
    """The focus depth on ``frame``, interpolated between keys with the next key's ease."""
    return _interpolate(list(keys), frame, ("depth",))[0]


def defocus_radius(focus: Focus, depth: float, frame: float) -> float:
    """Blur radius (px) of a plane at ``depth`` on ``frame``: ``blur`` per unit of depth away from the focus,
    at most ``max_blur``. Depth is in parallax units, which are the thin lens's: a plane's parallax is
    proportional to 1 / its distance, and so is its circle of confusion's distance from the focus's."""
    return min(focus.max_blur, focus.blur * abs(depth - focus_depth(focus.keys, frame)))


def keyed_blur(keys: Sequence[BlurKey], frame: float) -> float:
    """A layer's ``blur_keys`` on ``frame`` (0 without keys)."""
    return _interpolate(list(keys), frame, ("blur",))[0] if keys else 0.0


def combined_blur(*radii: float) -> float:
    """Gaussian blurs one after another add in quadrature."""
    return math.sqrt(sum(r * r for r in radii))


def defocus(frame: np.ndarray, radius: float, edge: str = "reflect") -> np.ndarray:
    """``frame`` out of focus by a Gaussian of ``radius`` px (``ops.wide_blur``); itself at radius 0."""
    return frame if radius <= 0 else wide_blur(frame, radius, edge)


def _sampled_layer(cel: np.ndarray, maps: Sequence[np.ndarray], box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    total = np.zeros((y1 - y0, x1 - x0, 4), np.float32)
    for m in maps:
        local = m.copy()
        local[:, 2] -= (x0, y0)
        total += sample(cel, local, (x1 - x0, y1 - y0), border=cv2.BORDER_CONSTANT)
    total *= np.float32(1.0 / len(maps))
    np.clip(total, 0, 1, out=total)
    np.minimum(total[:, :, :3], total[:, :, 3:4], out=total[:, :, :3])
    return total


def isolated_layer(
    cel: np.ndarray, maps: Sequence[np.ndarray], radius: float, size: tuple[int, int]
) -> tuple[np.ndarray, int, int] | None:
    """A layer laid on its own through each of ``maps`` (averaged: motion blur), then blurred by ``radius``
    (depth of field): ``(patch, x, y)`` to composite at ``(x, y)`` of a frame of ``size`` (W, H), or None
    when it lands nowhere on it.

    ``cel``: premultiplied ``(h, w, 4)``. The patch covers what the layer covers on screen, grown by the
    blur's reach; it is built on a region reaching that far past the frame's edges too, so that a layer
    half off screen blurs as it would whole.
    """
    width, height = size
    h, w = cel.shape[:2]
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64)
    points = np.vstack([corners @ m.T for m in maps])
    reach = int(math.ceil(3 * radius)) + 2 if radius > 0 else 1
    x0 = max(-reach, math.floor(points[:, 0].min()) - reach)
    y0 = max(-reach, math.floor(points[:, 1].min()) - reach)
    x1 = min(width + reach, math.ceil(points[:, 0].max()) + reach)
    y1 = min(height + reach, math.ceil(points[:, 1].max()) + reach)
    if x1 <= max(x0, 0) or y1 <= max(y0, 0) or x0 >= width or y0 >= height:
        return None
    patch = defocus(_sampled_layer(cel, maps, (x0, y0, x1, y1)), radius, edge="transparent")
    return np.ascontiguousarray(patch, dtype=np.float32), x0, y0


# ------------------------------------------------------------------------------------------------------------
# One cut's camera work


BLUR_DIGITS = 3
"""Blur radii are rounded to a thousandth of a pixel, in the frame's key and in its pixels alike."""


@dataclass(frozen=True)
class Look:
    """How one element (the background or a layer) is laid on one frame: its maps over the shutter (one when
    it stands still), its blur and, for the background, its streak ``(dx, dy)``."""

    maps: list[np.ndarray]
    blur: float = 0.0
    streak: tuple[float, float] | None = None

    @property
    def plain(self) -> bool:
        """Laid once, sharp and unstreaked: the compositor's ordinary path."""
        return len(self.maps) == 1 and self.blur == 0 and self.streak is None

    def key(self) -> dict:
        return {
            "maps": [[round(float(v), 9) for v in m.ravel()] for m in self.maps] if len(self.maps) > 1 else None,
            "blur": self.blur,
            "streak": None if self.streak is None else list(self.streak),
        }


BACKGROUND = "background"
"""What a shake's ``layers`` calls the background."""


class CutCamera:
    """The camera of one cut with its camera work: each element's map on any (fractional) frame, its look on
    a frame (motion-blur maps, blur, streak), and the part of a frame's key they decide.

    With no camera work, the maps are exactly those of ``camera.shot_views`` and ``layer_to_screen``.
    """

    def __init__(self, shot: Shot):
        self.shot = shot
        self.size = shot.size
        self.work = shot.spec.camera
        self.first_number = shot.start
        self.last_number = shot.start + shot.frames - 1
        self._default = default_view(shot)
        self.first = self.view(shot.start)
        self.active = bool(
            self.work.tracks or self.work.shake or self.work.follow or self.work.motion_blur or self.work.streak
            or self.work.focus
            or any(layer.slide or layer.motion_blur or layer.blur_keys for layer in shot.spec.layers)
        )

    # where things are

    def view(self, frame: float) -> View:
        """The camera on ``frame``: the keys, then the tracks."""
        return tracked_view(camera_view(self.work.keys, frame, self._default), self.work.tracks, frame)

    def _shake(self, name: str, frame: float) -> tuple[float, float, float]:
        dx = dy = degrees = 0.0
        for shake in self.work.shake:
            if shake.layers and name not in shake.layers:
                continue
            x, y, r = shake_offset(shake, frame, self.shot.fps, self.first_number, self.last_number)
            dx, dy, degrees = dx + x, dy + y, degrees + r
        return dx, dy, degrees

    def _slide(self, speed: tuple[float, float] | None, frame: float) -> tuple[float, float]:
        follow = self.work.follow
        if speed is None or (speed[0] == 0 and speed[1] == 0):
            return (0.0, 0.0)
        start = follow.start if follow and follow.start is not None else self.first_number
        end = follow.end if follow and follow.end is not None else self.last_number
        return slide_offset(speed, frame, start, end)

    def layer_speed(self, layer: Layer) -> tuple[float, float] | None:
        """The screen px per frame ``layer`` slides: its own ``slide``, else the follow's speed × its parallax."""
        if layer.slide is not None:
            return layer.slide
        follow = self.work.follow
        return None if follow is None else (follow.speed[0] * layer.parallax, follow.speed[1] * layer.parallax)

    def _moved(self, m: np.ndarray, name: str, speed: tuple[float, float] | None, frame: float) -> np.ndarray:
        if not self.active:
            return m
        sx, sy = self._slide(speed, frame)
        dx, dy, degrees = self._shake(name, frame)
        return screen_move(m, sx + dx, sy + dy, degrees, self.size)

    def background_map(self, frame: float) -> np.ndarray:
        """Canvas → screen on ``frame``."""
        m = canvas_to_screen(self.view(frame), self.size)
        return self._moved(m, BACKGROUND, self.work.follow.speed if self.work.follow else None, frame)

    def layer_map(self, layer: Layer, frame: float, margin: int = 0) -> np.ndarray:
        """A (prepared) drawing of ``layer`` → screen on ``frame``; ``margin``: its blur margin (``cels``)."""
        x, y = motion_position(layer.motion, frame, layer.position)
        m = layer_to_screen(self.view(frame), self.first, layer.parallax, (x - margin, y - margin), self.size)
        return self._moved(m, layer.name, self.layer_speed(layer), frame)

    # how things look

    def _shutter(self, layer: Layer | None) -> MotionBlur | None:
        if layer is None or layer.motion_blur is None:
            return self.work.motion_blur
        if layer.motion_blur is True:
            return self.work.motion_blur or MotionBlur()
        if layer.motion_blur is False:
            return None
        return layer.motion_blur

    def background_look(self, number: int) -> Look:
        times = shutter_times(number, self._shutter(None))
        maps = distinct_maps([self.background_map(t) for t in times])
        focus = self.work.focus
        blur = defocus_radius(focus, focus.background_depth, number) if focus else 0.0
        return Look(maps, round(blur, BLUR_DIGITS), self._streak(number))

    def layer_look(self, layer: Layer, number: int, margin: int = 0) -> Look:
        times = shutter_times(number, self._shutter(layer))
        maps = distinct_maps([self.layer_map(layer, t, margin) for t in times])
        focus = self.work.focus
        depth = layer.depth if layer.depth is not None else layer.parallax
        dof = defocus_radius(focus, depth, number) if focus else 0.0
        blur = combined_blur(dof, keyed_blur(layer.blur_keys, number))
        return Look(maps, round(blur, BLUR_DIGITS))

    def _streak(self, number: int) -> tuple[float, float] | None:
        s = self.work.streak
        if s is None:
            return None
        if (s.start is not None and number < s.start) or (s.end is not None and number > s.end):
            return None
        if s.angle is not None:
            r = math.radians(s.angle)
            return (round(s.length * math.cos(r), 6), round(s.length * math.sin(r), 6))
        # the way the background moves on screen: the canvas point under the frame's centre, half a frame
        # either side
        centre = np.array([self.size[0] / 2, self.size[1] / 2, 1.0])
        m = np.vstack([self.background_map(number), [0, 0, 1]])
        point = np.linalg.solve(m, centre)
        velocity = self.background_map(number + 0.5) @ point - self.background_map(number - 0.5) @ point
        speed = float(np.hypot(*velocity))
        if speed < 1e-3:
            return None
        # rounded as the frame's key holds it
        return (round(s.length * float(velocity[0]) / speed, 6), round(s.length * float(velocity[1]) / speed, 6))

    def frame_key(self, number: int, layers: Sequence[tuple[Layer, int]]) -> dict | None:
        """What camera work adds to the key of frame ``number`` (None without camera work): the background's
        and each shown layer's look beyond its map (``layers``: (layer, blur margin) of the layers shown)."""
        if not self.active:
            return None
        looks = [self.background_look(number)] + [self.layer_look(layer, number, margin) for layer, margin in layers]
        if all(look.plain for look in looks):
            return None  # what camera work does on this frame is all in its maps (a shake, a slide, a track)
        return {"background": looks[0].key(), "layers": [look.key() for look in looks[1:]]}


Sampler = Callable[[np.ndarray, tuple[int, int]], np.ndarray]
"""``view(m, (W, H))``: the background canvas seen through the map ``m`` into a frame of that size."""


def translation_offsets(maps: Sequence[np.ndarray], eps: float = 1e-9) -> list[tuple[float, float]] | None:
    """When ``maps`` differ only by where they put things (a pan, a slide, a shake without a turn): each one's
    screen offset from the first; else None."""
    a = maps[0][:, :2]
    if any(not np.allclose(m[:, :2], a, rtol=0, atol=eps) for m in maps[1:]):
        return None
    return [(float(m[0, 2] - maps[0][0, 2]), float(m[1, 2] - maps[0][1, 2])) for m in maps]


def smear(view: Sampler, m: np.ndarray, offsets: Sequence[tuple[float, float]], size: tuple[int, int]) -> np.ndarray:
    """The mean of the views through ``m`` moved by each of ``offsets`` (screen px), for the cost of one view
    and one filter: the view is sampled once with a margin as wide as the moves, then convolved with a kernel
    holding ``1 / len(offsets)`` at each offset (split bilinearly between pixels). Equals averaging the moved
    views up to the resampling of the sub-pixel parts of the moves."""
    width, height = size
    ox = sum(dx for dx, _ in offsets) / len(offsets)
    oy = sum(dy for _, dy in offsets) / len(offsets)
    centred = [(dx - ox, dy - oy) for dx, dy in offsets]
    rx = int(math.ceil(max(abs(dx) for dx, _ in centred))) + 1
    ry = int(math.ceil(max(abs(dy) for _, dy in centred))) + 1
    kernel = np.zeros((2 * ry + 1, 2 * rx + 1), np.float64)
    for dx, dy in centred:
        # filter2D correlates (out(x) = sum K(k) src(x + k - anchor)); a view moved by d reads src(x - d)
        x, y = rx - dx, ry - dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for yy, wy in ((y0, 1 - fy), (y0 + 1, fy)):
            for xx, wx in ((x0, 1 - fx), (x0 + 1, fx)):
                if wx > 0 and wy > 0:
                    kernel[yy, xx] += wx * wy / len(centred)
    padded_map = m.copy()
    padded_map[:, 2] += (ox + rx, oy + ry)
    padded = view(padded_map, (width + 2 * rx, height + 2 * ry))
    out = cv2.filter2D(padded, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(out[ry : ry + height, rx : rx + width])


def background_frame(view: Sampler, look: Look, size: tuple[int, int], exact: bool = False) -> np.ndarray:
    """The background of a frame of ``size`` (W, H), seen through ``look.maps`` by ``view``: averaged over the
    shutter, streaked, defocused. Pure.

    Maps that differ only by a move (a pan, a follow slide) are averaged by ``smear`` (one view and a filter
    instead of a view per sample) unless ``exact``; others view the canvas once per sample, one view held at
    a time.
    """
    offsets = None if exact or len(look.maps) == 1 else translation_offsets(look.maps)
    if offsets is not None:
        frame = smear(view, look.maps[0], offsets, size)
    else:
        frame = average(view(m, size) for m in look.maps)
    if look.streak is not None:
        frame = streak(frame, *look.streak)
    return defocus(frame, look.blur)
