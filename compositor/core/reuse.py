"""Layers composited once and reused (issue 14): a group of consecutive layers laid over nothing, kept as the
pixels it decides and the blends it leaves to the frame under it, then laid on any number of frames.

'Over' is associative in arithmetic, not in float32, so a group is NOT flattened into one premultiplied
image laid over the frame (that would differ from laying the layers one by one in the last bits). Instead,
pixel by pixel, the group keeps exactly what laying its layers one by one would do:

* **untouched** (every layer transparent there, in a mode that leaves the frame alone): nothing, skipped;
* **decided** (some layer is opaque there, in ``over`` at full opacity: ``d * (1 - 1) + s`` is ``s`` whatever
  ``d`` was): the value the layers from that one up leave, computed once by the same kernel, copied;
* **replayed** (only soft or other-mode pixels): the layers' premultiplied source values, kept in order, and
  blended on the frame by the same per-pixel blend as ``kernels.blend_region`` uses.

So laying a group gives the same bits as laying its layers (tests/test_speed_paths.py), while the drawings'
8-bit pixels are premultiplied once per group rather than once per frame, transparent runs cost nothing and
opaque runs are copies. A group is position-free: it is laid at any whole-pixel offset (a held drawing that
pans, a BOOK).

A drawing alone can instead keep only its `Runs` (where its rows are transparent, opaque or soft: a few bytes
a run, the pixels stay the drawing's own): laid with the same per-pixel operations, skipping the transparent
runs and writing the opaque ones in ``over`` without reading the frame.

Pixel formats: see ``kernels``. Groups are built and laid by numba kernels; without numba there are no
groups (``HAVE_REUSE`` False) and the layers are laid one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compositor.core import kernels
from compositor.core.kernels import INV255, MODES, premultiply_rgba8

HAVE_REUSE = kernels.HAVE_NUMBA

SET, REPLAY = 1, 2
"""Span kinds: a run of decided pixels (copied) or of replayed ones (their blends)."""

BUILD_ROWS = 64
"""Rows of a group built at a time (the scratch is ``BUILD_ROWS`` x width x 16 bytes)."""


# ------------------------------------------------------------------------------------------------------------
# numba kernels


def _scan_nb(tile, state, count, ox, oy, src, mode, opacity, inv, u8):  # pragma: no cover - compiled
    """Lay one layer (``rgba8`` where ``u8``, else float32 premultiplied; top-left at ``(ox, oy)`` in the tile) on
    ``tile`` exactly as ``kernels._blend_rgba8`` / ``_blend_premultiplied`` do, and note per pixel whether it
    decided it (``SET``) or left a blend to replay (``REPLAY``; ``count`` blends since the last decision)."""
    partial = opacity < np.float32(1.0)
    th, tw = tile.shape[0], tile.shape[1]
    y0, y1 = max(0, oy), min(th, oy + src.shape[0])
    x0, x1 = max(0, ox), min(tw, ox + src.shape[1])
    for y in range(y0, y1):
        for x in range(x0, x1):
            if u8:
                kind, r, g, b, sa = _pixel(src, y - oy, x - ox, mode, opacity, partial, inv)
            else:
                kind, r, g, b, sa = _pixel_f(src, y - oy, x - ox, mode, opacity, partial)
            if kind == 0:
                continue
            if kind == 1:
                state[y, x] = 1
                count[y, x] = 0
            elif state[y, x] != 1:
                state[y, x] = 2
                count[y, x] += 1
            _blend_pixel(tile, y, x, r, g, b, sa, mode)


def _ops_nb(state, start, cursor, ox, oy, src, mode, opacity, inv, op_val, op_mode, u8):  # pragma: no cover
    """The source values `_scan_nb` blended, kept in order for the pixels left to replay."""
    partial = opacity < np.float32(1.0)
    th, tw = state.shape[0], state.shape[1]
    y0, y1 = max(0, oy), min(th, oy + src.shape[0])
    x0, x1 = max(0, ox), min(tw, ox + src.shape[1])
    for y in range(y0, y1):
        for x in range(x0, x1):
            if state[y, x] != 2:
                continue
            if u8:
                kind, r, g, b, sa = _pixel(src, y - oy, x - ox, mode, opacity, partial, inv)
            else:
                kind, r, g, b, sa = _pixel_f(src, y - oy, x - ox, mode, opacity, partial)
            if kind == 0:
                continue
            k = start[y, x] + cursor[y, x]
            cursor[y, x] += 1
            op_val[k, 0] = r
            op_val[k, 1] = g
            op_val[k, 2] = b
            op_val[k, 3] = sa
            op_mode[k] = mode


def _spans_nb(state, row0, set0, rep0, row_ptr, sx0, sx1, skind, sp):  # pragma: no cover - compiled
    """Runs of equal non-zero ``state`` per row → spans (x0, x1, kind, first pixel); returns the spans,
    decided and replayed pixels written, counting from ``row_ptr[row0]``, ``set0``, ``rep0``."""
    th, tw = state.shape[0], state.shape[1]
    n = row_ptr[row0]
    n_set, n_rep = set0, rep0
    for y in range(th):
        x = 0
        while x < tw:
            kind = state[y, x]
            if kind == 0:
                x += 1
                continue
            start = x
            while x < tw and state[y, x] == kind:
                x += 1
            sx0[n] = start
            sx1[n] = x
            skind[n] = kind
            if kind == 1:
                sp[n] = n_set
                n_set += x - start
            else:
                sp[n] = n_rep
                n_rep += x - start
            n += 1
        row_ptr[row0 + y + 1] = n
    return n


def _apply_nb(dst, dx, dy, row_ptr, sx0, sx1, skind, sp, set_val, rep_start, op_val, op_mode):  # pragma: no cover
    height, width = dst.shape[0], dst.shape[1]
    rows = row_ptr.shape[0] - 1
    for gy in range(max(0, -dy), min(rows, height - dy)):
        y = gy + dy
        for s in range(row_ptr[gy], row_ptr[gy + 1]):
            x0 = sx0[s]
            a, b = max(x0, -dx), min(sx1[s], width - dx)
            if a >= b:
                continue
            p = sp[s] - x0
            if skind[s] == 1:
                for gx in range(a, b):
                    k = p + gx
                    x = gx + dx
                    dst[y, x, 0] = set_val[k, 0]
                    dst[y, x, 1] = set_val[k, 1]
                    dst[y, x, 2] = set_val[k, 2]
                    dst[y, x, 3] = set_val[k, 3]
            else:
                for gx in range(a, b):
                    k = p + gx
                    x = gx + dx
                    for o in range(rep_start[k], rep_start[k + 1]):
                        _blend_pixel(dst, y, x, op_val[o, 0], op_val[o, 1], op_val[o, 2], op_val[o, 3], op_mode[o])


def _pixel_u8(src, y, x, mode, opacity, partial, inv):  # pragma: no cover - compiled (inlined)
    """What `_scan_nb` does with one ``rgba8`` pixel: (kind, r, g, b, a) with kind 0 (skipped), SET or REPLAY."""
    a8 = src[y, x, 3]
    zero = np.float32(0.0)
    if a8 == 0 and mode != 3:
        return 0, zero, zero, zero, zero
    sa = np.float32(a8) * inv
    r = (np.float32(src[y, x, 0]) * inv) * sa
    g = (np.float32(src[y, x, 1]) * inv) * sa
    b = (np.float32(src[y, x, 2]) * inv) * sa
    if partial:
        r = r * opacity
        g = g * opacity
        b = b * opacity
        sa = sa * opacity
    if mode == 0 and np.float32(1.0) - sa == 0:
        return 1, r, g, b, sa
    return 2, r, g, b, sa



def _pixel_f32(src, y, x, mode, opacity, partial):  # pragma: no cover - compiled (inlined)
    """`_pixel_u8` for a float32 premultiplied pixel: nothing skipped. (The casts only type the branch numba
    compiles for ``rgba8`` layers too, where it never runs.)"""
    r = np.float32(src[y, x, 0])
    g = np.float32(src[y, x, 1])
    b = np.float32(src[y, x, 2])
    sa = np.float32(src[y, x, 3])
    if partial:
        r = r * opacity
        g = g * opacity
        b = b * opacity
        sa = sa * opacity
    if mode == 0 and np.float32(1.0) - sa == 0:
        return 1, r, g, b, sa
    return 2, r, g, b, sa

def _single_nb(src, mode, opacity, inv, fill, row_ptr, sx0, sx1, skind, sp, set_val, op_val, op_mode):  # pragma: no cover
    """A group of one ``rgba8`` layer in one sweep of its pixels (no scratch frame): counts its spans, decided and
    replayed pixels (``fill`` False) or writes them (``fill`` True, arrays sized by the count)."""
    one = np.float32(1.0)
    partial = opacity < one
    h, w = src.shape[0], src.shape[1]
    n = n_set = n_rep = 0
    for y in range(h):
        x = 0
        kind, r, g, b, a = _pixel(src, y, 0, mode, opacity, partial, inv)
        while x < w:
            if kind == 0:
                x += 1
                if x < w:
                    kind, r, g, b, a = _pixel(src, y, x, mode, opacity, partial, inv)
                continue
            run = kind
            start = x
            first = n_set if run == 1 else n_rep
            while True:
                if fill:
                    if run == 1:
                        set_val[n_set, 0] = r
                        set_val[n_set, 1] = g
                        set_val[n_set, 2] = b
                        set_val[n_set, 3] = a
                    else:
                        op_val[n_rep, 0] = r
                        op_val[n_rep, 1] = g
                        op_val[n_rep, 2] = b
                        op_val[n_rep, 3] = a
                        op_mode[n_rep] = mode
                if run == 1:
                    n_set += 1
                else:
                    n_rep += 1
                x += 1
                if x >= w:
                    break
                kind, r, g, b, a = _pixel(src, y, x, mode, opacity, partial, inv)
                if kind != run:
                    break
            if fill:
                sx0[n] = start
                sx1[n] = x
                skind[n] = run
                sp[n] = first
            n += 1
        if fill:
            row_ptr[y + 1] = n
    return n, n_set, n_rep


def _index_nb(src, lut, fill, row_ptr, sx0, sx1, skind):  # pragma: no cover - compiled
    """Runs of an ``rgba8`` drawing's rows of equal ``lut[alpha]``: 0 transparent (no run), 1 opaque, 2 soft.
    Counts them (``fill`` False) or writes them."""
    h, w = src.shape[0], src.shape[1]
    n = 0
    for y in range(h):
        x = 0
        while x < w:
            kind = lut[src[y, x, 3]]
            if kind == 0:
                x += 1
                continue
            start = x
            x += 1
            while x < w and lut[src[y, x, 3]] == kind:
                x += 1
            if fill:
                sx0[n] = start
                sx1[n] = x
                skind[n] = kind
            n += 1
        if fill:
            row_ptr[y + 1] = n
    return n


def _lay_index_nb(dst, dx, dy, src, row_ptr, sx0, sx1, skind, mode, opacity, inv):  # pragma: no cover
    """`kernels._blend_rgba8_nb` over the runs of `_index_nb` only: the same operations on every pixel it
    changes; an opaque run in ``over`` is written without reading ``dst`` (``d * 0 + s`` is ``s``)."""
    one = np.float32(1.0)
    partial = opacity < one
    height, width = dst.shape[0], dst.shape[1]
    rows = row_ptr.shape[0] - 1
    for gy in range(max(0, -dy), min(rows, height - dy)):
        y = gy + dy
        for s in range(row_ptr[gy], row_ptr[gy + 1]):
            a, b = max(sx0[s], -dx), min(sx1[s], width - dx)
            if skind[s] == 1 and mode == 0:
                for gx in range(a, b):
                    sa = np.float32(src[gy, gx, 3]) * inv
                    x = gx + dx
                    r = (np.float32(src[gy, gx, 0]) * inv) * sa
                    g = (np.float32(src[gy, gx, 1]) * inv) * sa
                    bb = (np.float32(src[gy, gx, 2]) * inv) * sa
                    if partial:
                        r = r * opacity
                        g = g * opacity
                        bb = bb * opacity
                        sa = sa * opacity
                    dst[y, x, 0] = r
                    dst[y, x, 1] = g
                    dst[y, x, 2] = bb
                    dst[y, x, 3] = sa
            else:
                for gx in range(a, b):
                    sa = np.float32(src[gy, gx, 3]) * inv
                    r = (np.float32(src[gy, gx, 0]) * inv) * sa
                    g = (np.float32(src[gy, gx, 1]) * inv) * sa
                    bb = (np.float32(src[gy, gx, 2]) * inv) * sa
                    if partial:
                        r = r * opacity
                        g = g * opacity
                        bb = bb * opacity
                        sa = sa * opacity
                    _blend_pixel(dst, y, gx + dx, r, g, bb, sa, mode)


if HAVE_REUSE:
    import numba

    _blend_pixel = kernels._blend_pixel
    _jit = numba.njit(cache=True, nogil=True, fastmath=False, boundscheck=False)
    _scan = _jit(_scan_nb)
    _ops = _jit(_ops_nb)
    _spans = _jit(_spans_nb)
    _apply = _jit(_apply_nb)
    _pixel = numba.njit(cache=True, nogil=True, inline="always")(_pixel_u8)
    _pixel_f = numba.njit(cache=True, nogil=True, inline="always")(_pixel_f32)
    _single_u8 = _jit(_single_nb)
    _index = _jit(_index_nb)
    _lay_index = _jit(_lay_index_nb)


# ------------------------------------------------------------------------------------------------------------
# Groups


@dataclass(frozen=True)
class Member:
    """One layer of a group: its piece (``rgba8`` or float32 premultiplied, C-contiguous), where its top-left
    corner lies relative to the group's anchor (the first member's corner, say), its blend mode and opacity."""

    pixels: np.ndarray
    x: int
    y: int
    mode: str
    opacity: float


@dataclass(frozen=True)
class Group:
    """Consecutive layers composited once (see the module's docstring). ``x``, ``y``: where the group's box
    starts relative to its anchor (see `Member`); ``height`` rows of spans."""

    x: int
    y: int
    width: int
    height: int
    row_ptr: np.ndarray  # int64 (height + 1): the spans of row r are row_ptr[r]:row_ptr[r + 1]
    span_x0: np.ndarray  # int32: first column of a span, in the box
    span_x1: np.ndarray  # int32: one past its last column
    span_kind: np.ndarray  # uint8: SET or REPLAY
    span_first: np.ndarray  # int64: its first pixel in set_val (SET) or rep_start (REPLAY)
    set_val: np.ndarray  # float32 (n, 4): decided pixels, premultiplied RGBA
    rep_start: np.ndarray  # int64 (m + 1): the blends of replayed pixel k are op_*[rep_start[k]:rep_start[k + 1]]
    op_val: np.ndarray  # float32 (o, 4): premultiplied source values (opacity applied)
    op_mode: np.ndarray  # uint8 (o,): kernels.MODES codes

    @property
    def nbytes(self) -> int:
        return sum(
            a.nbytes
            for a in (self.row_ptr, self.span_x0, self.span_x1, self.span_kind, self.span_first, self.set_val,
                      self.rep_start, self.op_val, self.op_mode)
        )

    def lay(self, dst: np.ndarray, x: int, y: int) -> None:
        """Lay the group on ``dst`` (float32 premultiplied RGBA ``(H, W, 4)``, C-contiguous) in place, its first
        anchor at ``(x, y)`` (clipped): the same bits as laying the members one by one with
        ``kernels.blend_region``."""
        _apply(dst, x + self.x, y + self.y, self.row_ptr, self.span_x0, self.span_x1, self.span_kind,
               self.span_first, self.set_val, self.rep_start, self.op_val, self.op_mode)


def build_group(members: list[Member]) -> Group:
    """Composite ``members`` (bottom first) once into a `Group`. Needs numba (``HAVE_REUSE``)."""
    if not HAVE_REUSE:
        raise RuntimeError("layer groups need numba")
    live = [m for m in members if m.pixels.size and m.opacity > 0]
    if not live:
        return _empty_group()
    if len(live) == 1 and live[0].pixels.dtype == np.uint8:
        return _single_group(live[0])
    x0 = min(m.x for m in live)
    y0 = min(m.y for m in live)
    width = max(m.x + m.pixels.shape[1] for m in live) - x0
    height = max(m.y + m.pixels.shape[0] for m in live) - y0
    row_ptr = np.zeros(height + 1, np.int64)
    spans: list[tuple[np.ndarray, ...]] = []
    sets: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    modes: list[np.ndarray] = []
    n_set = n_rep = n_ops = 0
    rows = min(BUILD_ROWS, height)
    tile = np.empty((rows, width, 4), np.float32)
    state = np.empty((rows, width), np.uint8)
    count = np.empty((rows, width), np.int32)
    for r0 in range(0, height, BUILD_ROWS):
        h = min(BUILD_ROWS, height - r0)
        t, st, cn = tile[:h], state[:h], count[:h]
        t.fill(0)
        st.fill(0)
        cn.fill(0)
        placed = []
        for m in live:
            ox, oy = m.x - x0, m.y - y0 - r0
            if oy >= h or oy + m.pixels.shape[0] <= 0:
                continue
            src = np.ascontiguousarray(m.pixels)
            op = np.float32(m.opacity)
            _scan(t, st, cn, ox, oy, src, MODES[m.mode], op, INV255, src.dtype == np.uint8)
            placed.append((src, ox, oy, MODES[m.mode], op))
        replay = st == 2
        per_pixel = np.where(replay, cn, 0).astype(np.int64)
        total = int(per_pixel.sum())
        if total:
            start = np.cumsum(per_pixel).reshape(h, width) - per_pixel  # into this band's op arrays
            cursor = np.zeros((h, width), np.int32)
            op_val = np.empty((total, 4), np.float32)
            op_mode = np.empty(total, np.uint8)
            for src, ox, oy, code, op in placed:
                _ops(st, start, cursor, ox, oy, src, code, op, INV255, op_val, op_mode, src.dtype == np.uint8)
            starts.append(start[replay] + n_ops)
            vals.append(op_val)
            modes.append(op_mode)
        capacity = int(np.count_nonzero(st)) + h
        sx0 = np.empty(capacity, np.int32)
        sx1 = np.empty(capacity, np.int32)
        skind = np.empty(capacity, np.uint8)
        sp = np.empty(capacity, np.int64)
        local_ptr = np.zeros(h + 1, np.int64)
        n = _spans(st, 0, n_set, n_rep, local_ptr, sx0, sx1, skind, sp)
        row_ptr[r0 + 1 : r0 + h + 1] = local_ptr[1:] + row_ptr[r0]
        spans.append((sx0[:n].copy(), sx1[:n].copy(), skind[:n].copy(), sp[:n].copy()))
        decided = st == 1
        sets.append(t[decided])
        n_set += sets[-1].shape[0]
        n_rep += int(np.count_nonzero(replay))
        n_ops += total
    rep_start = np.empty(n_rep + 1, np.int64)
    rep_start[:n_rep] = np.concatenate(starts) if starts else np.empty(0, np.int64)
    rep_start[n_rep] = n_ops
    return Group(
        x=x0,
        y=y0,
        width=width,
        height=height,
        row_ptr=row_ptr,
        span_x0=np.concatenate([s[0] for s in spans]),
        span_x1=np.concatenate([s[1] for s in spans]),
        span_kind=np.concatenate([s[2] for s in spans]),
        span_first=np.concatenate([s[3] for s in spans]),
        set_val=np.ascontiguousarray(np.concatenate(sets)) if sets else np.empty((0, 4), np.float32),
        rep_start=rep_start,
        op_val=np.concatenate(vals) if vals else np.empty((0, 4), np.float32),
        op_mode=np.concatenate(modes) if modes else np.empty(0, np.uint8),
    )


def _single_group(m: Member) -> Group:
    """`build_group` of one ``rgba8`` layer: one sweep to count, one to fill, no scratch frame."""
    src = np.ascontiguousarray(m.pixels)
    code, op = MODES[m.mode], np.float32(m.opacity)
    h, w = src.shape[:2]
    row_ptr = np.zeros(h + 1, np.int64)
    empty_i32, empty_u8 = np.empty(0, np.int32), np.empty(0, np.uint8)
    n, n_set, n_rep = _single_u8(src, code, op, INV255, False, row_ptr, empty_i32, empty_i32, empty_u8,
                                 np.empty(0, np.int64), np.empty((0, 4), np.float32), np.empty((0, 4), np.float32),
                                 empty_u8)
    sx0, sx1 = np.empty(n, np.int32), np.empty(n, np.int32)
    skind, sp = np.empty(n, np.uint8), np.empty(n, np.int64)
    set_val, op_val, op_mode = np.empty((n_set, 4), np.float32), np.empty((n_rep, 4), np.float32), np.empty(n_rep, np.uint8)
    _single_u8(src, code, op, INV255, True, row_ptr, sx0, sx1, skind, sp, set_val, op_val, op_mode)
    return Group(m.x, m.y, w, h, row_ptr, sx0, sx1, skind, sp, set_val, np.arange(n_rep + 1, dtype=np.int64),
                 op_val, op_mode)


def _empty_group() -> Group:
    return Group(0, 0, 0, 0, np.zeros(1, np.int64), np.empty(0, np.int32), np.empty(0, np.int32),
                 np.empty(0, np.uint8), np.empty(0, np.int64), np.empty((0, 4), np.float32),
                 np.zeros(1, np.int64), np.empty((0, 4), np.float32), np.empty(0, np.uint8))


# ------------------------------------------------------------------------------------------------------------
# One drawing: its runs


@dataclass(frozen=True)
class Runs:
    """Where an ``rgba8`` drawing (its covered piece) is transparent, opaque or soft, row by row: found once per
    drawing and opacity, then used on every frame that lays it in ``over``, ``multiply`` or ``screen``
    (transparent runs are skipped, opaque ones in ``over`` written without reading the frame). A few bytes a
    run: the pixels stay the drawing's own."""

    opacity: float
    row_ptr: np.ndarray  # int64 (h + 1)
    span_x0: np.ndarray  # int32
    span_x1: np.ndarray  # int32
    span_kind: np.ndarray  # uint8: 1 opaque, 2 soft

    @property
    def nbytes(self) -> int:
        return self.row_ptr.nbytes + self.span_x0.nbytes + self.span_x1.nbytes + self.span_kind.nbytes

    def lay(self, dst: np.ndarray, x: int, y: int, pixels: np.ndarray, mode: str) -> None:
        """``kernels.blend_region(dst, x, y, pixels, mode, opacity)`` (``pixels`` the drawing the runs were
        found in, ``mode`` not ``add``: there a transparent pixel still counts) with the same bits, faster."""
        _lay_index(dst, x, y, pixels, self.row_ptr, self.span_x0, self.span_x1, self.span_kind, MODES[mode],
                   np.float32(self.opacity), INV255)


def run_kinds(opacity: float) -> np.ndarray:
    """``uint8`` (256,): the run kind of each 8-bit alpha at ``opacity``, by the kernels' own float32 arithmetic:
    0 transparent, 1 opaque (``1 - a`` is exactly 0, so ``over`` leaves nothing of the frame), 2 soft."""
    alpha = np.arange(256, dtype=np.float32) * INV255
    op = np.float32(opacity)
    if op < np.float32(1.0):
        alpha = alpha * op
    kinds = np.where(np.float32(1.0) - alpha == 0, 1, 2).astype(np.uint8)
    kinds[0] = 0
    return kinds


def find_runs(pixels: np.ndarray, opacity: float) -> Runs:
    """The `Runs` of an ``rgba8`` drawing ``(h, w, 4)`` (C-contiguous) laid at ``opacity``. Needs numba."""
    if not HAVE_REUSE:
        raise RuntimeError("runs need numba")
    h = pixels.shape[0]
    lut = run_kinds(opacity)
    row_ptr = np.zeros(h + 1, np.int64)
    e32, e8 = np.empty(0, np.int32), np.empty(0, np.uint8)
    n = _index(pixels, lut, False, row_ptr, e32, e32, e8)
    sx0, sx1, kind = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.uint8)
    _index(pixels, lut, True, row_ptr, sx0, sx1, kind)
    return Runs(float(opacity), row_ptr, sx0, sx1, kind)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel here on tiny inputs, so a timing excludes it."""
    if not HAVE_REUSE:
        return
    drawing = np.full((2, 3, 4), 255, np.uint8)
    drawing[0, 0] = 0
    drawing[1, 1, 3] = 128
    frame = np.zeros((4, 4, 4), np.float32)
    for pixels in (drawing, premultiply_rgba8(drawing)):
        build_group([Member(pixels, 0, 0, "over", 1.0), Member(pixels, 1, 1, "over", 0.5)]).lay(frame, 0, 0)
        build_group([Member(pixels, 0, 0, "over", 1.0)]).lay(frame, 1, 0)
    find_runs(drawing, 1.0).lay(frame, 0, 1, drawing, "over")
