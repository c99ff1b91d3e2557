"""A plate or guide sequence keeps one frame size: one frame saved at another size (a retouch painted on a
resized copy) was scaled to cover the canvas on its own and jumped in the picture, silently."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from compositor.core.io import CorruptInputError, FrameSource


def _sequence(folder, sizes):
    folder.mkdir()
    for n, (w, h) in enumerate(sizes, start=1):
        cv2.imwrite(str(folder / f"bg.{n:04d}.png"), np.full((h, w, 3), 60 * n, np.uint8))
    return FrameSource(folder / "bg.%04d.png", "shots/a/shot.toml: background.plate", lambda p: p.name)


def test_a_frame_of_another_size_is_an_error_naming_both_files(tmp_path):
    source = _sequence(tmp_path / "plates", [(40, 30), (40, 30), (50, 30)])
    message = r"background\.plate: frame 3: bg\.0003\.png is 50x30, but bg\.0001\.png is 40x30"
    with pytest.raises(CorruptInputError, match=message):
        list(source.frames())
    with pytest.raises(CorruptInputError, match=message):
        list(source.frames(2, 1))  # a partial re-render reading that frame alone
    with pytest.raises(CorruptInputError, match=message):
        source.check()  # what `compositor validate` runs


def test_a_sequence_of_one_size_reads_as_before(tmp_path):
    source = _sequence(tmp_path / "plates", [(40, 30)] * 3)
    source.check()
    frames = list(source.frames())
    assert [f.shape for f in frames] == [(30, 40, 4)] * 3
    assert [round(float(f[0, 0, 0]) * 255) for f in frames] == [60, 120, 180]
