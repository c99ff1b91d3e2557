"""Fused per-pixel kernels for the compositor's fast path: one pass over the pixels a layer covers.

Each kernel does, pixel by pixel and in the same order of float32 operations, what the plain path in
``compositor.core.ops`` / ``compositor.core.io`` does with whole-array numpy expressions, so the two give the same bits
(tests/test_fast_paths.py holds them to that, and at least to 1/255). The plain path stays the reference.

Pixel formats the kernels read and write (file formats and their channel orders are ``io``'s business):

* ``rgba8``: straight (unassociated) RGBA ``uint8``, shape ``(h, w, 4)``: an 8-bit drawing as drawn;
* ``premultiplied``: float32 premultiplied RGBA ``(H, W, 4)`` in ``[0, 1]`` - the frame in memory.

With numba installed the kernels are compiled (``nogil``, so threads composite frames side by side; ``cache``,
so a process compiles them once per machine); without it the same functions run as vectorised numpy, slower
but equal. Regions are passed as whole arrays plus offsets and sizes, so each kernel compiles to one
specialisation.
"""

from __future__ import annotations

import numpy as np

try:  # numba is an accelerator, not a requirement: the numpy versions below give the same pixels
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised where numba is not installed
    numba = None
    HAVE_NUMBA = False

MODES = {"over": 0, "multiply": 1, "screen": 2, "add": 3}
"""Blend mode name (as a shot spec writes it) → the code the kernels take."""

INV255 = np.float32(1 / 255)
_F = np.float32


# ------------------------------------------------------------------------------------------------------------
# numba kernels


def _jit(fn):
    if HAVE_NUMBA:
        return numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)(fn)
    return None


def _blend_rgba8_nb(dst, dx, dy, src, sx, sy, w, h, mode, opacity, inv):  # pragma: no cover - compiled
    one = np.float32(1.0)
    partial = opacity < one
    for y in range(h):
        for x in range(w):
            a8 = src[sy + y, sx + x, 3]
            if a8 == 0 and mode != 3:
                continue  # a transparent source pixel leaves every mode but add's clamp unchanged
            sa = np.float32(a8) * inv
            r = (np.float32(src[sy + y, sx + x, 0]) * inv) * sa
            g = (np.float32(src[sy + y, sx + x, 1]) * inv) * sa
            b = (np.float32(src[sy + y, sx + x, 2]) * inv) * sa
            if partial:
                r = r * opacity
                g = g * opacity
                b = b * opacity
                sa = sa * opacity
            _blend_pixel(dst, dy + y, dx + x, r, g, b, sa, mode)


def _blend_premultiplied_nb(dst, dx, dy, src, sx, sy, w, h, mode, opacity):  # pragma: no cover - compiled
    one = np.float32(1.0)
    partial = opacity < one
    for y in range(h):
        for x in range(w):
            sa = src[sy + y, sx + x, 3]
            r = src[sy + y, sx + x, 0]
            g = src[sy + y, sx + x, 1]
            b = src[sy + y, sx + x, 2]
            if partial:
                r = r * opacity
                g = g * opacity
                b = b * opacity
                sa = sa * opacity
            _blend_pixel(dst, dy + y, dx + x, r, g, b, sa, mode)


def _blend_pixel_nb(dst, y, x, r, g, b, sa, mode):  # pragma: no cover - compiled
    one = np.float32(1.0)
    if mode == 0:  # over: d = d * (1 - as) + s
        k = one - sa
        dst[y, x, 0] = dst[y, x, 0] * k + r
        dst[y, x, 1] = dst[y, x, 1] * k + g
        dst[y, x, 2] = dst[y, x, 2] * k + b
        dst[y, x, 3] = dst[y, x, 3] * k + sa
    elif mode == 1:  # multiply: co = cs * (cd + 1 - ad) + cd * (1 - as)
        da = dst[y, x, 3]
        u = one - da
        tr = r * (dst[y, x, 0] + u)
        tg = g * (dst[y, x, 1] + u)
        tb = b * (dst[y, x, 2] + u)
        k = one - sa
        dst[y, x, 0] = dst[y, x, 0] * k + tr
        dst[y, x, 1] = dst[y, x, 1] * k + tg
        dst[y, x, 2] = dst[y, x, 2] * k + tb
        dst[y, x, 3] = da * k + sa
    elif mode == 2:  # screen: d = d * (1 - s) + s, channel by channel
        dst[y, x, 0] = dst[y, x, 0] * (one - r) + r
        dst[y, x, 1] = dst[y, x, 1] * (one - g) + g
        dst[y, x, 2] = dst[y, x, 2] * (one - b) + b
        dst[y, x, 3] = dst[y, x, 3] * (one - sa) + sa
    else:  # add: ao as for over, co = min(cd + cs, ao)
        ao = dst[y, x, 3] * (one - sa) + sa
        dst[y, x, 3] = ao
        dst[y, x, 0] = min(dst[y, x, 0] + r, ao)
        dst[y, x, 1] = min(dst[y, x, 1] + g, ao)
        dst[y, x, 2] = min(dst[y, x, 2] + b, ao)


def _copy_clipped_nb(src, sx, sy, dst):  # pragma: no cover - compiled
    zero, one = np.float32(0.0), np.float32(1.0)
    h, w = dst.shape[0], dst.shape[1]
    for y in range(h):
        for x in range(w):
            a = min(max(src[sy + y, sx + x, 3], zero), one)
            dst[y, x, 3] = a
            for c in range(3):
                dst[y, x, c] = min(min(max(src[sy + y, sx + x, c], zero), one), a)


def _to_rgb8_nb(frame, out):  # pragma: no cover - compiled
    zero, one, scale, half = np.float32(0.0), np.float32(1.0), np.float32(255.0), np.float32(0.5)
    h, w = frame.shape[0], frame.shape[1]
    for y in range(h):
        for x in range(w):
            for c in range(3):
                v = min(max(frame[y, x, c], zero), one) * scale + half
                out[y, x, c] = np.uint8(v)


def _premultiply_rgba8_nb(src, out, inv):  # pragma: no cover - compiled
    h, w = src.shape[0], src.shape[1]
    for y in range(h):
        for x in range(w):
            a = np.float32(src[y, x, 3]) * inv
            out[y, x, 3] = a
            for c in range(3):
                out[y, x, c] = (np.float32(src[y, x, c]) * inv) * a


if HAVE_NUMBA:
    _blend_pixel = numba.njit(cache=True, nogil=True, inline="always")(_blend_pixel_nb)
    _blend_rgba8 = _jit(_blend_rgba8_nb)
    _blend_premultiplied = _jit(_blend_premultiplied_nb)
    _copy_clipped = _jit(_copy_clipped_nb)
    _to_rgb8 = _jit(_to_rgb8_nb)
    _premultiply_rgba8 = _jit(_premultiply_rgba8_nb)


# ------------------------------------------------------------------------------------------------------------
# numpy equivalents (the same float32 operations, whole arrays at a time)


def _np_blend(d: np.ndarray, s: np.ndarray, mode: int) -> None:
    one = _F(1.0)
    if mode == 0:
        d *= one - s[:, :, 3:4]
        d += s
    elif mode == 1:
        term = s[:, :, :3] * (d[:, :, :3] + (one - d[:, :, 3:4]))
        d *= one - s[:, :, 3:4]
        d[:, :, :3] += term
        d[:, :, 3:4] += s[:, :, 3:4]
    elif mode == 2:
        d *= one - s
        d += s
    else:
        alpha = d[:, :, 3:4]
        alpha *= one - s[:, :, 3:4]
        alpha += s[:, :, 3:4]
        colour = d[:, :, :3]
        colour += s[:, :, :3]
        np.minimum(colour, alpha, out=colour)


def _np_premultiply(src: np.ndarray) -> np.ndarray:
    img = src.astype(np.float32) * INV255
    out = np.empty(src.shape, np.float32)
    np.multiply(img[:, :, :3], img[:, :, 3:4], out=out[:, :, :3])
    out[:, :, 3] = img[:, :, 3]
    return out


# ------------------------------------------------------------------------------------------------------------
# The kernels' public face


def blend_region(
    dst: np.ndarray, x: int, y: int, src: np.ndarray, mode: str = "over", opacity: float = 1.0
) -> None:
    """Composite ``src`` onto ``dst`` in place with its top-left corner at ``(x, y)`` (clipped to ``dst``).

    ``dst``: float32 premultiplied RGBA ``(H, W, 4)``, C-contiguous. ``src``: ``rgba8`` ``(h, w, 4)`` uint8
    (straight alpha; premultiplied on the fly as ``io.read_image`` does) or float32 premultiplied RGBA. Equal
    to ``ops.blend_into(dst, premultiplied(src), mode, opacity, x, y)``.
    """
    if opacity <= 0:
        return
    code = MODES[mode]
    height, width = dst.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + src.shape[1], width), min(y + src.shape[0], height)
    if x0 >= x1 or y0 >= y1:
        return
    sx, sy, w, h = x0 - x, y0 - y, x1 - x0, y1 - y0
    op = _F(opacity)
    if HAVE_NUMBA and dst.flags.c_contiguous and src.flags.c_contiguous:
        if src.dtype == np.uint8:
            _blend_rgba8(dst, x0, y0, src, sx, sy, w, h, code, op, INV255)
        else:
            _blend_premultiplied(dst, x0, y0, src, sx, sy, w, h, code, op)
        return
    piece = src[sy : sy + h, sx : sx + w]
    piece = _np_premultiply(piece) if piece.dtype == np.uint8 else piece.astype(np.float32, copy=False)
    if op < 1:
        piece = piece * op
    _np_blend(dst[y0:y1, x0:x1], piece, code)


def copy_clipped(src: np.ndarray, x: int, y: int, out: np.ndarray) -> np.ndarray:
    """``out[:] = src[y:y+H, x:x+W]`` brought into valid premultiplied range (alpha in [0, 1], colour <=
    alpha).

    ``src``: float32 premultiplied RGBA, large enough to hold the window; ``out``: float32 ``(H, W, 4)``.
    Equal to copying the window and clipping it as ``comp._clip_premultiplied`` does.
    """
    h, w = out.shape[:2]
    if HAVE_NUMBA and src.flags.c_contiguous and out.flags.c_contiguous and src.dtype == np.float32:
        _copy_clipped(src, x, y, out)
        return out
    np.clip(src[y : y + h, x : x + w], 0, 1, out=out)
    np.minimum(out[:, :, :3], out[:, :, 3:4], out=out[:, :, :3])
    return out


def to_rgb8(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA float ``(H, W, 4)`` → ``uint8`` RGB ``(H, W, 3)`` as if over black: ``floor(255 c +
    0.5)``."""
    out = np.empty(frame.shape[:2] + (3,), np.uint8)
    if HAVE_NUMBA and frame.dtype == np.float32:
        _to_rgb8(frame, out)
        return out
    out[:] = (np.clip(frame[:, :, :3], 0, 1) * 255 + 0.5).astype(np.uint8)
    return out


def to_rgb8_into(frame: np.ndarray, out: np.ndarray) -> None:
    """`to_rgb8` written into ``out`` (``uint8`` ``(H, W, 3)``, C-contiguous, e.g. rows of a larger frame)."""
    if HAVE_NUMBA and frame.dtype == np.float32 and out.flags.c_contiguous:
        _to_rgb8(frame, out)
        return
    out[:] = to_rgb8(frame)


def premultiply_rgba8(src: np.ndarray) -> np.ndarray:
    """``rgba8`` (straight uint8 RGBA ``(h, w, 4)``) → float32 premultiplied RGBA, as ``io.read_image``
    decodes it."""
    if HAVE_NUMBA and src.flags.c_contiguous:
        out = np.empty(src.shape, np.float32)
        _premultiply_rgba8(src, out, INV255)
        return out
    return _np_premultiply(src)
