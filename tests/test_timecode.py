"""Timecode arithmetic (compositor.core.timecode), held to OpenTimelineIO's on every frame of a few hours."""

from __future__ import annotations

import pytest

from compositor.core.timecode import is_drop_frame_rate, to_frames, to_timecode

NTSC, NTSC60 = 30000 / 1001, 60000 / 1001


@pytest.mark.parametrize(("fps", "drop"), [(24, False), (25, False), (24000 / 1001, False), (NTSC, False), (NTSC, True), (NTSC60, True)])
def test_timecode_agrees_with_opentimelineio_and_reads_back(fps: float, drop: bool) -> None:
    otio = pytest.importorskip("opentimelineio")
    for n in [*range(0, 120_000, 13), 1799, 1800, 1801, 17982, 17983, 107892]:
        text = to_timecode(n, fps, drop)
        assert text == otio.opentime.to_timecode(otio.opentime.RationalTime(n, fps), fps, drop), n
        assert to_frames(text, fps, drop) == n


def test_drop_frame_skips_two_numbers_a_minute_but_every_tenth() -> None:
    assert to_timecode(1799, NTSC, True) == "00:00:59;29"
    assert to_timecode(1800, NTSC, True) == "00:01:00;02"
    assert to_timecode(17982, NTSC, True) == "00:10:00;00"
    assert to_frames("01:00:00;00", NTSC, True) == 107892  # an hour of drop-frame: the wall clock's hour
    with pytest.raises(ValueError, match="skipped"):
        to_frames("00:01:00;01", NTSC, True)


def test_start_of_a_production_and_wrapping() -> None:
    assert to_frames("01:00:00:00", 24) == 86400
    assert to_timecode(86400 + 25, 24) == "01:00:01:01"
    assert to_timecode(24 * 3600 * 24, 24) == "00:00:00:00"  # a day wraps
    for bad in ("1:00:00:00", "24:00:00:00", "00:60:00:00", "00:00:00:24", "00:00:00"):
        with pytest.raises(ValueError):
            to_frames(bad, 24)
    assert is_drop_frame_rate(NTSC) and is_drop_frame_rate(NTSC60)
    assert not is_drop_frame_rate(30) and not is_drop_frame_rate(24)
