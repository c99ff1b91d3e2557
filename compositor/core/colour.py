"""Colour: sRGB ↔ linear light on premultiplied frames, and OpenColorIO conversions for plates.

The compositor works in sRGB-encoded Rec.709 (display-referred, as drawings and paintings are made): frames in
memory are float32 premultiplied RGBA ``(H, W, 4)`` in ``[0, 1]`` holding sRGB-encoded colour. Linear light is
for compositing that should add light as light adds (``[colour] linear``) and for OpenEXR files (linear by
convention). OpenColorIO is imported only when a plate names a colour space.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from compositor.errors import BackendMissingError, SpecError

# The sRGB transfer function (IEC 61966-2-1), piecewise: linear toe, then a 2.4 power.
_A = 0.055
_TOE_ENCODED = 0.04045
_TOE_LINEAR = 0.0031308


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values → linear light, elementwise (any shape, float32). Pure."""
    v = np.asarray(v, dtype=np.float32)
    low = v / np.float32(12.92)
    high = np.power(np.maximum(v + np.float32(_A), 0) / np.float32(1 + _A), np.float32(2.4), dtype=np.float32)
    return np.where(v <= _TOE_ENCODED, low, high).astype(np.float32, copy=False)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """Linear light → sRGB-encoded values, elementwise (any shape, float32). Pure."""
    v = np.asarray(v, dtype=np.float32)
    low = v * np.float32(12.92)
    high = np.float32(1 + _A) * np.power(np.maximum(v, 0), np.float32(1 / 2.4), dtype=np.float32) - np.float32(_A)
    return np.where(v <= _TOE_LINEAR, low, high).astype(np.float32, copy=False)


def _convert_premultiplied(frame: np.ndarray, curve) -> np.ndarray:  # noqa: ANN001 (one of the two curves above)
    alpha = frame[:, :, 3:4]
    covered = alpha > 0
    straight = np.where(covered, frame[:, :, :3] / np.maximum(alpha, np.float32(1e-8)), 0)
    out = np.empty_like(frame, dtype=np.float32)
    out[:, :, :3] = np.where(covered, curve(straight) * alpha, 0)
    out[:, :, 3:4] = alpha
    return out


def to_linear(frame: np.ndarray) -> np.ndarray:
    """Premultiplied sRGB RGBA ``(H, W, 4)`` → premultiplied linear RGBA: the colour under alpha converted, alpha
    kept (so an edge pixel's coverage stays what it was). Pure."""
    return _convert_premultiplied(frame, srgb_to_linear)


def to_srgb(frame: np.ndarray) -> np.ndarray:
    """Premultiplied linear RGBA ``(H, W, 4)`` → premultiplied sRGB RGBA (the inverse of `to_linear`). Pure."""
    return _convert_premultiplied(frame, linear_to_srgb)


# ------------------------------------------------------------------------------------------------------------
# OpenColorIO


def _ocio():  # noqa: ANN202 (the PyOpenColorIO module)
    try:
        import PyOpenColorIO  # noqa: PLC0415 (only for plates that name a colour space)
    except ImportError:
        raise BackendMissingError(
            "OpenColorIO is not installed: pip install opencolorio (needed by background.plate_colourspace)"
        ) from None
    return PyOpenColorIO


@lru_cache(maxsize=4)
def _config(path: str):  # noqa: ANN202 (an OCIO Config)
    ocio = _ocio()
    try:
        return ocio.Config.CreateFromFile(path)
    except Exception as e:  # noqa: BLE001 (OCIO raises its own Exception type for a bad config)
        raise SpecError(f"{path}: not an OpenColorIO config ({' '.join(str(e).split())})") from None


def check_colourspaces(config: str, names: list[str]) -> None:
    """Raise a `SpecError` naming the first of ``names`` that ``config`` does not know (names or aliases)."""
    cfg = _config(config)
    for name in names:
        if cfg.getColorSpace(name) is None:
            have = ", ".join(cs.getName() for cs in cfg.getColorSpaces())
            raise SpecError(f"no colour space {name!r} in the OpenColorIO config {config} (have: {have})")


@lru_cache(maxsize=16)
def _processor(config: str, source: str, target: str):  # noqa: ANN202 (an OCIO CPUProcessor)
    cfg = _config(config)
    check_colourspaces(config, [source, target])
    return cfg.getProcessor(source, target).getDefaultCPUProcessor()


def convert_colourspace(frame: np.ndarray, config: str, source: str, target: str) -> np.ndarray:
    """Premultiplied RGBA ``(H, W, 4)`` with colour in ``source`` → in ``target`` (OCIO colour spaces of the
    ``config`` file), clipped to ``[0, 1]``. The colour is converted straight (unpremultiplied), as OCIO's
    transforms expect; alpha is kept. Pure (the processor is cached)."""
    if source == target:
        return frame
    processor = _processor(config, source, target)
    alpha = frame[:, :, 3:4]
    covered = alpha > 0
    rgb = np.ascontiguousarray(np.where(covered, frame[:, :, :3] / np.maximum(alpha, np.float32(1e-8)), 0), np.float32)
    processor.applyRGB(rgb)  # in place
    out = np.empty_like(frame, dtype=np.float32)
    out[:, :, :3] = np.clip(rgb, 0, 1) * alpha
    out[:, :, 3:4] = alpha
    return out
