"""Poles, wires and lamps: concrete utility poles with cross-arms, insulators, step bolts and the odd
transformer, sagging power and telephone wires, the poles' long shadows across the ground, and street
lamps with their halo and a pool of light below.
"""

from __future__ import annotations

import cv2
import numpy as np

from compositor.backgrounds.procedural.canvas import _Canvas
from compositor.backgrounds.procedural.noise import _PART_POLES, _over, _rgb, _rng
from compositor.backgrounds.procedural.sky import _night


def _pole_positions(c: _Canvas) -> np.ndarray:
    rng = _rng(c.seed, _PART_POLES)
    out = []
    u = rng.uniform(0.1, 0.6)
    while u < c.aspect + 0.8:
        out.append(u)
        u += rng.uniform(0.95, 1.4)
    return np.array(out)


def _pole_foot(c: _Canvas) -> float:
    return c.style.horizon + (0.07 if c.style.ground_kind == "road" else 0.03)


_POLE_TOP = 0.05
_LAMP_V = 0.3


def _paint_poles(c: _Canvas, rgb: np.ndarray) -> None:
    """Concrete utility poles with cross-arms, step bolts, a transformer now and then, and sagging wires."""
    s = c.style
    rng = _rng(c.seed, _PART_POLES, 1)
    poles = _pole_positions(c)
    foot, top = _pole_foot(c), _POLE_TOP
    arms = [top + 0.04, top + 0.09]
    mask = np.zeros((c.height, c.width), np.uint8)
    shift = 4
    scale = c.height * (1 << shift)

    def fill(points: list[tuple[float, float]]) -> None:
        cv2.fillPoly(mask, [np.round(np.array(points) * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)

    thick = max(1, round(c.height / 720))
    previous = None
    for u in poles:
        fill([(u - 0.0055, top), (u + 0.0055, top), (u + 0.0085, foot), (u - 0.0085, foot)])
        for a, arm_v in enumerate(arms):
            wide = 0.055 - 0.012 * a
            fill([(u - wide, arm_v), (u + wide, arm_v), (u + wide, arm_v + 0.005), (u - wide, arm_v + 0.005)])
            for k in (-1, 0, 1):
                x = u + k * (wide - 0.006)
                fill(
                    [
                        (x - 0.0025, arm_v - 0.009),
                        (x + 0.0025, arm_v - 0.009),
                        (x + 0.0025, arm_v),
                        (x - 0.0025, arm_v),
                    ]
                )
        if rng.random() < 0.45:
            fill(
                [
                    (u + 0.01, top + 0.13),
                    (u + 0.032, top + 0.13),
                    (u + 0.032, top + 0.19),
                    (u + 0.01, top + 0.19),
                ]
            )
        # Step bolts: the short rungs on a Japanese concrete pole.
        for j in range(6):
            bv = top + 0.22 + j * 0.035
            side = (-1) ** j
            fill(
                [
                    (u + side * 0.006, bv),
                    (u + side * 0.016, bv - 0.002),
                    (u + side * 0.016, bv + 0.0015),
                    (u + side * 0.006, bv + 0.003),
                ]
            )
        if previous is not None:
            for a, arm_v in enumerate(arms):
                wide = 0.055 - 0.012 * a
                for k in (-1, 0, 1):
                    _wire(
                        mask,
                        previous + k * (wide - 0.006),
                        u + k * (wide - 0.006),
                        arm_v - 0.009,
                        0.035 + 0.012 * a + 0.004 * k,
                        thick,
                        scale,
                        shift,
                    )
            # Lower, heavier telephone cables.
            _wire(mask, previous, u, top + 0.27, 0.06, thick + 1, scale, shift)
            _wire(mask, previous, u, top + 0.3, 0.075, thick, scale, shift)
        previous = u
    used = np.flatnonzero(mask.any(axis=1))
    if used.size == 0:
        return
    r0, r1 = int(used[0]), int(used[-1]) + 1
    cover = mask[r0:r1].astype(np.float32) * np.float32(1 / 255)
    night = _night(c)
    pole = _rgb(s.pole_colour) * np.float32(1 - 0.6 * night)
    # The lit side of each pole a shade lighter.
    lit_side = np.zeros(c.width, np.float32)
    for u in poles:
        a0, a1 = c.col(u - 0.0085), c.col(u + 0.0085)
        if a1 > a0:
            ramp = (c.u[a0:a1] - u) / 0.0085 * np.sign(s.light or -1.0)
            lit_side[a0:a1] = np.maximum(lit_side[a0:a1], np.clip(ramp, 0, 1).astype(np.float32))
    colour = pole[None, None, :] * (1.0 + 0.35 * (1 - night) * lit_side)[None, :, None]
    _over(rgb[r0:r1], colour, cover)
    if s.sun == "sun" and night < 0.5 and s.ground_kind in ("road", "field"):
        _paint_pole_shadows(c, rgb, poles, foot)


def _paint_pole_shadows(c: _Canvas, rgb: np.ndarray, poles: np.ndarray, foot: float) -> None:
    """Each pole's shadow falls across the ground, away from the light, as a long soft-edged band."""
    s = c.style
    away = -float(np.sign(s.light) or -1.0)
    mask = np.zeros((c.height, c.width), np.uint8)
    shift = 4
    scale = c.height * (1 << shift)
    for u in poles:
        far_u, far_v = u + away * 0.55, 1.05
        quad = np.array([[u - 0.008, foot], [u + 0.008, foot], [far_u + 0.02, far_v], [far_u - 0.02, far_v]])
        cv2.fillPoly(mask, [np.round(quad * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)
    r0 = c.row(foot - 0.01)
    shade = cv2.GaussianBlur(mask[r0:], (0, 0), max(0.8, 0.0015 * c.height)).astype(np.float32) / 255
    rgb[r0:] *= (1.0 - 0.28 * shade)[:, :, None]


def _wire(
    mask: np.ndarray, u0: float, u1: float, v: float, sag: float, thick: int, scale: float, shift: int
) -> None:
    s = np.linspace(0.0, 1.0, 48)
    us = u0 + (u1 - u0) * s
    vs = v + sag * 4 * s * (1 - s)  # a parabola is a catenary to the eye at these sags
    pts = np.round(np.stack([us, vs], 1) * scale).astype(np.int32)
    cv2.polylines(mask, [pts], False, 255, thick, cv2.LINE_AA, shift)


def _paint_lamps(c: _Canvas, rgb: np.ndarray) -> None:
    """Street lamps on the poles (or on their own posts): a bright head, a halo and a pool of light below."""
    s = c.style
    rng = _rng(c.seed, _PART_POLES, 2)
    lamp = _rgb(s.lamp_colour)
    night = _night(c)
    strength = np.float32(0.25 + 0.75 * night)
    foot = _pole_foot(c)
    if s.poles:
        positions, head_v = _pole_positions(c), _LAMP_V
    else:
        positions, head_v = np.arange(0.4, c.aspect + 0.5, 1.1), foot - 0.3
    shift = 4
    scale = c.height * (1 << shift)
    side = -float(np.sign(s.light) or -1.0)
    for u in positions:
        if rng.random() < 0.2:
            continue
        hu = u + 0.045 * side
        # The light pool on the ground first, so the pole and head stay on top of it.
        pr0, pr1 = c.row(foot - 0.04), c.row(foot + 0.12)
        pc0, pc1 = c.col(hu - 0.35), c.col(hu + 0.35)
        if pr1 > pr0 and pc1 > pc0:
            dx = (c.u[pc0:pc1] - hu)[None, :] / 0.2
            dy = (c.v[pr0:pr1] - (foot + 0.02))[:, None] / 0.05
            pool = (np.exp(-(dx * dx + dy * dy)) * 0.9 * strength).astype(np.float32)
            patch = rgb[pr0:pr1, pc0:pc1]
            patch += pool[:, :, None] * lamp * (patch * 1.6 + 0.05)
        r0, r1 = c.row(head_v - 0.2), c.row(head_v + 0.2)
        c0, c1 = c.col(hu - 0.2), c.col(hu + 0.2)
        if r1 <= r0 or c1 <= c0:
            continue
        patch = rgb[r0:r1, c0:c1]
        mask = np.zeros(patch.shape[:2], np.uint8)
        origin = np.array([c0 * c.px, r0 * c.px])
        if not s.poles:
            post = np.array([[u - 0.003, head_v], [u + 0.003, head_v], [u + 0.004, foot], [u - 0.004, foot]])
            cv2.fillPoly(mask, [np.round((post - origin) * scale).astype(np.int32)], 160, cv2.LINE_AA, shift)
        arm = np.array([[u, head_v + 0.008], [u + 0.02 * side, head_v - 0.002], [hu, head_v]])
        cv2.polylines(
            mask,
            [np.round((arm - origin) * scale).astype(np.int32)],
            False,
            160,
            max(1, round(c.height / 400)),
            cv2.LINE_AA,
            shift,
        )
        head = np.array(
            [
                [hu - 0.013, head_v],
                [hu + 0.013, head_v],
                [hu + 0.01, head_v + 0.006],
                [hu - 0.01, head_v + 0.006],
            ]
        )
        cv2.fillPoly(mask, [np.round((head - origin) * scale).astype(np.int32)], 255, cv2.LINE_AA, shift)
        fixture = mask.astype(np.float32) * np.float32(1 / 255)
        body = np.where(mask[:, :, None] >= 200, np.minimum(lamp * 1.1, 1.0), _rgb(s.pole_colour) * 0.6)
        _over(patch, body.astype(np.float32), fixture)
        dx = (c.u[c0:c1] - hu)[None, :]
        dy = (c.v[r0:r1] - (head_v + 0.005))[:, None]
        d2 = (dx * dx + dy * dy).astype(np.float32)
        halo = np.clip((np.exp(-d2 / 0.0004) * 0.8 + np.exp(-d2 / 0.006) * 0.3) * strength, 0, 1)
        _over(patch, lamp, halo)
