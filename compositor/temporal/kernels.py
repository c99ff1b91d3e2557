"""Per-pixel kernels of the temporal pass: numba versions (compiled where numba is installed) and their numpy
equivalents, which compute the same (the tests hold the two within 1e-6).

Every function of the package that picks one or the other reads ``HAVE_NUMBA``; setting
``compositor.temporal.HAVE_NUMBA`` sets it in each of those modules (see the package's ``__init__``).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

try:  # numba is an accelerator, not a requirement: the numpy versions below compute the same
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised where numba is not installed
    numba = None
    HAVE_NUMBA = False


def _jit(fn: Callable) -> Callable | None:
    if HAVE_NUMBA:
        return numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)(fn)
    return None


def _sse_rgb_nb(a, b, mask, use_mask):  # pragma: no cover - compiled
    h, w = a.shape[0], a.shape[1]
    total = 0.0
    count = 0
    for y in range(h):
        for x in range(w):
            if use_mask and mask[y, x] == 0:
                continue
            count += 1
            for c in range(3):
                d = np.float64(a[y, x, c]) - np.float64(b[y, x, c])
                total += d * d
    return total, count


def _checks_nb(backward, forward_at, pos, px2, out):  # pragma: no cover - compiled
    h, w = backward.shape[0], backward.shape[1]
    zero = np.float32(0.0)
    k, half, g0 = np.float32(0.01), np.float32(0.5), np.float32(0.002)
    right, bottom = np.float32(w - 1), np.float32(h - 1)
    for y in range(h):
        for x in range(w):
            bu, bv = backward[y, x, 0], backward[y, x, 1]
            fu, fv = forward_at[y, x, 0], forward_at[y, x, 1]
            lu, lv = bu + fu, bv + fv
            back2 = bu * bu + bv * bv
            consistent = (lu * lu + lv * lv) * px2 <= k * (back2 + fu * fu + fv * fv) * px2 + half
            grad = zero
            if x + 1 < w:
                du, dv = backward[y, x + 1, 0] - bu, backward[y, x + 1, 1] - bv
                grad += du * du + dv * dv
            if y + 1 < h:
                du, dv = backward[y + 1, x, 0] - bu, backward[y + 1, x, 1] - bv
                grad += du * du + dv * dv
            smooth = grad <= k * back2 * px2 + g0
            px, py = pos[y, x, 0], pos[y, x, 1]
            inside = px >= zero and px <= right and py >= zero and py <= bottom
            out[y, x] = 1 if (consistent and smooth and inside) else 0


def _pair_stats_nb(cur, out, warped_in, warped_out, valid):  # pragma: no cover - compiled
    h, w = cur.shape[0], cur.shape[1]
    fidelity, before, after = 0.0, 0.0, 0.0
    count = 0
    for y in range(h):
        for x in range(w):
            inside = valid[y, x] != 0
            if inside:
                count += 1
            for c in range(3):
                o = np.float64(out[y, x, c])
                i = np.float64(cur[y, x, c])
                d = o - i
                fidelity += d * d
                if inside:
                    d = i - np.float64(warped_in[y, x, c])
                    before += d * d
                    d = o - np.float64(warped_out[y, x, c])
                    after += d * d
    return fidelity, before, after, count


def _carry_nb(carried, weight, own, out_s):  # pragma: no cover - compiled
    h, w = own.shape[0], own.shape[1]
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            wt = weight[y, x]
            k = wt / (wt + one)
            for c in range(4):
                o = own[y, x, c]
                out_s[y, x, c] = (carried[y, x, c] - o) * k + o


def _combine_nb(f, df, b, db, own, out, clip):  # pragma: no cover - compiled
    h, w = own.shape[0], own.shape[1]
    zero, one = np.float32(0.0), np.float32(1.0)
    for y in range(h):
        for x in range(w):
            total = df[y, x] + db[y, x] - one
            kf = df[y, x] / total
            kb = db[y, x] / total
            for c in range(4):
                o = own[y, x, c]
                out[y, x, c] = ((f[y, x, c] - o) * kf + (b[y, x, c] - o) * kb) + o
            if clip:
                a = min(max(out[y, x, 3], zero), one)
                out[y, x, 3] = a
                for c in range(3):
                    out[y, x, c] = min(min(max(out[y, x, c], zero), one), a)


if HAVE_NUMBA:
    _carry_kernel = _jit(_carry_nb)
    _combine_kernel = _jit(_combine_nb)
    _sse_rgb_kernel = _jit(_sse_rgb_nb)
    _pair_stats_kernel = _jit(_pair_stats_nb)
    _checks_kernel = _jit(_checks_nb)


def _np_checks(
    backward: np.ndarray, forward_at: np.ndarray, pos: np.ndarray, px2: np.float32, out: np.ndarray
) -> None:
    k, half, g0 = np.float32(0.01), np.float32(0.5), np.float32(0.002)
    bu, bv = backward[:, :, 0], backward[:, :, 1]
    fu, fv = forward_at[:, :, 0], forward_at[:, :, 1]
    lu, lv = bu + fu, bv + fv
    back2 = bu * bu + bv * bv
    consistent = (lu * lu + lv * lv) * px2 <= k * (back2 + fu * fu + fv * fv) * px2 + half
    grad = np.zeros_like(bu)
    dx_u, dx_v = bu[:, 1:] - bu[:, :-1], bv[:, 1:] - bv[:, :-1]
    dy_u, dy_v = bu[1:] - bu[:-1], bv[1:] - bv[:-1]
    grad[:, :-1] += dx_u * dx_u + dx_v * dx_v
    grad[:-1] += dy_u * dy_u + dy_v * dy_v
    smooth = grad <= k * back2 * px2 + g0
    h, w = bu.shape
    px, py = pos[:, :, 0], pos[:, :, 1]
    inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    out[:] = consistent & smooth & inside


def _sse_rgb(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, int]:
    """Sum of squared RGB differences of two RGBA frames over the mask's pixels, and how many pixels."""
    if HAVE_NUMBA and a.flags.c_contiguous and b.flags.c_contiguous:
        use = mask is not None
        return _sse_rgb_kernel(a, b, mask if use else _NO_MASK, use)
    total = cv2.norm(a, b, cv2.NORM_L2SQR, mask)
    alpha = cv2.norm(cv2.extractChannel(a, 3), cv2.extractChannel(b, 3), cv2.NORM_L2SQR, mask)
    count = a.shape[0] * a.shape[1] if mask is None else cv2.countNonZero(mask)
    return max(0.0, total - alpha), count


_NO_MASK = np.ones((1, 1), np.uint8)


def _pair_stats(
    cur: np.ndarray, out: np.ndarray, warped_in: np.ndarray, warped_out: np.ndarray, valid: np.ndarray
) -> tuple[float, float, float, int]:
    """In one pass: SSE(out, cur) over all pixels; SSE(cur, warped_in) and SSE(out, warped_out) over
    ``valid``; and how many pixels are valid (RGB only)."""
    if HAVE_NUMBA and all(a.flags.c_contiguous for a in (cur, out, warped_in, warped_out, valid)):
        return _pair_stats_kernel(cur, out, warped_in, warped_out, valid)
    fidelity, _ = _sse_rgb(out, cur)
    before, count = _sse_rgb(cur, warped_in, valid)
    after, _ = _sse_rgb(out, warped_out, valid)
    return fidelity, before, after, count


def _np_carry(carried: np.ndarray, weight: np.ndarray, own: np.ndarray) -> np.ndarray:
    """One step of a sweep: ``own + (carried - own)·w/(1 + w)`` (``w`` the carried average's weight here)."""
    k = (weight / (weight + np.float32(1.0)))[:, :, None]
    return (carried - own) * k + own


def _np_combine(f: np.ndarray, df: np.ndarray, b: np.ndarray, db: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Both sweeps, the frame counted once: ``own + (F - own)·D/(D+E-1) + (B - own)·E/(D+E-1)``."""
    total = df + db - np.float32(1.0)
    kf, kb = (df / total)[:, :, None], (db / total)[:, :, None]
    return ((f - own) * kf + (b - own) * kb) + own


def carry(carried: np.ndarray, weight: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``_np_carry``, compiled where numba is installed (frames ``(H, W, 4)``, weight ``(H, W)`` float32)."""
    if HAVE_NUMBA:
        out = np.empty_like(own)
        _carry_kernel(carried, weight, own, out)
        return out
    return _np_carry(carried, weight, own)


def combine(
    f: np.ndarray, df: np.ndarray, b: np.ndarray, db: np.ndarray, own: np.ndarray, clip: bool = True
) -> np.ndarray:
    """``_np_combine``, compiled where numba is installed; ``clip``: then into [0, 1], colour at most alpha."""
    if HAVE_NUMBA:
        out = np.empty_like(own)
        _combine_kernel(f, df, b, db, own, out, clip)
        return out
    out = _np_combine(f, df, b, db, own)
    if clip:
        np.clip(out, 0.0, 1.0, out=out)
        np.minimum(out[:, :, :3], out[:, :, 3:4], out=out[:, :, :3])
    return out
