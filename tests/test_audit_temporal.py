"""Audit of the temporal pass with material it had not seen: frame sizes the flow cannot take as they are, and
the like (real DAVIS footage processed frame by frame, tiny frames so that each case takes well under a second)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from processed_video import SMALL, process, read_clip, rgba

from compositor.temporal import TemporalSettings, deflicker

ROOT = Path(__file__).resolve().parent.parent


def _clip(size: tuple[int, int], frames: int = 4) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(processed, guide) RGBA frames of blackswan at ``size`` (w, h), gray-world balanced frame by frame."""
    original = read_clip(SMALL / "blackswan", frames, size)
    return [rgba(f) for f in process(original, "gray_world")], [rgba(f) for f in original]


@pytest.mark.parametrize("size", [(8, 8), (1, 24), (24, 1)])
def test_frames_smaller_than_the_flow_takes_are_steadied(size: tuple[int, int]) -> None:
    # OpenCV's DIS refuses an image under 12 px (a cv2.error traceback, before the padding).
    proc, guide = _clip(size)
    out = list(deflicker(proc, guide, TemporalSettings()))
    assert len(out) == len(proc)
    assert all(o.shape == (size[1], size[0], 4) and np.isfinite(o).all() for o in out)
    assert max(float(np.abs(o - p).max()) for o, p in zip(out, proc)) < 0.5


def test_a_thin_strip_does_not_crash_the_process() -> None:
    # A strip under 32 px tall and several times as wide made DIS read out of bounds: a segmentation fault that
    # killed the process (no error, no line). In a child process, so that the old crash fails this test only.
    code = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from test_audit_temporal import _clip\n"
        "from compositor.temporal import TemporalSettings, deflicker\n"
        "for flow in ('dis_fast', 'dis_medium'):\n"
        "    proc, guide = _clip((200, 16))\n"
        "    out = list(deflicker(proc, guide, TemporalSettings(flow=flow)))\n"
        "    assert len(out) == 4 and out[0].shape == (16, 200, 4)\n"
        "print('done')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "done"
