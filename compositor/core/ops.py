"""Pure compositing operations on frames.

Every frame here is ``float32`` **premultiplied** RGBA of shape ``(H, W, 4)`` with values in ``[0, 1]``:
colour channels already multiplied by alpha, so a fully transparent pixel is ``(0, 0, 0, 0)`` and a valid
pixel has every colour channel ``<= alpha``. Functions never modify their inputs and return new arrays, except
``blend_into``, which is explicitly in place (the per-frame compositor uses it so that only the rectangle a
cel covers is touched).

Blend modes (``BLEND_MODES``), with ``cs, cd`` premultiplied source and destination colours and ``as, ad``
their alphas, after ``opacity`` has scaled the whole source (colour and alpha):

- every mode: ``ao = as + ad * (1 - as)`` (Porter-Duff over for coverage);
- ``over``:     ``co = cs + cd * (1 - as)``;
- ``multiply``: ``co = cs * cd + cs * (1 - ad) + cd * (1 - as)`` (W3C Compositing, separable blend,
  source-over);
- ``screen``:   ``co = cs + cd - cs * cd``;
- ``add``:      ``co = min(cs + cd, ao)``: the light of both layers summed (the 加算 / "linear dodge" of anime
  photography), clipped at the result's alpha so the pixel stays a valid premultiplied colour; over an opaque
  backdrop that is ``min(cs + cd, 1)``. Coverage is composited like ``over`` (not summed as in Porter-Duff
  *plus*), so a soft glow layer never makes the frame more opaque than laying it over would.

For ``multiply`` and ``screen`` this is the W3C formula, which differs from layer-style libraries that keep
the backdrop's alpha (GIMP, the ``blend_modes`` package) only where the backdrop is not opaque: there the W3C
result also shows the source, as Photoshop, After Effects and Nuke do.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

__all__ = [
    "BLEND_MODES",
    "add",
    "blend",
    "blend_into",
    "gaussian_blur",
    "glow",
    "grade",
    "grain",
    "luminance",
    "multiply",
    "over",
    "premultiply",
    "screen",
    "unpremultiply",
    "vignette",
    "wide_blur",
]

_F32 = np.float32
_ONE = np.float32(1.0)

# Rec. 709 luma weights: the frames are display-referred sRGB, and these are the weights video tools use.
LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


# ------------------------------------------------------------------------------------------------------------
# In-place kernels: ``d`` is a view of the destination (modified), ``s`` the matching source region, both
# premultiplied float32 of the same shape ``(h, w, 4)``. The pure functions and ``blend_into`` share them, so
# the two give bit-identical results.


def _over_kernel(d: np.ndarray, s: np.ndarray) -> None:
    d *= _ONE - s[:, :, 3:4]
    d += s


def _multiply_kernel(d: np.ndarray, s: np.ndarray) -> None:
    # co = cs*cd + cs*(1-ad) + cd*(1-as) = cs*(cd + 1 - ad) + cd*(1-as)
    source_term = s[:, :, :3] * (d[:, :, :3] + (_ONE - d[:, :, 3:4]))
    d *= _ONE - s[:, :, 3:4]
    d[:, :, :3] += source_term
    d[:, :, 3:4] += s[:, :, 3:4]


def _screen_kernel(d: np.ndarray, s: np.ndarray) -> None:
    # Colour cs + cd*(1-cs) and alpha as + ad*(1-as) are the same expression channel by channel.
    d *= _ONE - s
    d += s


def _add_kernel(d: np.ndarray, s: np.ndarray) -> None:
    alpha = d[:, :, 3:4]
    alpha *= _ONE - s[:, :, 3:4]
    alpha += s[:, :, 3:4]
    colour = d[:, :, :3]
    colour += s[:, :, :3]
    np.minimum(colour, alpha, out=colour)


_KERNELS: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    "over": _over_kernel,
    "multiply": _multiply_kernel,
    "screen": _screen_kernel,
    "add": _add_kernel,
}


def _check_frame(name: str, img: np.ndarray) -> None:
    if img.ndim != 3 or img.shape[2] != 4:
        raise ValueError(f"{name}: expected an RGBA frame of shape (H, W, 4), got {img.shape}")


def _kernel(mode: str) -> Callable[[np.ndarray, np.ndarray], None]:
    try:
        return _KERNELS[mode]
    except KeyError:
        raise ValueError(f"unknown blend mode {mode!r}; known: {', '.join(_KERNELS)}") from None


def blend_into(dst: np.ndarray, src: np.ndarray, mode: str = "over", opacity: float = 1.0,
               x: int = 0, y: int = 0) -> None:
    """Composite ``src`` onto ``dst`` **in place**, with ``src``'s top-left corner at pixel ``(x, y)`` of
    ``dst``.

    ``dst``: float32 premultiplied RGBA ``(H, W, 4)``, C-contiguous or a writable view; modified.
    ``src``: premultiplied RGBA ``(h, w, 4)``, any size; the parts that fall outside ``dst`` (negative
    ``x``/``y`` or past the right/bottom edge) are clipped away. ``src`` is never modified.
    ``x``, ``y``: integer offsets; sub-pixel placement is the caller's resampling (e.g. ``cv2.warpAffine``).

    Only the covered rectangle of ``dst`` is read and written, and the result equals ``blend(dst, padded)``
    exactly, where ``padded`` is ``src`` placed on a transparent frame the size of ``dst`` (transparency is
    the identity of every mode).
    """
    _check_frame("dst", dst)
    _check_frame("src", src)
    if dst.dtype != np.float32:
        raise TypeError(f"dst: expected float32 for in-place compositing, got {dst.dtype}")
    kernel = _kernel(mode)
    x, y = int(x), int(y)
    height, width = dst.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + src.shape[1], width), min(y + src.shape[0], height)
    if x0 >= x1 or y0 >= y1 or opacity <= 0:
        return
    region = dst[y0:y1, x0:x1]
    piece = src[y0 - y : y1 - y, x0 - x : x1 - x]
    if opacity < 1:
        piece = piece.astype(np.float32) * np.float32(opacity)
    elif piece.dtype != np.float32:
        piece = piece.astype(np.float32)
    kernel(region, piece)


def blend(dst: np.ndarray, src: np.ndarray, mode: str = "over", opacity: float = 1.0) -> np.ndarray:
    """``src`` composited onto ``dst`` with a blend mode (see the module docstring for the formulas).

    ``dst``, ``src``: premultiplied RGBA of the same shape ``(H, W, 4)``; ``opacity`` in ``[0, 1]`` scales
    ``src`` (colour and alpha) first. Returns a new float32 ``(H, W, 4)`` array; the inputs are untouched.
    Raises ``ValueError`` for an unknown mode or mismatched shapes.
    """
    _check_frame("dst", dst)
    _check_frame("src", src)
    if dst.shape != src.shape:
        raise ValueError(f"blend: dst {dst.shape} and src {src.shape} differ; see blend_into")
    out = np.array(dst, dtype=np.float32, copy=True, order="C")
    blend_into(out, src, mode, opacity, 0, 0)
    return out


def over(dst: np.ndarray, src: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Porter-Duff ``src`` over ``dst`` (premultiplied): ``co = cs + cd (1 - as)``, ``ao = as + ad (1 - as)``.

    Shapes ``(H, W, 4)`` for both; returns a new float32 ``(H, W, 4)``.
    """
    return blend(dst, src, "over", opacity)


def multiply(dst: np.ndarray, src: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """W3C multiply: ``co = cs cd + cs (1 - ad) + cd (1 - as)``; shapes ``(H, W, 4)``; returns a new array."""
    return blend(dst, src, "multiply", opacity)


def screen(dst: np.ndarray, src: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """W3C screen: ``co = cs + cd - cs cd``; shapes ``(H, W, 4)``; returns a new array."""
    return blend(dst, src, "screen", opacity)


def add(dst: np.ndarray, src: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Additive light: ``co = min(cs + cd, ao)``, ``ao`` as for over; shapes ``(H, W, 4)``; a new array."""
    return blend(dst, src, "add", opacity)


BLEND_MODES: dict[str, Callable[..., np.ndarray]] = {
    "over": over,
    "multiply": multiply,
    "screen": screen,
    "add": add,
}
"""Blend modes by the name a shot spec uses (``layers[].blend``): ``fn(dst, src, opacity=1.0) -> frame``."""


# ------------------------------------------------------------------------------------------------------------
# Alpha helpers


def premultiply(rgba_straight: np.ndarray) -> np.ndarray:
    """Straight (unassociated) RGBA ``(H, W, 4)`` → premultiplied float32 RGBA ``(H, W, 4)``."""
    _check_frame("rgba_straight", rgba_straight)
    img = np.asarray(rgba_straight, dtype=np.float32)
    out = np.empty(img.shape, np.float32)
    np.multiply(img[:, :, :3], img[:, :, 3:4], out=out[:, :, :3])
    out[:, :, 3] = img[:, :, 3]
    return out


def unpremultiply(rgba_premult: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA ``(H, W, 4)`` → straight float32 RGBA ``(H, W, 4)``; transparent pixels get 0."""
    _check_frame("rgba_premult", rgba_premult)
    img = np.asarray(rgba_premult, dtype=np.float32)
    alpha = img[:, :, 3:4]
    out = np.empty(img.shape, np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(img[:, :, :3], alpha, out=out[:, :, :3])
    out[:, :, :3] = np.where(alpha > 0, np.clip(out[:, :, :3], 0, 1), 0)
    out[:, :, 3] = img[:, :, 3]
    return out


def luminance(frame: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of the (premultiplied) colour of ``(H, W, 4)`` or ``(H, W, 3)``: float32 ``(H, W)``."""
    return np.asarray(frame[:, :, :3], dtype=np.float32) @ LUMA_WEIGHTS


# ------------------------------------------------------------------------------------------------------------
# Filters and the finishing effects of anime photography (撮影): a cut's [[effects]] list.


def gaussian_blur(img: np.ndarray, radius: float, edge: str = "reflect") -> np.ndarray:
    """Gaussian blur with standard deviation ``radius`` pixels (Photoshop's "radius"), on any ``(H, W, C)``
    array.

    Blurring premultiplied RGBA is correct as it is (no dark fringes). ``edge`` is ``"reflect"`` (for whole
    frames: the picture continues past the border) or ``"transparent"`` (for cels: zeros beyond the border).
    ``radius <= 0`` returns a copy. Returns float32 of the input's shape.
    """
    img = np.asarray(img, dtype=np.float32)
    if radius <= 0:
        return img.copy()
    if edge not in ("reflect", "transparent"):
        raise ValueError(f"gaussian_blur: edge must be 'reflect' or 'transparent', got {edge!r}")
    border = cv2.BORDER_REFLECT_101 if edge == "reflect" else cv2.BORDER_CONSTANT
    out = cv2.GaussianBlur(img, (0, 0), sigmaX=float(radius), sigmaY=float(radius), borderType=border)
    return out.reshape(img.shape)


WIDE_BLUR_SPAN = 8.0
"""``wide_blur`` works at a reduced size where the radius there still spans this many pixels: the result is
then within 0.4/255 of the exact blur (measured for radii 16 to 100 on a drawing with hard edges)."""


def wide_blur(img: np.ndarray, radius: float, edge: str = "reflect") -> np.ndarray:
    """``gaussian_blur`` at any radius for the cost of a small one: ``(H, W, C)`` in, float32 of its shape out.

    Below ``2 * WIDE_BLUR_SPAN`` px (or on an image too small to reduce) it is exactly ``gaussian_blur``.
    Wider, the image is reduced by a power of two (area averaging) until the radius spans ``WIDE_BLUR_SPAN``
    pixels there, blurred, and enlarged back (bilinear): a wide Gaussian is smooth, so nothing visible is
    lost, and a 500 px blur costs what an 8 to 16 px one does instead of minutes.
    """
    img = np.asarray(img, dtype=np.float32)
    height, width = img.shape[:2]
    factor = 1
    while radius / (factor * 2) >= WIDE_BLUR_SPAN and min(height, width) / (factor * 2) >= 8:
        factor *= 2
    if factor == 1:
        return gaussian_blur(img, radius, edge)
    small = cv2.resize(img, (max(1, round(width / factor)), max(1, round(height / factor))),
                       interpolation=cv2.INTER_AREA)
    small = gaussian_blur(small.reshape(small.shape[:2] + img.shape[2:]), radius / factor, edge)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(img.shape)


def _reduction_for(radius: float, height: int, width: int) -> int:
    """A power-of-two downscale factor at which a blur of ``radius`` still spans >= 4 pixels (wide blurs are
    smooth, so computing them small and scaling back up loses nothing visible and saves most of the time)."""
    factor = 1
    while radius / (factor * 2) >= 4 and min(height, width) // (factor * 2) >= 16:
        factor *= 2
    return factor


def _tint_array(tint: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(tint, dtype=np.float32).reshape(-1)
    if arr.shape != (3,):
        raise ValueError(f"tint: expected three numbers (r, g, b), got {tint!r}")
    return arr


def glow(frame: np.ndarray, strength: float = 0.5, radius: float = 24.0, threshold: float = 0.7,
         tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Diffusion / bloom: the bright parts of the picture, blurred, tinted and screened back over it.

    ``frame``: premultiplied RGBA ``(H, W, 4)``. Pixels whose luma is above ``threshold`` contribute, ramping
    in linearly from ``threshold`` to 1 (so there is no hard edge where the glow starts); the extract is
    blurred with ``gaussian_blur`` of ``radius``, scaled by ``strength`` and ``tint`` and laid on with
    ``screen`` (its alpha being its brightest channel), so highlights bloom without clipping and a transparent
    area gains a soft halo. Returns a new float32 ``(H, W, 4)``.
    """
    _check_frame("frame", frame)
    img = np.asarray(frame, dtype=np.float32)
    height, width = img.shape[:2]
    factor = _reduction_for(radius, height, width)
    small = img if factor == 1 else cv2.resize(
        img, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    span = max(1.0 - float(threshold), 1e-3)
    weight = np.clip((luminance(small) - np.float32(threshold)) / np.float32(span), 0, 1)
    halo = np.empty(small.shape, np.float32)
    np.multiply(small[:, :, :3], weight[:, :, None], out=halo[:, :, :3])
    halo[:, :, :3] = gaussian_blur(halo[:, :, :3], radius / factor)
    halo[:, :, :3] *= np.float32(strength) * _tint_array(tint)
    np.clip(halo[:, :, :3], 0, 1, out=halo[:, :, :3])
    np.maximum(np.maximum(halo[:, :, 0], halo[:, :, 1]), halo[:, :, 2], out=halo[:, :, 3])
    if factor != 1:
        halo = cv2.resize(halo, (width, height), interpolation=cv2.INTER_LINEAR)
    return blend(img, halo, "screen")


def vignette(frame: np.ndarray, strength: float = 0.5) -> np.ndarray:
    """Darken towards the corners: colour × ``1 - strength · r²``, ``r`` = 1 at the corners, 0 at the centre.

    ``frame``: premultiplied RGBA ``(H, W, 4)``; alpha is kept (premultiplied colour only gets darker, so it
    stays valid). The falloff is elliptical, following the frame's aspect. Returns a new float32 ``(H, W,
    4)``.
    """
    _check_frame("frame", frame)
    img = np.asarray(frame, dtype=np.float32)
    height, width = img.shape[:2]
    ys = (np.arange(height, dtype=np.float32) + 0.5) / np.float32(height) * 2 - 1
    xs = (np.arange(width, dtype=np.float32) + 0.5) / np.float32(width) * 2 - 1
    r2 = (ys[:, None] ** 2 + xs[None, :] ** 2) * np.float32(0.5)
    gain = np.clip(_ONE - np.float32(strength) * r2, 0, 1)
    out = img.copy()
    out[:, :, :3] *= gain[:, :, None]
    return out


def grain(frame: np.ndarray, strength: float = 0.5, seed: int = 0) -> np.ndarray:
    """Film grain: monochrome Gaussian noise of standard deviation ``0.05 · strength``, deterministic per
    ``seed``.

    ``frame``: premultiplied RGBA ``(H, W, 4)``. The same ``seed`` gives the same grain on any machine
    (numpy's PCG64), so a cut renders identically locally and on a cluster; pass a different seed per frame
    (e.g.
    ``effect.seed * 100_003 + frame_number``) for grain that moves. Noise is scaled by alpha (it lives on the
    picture, not on transparency) and the colour is clipped to ``[0, alpha]``. Returns a new float32 ``(H, W,
    4)``.
    """
    _check_frame("frame", frame)
    img = np.asarray(frame, dtype=np.float32)
    rng = np.random.default_rng(np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF))
    noise = rng.standard_normal(img.shape[:2], dtype=np.float32)
    noise *= np.float32(0.05 * strength)
    noise *= img[:, :, 3]
    out = img.copy()
    out[:, :, :3] += noise[:, :, None]
    np.clip(out[:, :, :3], 0, out[:, :, 3:4], out=out[:, :, :3])
    return out


def grade(frame: np.ndarray, strength: float = 0.5,
          tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A colour grade: gain towards ``tint`` and a tinted lift of the shadows, both scaled by ``strength``.

    In straight colour ``C' = C · (1 + s (tint - 1)) + 0.1 s · tint · (1 - C)``: with a white tint it only
    lifts the blacks a little (the soft, milky look of anime photography); a coloured tint (e.g. ``(1.0, 0.85,
    0.7)`` for dusk) also warms or cools the whole picture. ``frame``: premultiplied RGBA ``(H, W, 4)``;
    computed on premultiplied colour (``c' = c · gain + lift · (a - c)``), alpha kept, colour clipped to ``[0,
    alpha]``. Returns a new float32 ``(H, W, 4)``.
    """
    _check_frame("frame", frame)
    img = np.asarray(frame, dtype=np.float32)
    s = np.float32(strength)
    tint_arr = _tint_array(tint)
    # Alpha gets gain 1 and lift 0, so one 4-channel expression grades colour and keeps alpha exactly.
    gain = np.append(_ONE + s * (tint_arr - _ONE), _ONE).astype(np.float32)
    lift = np.append(np.float32(0.1) * s * tint_arr, np.float32(0)).astype(np.float32)
    out = img * gain
    out += (img[:, :, 3:4] - img) * lift
    np.clip(out[:, :, :3], 0, out[:, :, 3:4], out=out[:, :, :3])
    return out
