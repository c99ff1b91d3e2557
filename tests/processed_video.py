"""Real per-frame processing of real footage: the flicker the temporal pass is for.

Each function processes ONE frame on its own, as a frame-by-frame tool does (no memory of the frame before), so
the flicker it leaves is whatever that algorithm does when the picture changes a little: OpenCV's CLAHE tone
mapping (tiles re-equalised each frame), a gray-world white balance (the balance follows the frame's content), a
Reinhard colour transfer (Lab mean and spread) to a reference that changes from frame to frame, OpenCV's edge-
preserving ``stylization`` and ``detailEnhance``. The footage: DAVIS-2016 plates (tests/data/davis_small, or
../shared/data/plates/davis at full size), BSD licence.

Frames: RGB ``uint8`` ``(H, W, 3)`` in, RGB ``uint8`` out; ``rgba`` makes the float32 premultiplied RGBA the pass
takes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

SMALL = Path(__file__).parent / "data" / "davis_small"
"""Downscaled DAVIS clips for tests: ``<clip>/NNNN.jpg``, 320x180."""


def read_clip(
    folder: Path, frames: int | None = None, size: tuple[int, int] | None = None
) -> list[np.ndarray]:
    """The JPEG/PNG frames of a folder, sorted, as RGB uint8 (resized to ``size`` = (w, h) with INTER_AREA)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:frames]
    out = []
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if size is not None and (bgr.shape[1], bgr.shape[0]) != size:
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


def rgba(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` → opaque float32 RGBA ``(H, W, 4)`` in [0, 1]."""
    return cv2.cvtColor(frame, cv2.COLOR_RGB2RGBA).astype(np.float32) * np.float32(1 / 255)


def clahe(frame: np.ndarray, index: int = 0) -> np.ndarray:
    """CLAHE tone mapping of the L channel (Lab), 8x8 tiles, clip limit 3: each frame re-equalised."""
    lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB)
    lab[:, :, 0] = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(lab[:, :, 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)


def gray_world(frame: np.ndarray, index: int = 0) -> np.ndarray:
    """Gray-world white balance on the frame's bright-enough pixels, then a per-frame auto-levels stretch
    (1st to 99th percentile): both follow the frame's content."""
    rgb = frame.astype(np.float32)
    lum = rgb.mean(axis=2)
    use = (lum > 20) & (lum < 235)
    means = rgb[use].mean(axis=0) if use.any() else rgb.reshape(-1, 3).mean(axis=0)
    rgb *= means.mean() / np.maximum(means, 1.0)
    lo, hi = np.percentile(rgb, (1, 99))
    rgb = (rgb - lo) * (255.0 / max(hi - lo, 1.0))
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def reinhard(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Reinhard et al. (2001) colour transfer: the frame's Lab mean and spread made the reference's."""
    src = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float32)
    ref = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mean, s_std = src.reshape(-1, 3).mean(0), src.reshape(-1, 3).std(0) + 1e-3
    r_mean, r_std = ref.reshape(-1, 3).mean(0), ref.reshape(-1, 3).std(0)
    out = (src - s_mean) * (r_std / s_std) + r_mean
    return cv2.cvtColor(np.clip(out + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def stylization(frame: np.ndarray, index: int = 0) -> np.ndarray:
    """OpenCV's edge-preserving ``stylization`` (watercolour-like), on the frame alone."""
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(cv2.stylization(bgr, sigma_s=40, sigma_r=0.35), cv2.COLOR_BGR2RGB)


def detail_enhance(frame: np.ndarray, index: int = 0) -> np.ndarray:
    """OpenCV's ``detailEnhance`` then CLAHE: local contrast boosted, tone re-mapped per frame."""
    bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    return clahe(cv2.cvtColor(cv2.detailEnhance(bgr, sigma_s=10, sigma_r=0.15), cv2.COLOR_BGR2RGB))


PROCESSES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "clahe": clahe,
    "gray_world": gray_world,
    "stylization": stylization,
    "detail_enhance": detail_enhance,
}
"""Per-frame processes that need only the frame (``reinhard`` also needs the changing reference)."""


def process(
    frames: list[np.ndarray], how: str, references: list[np.ndarray] | None = None
) -> list[np.ndarray]:
    """Each frame processed alone by ``how`` (a key of ``PROCESSES``, or ``"reinhard"``: transfer to
    ``references[i % len(references)]``, a reference that changes every frame)."""
    if how == "reinhard":
        assert references
        return [reinhard(f, references[i % len(references)]) for i, f in enumerate(frames)]
    return [PROCESSES[how](f, i) for i, f in enumerate(frames)]
