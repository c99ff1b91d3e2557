"""8-bit RGB frames to planar Y'CbCr 4:2:0 (``yuv420p``), limited range, in one fused pass (issue 14).

The encoder then gets half the bytes (1.5 instead of 3 a pixel) and no colour conversion of its own to do
(ffmpeg's ``scale`` filter spends ~11 ms of CPU a 1080p frame on it). The numbers are swscale's: its
fixed-point coefficients for the matrix (``RGB2YUV_SHIFT`` 15 bits, the offsets of 16 and 128 with its rounding)
applied to each pixel for luma and to the 2x2 average of the pixels for chroma; tests/test_speed_paths.py
holds the result to within a level or two of what ffmpeg makes from the same RGB.

Pure: arrays in, arrays out; ``uint8`` RGB ``(H, W, 3)`` with even ``H`` and ``W`` → one ``uint8`` buffer of
``H*W*3/2`` bytes (the Y plane, then Cb, then Cr), as ffmpeg's ``rawvideo`` ``yuv420p`` reads it.
"""

from __future__ import annotations

import numpy as np

from compositor.core.kernels import HAVE_NUMBA, numba

MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
"""Kr and Kb of each matrix (Kg = 1 - Kr - Kb)."""

SHIFT = 15


def coefficients(matrix: str) -> np.ndarray:
    """Integer coefficients (scaled by 2^15, limited range: 219/255 for luma, 224/255 for chroma) as rows
    ``[Y, Cb, Cr]`` x columns ``[R, G, B]``: int32 ``(3, 3)``."""
    kr, kb = MATRICES[matrix]
    kg = 1 - kr - kb
    y = np.array([kr, kg, kb]) * 219 / 255
    cb = np.array([-kr, -kg, 1 - kb]) / (2 * (1 - kb)) * 224 / 255
    cr = np.array([1 - kr, -kg, -kb]) / (2 * (1 - kr)) * 224 / 255
    return np.round(np.array([y, cb, cr]) * (1 << SHIFT)).astype(np.int32)


def _rgb_to_yuv420_nb(rgb, k, out):  # pragma: no cover - compiled
    # Row by row, each loop over contiguous bytes with the coefficients in locals: the compiler vectorises it
    # (2.6 times the speed of one loop over 2x2 blocks, the same bytes).
    h, w = rgb.shape[0], rgb.shape[1]
    half = np.int32(1 << (SHIFT - 1))
    ybase = np.int32(16 << SHIFT) + half
    cbase4 = (np.int32(128 << SHIFT) + half) << 2
    k00, k01, k02 = k[0, 0], k[0, 1], k[0, 2]
    k10, k11, k12 = k[1, 0], k[1, 1], k[1, 2]
    k20, k21, k22 = k[2, 0], k[2, 1], k[2, 2]
    cw = w // 2
    uoff = h * w
    voff = uoff + (h // 2) * cw
    rows = rgb.reshape(h, w * 3)
    for cy in range(h // 2):
        for dy in range(2):
            src = rows[2 * cy + dy]
            luma = out[(2 * cy + dy) * w : (2 * cy + dy + 1) * w]
            for x in range(w):
                r = np.int32(src[3 * x])
                g = np.int32(src[3 * x + 1])
                b = np.int32(src[3 * x + 2])
                luma[x] = np.uint8((k00 * r + k01 * g + k02 * b + ybase) >> SHIFT)
        a, b2 = rows[2 * cy], rows[2 * cy + 1]
        cb = out[uoff + cy * cw : uoff + (cy + 1) * cw]
        cr = out[voff + cy * cw : voff + (cy + 1) * cw]
        for cx in range(cw):
            i = 6 * cx
            sr = np.int32(a[i]) + np.int32(a[i + 3]) + np.int32(b2[i]) + np.int32(b2[i + 3])
            sg = np.int32(a[i + 1]) + np.int32(a[i + 4]) + np.int32(b2[i + 1]) + np.int32(b2[i + 4])
            sb = np.int32(a[i + 2]) + np.int32(a[i + 5]) + np.int32(b2[i + 2]) + np.int32(b2[i + 5])
            # the 2x2 average in quarter levels: coefficients applied to the sum, then shifted two more bits
            u = (k10 * sr + k11 * sg + k12 * sb + cbase4) >> (SHIFT + 2)
            v = (k20 * sr + k21 * sg + k22 * sb + cbase4) >> (SHIFT + 2)
            cb[cx] = np.uint8(min(max(u, 0), 255))
            cr[cx] = np.uint8(min(max(v, 0), 255))


_rgb_to_yuv420 = numba.njit(cache=True, nogil=True)(_rgb_to_yuv420_nb) if HAVE_NUMBA else None


def rgb_to_yuv420p(rgb: np.ndarray, matrix: str = "bt709") -> np.ndarray:
    """``uint8`` RGB ``(H, W, 3)`` (H, W even) → ``uint8`` ``(H*W*3/2,)``: yuv420p, limited range, ``matrix``."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs an even frame size, not {w}x{h}")
    k = coefficients(matrix)
    out = np.empty(h * w * 3 // 2, np.uint8)
    rgb = np.ascontiguousarray(rgb)
    if _rgb_to_yuv420 is not None:
        _rgb_to_yuv420(rgb, k, out)
        return out
    px = rgb.astype(np.int64)
    half = 1 << (SHIFT - 1)
    out[: h * w] = ((px @ k[0].astype(np.int64) + (16 << SHIFT) + half) >> SHIFT).ravel()
    s = px.reshape(h // 2, 2, w // 2, 2, 3).sum(axis=(1, 3))
    cbase = ((128 << SHIFT) + half) << 2
    u = np.clip((s @ k[1].astype(np.int64) + cbase) >> (SHIFT + 2), 0, 255)
    v = np.clip((s @ k[2].astype(np.int64) + cbase) >> (SHIFT + 2), 0, 255)
    out[h * w : h * w + u.size] = u.ravel()
    out[h * w + u.size :] = v.ravel()
    return out
