"""Control images for ControlNet: a layout drawing or a plate frame turned into what the model was trained on.

Pure functions on arrays (OpenCV, no torch). Inputs are frames as everywhere in compositor: float32 premultiplied
RGBA of shape ``(H, W, 4)``. Outputs are float32 RGB ``(H, W, 3)`` in ``[0, 1]``, white lines on black, which is
what the line-art, anime line-art, scribble and Canny ControlNets for Stable Diffusion 1.5 expect.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

ControlKind = Literal["lineart", "canny"]
CONTROL_KINDS: tuple[ControlKind, ...] = ("lineart", "canny")

CONTROL_VERSION = 1
"""Bumped whenever these functions change their output, so cached backgrounds made from them are redone."""

CANNY_THRESHOLDS = (100, 200)
"""The thresholds of the Canny ControlNet's training data (and of diffusers' examples), on 8-bit luminance."""


def control_kind_for(controlnet: str) -> ControlKind:
    """The control image a ControlNet expects, from its name: Canny edges for a ``canny`` model, else line art.

    Line-art, anime line-art, scribble and soft-edge ControlNets all read light lines on black; only the Canny one
    was trained on the thin double edges that Canny draws.
    """
    return "canny" if "canny" in controlnet.lower() else "lineart"


def flatten_on_white(frame: np.ndarray) -> np.ndarray:
    """Premultiplied RGBA ``(H, W, 4)`` → opaque RGB ``(H, W, 3)`` as if laid on white paper."""
    return np.clip(frame[:, :, :3] + (1.0 - frame[:, :, 3:4]), 0.0, 1.0).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of an RGB image ``(H, W, 3)`` → ``(H, W)`` float32."""
    return (rgb[:, :, 0] * 0.2126 + rgb[:, :, 1] * 0.7152 + rgb[:, :, 2] * 0.0722).astype(np.float32)


def line_art(frame: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Dark strokes of a drawing (or the dark edges of a photo) as light lines on black, ``(H, W)`` in ``[0, 1]``.

    A pixel's ink is how much darker it is than its neighbourhood (a difference of Gaussians), so pencil lines on
    paper, ink on a grey wash and the dark contours of a filmed frame all come out as lines, while flat paper and
    flat colour come out black. ``sigma`` (pixels) is the neighbourhood; by default it grows with the image so a
    line drawn at 2–4 px on a 720p layout reads fully. The result is scaled so the strongest lines reach 1.
    """
    gray = luminance(flatten_on_white(frame))
    if sigma is None:
        sigma = max(1.5, min(gray.shape) / 256)
    surround = cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    ink = np.maximum(surround - gray, 0.0)
    # Normalise by the strong end of the ink, but never amplify a nearly blank page into noise.
    scale = max(float(np.percentile(ink, 99.5)), 0.1)
    return np.clip(ink / scale, 0.0, 1.0).astype(np.float32)


def canny_edges(
    frame: np.ndarray, low: int = CANNY_THRESHOLDS[0], high: int = CANNY_THRESHOLDS[1]
) -> np.ndarray:
    """Canny edges of the frame's luminance as 0/1 float32 ``(H, W)``."""
    gray = luminance(flatten_on_white(frame))
    return (cv2.Canny((gray * 255 + 0.5).astype(np.uint8), low, high) > 0).astype(np.float32)


def control_image(frame: np.ndarray, kind: ControlKind) -> np.ndarray:
    """The control image of ``kind`` for a premultiplied RGBA frame: float32 RGB ``(H, W, 3)``, lines white."""
    if kind == "lineart":
        lines = line_art(frame)
    elif kind == "canny":
        lines = canny_edges(frame)
    else:
        raise ValueError(f"unknown control kind {kind!r} (have: {', '.join(CONTROL_KINDS)})")
    return np.repeat(lines[:, :, None], 3, axis=2)


def resize_to(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an image ``(H, W, C)`` to ``size = (width, height)``: area averaging down, bicubic up."""
    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    shrinking = w * h < frame.shape[0] * frame.shape[1]
    out = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    if out.ndim == 2:
        out = out[:, :, None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def pad_to(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Extend an image ``(H, W, C)`` to ``size = (width, height)`` at the right and bottom by mirroring its edge."""
    w, h = size
    dh, dw = h - frame.shape[0], w - frame.shape[1]
    if dh < 0 or dw < 0:
        raise ValueError(f"cannot pad {frame.shape[1]}x{frame.shape[0]} down to {w}x{h}")
    if dh == 0 and dw == 0:
        return frame
    # Mirror needs at least two pixels each way; an image that small is replicated instead.
    mode = cv2.BORDER_REFLECT_101 if min(frame.shape[:2]) > max(dh, dw) else cv2.BORDER_REPLICATE
    out = cv2.copyMakeBorder(frame, 0, dh, 0, dw, mode)
    if out.ndim == 2:
        out = out[:, :, None]
    return out
