"""End-point error and speed of the optical-flow settings the temporal pass offers.

EPE on MPI-Sintel (../shared/data/flow/sintel: clean and final pass, easy / medium / hard; ground truth frame
2 → 3), averaged over the pixels the ground truth marks valid ("all") and over the non-occluded ones ("noc");
the flow is computed at full, half and quarter resolution (then upscaled), as the pass does by default (half
at 1280x720, ``flow_scale`` 0). Speed: one flow, and one frame's whole motion analysis as the pass runs it
(grey conversion, flow backward and forward, forward–backward / motion-boundary / photometric checks,
upscaling), at 1280x720 on DAVIS blackswan frames.

    python bench/flow_presets.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compositor.core.io import read_image
from compositor.temporal import (
    DEFAULT_FLOW,
    FLOW_METHODS,
    FlowEstimator,
    MotionAnalyser,
    flow_grey,
    flow_scale_for,
)

DATA = ROOT.parent / "shared" / "data"
SINTEL = DATA / "flow" / "sintel"
DAVIS = DATA / "plates" / "davis" / "blackswan"
SCALES = (1.0, 0.5, 0.25)


def read_flo(path: Path) -> np.ndarray:
    data = np.fromfile(path, np.uint8)
    tag = data[:4].view(np.float32)[0]
    if abs(tag - 202021.25) > 1e-3:
        raise ValueError(f"{path}: not a .flo file")
    w, h = data[4:12].view(np.int32)
    return data[12:].view(np.float32).reshape(h, w, 2)


def upscaled(flow: np.ndarray, w: int, h: int) -> np.ndarray:
    if flow.shape[:2] == (h, w):
        return flow
    sx, sy = w / flow.shape[1], h / flow.shape[0]
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.array([sx, sy], np.float32)


def epe_table() -> dict[tuple[str, float], dict[str, float]]:
    results: dict[tuple[str, float], dict[str, float]] = {}
    for method in FLOW_METHODS:
        estimator = FlowEstimator(method)
        for scale in SCALES:
            row: dict[str, float] = {}
            for render in ("clean", "final"):
                for level in ("easy", "medium", "hard"):
                    folder = SINTEL / render / level
                    a, b = read_image(folder / "frame_0002.png"), read_image(folder / "frame_0003.png")
                    gt = read_flo(folder / "gt" / "frame_0002.flo")
                    invalid = (
                        cv2.imread(str(folder / "gt" / "invalid" / "frame_0002.png"), cv2.IMREAD_GRAYSCALE)
                        > 0
                    )
                    occluded = (
                        cv2.imread(str(folder / "gt" / "occlusions" / "frame_0002.png"), cv2.IMREAD_GRAYSCALE)
                        > 0
                    )
                    h, w = gt.shape[:2]
                    flow = upscaled(estimator(flow_grey(a, scale), flow_grey(b, scale)), w, h)
                    err = np.linalg.norm(flow - gt, axis=2)
                    row[f"{render}/{level}"] = float(err[~invalid].mean())
                    row[f"{render}/{level}/noc"] = float(err[~invalid & ~occluded].mean())
            results[(method, scale)] = row
    return results


def speed_table(repeats: int = 6) -> dict[tuple[str, float], dict[str, float]]:
    """Milliseconds for one flow and for one frame's motion analysis: the fastest of ``repeats`` runs (the
    least disturbed by whatever else the machine is doing)."""
    files = sorted(DAVIS.glob("*.jpg"))[: repeats + 1]
    frames = [cv2.resize(read_image(f), (1280, 720), interpolation=cv2.INTER_LINEAR) for f in files]
    results = {}
    for method in FLOW_METHODS:
        for scale in SCALES:
            analyser = MotionAnalyser(1280, 720, method, scale)
            estimator = FlowEstimator(method)
            prepared = [analyser.prepare(f) for f in frames]
            estimator(prepared[0].small, prepared[1].small)
            flow_times, frame_times = [], []
            for i in range(repeats):
                t0 = time.perf_counter()
                estimator(prepared[i + 1].small, prepared[i].small)
                flow_times.append(time.perf_counter() - t0)
            prev = analyser.prepare(frames[0])
            for i in range(repeats):
                t0 = time.perf_counter()
                here = analyser.prepare(frames[i + 1])
                analyser(prev, here)
                frame_times.append(time.perf_counter() - t0)
                prev = here
            results[(method, scale)] = {
                "flow_ms": min(flow_times) * 1000,
                "frame_ms": min(frame_times) * 1000,
            }
    return results


def main() -> int:
    cv2.setRNGSeed(0)
    epe = epe_table()
    speed = speed_table()
    cols = [f"{r}/{lv}" for r in ("clean", "final") for lv in ("easy", "medium", "hard")]
    print(
        "Optical flow on MPI-Sintel (EPE in pixels, all valid pixels; [non-occluded]) and speed at 1280x720"
    )
    print(
        "speed: one flow, and one frame's whole motion analysis (grey, backward+forward flow, checks, "
        "upscale)\n"
    )
    head = (
        f"{'method':<14}{'scale':>6} "
        + "".join(f"{c:>16}" for c in cols)
        + f"{'flow ms':>9}{'frame ms':>9}{'fps':>7}"
    )
    print(head)
    print("-" * len(head))
    for (method, scale), row in epe.items():
        sp = speed[(method, scale)]
        cells = "".join(f"{row[c]:>7.2f} [{row[c + '/noc']:>6.2f}]" for c in cols)
        print(
            f"{method:<14}{scale:>6.2f} {cells}{sp['flow_ms']:>9.1f}{sp['frame_ms']:>9.1f}"
            f"{1000 / sp['frame_ms']:>7.1f}"
        )
    print("\nKnown floor (data README): DIS medium ~0.3 px easy, 1-2 px medium, 17-23 px hard.")
    default = flow_scale_for(1280, 720)
    print(f"The pass's default: {DEFAULT_FLOW} at scale {default} for 1280x720 (flow_scale 0: automatic).")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; times: fastest of 6 runs."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
