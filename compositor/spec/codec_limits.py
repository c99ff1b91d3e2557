"""The smallest frame each encoder takes: one fact, read by validate (``spec.loading``) and by the encode
(``steps.encode.MoviePlan``), so a cut too small for its preset is refused in one line naming the preset
before anything renders, not at its first segment as "ffmpeg failed: Could not open encoder"."""

from __future__ import annotations

from compositor.spec.models import EncodePreset

MIN_SIZE: dict[str, tuple[str, tuple[int, int]]] = {
    "dnxhd": ("DNxHR", (256, 120)),
    "libx265": ("H.265 (x265)", (16, 16)),
}
"""Codec → (its name for people, the smallest (width, height) its ffmpeg encoder opens with). x265 refuses
frames under 16 px either way (its smallest coding unit); ffmpeg's DNxHR encoder refuses under 256x120."""


def too_small(preset: EncodePreset, size: tuple[int, int]) -> tuple[str, tuple[int, int]] | None:
    """(codec name, smallest size) when frames of ``size`` (as padded for the preset's chroma subsampling,
    which is what the encoder gets) are too small for ``preset``'s encoder; else None."""
    limit = MIN_SIZE.get(preset.codec)
    if limit is None:
        return None
    sx, sy = preset.subsampling
    padded = (-(-size[0] // sx) * sx, -(-size[1] // sy) * sy)
    name, (w, h) = limit
    return (name, (w, h)) if padded[0] < w or padded[1] < h else None
